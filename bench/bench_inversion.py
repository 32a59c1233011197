"""Inversion: time to a fixed PSNR with and without the learned encoder, per embedded model, in one run.

For each model an encoder is trained (``train_encoder``: a pool of generated pairs, reused), then generated images of
unseen seeds (ground truth known) are inverted from the prior alone and from the encoder's prediction, alternating
per image. Reported per target PSNR: the median steps and seconds to reach it (the encoder's own forward pass is
counted), and their ratio; runs that never reach it within ``--steps`` count as not reached. Run:
``python bench/bench_inversion.py`` (``--models dcgan-faces`` for one).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steering import load_generator
from steering.inversion import Inversion, InversionSettings, train_encoder


def timed_run(generator, target, settings, encoder):
    """(step, seconds since the start, the encoder's prediction included) at every step, and the result."""
    started = time.perf_counter()
    init = encoder.predict(generator, target) if encoder is not None else None
    inversion = Inversion(generator, target, settings, init, "encoder" if encoder else None)
    marks: list[tuple[int, float]] = []

    def progress(done: int, total: int) -> None:
        marks.append((done, time.perf_counter() - started))

    inversion.run(progress)
    assert inversion.result is not None
    return [(step, marks[step][1]) for step, _, _ in inversion.result.history], inversion.result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="dcgan-faces,dcgan-eyes")
    parser.add_argument("--images", type=int, default=6, help="generated images per model")
    parser.add_argument("--steps", type=int, default=200, help="optimisation steps at most")
    parser.add_argument("--targets", default="20,22,24,26", help="PSNR targets (dB)")
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=6144)
    args = parser.parse_args()
    targets = [float(t) for t in args.targets.split(",")]
    torch.set_num_threads(1)  # one thread for both: fair on a shared machine (no spinning thread pools)
    torch.set_grad_enabled(True)
    for name in args.models.split(","):
        generator = load_generator(name)
        started = time.perf_counter()
        encoder = train_encoder(generator, steps=args.train_steps, batch=64, pool=args.pool)
        trained = time.perf_counter() - started
        print(f"\n{name}: encoder trained in {trained:.0f} s ({args.pool} pairs, {args.train_steps} steps of 64)")
        settings = InversionSettings(steps=args.steps, target_psnr=max(targets))
        reached: dict[tuple[str, float], list[tuple[int, float]]] = {}
        starts: dict[str, list[float]] = {"prior": [], "encoder": []}
        for i in range(args.images):
            with torch.no_grad():
                target = generator.synthesize(generator.sample(1, seed=10_000 + i)).clamp(-1, 1)
            order = [("prior", None), ("encoder", encoder)]
            for case, enc in order if i % 2 == 0 else order[::-1]:
                marks, result = timed_run(generator, target, settings, enc)
                starts[case].append(result.history[0][2])
                for goal in targets:
                    step = result.steps_to(goal)
                    reached.setdefault((case, goal), []).append(
                        (step, marks[step][1]) if step is not None else (None, None)  # type: ignore[arg-type]
                    )
        print(
            f"  start PSNR (median): prior {statistics.median(starts['prior']):.1f} dB, "
            f"encoder {statistics.median(starts['encoder']):.1f} dB"
        )
        print(f"  {'target':>8} | {'prior: steps, s':>18} | {'encoder: steps, s':>18} | steps ratio | time ratio")
        for goal in targets:
            row = []
            for case in ("prior", "encoder"):
                runs = reached[(case, goal)]
                done = [r for r in runs if r[0] is not None]
                if len(done) < len(runs):
                    row.append((None, None, f"{len(runs) - len(done)}/{len(runs)} not reached"))
                    continue
                steps = statistics.median(r[0] for r in done)
                seconds = statistics.median(r[1] for r in done)
                row.append((steps, seconds, f"{steps:5.0f}, {seconds:6.2f}"))
            ratio = "—"
            time_ratio = "—"
            if row[0][0] is not None and row[1][0] is not None:
                ratio = f"{row[0][0] / max(row[1][0], 0.5):.1f}×"
                time_ratio = f"{row[0][1] / max(row[1][1], 1e-9):.1f}×"
            print(f"  {goal:>6.0f} dB | {row[0][2]:>18} | {row[1][2]:>18} | {ratio:>11} | {time_ratio}")


if __name__ == "__main__":
    main()
