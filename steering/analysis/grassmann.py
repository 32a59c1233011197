"""Distances between linear subspaces (points of a Grassmannian), from orthonormal bases.

For bases ``A`` [n, k] and ``B`` [n, l] (orthonormal columns) the principal angles ``θ₁ ≤ … ≤ θ_min(k,l)`` are the
arccosines of the singular values of ``AᵀB``. Small angles are read from sines (the singular values of ``B − A AᵀB``)
instead, as Knyazev & Argentati (2002) advise: a cosine within float rounding of 1 hides angles below ~10⁻⁴, exactly
where a randomized basis is compared with an exact one. Everything runs in float64.

* geodesic distance ``d_geo = ‖θ‖₂ = √Σθⱼ²`` (between two k-dimensional subspaces: at most √k·π/2);
* projection distance ``d_proj = ‖AAᵀ − BBᵀ‖₂ = sin θ_max`` (in [0, 1]; 1 as soon as one direction is orthogonal).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import InvalidValueError


def orthonormal(basis: Tensor) -> Tensor:
    """Orthonormal columns spanning the columns of ``basis`` [n, k] (float64; full column rank expected)."""
    if basis.ndim != 2 or basis.shape[1] < 1 or basis.shape[0] < basis.shape[1]:
        raise InvalidValueError(f"a subspace basis is [n, k] with 1 ≤ k ≤ n, got {list(basis.shape)}")
    return torch.linalg.qr(basis.detach().double())[0]


def principal_angles(a: Tensor, b: Tensor) -> Tensor:
    """The principal angles [min(k, l)] in radians, ascending, between the column spans of ``a`` and ``b``."""
    if a.shape[0] != b.shape[0]:
        raise InvalidValueError(f"subspaces of different spaces: ℝ^{a.shape[0]} and ℝ^{b.shape[0]}")
    qa, qb = orthonormal(a), orthonormal(b)
    if qa.shape[1] > qb.shape[1]:
        qa, qb = qb, qa
    cosines = torch.linalg.svdvals(qa.T @ qb).clamp(0.0, 1.0)  # descending: smallest angles first
    sines = torch.linalg.svdvals(qa - qb @ (qb.T @ qa)).clamp(0.0, 1.0).flip(0)  # ascending
    angles = torch.where(cosines > math.sqrt(0.5), torch.arcsin(sines), torch.arccos(cosines))
    return angles.sort().values


def geodesic_distance(a: Tensor, b: Tensor) -> float:
    """``√Σ θⱼ²`` over the principal angles (the arc length on the Grassmannian)."""
    return float(principal_angles(a, b).norm())


def projection_distance(a: Tensor, b: Tensor) -> float:
    """``‖AAᵀ − BBᵀ‖₂ = sin θ_max`` for subspaces of equal dimension (1 when the dimensions differ)."""
    if a.shape[1] != b.shape[1]:
        return 1.0
    return float(torch.sin(principal_angles(a, b).max()))


def random_subspace(n: int, k: int, generator: torch.Generator | None = None) -> Tensor:
    """A Haar-random k-dimensional subspace of ℝⁿ as an orthonormal basis [n, k] (QR of a Gaussian matrix)."""
    if not 1 <= k <= n:
        raise InvalidValueError(f"a random subspace needs 1 ≤ k ≤ n, got k={k}, n={n}")
    q, r = torch.linalg.qr(torch.randn(n, k, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))  # column signs fixed by R's diagonal: Haar, not biased by QR


__all__ = ["geodesic_distance", "orthonormal", "principal_angles", "projection_distance", "random_subspace"]
