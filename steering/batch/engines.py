"""Engines: who computes a job's pending shards. Both call ``job.compute_shard`` and hand back the same bytes.

* ``LocalEngine`` (the default): in this process, shard after shard, batch after batch.
* ``RayEngine`` (``steering.batch.ray_engine``, needs ``pip install "gan-steering[ray]"``): Ray Data ``map_batches``
  over the pending shard indices with an actor pool; each actor loads the model once.

An engine calls ``deliver(index, payload)`` for every finished shard (the runner stores it) and ``advance(rows)`` as
rows are done (the runner turns that into ``progress(done, total)``, which may raise ``CancelledError``).
"""

from __future__ import annotations

from typing import Protocol

from ..errors import InvalidValueError
from ..models.base import Generator
from .job import Advance, Deliver, Job, compute_shard, shard_bytes


class Engine(Protocol):
    name: str

    def run(
        self,
        job: Job,
        generator: Generator,
        spec: str | None,
        pending: list[int],
        fingerprint: str,
        deliver: Deliver,
        advance: Advance,
    ) -> None:
        """Compute the ``pending`` shards of ``job``; ``spec`` (when known) lets remote workers load the model
        themselves instead of receiving ``generator``."""
        ...


class LocalEngine:
    """Shards computed one after the other in this process (progress after every batch)."""

    name = "local"

    def run(
        self,
        job: Job,
        generator: Generator,
        spec: str | None,
        pending: list[int],
        fingerprint: str,
        deliver: Deliver,
        advance: Advance,
    ) -> None:
        for index in pending:
            columns = compute_shard(generator, job, index, on_batch=advance)
            deliver(index, shard_bytes(columns, fingerprint, index, job.shard_rows(index)))


def engine_named(engine: str | Engine | None) -> Engine:
    """``"local"`` (or ``None``), ``"ray"``, or an engine object."""
    if engine is None or engine == "local":
        return LocalEngine()
    if engine == "ray":
        from .ray_engine import RayEngine

        return RayEngine()
    if isinstance(engine, str):
        raise InvalidValueError(f"unknown engine {engine!r}: use 'local' or 'ray'")
    return engine


ENGINES = ("local", "ray")

__all__ = ["ENGINES", "Engine", "LocalEngine", "engine_named"]
