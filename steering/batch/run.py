"""Running a job: find what is already stored, bound the memory, let an engine compute the rest, read the results.

``run(job, model, store=folder)`` computes only the shards ``folder`` does not hold yet: a killed job resumes where it
stopped and a finished one is read back without computing anything. Without a folder the shards live in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import Tensor

from .. import limits
from ..errors import InvalidValueError
from ..models.base import Generator
from .engines import Engine, engine_named
from .job import Job, compute_rows
from .store import ShardStore

Progress = Callable[[int, int], None]


@dataclass
class JobResult:
    """A job's stored results. ``computed`` / ``reused``: shards computed by this run / found already stored."""

    job: Job
    store: ShardStore
    computed: int
    reused: int

    @property
    def count(self) -> int:
        return self.job.count

    @property
    def fingerprint(self) -> str:
        return self.store.fingerprint

    @property
    def folder(self) -> Path | None:
        return self.store.folder

    def shards(self) -> Iterator[dict[str, Tensor]]:
        """Each shard's columns in row order (one shard in memory at a time)."""
        return self.store.shards(self.job.num_shards)

    def names(self) -> list[str]:
        return sorted(self.store.read(0))

    def columns(self, *names: str) -> dict[str, Tensor]:
        """Whole columns (every row), checked against the memory budget before they are put together."""
        first = self.store.read(0)
        wanted = list(names) or sorted(first)
        missing = [n for n in wanted if n not in first]
        if missing:
            raise InvalidValueError(f"the job has no column {missing[0]!r}; it has {sorted(first)}")
        per_row = sum(first[n][:1].nbytes for n in wanted)
        limits.check_bytes(per_row * self.count, f"reading {self.count} rows of {', '.join(wanted)}")
        parts: dict[str, list[Tensor]] = {n: [] for n in wanted}
        for index in range(self.job.num_shards):
            shard = first if index == 0 else self.store.read(index)
            for name in wanted:
                parts[name].append(shard[name])
        return {n: v[0] if len(v) == 1 else torch.cat(v) for n, v in parts.items()}

    def column(self, name: str) -> Tensor:
        return self.columns(name)[name]


def run(
    job: Job,
    model: Generator | str,
    *,
    engine: str | Engine | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    device: str = "cpu",
) -> JobResult:
    """Run ``job`` on ``model`` (a generator, or a spec ``load_generator`` takes) with ``engine`` (``"local"``, the
    default, or ``"ray"``); results go to the folder ``store`` (resumable) or stay in memory.

    ``progress(done, total)`` counts rows (stored rows count as done at once); it may raise ``CancelledError`` to
    stop: shards already written stay and the next run resumes from them."""
    generator, spec = _model(model, device)
    description = job.describe(generator)
    shards = ShardStore(store, job.fingerprint(generator), description)
    done = shards.done(job.num_shards)
    pending = [i for i in range(job.num_shards) if i not in done]
    finished = sum(job.shard_rows(i)[1] - job.shard_rows(i)[0] for i in done)
    if progress is not None:
        progress(finished, job.count)
    if pending:
        _check_memory(job, generator, in_memory=store is None)
        counter = [finished]

        def advance(rows: int) -> None:
            counter[0] += rows
            if progress is not None:
                progress(counter[0], job.count)

        engine_named(engine).run(job, generator, spec, pending, shards.fingerprint, shards.write, advance)
    return JobResult(job, shards, computed=len(pending), reused=len(done))


def _model(model: Generator | str, device: str) -> tuple[Generator, str | None]:
    if isinstance(model, Generator):
        return model, None
    if isinstance(model, str):
        from ..sources import load_generator

        return load_generator(model, device=device), model
    raise InvalidValueError(f"a job runs on a generator or a model spec, not {type(model).__name__}")


def _check_memory(job: Job, generator: Generator, in_memory: bool) -> None:
    """One row is computed to learn its size: a shard (or, in memory, the whole job) must fit the request budget,
    with room for a batch of images."""
    with torch.no_grad():
        row = compute_rows(generator, replace(job, batch_size=1, shard_size=1), 0, 1)
    per_row = sum(t.nbytes for t in row.values())
    rows = job.count if in_memory else job.shard_size
    what = f"{job.count} rows kept in memory" if in_memory else f"shards of {job.shard_size} rows"
    working = job.batch_size * limits.image_bytes(generator)
    limits.check_bytes(per_row * rows + working, f"a job with {what} ({per_row} bytes each)")


__all__ = ["JobResult", "run"]
