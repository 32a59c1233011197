"""Singular triplets of the Jacobian of a function ``f: ℝᵈ → ℝᵐ`` at a point, exact or top-k, through ``torch.func``.

* **exact** — the whole Jacobian, with forward mode (``jacfwd``: d JVPs) when ``d < m`` and reverse mode (``jacrev``:
  m VJPs) otherwise, then the eigenvectors of its Gram matrix on the smaller side (float64). Its memory (``m·d``
  values, three times) is checked against the request budget first.
* **top-k** — randomized block Krylov (block Lanczos with full re-orthogonalisation; Musco & Musco, NeurIPS 2015) on
  the smaller side, built on the same products: a block of ``b = k + oversample`` random directions, ``iterations``
  rounds of ``Jᵀ(J V)`` (one batched JVP and one batched VJP each), then Rayleigh–Ritz on the whole Krylov space
  (one more JVP block): ``b·(2q + 1)`` products in ``2q + 1`` batched passes, never the m×d Jacobian. The error of the
  k-th direction falls like a Chebyshev polynomial of the gap between ``σ_k`` and ``σ_{b+1}``, so a few rounds reach
  a projection distance of 10⁻³ where subspace iteration needs many more.

``f`` acts on a batch: rows in, rows out (``[b, d] → [b, m]``), each row independent of the others (generators in
eval mode are). The top-k solver's products reuse one autograd graph over ``b`` copies of the point: a block of VJPs
is a backward pass, a block of JVPs a double backward (several times faster than ``torch.func``'s forward mode on the
mapping network, as fast on the DCGANs: measured).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor
from torch.func import jacfwd, jacrev

from .. import limits
from ..errors import InvalidValueError

#: ``f`` on a batch of rows.
Batched = Callable[[Tensor], Tensor]
SOLVERS = ("auto", "exact", "top-k")
#: ``auto`` computes the exact Jacobian up to this many values (m·d), the top-k solver beyond.
EXACT_UP_TO = 64 * 2**20 // 4
#: PyTorch's forward-mode AD levels are process-wide, not per thread: two ``jacfwd`` at once (two users of a Space)
#: delete each other's level. Forward mode runs one at a time; reverse mode needs no lock.
_FORWARD_MODE = threading.Lock()


@dataclass(frozen=True)
class Triplets:
    """The top singular triplets of a Jacobian ``J`` [m, d]: ``J ≈ left · diag(values) · rightᵀ``."""

    values: Tensor  # σ [k], descending
    left: Tensor  # [m, k] orthonormal columns (output side)
    right: Tensor  # [d, k] orthonormal columns (input side)
    products: int  # Jacobian-vector products used (each row of a batched JVP or VJP counts one)
    passes: int  # batched passes through f (each JVP or VJP block counts one)
    exact: bool


def forward_mode(d: int, m: int) -> bool:
    """Whether forward mode (d JVPs) needs fewer products than reverse mode (m VJPs); ties go to reverse mode."""
    return d < m


def jacobian(f: Batched, x: Tensor) -> Tensor:
    """The Jacobian [m, d] of ``f`` at ``x`` [d] (``jacfwd`` or ``jacrev``, whichever needs fewer products)."""
    x = x.detach()
    one = lambda v: f(v[None])[0]  # noqa: E731
    with torch.no_grad():
        m = int(one(x).numel())
    d = int(x.numel())
    limits.check_bytes(3 * 4 * m * d, f"the full {m}×{d} Jacobian (use the top-k solver)")
    if not forward_mode(d, m):
        return jacrev(one)(x).reshape(m, d).detach()
    with _FORWARD_MODE:
        return jacfwd(one)(x).reshape(m, d).detach()


def exact(f: Batched, x: Tensor, k: int) -> Triplets:
    """The top ``k`` triplets from the whole Jacobian, through the eigenvectors of its Gram matrix on the smaller side
    (``JᵀJ`` or ``JJᵀ``) in float64: accurate for the top of the spectrum, several times faster than an SVD of ``J``
    and never the large factor of a tall one's SVD."""
    jac = jacobian(f, x)
    m, d = jac.shape
    k = _check_k(k, m, d)
    wide = jac.double()
    tall = m >= d
    values, vectors = torch.linalg.eigh(wide.T @ wide if tall else wide @ wide.T)
    order = torch.argsort(values, descending=True)[:k]
    s = values[order].clamp_min(0).sqrt()
    small = vectors[:, order]
    other = ((wide @ small) if tall else (wide.T @ small)) / s.clamp_min(torch.finfo(torch.float64).tiny)
    left, right = (other, small) if tall else (small, other)
    return Triplets(s.to(jac.dtype), left.to(jac.dtype), right.to(jac.dtype), min(m, d), 1, True)


