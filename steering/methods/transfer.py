"""Attribute transfer without optimization: the target takes the source's coordinates along chosen principal
directions, ``z = z_t − V Vᵀ z_t + V Vᵀ z_s`` (V: orthonormal rows of ``principal``), and keeps its own class. Across
classes of a class-conditional model (eyes of one colour, the pose of another) the class stays the target's.

The result is a path control from the target to the transferred latent: a slider from 0 (the target) to 1."""

from __future__ import annotations

from typing import Sequence

import torch

from ..controls import PathControl
from ..errors import InvalidValueError
from ..models.base import Generator, Latents, Z
from ..values import check_count, check_seed, check_truncation
from .principal import FIRST, SCALE, principal
from .registry import Method, Parameter


def transferred(target: Latents, source: Latents, basis: torch.Tensor) -> Latents:
    """``target`` with its coordinates along ``basis`` [k, d] (orthonormal rows) replaced by ``source``'s."""
    if target.space != Z or source.space != Z:
        raise InvalidValueError("attribute transfer works on z latents")
    v = basis.to(target.codes)
    codes = target.codes - (target.codes @ v.T) @ v + (source.codes @ v.T) @ v
    return target.replace(codes=codes)


def transfer(
    generator: Generator,
    source_seed: int = 1,
    target_seed: int = 0,
    source_class: int | None = None,
    target_class: int | None = None,
    directions: Sequence[int] = (0, 1, 2, 3, 4),
    scale: str = FIRST,
    truncation: float = 1.0,
) -> PathControl:
    """A path from the target sample to the target with the source's coordinates along principal ``directions`` of
    ``scale`` (indices into its principal directions)."""
    indices = sorted({check_count(i, "a direction index", 0, generator.z_dim - 1) for i in directions})
    if not indices:
        raise InvalidValueError("choose at least one direction to transfer")
    psi = check_truncation(truncation)
    basis = principal(generator, max(indices) + 1, scale).vectors[indices]
    source = generator.sample(1, seed=check_seed(source_seed), truncation=psi, class_index=source_class)
    target = generator.sample(1, seed=check_seed(target_seed), truncation=psi, class_index=target_class)
    result = transferred(target, source, basis)
    params = {
        "source_seed": source_seed,
        "target_seed": target_seed,
        "source_class": source_class,
        "target_class": target_class,
        "directions": indices,
        "scale": scale,
        "truncation": psi,
    }
    name = f"seed {target_seed} ← seed {source_seed} along {len(indices)} directions"
    return PathControl.through(
        [target, result], generator.identity, interpolation="linear", name=name, method="transfer", params=params
    )


METHOD = Method(
    name="transfer",
    title="Attribute transfer between samples",
    function=transfer,
    kind="path",
    parameters=(
        Parameter("source_seed", "int", 1, "Source seed (its coordinates are copied)", minimum=0),
        Parameter("target_seed", "int", 0, "Target seed (receives them)", minimum=0),
        Parameter("source_class", "int", None, "Source class (class-conditional models)", minimum=0),
        Parameter("target_class", "int", None, "Target class (kept)", minimum=0),
        Parameter("directions", "seeds", [0, 1, 2, 3, 4], "Principal directions to copy, e.g. 0,1,2"),
        SCALE,
        Parameter("truncation", "float", 1.0, "Truncation ψ of the samples", minimum=0.01, maximum=1.0),
    ),
    description="the target takes the source's coordinates along chosen principal directions (no optimization)",
)
