"""Image-space changes of the built-in image statistics: move one statistic of an image to a chosen score.

SC²GAN needs images with combinations of attributes the model seldom draws. For a model with a single latent (the
embedded DCGANs) there are no region-specific layers to edit one attribute in; when the attribute is one of the built-in
statistics (``steering.scorers.statistics``) the image itself can be changed: brighter, warmer, less saturated, lit
from the left, … Each change is a one-parameter family ``edit(x, t)`` (``t = 0``: the image), increasing in its
statistic, applied inside the statistic's region; ``move_to`` finds each image's ``t`` by bisection so that the
scorer reads the requested score.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..errors import InvalidValueError
from ..scorers import Scorer
from ..scorers.statistics import LUMA, RegionStatistic

Change = Callable[[Tensor, Tensor], Tensor]  # (pixels [N, 3, h, w] in [-1, 1], amounts [N]) -> pixels
BISECTIONS = 24


def _per_image(t: Tensor) -> Tensor:
    return t[:, None, None, None]


def _luma(x: Tensor) -> Tensor:
    weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x * weights).sum(dim=1, keepdim=True)


def _ramp(x: Tensor, dim: int) -> Tensor:
    """+1 at the start (left / top) to −1 at the end, along ``dim`` of [N, 3, h, w]."""
    size = x.shape[dim]
    ramp = torch.linspace(1.0, -1.0, size, dtype=x.dtype, device=x.device)
    return ramp[None, None, None, :] if dim == 3 else ramp[None, None, :, None]


def _brightness(x: Tensor, t: Tensor) -> Tensor:
    return x + _per_image(t)


def _contrast(x: Tensor, t: Tensor) -> Tensor:
    mean = _luma(x).mean(dim=(2, 3), keepdim=True)
    return mean + (1 + _per_image(t)) * (x - mean)


def _saturation(x: Tensor, t: Tensor) -> Tensor:
    grey = _luma(x)
    return grey + (1 + _per_image(t)) * (x - grey)


def _warmth(x: Tensor, t: Tensor) -> Tensor:
    shift = torch.tensor([1.0, 0.0, -1.0], dtype=x.dtype, device=x.device)[None, :, None, None]
    return x + _per_image(t) * shift


def _blueness(x: Tensor, t: Tensor) -> Tensor:
    shift = torch.tensor([-0.5, -0.5, 1.0], dtype=x.dtype, device=x.device)[None, :, None, None]
    return x + _per_image(t) * shift


def _left_right(x: Tensor, t: Tensor) -> Tensor:
    return x + _per_image(t) * _ramp(x, 3)


def _top_bottom(x: Tensor, t: Tensor) -> Tensor:
    return x + _per_image(t) * _ramp(x, 2)


#: Statistic name -> (change, range of amounts searched). Each change raises its statistic as ``t`` grows.
CHANGES: dict[str, tuple[Change, tuple[float, float]]] = {
    "brightness": (_brightness, (-2.0, 2.0)),
    "contrast": (_contrast, (-1.0, 4.0)),
    "saturation": (_saturation, (-1.0, 4.0)),
    "warmth": (_warmth, (-2.0, 2.0)),
    "blueness": (_blueness, (-2.0, 2.0)),
    "left-right": (_left_right, (-2.0, 2.0)),
    "top-bottom": (_top_bottom, (-2.0, 2.0)),
}


def can_change(scorer: Scorer) -> bool:
    """Whether ``scorer`` is a built-in statistic with an image-space change."""
    return isinstance(scorer, RegionStatistic) and scorer.statistic in CHANGES


def change(scorer: Scorer, images: Tensor, amounts: Tensor) -> Tensor:
    """``images`` [N, 3, H, W] with ``scorer``'s statistic changed by ``amounts`` [N] inside its region, clamped."""
    if not can_change(scorer):
        raise InvalidValueError(f"{scorer.name!r} is not a built-in image statistic: it has no image-space change")
    edit, _ = CHANGES[scorer.statistic]  # type: ignore[attr-defined]
    height, width = images.shape[-2:]
    left, top, right, bottom = scorer.region  # type: ignore[attr-defined]
    rows = slice(round(top * height), max(round(bottom * height), round(top * height) + 1))
    cols = slice(round(left * width), max(round(right * width), round(left * width) + 1))
    out = images.clone()
    out[..., rows, cols] = edit(images[..., rows, cols], amounts.to(images)).clamp(-1, 1)
    return out


@torch.no_grad()
def move_to(scorer: Scorer, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Each image with ``scorer``'s statistic moved to ``targets`` [N] (as near as the image allows: a bisection over
    the change's amount); returns the images and the scores they reach [N]."""
    if not can_change(scorer):
        raise InvalidValueError(f"{scorer.name!r} is not a built-in image statistic: it has no image-space change")
    _, (low, high) = CHANGES[scorer.statistic]  # type: ignore[attr-defined]
    lo = torch.full((len(images),), low, dtype=images.dtype)
    hi = torch.full((len(images),), high, dtype=images.dtype)
    goal = targets.to(images.dtype)
    for _ in range(BISECTIONS):
        middle = (lo + hi) / 2
        below = scorer(change(scorer, images, middle))[:, 0] < goal
        lo, hi = torch.where(below, middle, lo), torch.where(below, hi, middle)
    moved = change(scorer, images, (lo + hi) / 2)
    return moved, scorer(moved)[:, 0]


__all__ = ["CHANGES", "can_change", "change", "move_to"]
