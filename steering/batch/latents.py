"""Where a job's latents come from: every row is a pure function of the job, never of how the work is split.

* ``SeededLatents``: row ``i`` is drawn from a seed. With ``block=1`` (the default) row ``i`` is
  ``generator.sample(1, seed + i)``: one seed per sample. ``block=B`` draws blocks of ``B`` rows from one seed each
  (row ``i`` is row ``i - b`` of ``generator.sample(B, seed + b)`` with ``b = i - i % B``; the last block is
  shorter), the layout GANSpace has always sampled with, so its samples stay what they were.
* ``GivenLatents``: latents the caller already has (pairs for a warpage map, seeds moved along a control for a
  disentanglement table); named by the sha256 of their bytes.

``rows(generator, start, stop)`` returns rows ``[start, stop)``. Codes are drawn on the CPU (as ``Generator.sample``
draws them), so a seed gives the same codes on every device and in every worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from .. import limits
from ..errors import InvalidValueError
from ..models.base import Generator, Latents, Z
from ..values import MAX_SEED, check_count, check_seed, check_truncation


class LatentSource(Protocol):
    """What a job reads its latents from."""

    @property
    def count(self) -> int: ...

    def describe(self) -> dict[str, Any]:
        """What makes these latents (JSON-able): part of the job's fingerprint."""
        ...

    def rows(self, generator: Generator, start: int, stop: int) -> Latents:
        """Rows ``[start, stop)`` on the generator's device."""
        ...


@dataclass(frozen=True)
class SeededLatents:
    """``count`` latents drawn from seeds (see the module docstring); ``space`` defaults to the model's own."""

    count: int
    seed: int = 0
    block: int = 1
    truncation: float = 1.0
    space: str | None = None
    class_index: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", check_count(self.count, "the number of samples", 1, limits.MAX_SAMPLES))
        object.__setattr__(self, "block", check_count(self.block, "the seed block", 1, limits.MAX_SAMPLES))
        object.__setattr__(self, "seed", check_seed(self.seed))
        if self.seed + (self.count - 1) // self.block * self.block > MAX_SEED:
            raise InvalidValueError(f"seed {self.seed} with {self.count} samples runs past the largest seed {MAX_SEED}")
        object.__setattr__(self, "truncation", check_truncation(self.truncation))

    def describe(self) -> dict[str, Any]:
        return {
            "source": "seeds",
            "count": self.count,
            "seed": self.seed,
            "block": self.block,
            "truncation": self.truncation,
            "space": self.space,
            "class_index": self.class_index,
        }

    def rows(self, generator: Generator, start: int, stop: int) -> Latents:
        _check_rows(start, stop, self.count)
        space = self.space or generator.default_space
        generator.check_space(space)
        pieces = []
        first = start - start % self.block
        for block_start in range(first, stop, self.block):
            size = min(self.block, self.count - block_start)
            drawn = generator.sample(size, self.seed + block_start, self.truncation, Z, self.class_index)
            lo, hi = max(start, block_start) - block_start, min(stop, block_start + size) - block_start
            pieces.append(drawn if (lo, hi) == (0, size) else drawn.select(slice(lo, hi)))
        return generator.to_space(pieces[0] if len(pieces) == 1 else Latents.cat(pieces), space)


@dataclass(frozen=True)
class GivenLatents:
    """Latents the caller made (kept on the CPU; each batch is moved to the worker's device)."""

    latents: Latents
    _sha256: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.latents) < 1:
            raise InvalidValueError("a job needs at least one latent")
        object.__setattr__(self, "latents", self.latents.to("cpu"))
        digest = hashlib.sha256()
        for tensor in (self.latents.codes, self.latents.classes):
            if tensor is not None:
                data = tensor.detach().contiguous()
                digest.update(f"{data.dtype}:{list(data.shape)};".encode())
                digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
        digest.update(f"{self.latents.space};{self.latents.truncation};{self.latents.noise.describe()}".encode())
        object.__setattr__(self, "_sha256", digest.hexdigest())

    @property
    def count(self) -> int:
        return len(self.latents)

    def describe(self) -> dict[str, Any]:
        return {"source": "given", "count": self.count, "space": self.latents.space, "sha256": self._sha256}

    def rows(self, generator: Generator, start: int, stop: int) -> Latents:
        _check_rows(start, stop, self.count)
        return self.latents.select(slice(start, stop)).to(generator.device)


def _check_rows(start: int, stop: int, count: int) -> None:
    if not 0 <= start < stop <= count:
        raise InvalidValueError(f"rows [{start}, {stop}) are outside the job's {count} latents")


__all__ = ["GivenLatents", "LatentSource", "SeededLatents"]
