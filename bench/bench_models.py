"""Full-size architectures on random weights: slider -> image latency against the bare forward, SeFa time,
and the mapping Jacobian (the Local Basis building block). Meant for a GPU (``--device cuda``); runs on CPU too.

Models: StyleGAN2 1024 px (config-f: style_dim 512, 8 mapping layers, channel multiplier 2) and BigGAN-deep
128 and 512 px (pytorch-pretrained-biggan layouts). Run: ``python bench/bench_models.py --device cuda``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians

from steering import edit
from steering.methods import sefa
from steering.models.biggan import DEFAULT_CONFIG, BigGANDeep
from steering.models.stylegan2 import StyleGAN2
from steering.render import to_pil

BIGGAN_512_LAYERS = [
    [False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8], [True, 8, 8], [False, 8, 4],
    [True, 4, 4], [False, 4, 2], [True, 2, 2], [False, 2, 1], [True, 1, 1], [False, 1, 1], [True, 1, 1],
]  # fmt: skip


def synced(device: torch.device, run: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        out = run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    return call


def bench_model(name: str, generator, device: torch.device, repeats: int) -> None:
    generator = generator.to(device).eval()
    directions = sefa(generator, num_directions=10, use_cache=False)
    base = generator.sample(1, seed=0, truncation=0.7)
    strengths = {i: 0.3 * (i + 1) for i in range(len(directions))}
    moved = edit.apply(generator, base, directions, strengths)

    @torch.no_grad()
    def bare() -> object:
        return generator.synthesize(moved)

    def slider_tensor() -> object:  # edit + synthesis: the core's part of a slider change
        return edit.synthesize(generator, edit.apply(generator, base, directions, strengths))

    def slider() -> object:  # ... plus the copy to the host and the PIL image a UI shows
        return to_pil(edit.synthesize(generator, edit.apply(generator, base, directions, strengths)))[0]

    def factorise() -> object:
        return sefa(generator, num_directions=10, use_cache=False)

    cases = {
        "bare forward": synced(device, bare),
        "edit + synthesis": synced(device, slider_tensor),
        "... + PIL image": synced(device, slider),
    }
    medians = interleaved_medians(cases, repeats=repeats)
    sefa_time = interleaved_medians({"sefa": synced(device, factorise)}, repeats=5, warmup=1)["sefa"]
    print(f"{name}: {sum(p.numel() for p in generator.parameters()) / 1e6:.1f}M parameters on {device}")
    for case, seconds in medians.items():
        overhead = seconds / medians["bare forward"] - 1
        relative = "" if case == "bare forward" else f"  ({overhead * 100:+.1f}%)"
        print(f"  {case:<18} {seconds * 1e3:8.2f} ms{relative}")
    print(f"  sefa (10 directions, all layers, incl. strength range) {sefa_time * 1e3:8.1f} ms")
    if "w" in generator.latent_spaces:
        z = generator.sample_z(1, seed=0)

        def mapping(v: torch.Tensor) -> torch.Tensor:
            return generator.features(generator.sample(1, 0).replace(codes=v[None], space="z"), ["w"])["w"][0]

        jac = synced(device, lambda: torch.func.jacrev(mapping)(z[0]))
        print(f"  mapping Jacobian 512x512 (jacrev) {interleaved_medians({'j': jac}, repeats=5)['j'] * 1e3:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--models", default="stylegan2-1024,biggan-deep-128,biggan-deep-512")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}")
    torch.manual_seed(0)
    builders = {
        "stylegan2-1024": lambda: StyleGAN2(size=1024, style_dim=512, n_mlp=8, channel_multiplier=2),
        "biggan-deep-128": lambda: BigGANDeep.from_config(DEFAULT_CONFIG),
        "biggan-deep-512": lambda: BigGANDeep.from_config(
            {**DEFAULT_CONFIG, "layers": BIGGAN_512_LAYERS, "output_dim": 512}
        ),
    }
    for name in args.models.split(","):
        bench_model(name, builders[name](), device, args.repeats)


if __name__ == "__main__":
    main()
