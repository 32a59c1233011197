"""What every attribute scorer is: images [N, 3, H, W] in [-1, 1] -> scores [N, C], one column per class.

* **binary** attributes have one column (``classes`` has one name): higher means more of it (brightness, p(happy));
  an edit goes either way.
* **multi-class** attributes have ``C ≥ 2`` columns, one per class; higher means more of that class (class
  probabilities or logits: ``probabilities`` says which). The label of an image is the argmax.

A scorer names itself for files with ``identity()`` (a JSON-able mapping: the registry name and parameters, and
for a model the sha256 of its weights), so a control file records which attribute its heads were trained on. A
scorer is differentiable where it can be (``differentiable``), but nothing here needs its gradient: GradCtrl
follows the gradients of small heads on the latent, and the images are only scored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from ..errors import InvalidValueError
from ..values import check_name, check_names

#: How far outside [-1, 1] an image may stray (interpolating resamplers overshoot a little).
RANGE_SLACK = 1e-3


class Scorer(ABC):
    """One attribute: ``name``, ``classes`` (one name per score column) and ``scores(images)``."""

    name: str
    classes: tuple[str, ...]
    #: Whether the columns are class probabilities (rows sum to 1); otherwise real-valued scores or logits.
    probabilities: bool = False
    differentiable: bool = True

    def __init__(self, name: str, classes: Sequence[str], *, probabilities: bool = False) -> None:
        self.name = check_name(name, "the attribute name")
        self.classes = tuple(check_names(list(classes), "class names"))
        if not self.classes:
            raise InvalidValueError("a scorer needs at least one class")
        self.probabilities = bool(probabilities)

    @property
    def binary(self) -> bool:
        """One score column: an attribute with two sides (more / less of it)."""
        return len(self.classes) == 1

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @abstractmethod
    def score(self, images: Tensor) -> Tensor:
        """Scores [N, C] of checked images [N, 3, H, W] in [-1, 1] (subclasses implement this)."""

    #: Whether ``identity`` tells this scorer apart from any other, so results scored by it may be cached under it.
    cacheable: bool = True

    def identity(self) -> dict[str, Any]:
        """What a file records about this scorer (JSON-able); subclasses add their parameters."""
        return {"scorer": self.name, "classes": list(self.classes)}

    def __call__(self, images: Tensor) -> Tensor:
        """``score`` with the input and output checked: [N, 3, H, W] in [-1, 1] in, finite [N, C] out."""
        check_images(images)
        scores = self.score(images)
        expected = (images.shape[0], self.num_classes)
        if tuple(scores.shape) != expected:
            raise InvalidValueError(f"scorer {self.name!r} returned {list(scores.shape)}, expected {list(expected)}")
        if not bool(torch.isfinite(scores).all()):
            raise InvalidValueError(f"scorer {self.name!r} returned NaN or infinite scores")
        return scores

    def labels(self, scores: Tensor) -> Tensor:
        """Hard labels [N]: the argmax class (multi-class); binary: 1 where the score is above its median."""
        if self.binary:
            return (scores[:, 0] > scores[:, 0].median()).long()
        return scores.argmax(dim=1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, classes={list(self.classes)})"


def check_images(images: Tensor) -> None:
    """Images must be [N, 3, H, W] (N ≥ 1), finite, in [-1, 1]."""
    if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3 or images.shape[0] < 1:
        shape = list(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise InvalidValueError(f"scorers read RGB images [N, 3, H, W] in [-1, 1], got {shape}")
    if images.shape[2] < 2 or images.shape[3] < 2:
        raise InvalidValueError(f"images of {images.shape[2]}×{images.shape[3]} pixels are too small to score")
    finite = torch.isfinite(images)
    if not bool(finite.all()) or float(images.abs().max()) > 1 + RANGE_SLACK:
        raise InvalidValueError("scorers read images in [-1, 1] (finite values): scale them first")


class CallableScorer(Scorer):
    """Any Python callable ``fn(images [N, 3, H, W] in [-1, 1]) -> [N, C]`` (or [N] for one binary column)."""

    def __init__(
        self,
        fn: Callable[[Tensor], Tensor],
        name: str,
        classes: Sequence[str] | None = None,
        *,
        probabilities: bool = False,
        differentiable: bool = True,
    ) -> None:
        if not callable(fn):
            raise InvalidValueError(f"a callable scorer needs a function, got {type(fn).__name__}")
        super().__init__(name, classes or [name], probabilities=probabilities)
        self.fn = fn
        self.differentiable = bool(differentiable)

    def score(self, images: Tensor) -> Tensor:
        out = self.fn(images)
        if not isinstance(out, Tensor):
            out = torch.as_tensor(out)
        out = out.to(images.dtype)
        return out[:, None] if out.ndim == 1 else out

    #: Two closures or lambdas share a qualified name: their scores are never cached under it.
    cacheable = False

    def identity(self) -> dict[str, Any]:
        fn = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        module = getattr(self.fn, "__module__", "") or ""
        return {**super().identity(), "callable": f"{module}:{fn}"}


def as_scorer(
    thing: Scorer | Callable[[Tensor], Tensor] | str, name: str | None = None, classes: Sequence[str] | None = None
) -> Scorer:
    """A ``Scorer`` from a scorer, a registry name (``"brightness"``, ``"fer-emotion"``) or a callable."""
    if isinstance(thing, Scorer):
        return thing
    if isinstance(thing, str):
        from . import scorer

        return scorer(thing)
    if callable(thing):
        label = name or getattr(thing, "__name__", None) or "attribute"
        return CallableScorer(thing, label if label != "<lambda>" else "attribute", classes)
    raise InvalidValueError(f"cannot score with a {type(thing).__name__}: give a scorer, its name or a function")


def describe(scorer: Scorer) -> Mapping[str, Any]:
    """A short summary for UIs and the CLI."""
    return {
        "name": scorer.name,
        "classes": list(scorer.classes),
        "kind": "binary" if scorer.binary else "multi-class",
        "probabilities": scorer.probabilities,
    }


__all__ = ["RANGE_SLACK", "CallableScorer", "Scorer", "as_scorer", "check_images", "describe"]
