"""The cost of each kind of control against the bare generator forward, on the embedded DCGAN (CPU, batch 1):
a linear slider change (one matrix product), an affine map at a few steps, a field control per Euler step (its
field evaluated once per step; the constant field measures the integrator's own overhead, a field through the model's
first layer measures a typical gradient field), and a path position. Run: ``python bench/bench_controls.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians

from steering import edit, load_generator
from steering.controls import AffineControl, FieldControl, PathControl, field
from steering.methods import sefa
from steering.models import Latents


def first_layer_gradient(generator, x, inputs):
    """A field through the model: the gradient of ‖first layer(x)‖² (one forward and one backward per step)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        features = generator.features(Latents(x), ["fc"])["fc"]
        return torch.autograd.grad(features.square().sum(), x)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10, help="Euler steps per field edit")
    args = parser.parse_args()
    generator = load_generator("dcgan-faces")
    d = generator.z_dim
    linear = sefa(generator, num_directions=10)
    gen = torch.Generator().manual_seed(0)
    raw = torch.randn(1, d, d, generator=gen)
    affine = AffineControl(
        matrices=0.8 * raw / torch.linalg.eigvals(raw[0]).abs().max(),
        offsets=torch.randn(1, d, generator=gen),
        space="z",
        method="bench",
        model=generator.identity,
    )
    field.FIELDS["bench-gradient"] = "__main__:first_layer_gradient"  # a field of this script's own

    def field_control(name: str) -> FieldControl:
        return FieldControl(
            field=name,
            tensors={"directions": linear.vectors[:1]},
            count=1,
            latent_dim=d,
            step_size=1.0 / args.steps,
            space="z",
            method="bench",
            model=generator.identity,
        )

    constant, gradient = field_control("constant"), field_control("bench-gradient")
    base = generator.sample(1, seed=0)
    path = PathControl.between(base, generator.sample(1, seed=1), generator.identity)
    moved = edit.apply(generator, base, linear, [0.5] * len(linear))

    @torch.no_grad()
    def bare() -> object:
        return generator.synthesize(moved)

    def run(control, strengths):
        return lambda: edit.synthesize(generator, edit.apply(generator, base, control, strengths))

    cases = {
        "bare forward": bare,
        "linear (10 sliders)": run(linear, [0.5] * len(linear)),
        "affine, 3 steps": run(affine, [3.0]),
        f"constant field, {args.steps} steps": run(constant, [1.0]),
        f"gradient field, {args.steps} steps": run(gradient, [1.0]),
        "path at 0.5": run(path, [0.5]),
    }
    medians = interleaved_medians(cases, repeats=args.repeats)
    bare_time = medians["bare forward"]
    print(f"dcgan-faces, batch 1, CPU threads {torch.get_num_threads()}; times per image (edit + synthesis)")
    for name, seconds in medians.items():
        extra = "" if name == "bare forward" else f"  ({(seconds / bare_time - 1) * 100:+.1f}% over the bare forward)"
        print(f"  {name:<26} {seconds * 1000:8.3f} ms{extra}")
    for name in (f"constant field, {args.steps} steps", f"gradient field, {args.steps} steps"):
        per_step = (medians[name] - bare_time) / args.steps
        print(
            f"  {name.split(',')[0]}: {per_step * 1000:.3f} ms per step = {per_step / bare_time:.2f}× the bare forward"
        )


if __name__ == "__main__":
    main()
