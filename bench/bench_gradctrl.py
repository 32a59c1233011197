"""GradCtrl's costs on the embedded DCGAN (CPU), in one run: training the latent heads on 1,000 labelled latents, and
one gradient step (closed-form Jacobians of the heads, the top-k masks of the excluded attributes, normalisation)
against a bare generator forward of the same batch. Run: ``python bench/bench_gradctrl.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians

from steering import load_generator
from steering.attributes import Attribute, AttributeSamples, Training, confident, train_heads
from steering.methods import gradctrl as gc


def labelled_latents(generator, n: int, attributes: int) -> list:
    """``n`` seeded latents with ``attributes`` planted binary labels (random linear rules) and one 4-class one."""
    gen = torch.Generator().manual_seed(0)
    codes = generator.sample(n, seed=0).codes
    out = []
    for a in range(attributes):
        rule = torch.randn(codes.shape[1], generator=gen)
        scores = (codes @ rule)[:, None]
        data = AttributeSamples(Attribute(f"binary {a}", (f"b{a}",)), "z", codes, scores)
        out.append(confident(data, fraction=0.5))  # every latent labelled: the top and bottom halves
    rules = torch.randn(codes.shape[1], 4, generator=gen)
    four = AttributeSamples(Attribute("four", ("c0", "c1", "c2", "c3")), "z", codes, torch.softmax(codes @ rules, 1))
    out.append(confident(four, fraction=0.25))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latents", type=int, default=1000)
    parser.add_argument("--attributes", type=int, default=3, help="binary attributes (plus one 4-class attribute)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1, help="latents per gradient step / forward")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    generator = load_generator("dcgan-faces")
    data = labelled_latents(generator, args.latents, args.attributes)
    kept = "/".join(str(d.counts()["train"] + d.counts()["validation"]) for d in data)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        heads = train_heads(data, Training(epochs=args.epochs))
        runs.append(time.perf_counter() - start)
    print(
        f"heads: {len(data)} heads on {args.latents} labelled latents ({kept} kept per head, 70/30 split), "
        f"{args.epochs} epochs, batch 32: {statistics.median(runs):.2f} s (median of 3); validation accuracy "
        + ", ".join(f"{a:.3f}" for a in heads.accuracy)
    )
    control = gc.build_controls(generator, heads, exclude="others")  # every control masks every other attribute
    latents = generator.sample(args.batch, seed=1)

    @torch.no_grad()
    def bare() -> object:
        return generator.synthesize(latents)

    def step() -> object:
        return control.direction(generator, latents.codes, 0, latents)

    medians = interleaved_medians({"bare forward": bare, "gradient step": step}, repeats=args.repeats)
    budgets = control.tensors["control.exclude"][0]
    masked = int(gc.exclusion_mask(control.tensors, latents.codes, None, budgets, 0)[0].sum())
    print(
        f"dcgan-faces, batch {args.batch}, CPU threads {torch.get_num_threads()}: bare forward "
        f"{medians['bare forward'] * 1000:.3f} ms; one GradCtrl step (target gradient + masks of "
        f"{len(data) - 1} excluded attributes, {masked} of {generator.z_dim} channels masked) "
        f"{medians['gradient step'] * 1000:.3f} ms = "
        f"{medians['gradient step'] / medians['bare forward']:.3f}× the forward"
    )


if __name__ == "__main__":
    main()
