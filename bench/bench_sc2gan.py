"""SC²GAN's cost on the embedded faces DCGAN (CPU), in one run: one correction from 1,000 scored samples, split into
its stages (scoring, synthesis of the rare combinations, re-projection, re-fit); a second correction of the same pair
on the same samples with another parent (the first one's corrected slider), which finds the scored samples and the
re-projected rare set in memory; and the batched re-projection against inverting the same images one by one
(``steering.inversion.invert`` from the same starts, same steps). Run:
``python bench/bench_sc2gan.py`` (``--samples``, ``--rare``, ``--steps``, ``--threads``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steering import load_generator
from steering.inversion import InversionSettings, invert
from steering.inversion.refine import reproject
from steering.methods import sc2gan

STAGES = ("scoring", "synthesis", "re-projection", "fit")


def staged_correction(
    generator, a: str, b: str, samples: int, rare: int, steps: int, **options: object
) -> tuple[dict, object]:
    """Seconds per stage of one ``sc2gan.correct`` (read from its staged progress) and the correction."""
    marks: dict[int, float] = {}
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:  # stage i reports (i·1000, (i+1)·1000] (``sc2gan._Stages``)
        marks[min(max(0, done - 1) // 1000, len(STAGES) - 1)] = time.perf_counter()

    result = sc2gan.correct(
        generator,
        a,
        b,
        num_samples=samples,
        fraction=0.1,
        rare=rare,
        inversion_steps=steps,
        progress=progress,
        **options,  # type: ignore[arg-type]
    )
    seconds, last = {}, started
    for i, name in enumerate(STAGES):  # a stage ends at its last report
        end = marks.get(i, last)
        seconds[name], last = end - last, end
    seconds["total"] = time.perf_counter() - started
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="dcgan-faces")
    parser.add_argument("--attribute", default="brightness")
    parser.add_argument("--correlated", default="contrast")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rare", type=int, default=64, help="rare combinations per side of A")
    parser.add_argument("--steps", type=int, default=100, help="re-projection steps")
    parser.add_argument("--one-by-one", type=int, default=16, help="images inverted one by one for the comparison")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = load_generator(args.model, device="cpu")
    print(f"{args.model}, {torch.get_num_threads()} torch thread(s); {args.attribute} ~ {args.correlated}")

    seconds, result = staged_correction(generator, args.attribute, args.correlated, args.samples, args.rare, args.steps)
    print(
        f"one correction from {args.samples} samples ({result.rare.made} rare combinations made, "
        f"{len(result.rare)} kept, {args.steps} re-projection steps):"
    )
    for name, value in seconds.items():
        print(f"  {name:>14}: {value:7.2f} s")
    again, _ = staged_correction(
        generator,
        args.attribute,
        args.correlated,
        args.samples,
        args.rare,
        args.steps,
        parent=result.control,
        parent_index=1,
    )
    print(
        f"the same pair again, parent: the corrected slider (samples and rare set from memory): "
        f"{again['total']:.2f} s against {seconds['total']:.1f} s for the first"
    )

    # batched re-projection against one image at a time, same starts and steps
    starts = generator.sample(args.one_by_one, seed=7)
    with torch.no_grad():
        images = generator.synthesize(starts.replace(codes=starts.codes * 0.9 + 0.1)).clamp(-1, 1).float()
    begin = time.perf_counter()
    _, batched_psnr = reproject(generator, images, starts, args.steps)
    batched = time.perf_counter() - begin
    settings = InversionSettings(space="z", steps=args.steps, patience=args.steps, use_perceptual=False)
    begin = time.perf_counter()
    single = [
        invert(generator, images[i : i + 1], settings, init=starts.select(slice(i, i + 1))) for i in range(len(images))
    ]
    one_by_one = time.perf_counter() - begin
    print(
        f"re-projecting {len(images)} images, {args.steps} steps: batched {batched:.2f} s "
        f"(PSNR {batched_psnr.mean():.2f} dB), one by one {one_by_one:.2f} s "
        f"(PSNR {sum(r.psnr for r in single) / len(single):.2f} dB): {one_by_one / batched:.1f}× faster batched"
    )


if __name__ == "__main__":
    main()
