"""Small pieces shared by methods: sign conventions and natural strength ranges."""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.base import Generator


def canonical_signs(vectors: Tensor) -> Tensor:
    """Flip each row so its largest-magnitude entry is positive (eigenvectors have arbitrary sign)."""
    index = vectors.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(vectors.gather(1, index))
    signs[signs == 0] = 1
    return vectors * signs


@torch.no_grad()
def latent_spread(generator: Generator, space: str, vectors: Tensor, num_samples: int = 512, seed: int = 0) -> Tensor:
    """Std-dev of sampled latents projected on each (unit) direction: the natural unit of a step, [k]."""
    codes = generator.sample(num_samples, seed=seed, space=space).codes.to(vectors)
    return (codes @ vectors.T).std(dim=0)


def strength_range(spread: Tensor, multiple: float = 4.0) -> tuple[float, float]:
    """Symmetric slider range covering ``multiple`` typical deviations, rounded for display."""
    reach = max(float(spread.median()) * multiple, 1e-3)
    reach = float(f"{reach:.2g}")
    return (-reach, reach)