def top_k(
    f: Batched,
    x: Tensor,
    k: int,
    oversample: int = 5,
    iterations: int = 6,
    seed: int = 0,
) -> Triplets:
    """The top ``k`` triplets by randomized block Krylov (see the module docstring); exact when the Krylov space would
    cover the whole smaller side (then it costs no more to take the whole Jacobian)."""
    x = x.detach()
    with torch.no_grad():
        m = int(f(x[None]).shape[1])
    d = int(x.numel())
    k = _check_k(k, m, d)
    block = k + max(0, int(oversample))
    iterations = max(0, int(iterations))
    if block * (iterations + 1) >= min(m, d):
        return exact(f, x, k)
    apply, adjoint = _products(f, x, block)
    if m < d:  # work on the smaller side: the transposed problem
        apply, adjoint = adjoint, apply
    small = min(m, d)
    gen = torch.Generator().manual_seed(int(seed))
    v = torch.linalg.qr(torch.randn(small, block, generator=gen).to(x))[0]
    basis, images = [v], []
    for _ in range(iterations):
        y = apply(v)  # [big, b]
        images.append(y)
        v = _orthonormal_against(adjoint(y), torch.cat(basis, dim=1))
        basis.append(v)
    images.append(apply(v))
    space = torch.cat(basis, dim=1)  # [small, b(q+1)]
    u, s, wh = torch.linalg.svd(torch.cat(images, dim=1), full_matrices=False)  # J·space = u s whᵀ
    right = space @ wh[:k].T
    left = u[:, :k]
    if m < d:
        left, right = right, left
    passes = 2 * iterations + 1
    return Triplets(s[:k], left, right, block * passes, passes, False)


def triplets(f: Batched, x: Tensor, k: int, solver: str = "auto", **options: int) -> Triplets:
    """``exact`` or ``top_k`` by name; ``auto`` takes the exact Jacobian while it holds at most ``EXACT_UP_TO``
    values, the top-k solver beyond."""
    if solver not in SOLVERS:
        raise InvalidValueError(f"the solver must be one of {list(SOLVERS)}, got {str(solver)[:20]!r}")
    if solver == "auto":
        with torch.no_grad():
            m = int(f(x.detach()[None]).shape[1])
        solver = "exact" if m * x.numel() <= EXACT_UP_TO else "top-k"
    return exact(f, x, k) if solver == "exact" else top_k(f, x, k, **options)


def _products(f: Batched, x: Tensor, block: int) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """``(V ↦ J V, U ↦ Jᵀ U)`` on column blocks ([d, b] → [m, b] and back). One forward pass over ``b`` copies of the
    point builds the graph once: ``Jᵀ U`` is a backward pass through it, ``J V`` a backward pass through that
    backward (the VJP is linear in its cotangent ``c``: ``J V = ∂⟨Jᵀc, V⟩/∂c``). Both reuse the graph."""
    with torch.enable_grad():
        rows = x.detach().expand(block, -1).clone().requires_grad_(True)
        out = f(rows)
        cotangent = torch.zeros_like(out, requires_grad=True)
        (pulled,) = torch.autograd.grad(out, rows, cotangent, create_graph=True)

    def apply(v: Tensor) -> Tensor:
        return torch.autograd.grad(pulled, cotangent, v.T.contiguous(), retain_graph=True)[0].detach().T

    def adjoint(u: Tensor) -> Tensor:
        return torch.autograd.grad(out, rows, u.T.contiguous(), retain_graph=True)[0].detach().T

    return apply, adjoint


def _orthonormal_against(w: Tensor, basis: Tensor) -> Tensor:
    """Orthonormal columns spanning ``w`` [n, b] with ``basis`` [n, r] (orthonormal) projected out, twice (classical
    Gram–Schmidt loses orthogonality once; twice is enough)."""
    for _ in range(2):
        w = w - basis @ (basis.T @ w)
    q = torch.linalg.qr(w)[0]
    q = q - basis @ (basis.T @ q)
    return torch.linalg.qr(q)[0]


def _check_k(k: int, m: int, d: int) -> int:
    if not 1 <= int(k) <= min(m, d):
        raise InvalidValueError(f"the number of directions must be in [1, {min(m, d)}] for this {m}×{d} Jacobian")
    return int(k)


__all__ = ["EXACT_UP_TO", "SOLVERS", "Batched", "Triplets", "exact", "forward_mode", "jacobian", "top_k", "triplets"]
