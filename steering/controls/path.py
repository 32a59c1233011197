"""Path controls: a position along recorded latents (an interpolation between two seeds, a recorded trajectory).

Strength is the fraction of the path travelled: 0 is its first point, 1 its last, and the stored points are reached
exactly (``t = s·(T − 1)`` falls between points ``⌊t⌋`` and ``⌊t⌋ + 1``, interpolated linearly or, ``slerp``, along
the great circle with the length interpolated linearly). A path sets the latent to its position (it does not add to
it): at 0 the starting point is left as it is, at 1 the latent *is* the path's end. Strengths outside [0, 1] stay at
the ends. Class-conditional paths may record a class vector per point (``point_classes``), interpolated linearly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import Tensor

from .. import metadata as meta
from ..errors import DirectionsFileError, InvalidValueError
from ..models.base import Generator, Latents, ModelIdentity
from .base import Control, finite
from .stepwise import StepwiseControl

INTERPOLATIONS = ("linear", "slerp")


@dataclasses.dataclass(kw_only=True)
class PathControl(StepwiseControl):
    """k paths of T points each."""

    kind: ClassVar[str] = "path"
    unit: ClassVar[str] = "the fraction of the path travelled (0: its start, 1: its end)"
    noun: ClassVar[str] = "paths"
    tensor_names: ClassVar[tuple[str, ...]] = ("points", "point_classes")

    points: Tensor  # [k, T, d]
    point_classes: Tensor | None = None  # [k, T, C]
    interpolation: str = "linear"
    strength_range: tuple[float, float] = (0.0, 1.0)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def dim(self) -> int:
        return int(self.points.shape[-1])

    def check_tensors(self) -> None:
        if self.points.ndim != 3 or self.points.shape[0] == 0 or self.points.shape[1] < 2 or self.points.shape[2] == 0:
            raise InvalidValueError(f"points must be [k, T, d] with k ≥ 1, T ≥ 2, d ≥ 1, got {list(self.points.shape)}")
        self.points = finite(self.points, "path points")
        if self.point_classes is not None:
            classes = finite(self.point_classes, "path classes")
            if classes.ndim != 3 or tuple(classes.shape[:2]) != tuple(self.points.shape[:2]):
                raise InvalidValueError(f"point_classes must be [k, T, C] with [k, T] = {list(self.points.shape[:2])}")
            self.point_classes = classes
        if self.interpolation not in INTERPOLATIONS:
            raise InvalidValueError(f"interpolation must be one of {list(INTERPOLATIONS)}, got {self.interpolation!r}")

    def kind_tensors(self) -> dict[str, Tensor]:
        tensors = {"points": self.points}
        if self.point_classes is not None:
            tensors["point_classes"] = self.point_classes
        return tensors

    def kind_metadata(self) -> dict[str, str]:
        return {"interpolation": self.interpolation}

    @classmethod
    def kind_fields(cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str) -> dict[str, Any]:
        if "points" not in tensors:
            raise DirectionsFileError(f"{origin} has no 'points' tensor")
        interpolation = meta.field(
            metadata, "interpolation", str, origin, DirectionsFileError, default="linear", as_json=False
        )
        return {
            "points": tensors["points"],
            "point_classes": tensors.get("point_classes"),
            "interpolation": interpolation,
        }

    def select_tensors(self, index: Tensor) -> dict[str, Any]:
        classes = None if self.point_classes is None else self.point_classes[index]
        return {"points": self.points[index], "point_classes": classes}

    # ----- building ------------------------------------------------------------------------------------------------
    @classmethod
    def through(
        cls,
        points: Sequence[Latents],
        model: ModelIdentity,
        *,
        interpolation: str = "slerp",
        name: str = "interpolation",
        method: str = "interpolation",
        params: dict[str, Any] | None = None,
    ) -> PathControl:
        """One path through ``points`` (single latents of one space, in order)."""
        if len(points) < 2 or any(len(p) != 1 or p.space != points[0].space or p.codes.ndim != 2 for p in points):
            raise InvalidValueError("a path runs through two or more single z or w latents of the same space")
        classes = None
        if all(p.classes is not None for p in points):
            classes = torch.cat([p.classes for p in points])[None].float()  # type: ignore[misc]
        return cls(
            points=torch.cat([p.codes for p in points])[None].float(),
            point_classes=classes,
            interpolation=interpolation,
            space=points[0].space,
            method=method,
            model=model,
            names=[name],
            params=dict(params or {}),
        )

    @classmethod
    def between(cls, start: Latents, end: Latents, model: ModelIdentity, **options: Any) -> PathControl:
        """One path from ``start`` to ``end`` (see ``through``)."""
        return cls.through([start, end], model, **options)

    # ----- moving latents ----------------------------------------------------------------------------------------
    def position(self, index: int, s: Tensor) -> tuple[Tensor, Tensor | None]:
        """Points [N, d] (and classes [N, C]) at fractions ``s`` [N] of path ``index``; stored points exactly."""
        points = self.points[index]
        last = points.shape[0] - 1
        t = s.double().clamp(0, 1) * last
        segment = t.floor().clamp(max=last - 1).long()
        u = (t - segment).float()[:, None]
        a, b = points[segment], points[segment + 1]
        moved = _slerp(a, b, u) if self.interpolation == "slerp" else a + u * (b - a)
        exact = u[:, 0] == 0
        moved = torch.where(exact[:, None], a, torch.where((u == 1), b, moved))
        classes = None
        if self.point_classes is not None:
            ca, cb = self.point_classes[index][segment], self.point_classes[index][segment + 1]
            classes = torch.where(exact[:, None], ca, ca + u * (cb - ca))
        return moved, classes

    def move(
        self, generator: Generator, start: Tensor, s: Tensor, index: int, latents: Latents, report: Any
    ) -> tuple[Tensor, Tensor | None]:
        """The latents whose strength is not 0 go to their position on path ``index`` (with its class, if any)."""
        moving = (s != 0)[:, None]
        at, classes = self.position(index, s)
        moved = torch.where(moving, at.to(start), start)
        if classes is None or latents.classes is None:
            return moved, None
        return moved, torch.where(moving, classes.to(latents.classes), latents.classes)

    walk = Control.walk  # closed form: each frame from the start, with its class


def _slerp(a: Tensor, b: Tensor, u: Tensor) -> Tensor:
    """Spherical interpolation of rows (lengths interpolated linearly); linear where the rows are parallel."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1, 1)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    parallel = sin.abs() < 1e-6
    wa = torch.where(parallel, 1 - u, torch.sin((1 - u) * omega) / sin.clamp_min(1e-12))
    wb = torch.where(parallel, u, torch.sin(u * omega) / sin.clamp_min(1e-12))
    direction = wa * ua + wb * ub
    return direction * (na + u * (nb - na)) / direction.norm(dim=-1, keepdim=True).clamp_min(1e-12)


__all__ = ["INTERPOLATIONS", "PathControl"]
