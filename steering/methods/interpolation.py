"""Interpolation: a path control through the samples of two or more seeds (a slider from one face to another)."""

from __future__ import annotations

from typing import Sequence

from ..controls import PathControl
from ..controls.path import INTERPOLATIONS
from ..errors import InvalidValueError
from ..models.base import Generator
from ..values import check_seeds, check_truncation
from .registry import CLASS_INDEX, Method, Parameter

#: At most this many seeds on one interpolation path (each one is a sample drawn and stored in the control).
MAX_PATH_SEEDS = 256


def interpolation(
    generator: Generator,
    seeds: Sequence[int] = (0, 1),
    truncation: float = 1.0,
    interpolation: str = "slerp",
    class_index: int | None = None,
) -> PathControl:
    """One path through ``generator.sample(1, seed)`` for each seed, in order (``slerp`` or ``linear``).

    Samples live in the model's default space (w for style-based models, z otherwise), truncated by ψ; a
    class-conditional model's samples all take ``class_index`` when it is given (else each seed draws its own)."""
    seeds = check_seeds(list(seeds), MAX_PATH_SEEDS, "the seeds of an interpolation")
    if len(seeds) < 2:
        raise InvalidValueError("an interpolation runs through at least two seeds")
    if interpolation not in INTERPOLATIONS:
        raise InvalidValueError(f"interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
    truncation = check_truncation(truncation)
    points = [generator.sample(1, seed=seed, truncation=truncation, class_index=class_index) for seed in seeds]
    params = {"seeds": seeds, "truncation": truncation, "interpolation": interpolation}
    if class_index is not None:
        params["class_index"] = class_index
    name = f"seed {seeds[0]} → seed {seeds[-1]}" if len(seeds) == 2 else "seeds " + " → ".join(map(str, seeds))
    if len(name) > 80:  # names stay short: the first two seeds, the last, and how many
        name = f"seeds {seeds[0]} → {seeds[1]} → … → {seeds[-1]} ({len(seeds)} seeds)"
    return PathControl.through(
        points, generator.identity, interpolation=interpolation, name=name, method="interpolation", params=params
    )


METHOD = Method(
    name="interpolation",
    title="Interpolation between seeds",
    function=interpolation,
    kind="path",
    parameters=(
        Parameter("seeds", "seeds", [0, 1], "Seeds the path runs through, e.g. 3,7", maximum=MAX_PATH_SEEDS),
        Parameter("truncation", "float", 1.0, "Truncation ψ of the samples", minimum=0.01, maximum=1.0),
        Parameter("interpolation", "choice", "slerp", "Interpolation of the path", choices=INTERPOLATIONS),
        CLASS_INDEX,
    ),
    description="a path through seeded samples: strength 0 is the first, 1 the last",
)
