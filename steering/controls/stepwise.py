"""What the nonlinear kinds share (affine maps, fields, paths): sliders act one after another on one latent vector.

``advance`` takes each control in slider order and moves the latent's vector in the control's space (in w+, the
change goes to the layers the control edits). ``walk`` asks the kind for the frames of one control on each side of
0, in ascending order of strength, so a kind can advance each frame from the previous one.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..models.base import Generator, Latents
from . import spaces
from .base import Control

#: ``report(name, steps, seconds)``: what an integrated control cost (fields).
Report = Callable[[str, int, float], None]


class StepwiseControl(Control):
    """A kind whose controls move one latent vector one after another."""

    @abstractmethod
    def move(
        self, generator: Generator, start: Tensor, s: Tensor, index: int, latents: Latents, report: Report | None
    ) -> tuple[Tensor, Tensor | None]:
        """``start`` [N, d] moved by strengths ``s`` [N] (float64; rows at 0 stay exactly) along control ``index``;
        the new class vectors [N, C] when the move sets them (paths), else ``None``."""

    def frames(
        self, generator: Generator, start: Tensor, index: int, targets: Sequence[float], latents: Latents
    ) -> list[Tensor]:
        """Rows [1, d] at each of ``targets`` (same sign, ascending |s|) from ``start`` [1, d]; closed-form kinds
        compute each from the start, stepwise kinds override this to continue from the previous frame."""
        s = torch.tensor(list(targets), dtype=torch.float64)
        many = latents if len(latents) == len(targets) else Latents.cat([latents] * len(targets))
        moved, _ = self.move(generator, start.expand(len(targets), -1), s, index, many, None)
        return list(moved.split(1))

    def advance(
        self, generator: Generator, latents: Latents, strengths: Tensor, *, report: Report | None = None, **_: Any
    ) -> Latents:
        """Each control in turn (slider order), from where the previous one left the latent."""
        mask = self.layer_mask_for(generator.num_layers)
        for index in range(len(self)):
            s = strengths[:, index].double()
            if not bool((s != 0).any()):
                continue
            row = spaces.layer_row(mask, index)
            latents = spaces.working(generator, latents, self.space, row)
            moved, classes = self.move(generator, spaces.vector(latents, row), s, index, latents, report)
            latents = spaces.put(latents, moved, row)
            if classes is not None and latents.classes is not None:
                latents = latents.replace(classes=classes.to(latents.classes))
        return latents

    def walk(self, generator: Generator, latents: Latents, index: int, strengths: Sequence[float], **_: Any) -> Latents:
        """Frames along control ``index`` (see ``frames``); strength 0 is the start itself."""
        row = spaces.layer_row(self.layer_mask_for(generator.num_layers), index)
        latents = spaces.working(generator, latents, self.space, row)
        start = spaces.vector(latents, row)
        found: dict[float, Tensor] = {}
        for sign in (1.0, -1.0):
            wanted = sorted({abs(float(s)) for s in strengths if s * sign > 0})
            if wanted:
                targets = [sign * t for t in wanted]
                found.update(zip(targets, self.frames(generator, start, index, targets, latents), strict=True))
        rows = [found.get(float(s), start) if s != 0 else start for s in strengths]
        return spaces.put(Latents.cat([latents] * len(strengths)), torch.cat(rows), row)


__all__ = ["Report", "StepwiseControl"]
