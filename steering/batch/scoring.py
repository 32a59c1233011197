"""Scoring jobs: seeded samples rendered once and scored by every scorer (the data attribute heads, boundaries and
labelled sets are built from), with thumbnails for a dataset export.

    result = score(G, ["brightness", "fer-emotion"], 100_000, engine="ray", store="runs/scores")
    codes, scores = result.column("latents"), result.column("scores.brightness")
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from torch import Tensor

from ..models.base import Generator
from .engines import Engine
from .job import Job
from .latents import SeededLatents
from .measures import Scores, Thumbnails
from .run import JobResult, Progress, run

ScorerLike = Callable[[Tensor], Tensor] | str | Scores


def scoring_job(
    scorers: Sequence[ScorerLike],
    count: int,
    *,
    seed: int = 0,
    truncation: float = 1.0,
    space: str | None = None,
    class_index: int | None = None,
    thumbnails: int | None = 64,
    batch_size: int = 64,
    shard_size: int = 4096,
) -> Job:
    """``count`` latents, one seed each (``seed + i``), scored by ``scorers`` (scorers, registered names or
    callables); ``thumbnails``: their side in pixels (``None``: none)."""
    measures: list[Any] = [s if isinstance(s, Scores) else Scores(s) for s in scorers]
    if thumbnails:
        measures.append(Thumbnails(thumbnails))
    latents = SeededLatents(count, seed=seed, truncation=truncation, space=space, class_index=class_index)
    return Job(latents, tuple(measures), batch_size=batch_size, shard_size=shard_size)


def score(
    model: Generator | str,
    scorers: Sequence[ScorerLike],
    count: int,
    *,
    engine: str | Engine | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> JobResult:
    """Run ``scoring_job(scorers, count, **options)`` on ``model`` (see ``run``)."""
    return run(scoring_job(scorers, count, **options), model, engine=engine, store=store, progress=progress)


__all__ = ["score", "scoring_job"]
