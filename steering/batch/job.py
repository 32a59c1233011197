"""A batch job: which latents, what to compute for each, and how rows are grouped into batches and shards.

The grouping is part of the job, not of the engine: rows ``[k·batch_size, (k+1)·batch_size)`` are always computed
together and shards always hold ``shard_size`` rows (the last ones fewer), so every engine, with any number of
workers, computes the same batches and writes the same shard bytes. ``compute_shard`` is the one function that
turns a shard index into its tensors; both engines call it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from safetensors.torch import save as safetensors_bytes
from torch import Tensor

from .. import limits
from ..errors import InvalidValueError
from ..models.base import Generator
from ..values import check_count
from .latents import LatentSource
from .measures import Batch, Measure

#: Bumped when the shard layout or the meaning of a column changes: old shards are then recomputed.
JOB_FORMAT = 1
LATENTS, CLASSES = "latents", "classes"
#: What engines call: ``deliver(index, payload)`` for a finished shard, ``advance(rows)`` as rows are done.
Deliver = Callable[[int, bytes], None]
Advance = Callable[[int], None]
SHARD_KEY, SHARD_FORMAT = "gan-steering.shard", 1


@dataclass(frozen=True)
class Job:
    """``latents`` → ``measures`` per batch of ``batch_size`` rows, stored ``shard_size`` rows per shard.

    ``keep_latents`` adds the columns ``latents`` (codes in the source's space) and, for class-conditional models,
    ``classes``. ``shard_size`` is rounded up to a whole number of batches."""

    latents: LatentSource
    measures: tuple[Measure, ...] = ()
    batch_size: int = 64
    shard_size: int = 4096
    keep_latents: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "measures", tuple(self.measures))
        batch = check_count(self.batch_size, "the batch size", 1, 100_000)
        shard = check_count(self.shard_size, "the shard size", 1, limits.MAX_SAMPLES)
        object.__setattr__(self, "batch_size", batch)
        object.__setattr__(self, "shard_size", -(-shard // batch) * batch)
        if not self.measures and not self.keep_latents:
            raise InvalidValueError("a job must keep its latents or compute at least one measure")

    @property
    def count(self) -> int:
        return self.latents.count

    @property
    def num_shards(self) -> int:
        return -(-self.count // self.shard_size)

    def shard_rows(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.num_shards:
            raise InvalidValueError(f"shard {index} is outside the job's {self.num_shards} shards")
        start = index * self.shard_size
        return start, min(start + self.shard_size, self.count)

    def describe(self, generator: Generator) -> dict[str, Any]:
        """Everything the results depend on (JSON-able): the model, the latents (a default space resolved for this
        model), the measures and the grouping."""
        latents = dict(self.latents.describe())
        if "space" in latents and latents["space"] is None:
            latents["space"] = generator.default_space
        return {
            "format": JOB_FORMAT,
            "model": {"architecture": generator.architecture, "sha256": generator.identity.sha256},
            "latents": latents,
            "measures": [m.describe() for m in self.measures],
            "batch_size": self.batch_size,
            "shard_size": self.shard_size,
            "keep_latents": self.keep_latents,
        }

    def fingerprint(self, generator: Generator) -> str:
        text = json.dumps(self.describe(generator), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@torch.no_grad()
def compute_rows(
    generator: Generator, job: Job, start: int, stop: int, on_batch: Callable[[int], None] | None = None
) -> dict[str, Tensor]:
    """The job's columns for rows ``[start, stop)`` (a whole number of batches, or up to the end), on the CPU;
    ``on_batch(rows)`` after each batch."""
    if start % job.batch_size or (stop % job.batch_size and stop != job.count):
        raise InvalidValueError(f"rows [{start}, {stop}) do not fall on the job's batches of {job.batch_size}")
    parts: dict[str, list[Tensor]] = {}
    for lo in range(start, stop, job.batch_size):
        hi = min(lo + job.batch_size, stop)
        latents = job.latents.rows(generator, lo, hi)
        batch = Batch(generator, latents, lo)
        columns: dict[str, Tensor] = {}
        if job.keep_latents:
            columns[LATENTS] = latents.codes
            if latents.classes is not None:
                columns[CLASSES] = latents.classes
        for measure in job.measures:
            for name, value in measure(batch).items():
                if name in columns:
                    raise InvalidValueError(f"two measures of the job write the column {name!r}")
                if value.shape[0] != hi - lo:
                    raise InvalidValueError(f"column {name!r} has {value.shape[0]} rows for a batch of {hi - lo}")
                columns[name] = value
        for name, value in columns.items():
            parts.setdefault(name, []).append(value.detach().to("cpu"))
        if on_batch is not None:
            on_batch(hi - lo)
    return {name: values[0] if len(values) == 1 else torch.cat(values) for name, values in parts.items()}


def compute_shard(
    generator: Generator, job: Job, index: int, on_batch: Callable[[int], None] | None = None
) -> dict[str, Tensor]:
    """Shard ``index``'s columns."""
    return compute_rows(generator, job, *job.shard_rows(index), on_batch=on_batch)


def shard_bytes(columns: dict[str, Tensor], fingerprint: str, index: int, rows: Sequence[int]) -> bytes:
    """A shard as safetensors bytes, the same bytes whichever engine made them (the header's metadata is one key:
    safetensors writes several keys in a per-process hash order)."""
    header = {"format": SHARD_FORMAT, "fingerprint": fingerprint, "index": index, "rows": [rows[0], rows[1]]}
    clean = {name: value.contiguous() for name, value in sorted(columns.items())}
    return safetensors_bytes(clean, metadata={SHARD_KEY: json.dumps(header, sort_keys=True)})


def shard_header(metadata: dict[str, str]) -> dict[str, Any]:
    """What ``shard_bytes`` put in a shard's metadata (empty when it is not a shard)."""
    try:
        header = json.loads(metadata.get(SHARD_KEY, "{}"))
    except ValueError:
        return {}
    return header if isinstance(header, dict) and header.get("format") == SHARD_FORMAT else {}


__all__ = [
    "CLASSES",
    "JOB_FORMAT",
    "LATENTS",
    "Advance",
    "Deliver",
    "Job",
    "compute_rows",
    "compute_shard",
    "shard_bytes",
    "shard_header",
]
