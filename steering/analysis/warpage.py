"""How warped a latent space is, and how far a global direction can be trusted at a given latent.

**Warpage** (the Local Basis paper's Grassmannian analysis): the distance between the top-k local subspaces at
different latents, against k = 1 … K, for

* ``random pairs`` — local bases at two independent seeded latents;
* ``nearby pairs`` — at a latent and at the latent moved by ``ε`` along a random unit direction;
* ``vs sefa`` / ``vs ganspace`` — a local basis against the global basis of that method (its first k directions);
* ``random subspaces`` — two Haar-random k-dimensional subspaces of the same space: the baseline of no relation.

Subspaces are compared where the global methods' directions live: the output side (``w``) when the partial network is
the mapping ``z ↦ w``, else the latent side. A globally flat space would put every curve at 0; the paper finds W of
StyleGAN2 "globally warped" yet far from random.

**Trust** of global directions at one latent: for each unit direction ``g``, ``‖B_kᵀ g‖`` with ``B_k`` the local
top-k basis on ``g``'s side: the cosine between ``g`` and the subspace the model locally varies along (1: inside it;
a random direction scores about ``√(k/n)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..controls import LinearControl
from ..errors import InvalidValueError
from ..models.base import Generator, Latents, W, Z
from ..values import check_count, check_number, check_seed
from . import grassmann

METRICS = ("geodesic", "projection")
REFERENCES = ("sefa", "ganspace")
RANDOM_PAIRS, NEARBY, BASELINE = "random pairs", "nearby pairs", "random subspaces"


@dataclass(frozen=True)
class Warpage:
    """Mean (and standard deviation) of each curve's distance at each subspace dimension."""

    dims: list[int]
    metric: str
    side: str  # "output" (w) or "latent"
    feature: str
    pairs: int
    epsilon: float
    curves: dict[str, list[float]] = field(default_factory=dict)
    spread: dict[str, list[float]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One row per dimension: ``{"k": k, curve: mean, …}`` (what the CLI prints and a table shows)."""
        return [{"k": k, **{name: values[i] for name, values in self.curves.items()}} for i, k in enumerate(self.dims)]


def _side_basis(basis: Any, side: str, k: int) -> Tensor:
    return (basis.output if side == "output" else basis.latent)[:, :k]


def warpage(
    generator: Generator,
    feature: str | None = None,
    max_dim: int = 10,
    pairs: int = 16,
    epsilon: float = 0.1,
    seed: int = 0,
    metric: str = "geodesic",
    references: Sequence[str] = REFERENCES,
    truncation: float = 1.0,
    class_index: int | None = None,
    solver: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> Warpage:
    """The warpage curves (module docstring) for k = 1 … ``max_dim`` over ``pairs`` seeded pairs (seeds ``seed …``);
    ``progress(done, total)`` after each local basis (``CancelledError`` from it stops the work)."""
    from ..methods import METHODS
    from ..methods.localbasis import local_basis, partial_network, start_latents

    if metric not in METRICS:
        raise InvalidValueError(f"the metric must be one of {list(METRICS)}, got {str(metric)[:20]!r}")
    unknown = [r for r in references if r not in REFERENCES]
    if unknown:
        raise InvalidValueError(f"references must be among {list(REFERENCES)}, got {', '.join(unknown)[:40]}")
    pairs = check_count(pairs, "the number of pairs", 1, 4096)
    epsilon = check_number(epsilon, "ε", 1e-6, 100.0)
    seed = check_seed(seed)
    first = start_latents(generator, seed, truncation, class_index)
    network = partial_network(generator, first, feature)
    side = "output" if network.output_is_latent else "latent"
    n = generator.space_dim(W if side == "output" else Z)
    max_dim = check_count(max_dim, "the largest subspace dimension", 1, n)
    distance = grassmann.geodesic_distance if metric == "geodesic" else grassmann.projection_distance
    dims = list(range(1, max_dim + 1))
    space = W if side == "output" else Z
    total = 3 * pairs
    if progress is not None:
        progress(0, total)
    globals_ = {}
    for name in references:
        found = METHODS[name].run(generator, {"num_directions": max_dim})
        if found.space == space:
            globals_[f"vs {name}"] = found.vectors.T.double()
    samples: dict[str, list[list[float]]] = {RANDOM_PAIRS: [], NEARBY: [], **{k: [] for k in globals_}, BASELINE: []}
    noise = torch.Generator().manual_seed(seed)
    for i in range(pairs):
        a = start_latents(generator, seed + i, truncation, class_index)
        b = start_latents(generator, seed + pairs + i, truncation, class_index)
        step = torch.randn(a.codes.shape[1], generator=noise)
        near = a.replace(codes=a.codes + epsilon * (step / step.norm()).to(a.codes))
        bases = []
        for j, latents in enumerate((a, b, near)):
            found = local_basis(generator, latents, max_dim, network.feature, solver)
            bases.append(_side_basis(found, side, max_dim).double())
            if progress is not None:
                progress(3 * i + j + 1, total)
        samples[RANDOM_PAIRS].append([distance(bases[0][:, :k], bases[1][:, :k]) for k in dims])
        samples[NEARBY].append([distance(bases[0][:, :k], bases[2][:, :k]) for k in dims])
        for name, vectors in globals_.items():
            samples[name].append([distance(bases[0][:, :k], vectors[:, :k]) for k in dims])
        haar = grassmann.random_subspace(n, max_dim, noise), grassmann.random_subspace(n, max_dim, noise)
        samples[BASELINE].append([distance(haar[0][:, :k], haar[1][:, :k]) for k in dims])
    curves = {name: torch.tensor(rows).mean(0).tolist() for name, rows in samples.items()}
    spread = {name: torch.tensor(rows).std(0, unbiased=pairs > 1).tolist() for name, rows in samples.items()}
    return Warpage(dims, metric, side, network.feature, pairs, epsilon, curves, spread)


@dataclass(frozen=True)
class Trust:
    """Per global direction at one latent: the cosine with the local top-k subspace, and chance level."""

    scores: list[float]
    best: list[int]  # the local direction each is closest to
    chance: float  # √(k/n): what a random direction scores
    k: int


def judged(control: object) -> bool:
    """Whether ``trust`` applies to ``control``: global linear directions (a field or path has no fixed vector)."""
    return isinstance(control, LinearControl)


def trust(
    generator: Generator,
    latents: Latents,
    directions: LinearControl,
    k: int = 10,
    feature: str | None = None,
    solver: str = "auto",
) -> Trust:
    """How far each of ``directions`` (linear, global) can be trusted at ``latents`` (module docstring)."""
    from ..methods.localbasis import local_basis

    if not judged(directions):
        raise InvalidValueError("trust is measured for linear (global) directions")
    basis = local_basis(generator, latents, min(k, latents.codes.shape[-1]), feature, solver)
    if directions.space == latents.space:
        side = basis.latent
    elif basis.network.output_is_latent and directions.space == W:
        side = basis.output
    else:
        raise InvalidValueError(
            f"these directions move {directions.space}; the local basis here relates {latents.space} to "
            f"{basis.network.feature}: compare directions in {latents.space}"
            + (" or w" if basis.network.output_is_latent else "")
        )
    vectors = directions.vectors.to(side)
    vectors = vectors / vectors.norm(dim=1, keepdim=True)
    cosines = vectors @ side  # [num, k]
    n = side.shape[0]
    return Trust(
        scores=cosines.norm(dim=1).clamp(max=1.0).tolist(),
        best=cosines.abs().argmax(dim=1).tolist(),
        chance=(side.shape[1] / n) ** 0.5,
        k=side.shape[1],
    )


__all__ = [
    "BASELINE",
    "METRICS",
    "NEARBY",
    "RANDOM_PAIRS",
    "REFERENCES",
    "Trust",
    "Warpage",
    "judged",
    "trust",
    "warpage",
]
