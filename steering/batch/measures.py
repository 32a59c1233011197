"""What a job computes for each batch of latents: named columns, one row per latent.

A measure is called with a ``Batch`` (the generator, the latents and, made on first use and shared by every measure
of the batch, their images) and returns ``{column: Tensor [N, ...]}``. It describes itself (``describe``, JSON-able)
for the job's fingerprint, so a changed scorer or feature never reuses old shards.

* ``Features(names)``: intermediate activations (``Generator.features``), flattened per row or not.
* ``Scores(scorer)``: any callable ``images [N, 3, H, W] in [-1, 1] -> Tensor [N] or [N, C]`` (a
  ``steering.scorers`` scorer, a classifier, a lambda); column ``scores.<name>``.
* ``Thumbnails(size)``: 8-bit RGB thumbnails [N, size, size, 3] (the dataset export's picture column).

A measure of one's own is any object with ``describe()`` and ``__call__(batch)``; it must be picklable to run on
Ray (plain classes and functions are).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import torch
from torch import Tensor

from ..errors import InvalidValueError
from ..models.base import Generator, Latents
from ..values import check_count, check_name


@dataclass
class Batch:
    """One batch of a job: ``rows`` [start, stop) of the job, their latents, and their images on demand."""

    generator: Generator
    latents: Latents
    start: int
    _images: Tensor | None = field(default=None, repr=False)

    @property
    def images(self) -> Tensor:
        """``generator.synthesize(latents)``: [N, C, H, W] in [-1, 1], computed once per batch."""
        if self._images is None:
            self._images = self.generator.synthesize(self.latents)
        return self._images


class Measure(Protocol):
    def describe(self) -> dict[str, Any]: ...

    def __call__(self, batch: Batch) -> dict[str, Tensor]: ...


@dataclass(frozen=True)
class Features:
    """``Generator.features`` for ``names``; column ``feature.<name>`` ([N, F] when ``flatten``)."""

    names: tuple[str, ...]
    flatten: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        if not self.names:
            raise InvalidValueError("name at least one feature")

    def describe(self) -> dict[str, Any]:
        return {"measure": "features", "names": list(self.names), "flatten": self.flatten}

    def __call__(self, batch: Batch) -> dict[str, Tensor]:
        found = batch.generator.features(batch.latents, list(self.names))
        return {f"feature.{n}": found[n].flatten(1) if self.flatten else found[n] for n in self.names}


class Scores:
    """Scores of the batch's images (clamped to [-1, 1]) by ``scorer`` -> [N] or [N, C]; column ``scores.<name>``.

    ``scorer``: a ``steering.scorers`` scorer or its registered name (``"brightness"``, ``"fer-emotion"``), or any
    callable. ``name`` defaults to the scorer's own (``scorer.name``, else its function name); ``identity``
    (JSON-able) says which scorer this is in the fingerprint: by default ``scorer.identity()`` when it has one, else
    its qualified name plus the sha256 of its weights when it is a torch module (give a version in ``identity`` when
    a plain function changes). ``classes`` names the columns (default: the scorer's ``classes``)."""

    def __init__(
        self,
        scorer: Callable[[Tensor], Tensor] | str,
        name: str | None = None,
        identity: dict[str, Any] | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        if isinstance(scorer, str):
            from ..scorers import scorer as registered

            scorer = registered(scorer)
        self.scorer = scorer
        self.name = check_name(name or getattr(scorer, "name", None) or _qualname(scorer), "the score name")
        self.classes = list(classes if classes is not None else getattr(scorer, "classes", ()) or ())
        self.identity = identity if identity is not None else _identity_of(scorer)

    def describe(self) -> dict[str, Any]:
        return {"measure": "scores", "name": self.name, "classes": self.classes, "scorer": self.identity}

    def __call__(self, batch: Batch) -> dict[str, Tensor]:
        images = batch.images.clamp(-1, 1).float()
        if isinstance(self.scorer, torch.nn.Module):
            self.scorer.to(images.device)
        with torch.no_grad():
            scores = self.scorer(images)
        if not isinstance(scores, Tensor) or scores.ndim not in (1, 2) or scores.shape[0] != len(batch.latents):
            shape = list(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
            raise InvalidValueError(f"scorer {self.name!r} returned {shape} for {len(batch.latents)} images")
        if not bool(torch.isfinite(scores).all()):
            raise InvalidValueError(f"scorer {self.name!r} returned NaN or infinite scores")
        scores = scores.float()
        return {f"scores.{self.name}": scores[:, None] if scores.ndim == 1 else scores}


@dataclass(frozen=True)
class Thumbnails:
    """8-bit RGB thumbnails [N, size, size, 3] (area-averaged; grey images repeated to RGB); column ``thumbnail``."""

    size: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", check_count(self.size, "the thumbnail size", 8, 1024))

    def describe(self) -> dict[str, Any]:
        return {"measure": "thumbnails", "size": self.size}

    def __call__(self, batch: Batch) -> dict[str, Tensor]:
        images = batch.images.float()
        if images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        images = torch.nn.functional.interpolate(images[:, :3], size=(self.size, self.size), mode="area")
        pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return {"thumbnail": pixels.permute(0, 2, 3, 1).contiguous()}


def _qualname(function: Any) -> str:
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return name.replace("<", "").replace(">", "").replace(".", "-")


def _identity_of(scorer: Any) -> dict[str, Any]:
    own = getattr(scorer, "identity", None)
    if callable(own):
        found = own()
        if isinstance(found, dict):
            return found
    module = getattr(scorer, "__module__", None) or type(scorer).__module__
    identity: dict[str, Any] = {"callable": f"{module}.{_qualname(scorer)}"}
    if isinstance(scorer, torch.nn.Module):
        digest = hashlib.sha256()
        for key, tensor in sorted(scorer.state_dict().items()):
            digest.update(f"{key}:{tensor.dtype}:{list(tensor.shape)};".encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        identity["sha256"] = digest.hexdigest()
    return identity


__all__ = ["Batch", "Features", "Measure", "Scores", "Thumbnails"]
