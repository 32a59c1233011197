"""Steerability without optimization: the closed form on H·W grid operators against the dense formulation of the
reference code (N×N matrices P and D for the whole first-layer map, N = C·H·W), and the cost of a nonlinear step.

Each formulation runs in its own fresh process, so its peak resident memory (minus the same process's memory after
loading the model and reading its first layer) is its own. The dense one (float32, as the reference code) runs on
the embedded models (N = 8,192 for the faces, 16,384 for the eyes: 1 GiB per matrix), the largest sizes that fit
here; on a BigGAN first layer (N = 24,576–32,768) it needs 2.3–4 GiB per matrix, several at once.
Run: ``python bench/bench_steer.py``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TRANSFORMS = ("shift-x+", "zoom-in")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _solve_in_child(model: str, dense: bool, queue: multiprocessing.Queue) -> None:
    import torch

    from steering import load_generator
    from steering.methods.spatial import transform
    from steering.methods.steerability import FirstLayer, first_layer, solve

    torch.set_num_threads(1)  # one thread for both: fair on a shared machine (no spinning thread pools)
    layer = first_layer(load_generator(model))
    weight32, bias32 = layer.weight.float(), layer.biases[0].float()
    small = FirstLayer(torch.randn(64, 8, dtype=torch.float64), torch.randn(1, 64, dtype=torch.float64), 4, 4, 4)
    for name in TRANSFORMS:  # load the library code both paths use before the baseline is taken
        solve(small, transform(name, 4, 4))
        torch.linalg.pinv(torch.kron(torch.eye(4), transform(name, 4, 4).target.float()) @ small.weight.float())
    base = _peak_mb()

    def run() -> tuple[object, object]:
        for name in TRANSFORMS:
            step = transform(name, layer.height, layer.width)
            if dense:  # N × N float32 matrices, as the reference code builds them
                eye = torch.eye(layer.channels)
                p, d = torch.kron(eye, step.target.float()), torch.kron(eye, step.constraint.float())
                da = d @ weight32
                pinv = torch.linalg.pinv(da)
                q, m = pinv @ ((p - d) @ bias32), pinv @ (p @ weight32)
            else:
                solution = solve(layer, step)
                q, m = solution.linear[0], solution.matrix
        return q, m

    times = []
    for _ in range(1 if dense else 6):  # the dense run once (seconds to minutes); ours: a warm-up, then 5 timed
        start = time.perf_counter()
        q, m = run()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times[1:] or times)
    size = layer.channels * layer.height * layer.width
    queue.put((seconds, _peak_mb() - base, size, q.numpy(), m.numpy()))  # arrays: tensors would share memory


def solve_once(model: str, dense: bool) -> tuple[float, float, int, object, object]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_solve_in_child, args=(model, dense, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def step_costs(model: str, repeats: int) -> dict[str, float]:
    """Median seconds of a bare forward and of one nonlinear step (affine map; forbidden field) at batch 1."""
    import torch
    from common import interleaved_medians

    from steering import edit, load_generator
    from steering.methods.steerability import steerability

    torch.set_num_threads(1)
    generator = load_generator(model)
    latents = generator.sample(1, seed=0)
    affine = steerability(generator, ["zoom-in"])
    field = steerability(generator, ["zoom-in"], others="forbid")
    cases = {
        "forward": lambda: edit.synthesize(generator, latents),
        "affine step": lambda: edit.apply(generator, latents, affine, [1.0]),
        "forbid step": lambda: edit.apply(generator, latents, field, [1.0]),
    }
    return interleaved_medians(cases, repeats)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    print(f"closed form on grid operators vs dense N×N ({', '.join(TRANSFORMS)}; fresh process each)")
    for model in ("dcgan-faces", "dcgan-eyes"):
        ours = solve_once(model, dense=False)
        dense = solve_once(model, dense=True)
        same_q = torch.allclose(torch.as_tensor(ours[3]).float(), torch.as_tensor(dense[3]), atol=1e-4)
        same_m = torch.allclose(torch.as_tensor(ours[4]).float(), torch.as_tensor(dense[4]), atol=1e-4)
        print(
            f"  {model} (N = {ours[2]:,}): time {ours[0] * 1e3:.1f} ms vs {dense[0] * 1e3:.0f} ms "
            f"({dense[0] / ours[0]:.0f}× faster); peak memory {max(ours[1], 0.1):.1f} MB vs {dense[1]:.0f} MB "
            f"({dense[1] / max(ours[1], 0.1):.0f}× smaller); same q and M: {same_q and same_m}"
        )
    print("one nonlinear step (no synthesis) against a bare forward (batch 1, one thread, median)")
    for model in ("dcgan-faces", "dcgan-eyes"):
        costs = step_costs(model, args.repeats)
        forward = costs["forward"]
        shown = ", ".join(f"{k} {v * 1e3:.2f} ms ({v / forward:.1%})" for k, v in costs.items() if k != "forward")
        print(f"  {model}: forward {forward * 1e3:.2f} ms; {shown}")


if __name__ == "__main__":
    main()
