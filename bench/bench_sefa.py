"""SeFa speed: our factorisation vs the official formulation, on StyleGAN2-1024-sized weights (18 × 512×512).

The official code (genforce/sefa ``factorize_weight``) normalises the columns of the [512, 9216] matrix and calls
NumPy's general eigen-solver ``np.linalg.eig`` on the 512×512 product; we use a float32 Gram matrix and ``eigh``.
Run: ``python bench/bench_sefa.py``. Prints both medians and the speed-up measured in this one run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians

from steering.methods.sefa import factorize


def official(weight_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """genforce/sefa's formulation: rows = latent dims; unit columns; general eigen-solver; no sorting."""
    weight_t = weight_t / np.linalg.norm(weight_t, axis=0, keepdims=True)
    values, vectors = np.linalg.eig(weight_t.dot(weight_t.T))
    return values, vectors.T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.manual_seed(0)
    weight = torch.randn(args.layers * args.dim, args.dim)  # [m, d]: stacked style-affine weights
    weight_t = weight.T.numpy().copy()  # the official code's layout
    medians = interleaved_medians(
        {"official np.linalg.eig": lambda: official(weight_t), "gan-steering factorize": lambda: factorize(weight)},
        repeats=args.repeats,
    )
    ours_values, _ = factorize(weight)
    ref_values = np.sort(np.real(official(weight_t)[0]))[::-1]
    agree = float(np.abs(ours_values.numpy() - ref_values).max() / ref_values.max())
    print(f"weights: {args.layers} layers x {args.dim}x{args.dim} (random), torch threads {torch.get_num_threads()}")
    for name, seconds in medians.items():
        print(f"  {name:<26} {seconds * 1000:8.1f} ms")
    ratio = medians["official np.linalg.eig"] / medians["gan-steering factorize"]
    print(f"speed-up: {ratio:.1f}x (requirement: >= 4x); eigenvalues agree to {agree:.1e} (relative)")


if __name__ == "__main__":
    main()
