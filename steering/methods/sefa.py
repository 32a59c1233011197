"""SeFa: closed-form factorisation of the weights that read the latent (Shen & Zhou, CVPR 2021).

For the affine maps ``y = A x + b`` that read the latent, the unit directions ``n`` that change ``y`` most are the
top eigenvectors of ``AᵀA``. Each output unit's weight row is normalised first (every unit weighs the same). The
eigenvalues are kept with the directions; with normalised rows they sum to the number of rows (the trace).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..cache import cached
from ..directions import Directions
from ..errors import InvalidValueError
from ..models.base import Generator, Z
from ..values import check_count, layer_range
from .common import canonical_signs, latent_spread, strength_range
from .registry import LAYERS, NUM_DIRECTIONS, Method


def factorize(weight: Tensor) -> tuple[Tensor, Tensor]:
    """Eigen-decomposition of ``AᵀA`` for row-normalised ``A`` [m, d]: ``(eigenvalues [d] desc, vectors [d, d] rows)``.

    ``eigh`` on the symmetric d×d matrix rather than a general eigen-solver, all in float32 like the official code
    (the m×d×d Gram product dominates; zero rows carry no direction and add nothing to it).
    """
    if weight.ndim != 2:
        raise InvalidValueError(f"SeFa factorises a matrix [outputs, latent_dim], got {list(weight.shape)}")
    a = weight.detach().float()
    a = a / a.norm(dim=1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    values, vectors = torch.linalg.eigh(a.T @ a)
    order = torch.argsort(values, descending=True)
    return values[order], canonical_signs(vectors[:, order].T)


def selected_weight(generator: Generator, layers: str | Sequence[int] = "all") -> tuple[Tensor, tuple[int, ...], str]:
    """Stack the latent-reading weights of the selected W+ layers: ``(A [m, d], layers, space)``."""
    wanted = set(layer_range(generator, layers))
    projections = [p for p in generator.latent_projections() if wanted.intersection(p.layers)]
    if not projections:
        raise InvalidValueError(f"no layer of {generator.identity.name} reads the latent within {layers!r}")
    spaces = {p.space for p in projections}
    if len(spaces) != 1:
        raise InvalidValueError(f"selected layers read different latent spaces {sorted(spaces)}")
    used = tuple(sorted({i for p in projections for i in p.layers} & wanted))
    return torch.cat([p.weight for p in projections]), used, spaces.pop()


def sefa(
    generator: Generator,
    num_directions: int = 10,
    layers: str | Sequence[int] = "all",
    use_cache: bool = True,
) -> Directions:
    """Top ``num_directions`` SeFa directions for the selected layers (``"all"``, ``"coarse"``, ``"2:6"``, …)."""
    weight, used, space = selected_weight(generator, layers)
    dim = weight.shape[1]
    num_directions = check_count(num_directions, "the number of directions", 1, dim)
    params = {"num_directions": num_directions, "layers": list(used)}

    def compute() -> Directions:
        values, vectors = factorize(weight)
        vectors = vectors[:num_directions].float()
        spread = latent_spread(generator, space, vectors.to(generator.device))
        return Directions(
            vectors=vectors,
            space=space,
            method="sefa",
            model=generator.identity,
            names=[f"sefa {i}" for i in range(len(vectors))],
            params=params,
            values=values[:num_directions].float(),
            layers=None if space == Z or generator.num_layers == 1 else used,
            strength_range=strength_range(spread.cpu()),
        )

    return cached(generator, "sefa", params, compute) if use_cache else compute()


METHOD = Method(
    name="sefa",
    title="SeFa (closed form)",
    function=sefa,
    kind="linear",
    parameters=(
        NUM_DIRECTIONS,
        LAYERS,
    ),
    value_label="eigenvalues",
    description="eigenvectors of AᵀA for the row-normalised weights that read the latent; milliseconds, no sampling",
)
