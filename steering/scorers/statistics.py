"""Built-in attribute scorers that need no labels and no model: image statistics over a region.

Every statistic reads images in [-1, 1] and is differentiable. Luminance is Rec. 601 (``0.299 R + 0.587 G +
0.114 B``). A region is ``(top, left, bottom, right)`` in fractions of the image (``(0, 0, 1, 1)``: all of it).

* ``brightness`` — mean luminance; ``contrast`` — its standard deviation; ``saturation`` — mean ``max − min`` of
  the channels; ``warmth`` — mean ``R − B``; ``left-right`` / ``top-bottom`` — the mean luminance of one half minus
  the other; ``centre-brightness``, ``centre-blue`` (mean ``B − (R + G)/2``) over the central quarter (eyes: the
  iris) — all binary (one column).
* ``centre-colour`` — multi-class: the share of the central region's pixels nearest each colour of a small palette
  (a soft nearest-colour assignment, temperature ``tau``), so the columns are probabilities.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..errors import InvalidValueError
from ..values import check_number
from .base import Scorer

LUMA = (0.299, 0.587, 0.114)
WHOLE = (0.0, 0.0, 1.0, 1.0)
CENTRE = (0.25, 0.25, 0.75, 0.75)
#: The palette of ``centre-colour`` (RGB in [0, 1]).
PALETTE: dict[str, tuple[float, float, float]] = {
    "dark": (0.08, 0.06, 0.05),
    "brown": (0.45, 0.3, 0.18),
    "red": (0.75, 0.2, 0.2),
    "green": (0.3, 0.55, 0.3),
    "blue": (0.3, 0.45, 0.75),
    "gray": (0.55, 0.55, 0.55),
    "light": (0.92, 0.9, 0.88),
}


def luminance(images: Tensor) -> Tensor:
    """[N, H, W] Rec. 601 luminance of RGB images [N, 3, H, W] (same range as the input)."""
    weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device)
    return torch.einsum("nchw,c->nhw", images, weights)


def crop(images: Tensor, region: Sequence[float]) -> Tensor:
    """The pixels of ``region`` (fractions ``top, left, bottom, right``), at least one pixel each way."""
    top, left, bottom, right = region
    h, w = images.shape[-2:]
    r0, c0 = min(int(top * h), h - 1), min(int(left * w), w - 1)
    r1, c1 = max(r0 + 1, round(bottom * h)), max(c0 + 1, round(right * w))
    return images[..., r0:r1, c0:c1]


def check_region(region: Sequence[Any]) -> tuple[float, float, float, float]:
    """Four fractions ``top < bottom``, ``left < right`` within [0, 1]."""
    values = [check_number(v, "a region bound", 0.0, 1.0) for v in region]
    if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
        raise InvalidValueError(f"a region is (top, left, bottom, right) with top < bottom, left < right; got {values}")
    return values[0], values[1], values[2], values[3]


Statistic = Callable[[Tensor], Tensor]  # region pixels [N, 3, h, w] -> [N]


def _mean_luminance(x: Tensor) -> Tensor:
    return luminance(x).mean(dim=(1, 2))


def _contrast(x: Tensor) -> Tensor:
    return luminance(x).flatten(1).std(dim=1)


def _saturation(x: Tensor) -> Tensor:
    return (x.amax(dim=1) - x.amin(dim=1)).mean(dim=(1, 2))


def _warmth(x: Tensor) -> Tensor:
    return (x[:, 0] - x[:, 2]).mean(dim=(1, 2))


def _blueness(x: Tensor) -> Tensor:
    return (x[:, 2] - (x[:, 0] + x[:, 1]) / 2).mean(dim=(1, 2))


def _left_right(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return _mean_luminance(x[..., :half]) - _mean_luminance(x[..., x.shape[-1] - half :])


def _top_bottom(x: Tensor) -> Tensor:
    half = x.shape[-2] // 2
    return _mean_luminance(x[..., :half, :]) - _mean_luminance(x[..., x.shape[-2] - half :, :])


STATISTICS: dict[str, tuple[Statistic, str]] = {
    "brightness": (_mean_luminance, "bright"),
    "contrast": (_contrast, "contrasty"),
    "saturation": (_saturation, "saturated"),
    "warmth": (_warmth, "warm"),
    "blueness": (_blueness, "blue"),
    "left-right": (_left_right, "left brighter"),
    "top-bottom": (_top_bottom, "top brighter"),
}


class RegionStatistic(Scorer):
    """A binary attribute: one statistic (``STATISTICS``) of a region of the image."""

    def __init__(self, name: str, statistic: str, region: Sequence[float] = WHOLE) -> None:
        if statistic not in STATISTICS:
            raise InvalidValueError(f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")
        self.statistic = statistic
        self.region = check_region(region)
        super().__init__(name, [STATISTICS[statistic][1]])

    def score(self, images: Tensor) -> Tensor:
        return STATISTICS[self.statistic][0](crop(images, self.region))[:, None]

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "statistic": self.statistic, "region": list(self.region)}


class PaletteShare(Scorer):
    """A multi-class attribute: the soft share of a region's pixels nearest each palette colour."""

    def __init__(
        self,
        name: str = "centre-colour",
        palette: dict[str, tuple[float, float, float]] | None = None,
        region: Sequence[float] = CENTRE,
        tau: float = 0.02,
    ) -> None:
        self.palette = dict(palette or PALETTE)
        if len(self.palette) < 2:
            raise InvalidValueError("a palette needs at least two colours")
        for colour, rgb in self.palette.items():
            if len(rgb) != 3:
                raise InvalidValueError(f"palette colour {colour!r} must be three numbers in [0, 1]")
            [check_number(v, f"palette colour {colour!r}", 0.0, 1.0) for v in rgb]
        self.region = check_region(region)
        self.tau = check_number(tau, "the palette temperature", 1e-4, 10.0)
        super().__init__(name, list(self.palette), probabilities=True)

    def score(self, images: Tensor) -> Tensor:
        pixels = (crop(images, self.region) + 1) / 2  # [N, 3, h, w] in [0, 1]
        colours = torch.tensor(list(self.palette.values()), dtype=images.dtype, device=images.device)  # [K, 3]
        distance = ((pixels[:, None] - colours[None, :, :, None, None]) ** 2).sum(dim=2)  # [N, K, h, w]
        return torch.softmax(-distance / self.tau, dim=1).mean(dim=(2, 3))

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "palette": self.palette, "region": list(self.region), "tau": self.tau}


def builtin(name: str, **params: Any) -> Scorer:
    """A built-in statistic by its registry name (see the module docstring); ``region`` may be overridden."""
    if name == "centre-colour":
        return PaletteShare(**params)
    presets = {
        "centre-brightness": ("brightness", CENTRE),
        "centre-blue": ("blueness", CENTRE),
        "left-right": ("left-right", WHOLE),
        "top-bottom": ("top-bottom", WHOLE),
    }
    statistic, region = presets.get(name, (name, WHOLE))
    unknown = set(params) - {"region"}
    if unknown:
        raise InvalidValueError(f"built-in scorer {name!r} takes only a region, not {sorted(unknown)}")
    return RegionStatistic(name, statistic, params.get("region", region))


#: The built-in scorers' registry names.
BUILTIN = (
    "brightness",
    "contrast",
    "saturation",
    "warmth",
    "left-right",
    "top-bottom",
    "centre-brightness",
    "centre-blue",
    "centre-colour",
)

__all__ = [
    "BUILTIN",
    "PALETTE",
    "STATISTICS",
    "PaletteShare",
    "RegionStatistic",
    "builtin",
    "check_region",
    "crop",
    "luminance",
]
