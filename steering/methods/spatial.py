"""Geometric transformations of a first-layer spatial map, as small operators on its H×W grid.

A transformation is a pair ``(P, D)`` of [H·W, H·W] matrices acting on every channel alike: ``P`` says what the new
map should hold (new = P · old), ``D`` which new positions are constrained (and how: zoom-out constrains a zoom into the
new map). The steering problem for a map ``y = A z + b`` is ``D (A z' + b) ≈ P (A z + b)``. Only the H·W × H·W grid
operators are ever built (16×16 for a 4×4 map), and they are applied channel by channel: never the C·H·W-square dense
matrices of the reference code (gigabytes for BigGAN).

Conventions (flat index ``row·W + col``; one step is one grid cell, a quarter of the image on a 4×4 map):

* ``shift-x+`` — content moves left (each position takes the value one column to its right; the last column is
  free); ``shift-x-`` — right; ``shift-y+`` — up; ``shift-y-`` — down.
* ``zoom-in`` — P = U, the centre half of the map upsampled ×2 (nearest), D = I (the paper's figure; the reference
  code's diagonal mask is ``zoom-in-mask``, kept as an ablation); ``zoom-out`` — P = I, D = U: zooming into the new map
  must give back the old one.
* ``rotate+`` / ``rotate-`` — a quarter turn counter-clockwise / clockwise (square maps); ``flip-x`` / ``flip-y`` —
  mirror left-right / top-bottom.
* A composition ``a∘b`` (ASCII ``a*b``) applies ``b`` then ``a``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import InvalidValueError

#: Every transformation by name, with its inverse (the backward direction of a slider).
INVERSES: dict[str, str] = {
    "shift-x+": "shift-x-",
    "shift-x-": "shift-x+",
    "shift-y+": "shift-y-",
    "shift-y-": "shift-y+",
    "zoom-in": "zoom-out",
    "zoom-out": "zoom-in",
    "zoom-in-mask": "zoom-out",
    "rotate+": "rotate-",
    "rotate-": "rotate+",
    "flip-x": "flip-x",
    "flip-y": "flip-y",
}
TRANSFORMS = tuple(INVERSES)


@dataclass(frozen=True)
class Transform:
    """``(P, D)`` on an ``height × width`` grid; ``name`` as the user wrote it."""

    name: str
    height: int
    width: int
    target: Tensor  # P [HW, HW]
    constraint: Tensor  # D [HW, HW]; rows of zeros are unconstrained positions

    @property
    def constrained(self) -> Tensor:
        """Positions (flat indices) whose new value is constrained."""
        return self.constraint.abs().sum(dim=1).nonzero().flatten()


def _grid(height: int, width: int) -> tuple[Tensor, Tensor]:
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return rows.flatten(), cols.flatten()


def _taking(height: int, width: int, src_row: Tensor, src_col: Tensor) -> Tensor:
    """The operator whose new position i takes old position (src_row[i], src_col[i]); outside the grid: nothing."""
    operator = torch.zeros(height * width, height * width, dtype=torch.float64)
    inside = (src_row >= 0) & (src_row < height) & (src_col >= 0) & (src_col < width)
    new = torch.arange(height * width)[inside]
    operator[new, (src_row * width + src_col)[inside]] = 1.0
    return operator


def _determined(target: Tensor) -> Tensor:
    """D for a target that defines some positions: constrain exactly the positions ``P`` fills."""
    return torch.diag((target.sum(dim=1) > 0).double())


def _elementary(name: str, height: int, width: int) -> Transform:
    rows, cols = _grid(height, width)
    eye = torch.eye(height * width, dtype=torch.float64)
    upsample = _taking(height, width, height // 4 + rows // 2, width // 4 + cols // 2)
    shifts = {"shift-x+": (0, 1), "shift-x-": (0, -1), "shift-y+": (1, 0), "shift-y-": (-1, 0)}
    if name in shifts:
        dr, dc = shifts[name]
        target = _taking(height, width, rows + dr, cols + dc)
        return Transform(name, height, width, target, _determined(target))
    if name in ("zoom-in", "zoom-in-mask", "zoom-out") and (height % 4 or width % 4):
        raise InvalidValueError(f"zoom needs a map whose sides are multiples of 4, got {height}×{width}")
    if name == "zoom-in":
        return Transform(name, height, width, upsample, eye)
    if name == "zoom-in-mask":  # the reference code's zoom-in: keep the centre, push the border to zero
        centre = ((rows // (height // 4)) % 3 != 0) & ((cols // (width // 4)) % 3 != 0)
        return Transform(name, height, width, torch.diag(centre.double()), eye)
    if name == "zoom-out":
        return Transform(name, height, width, eye, upsample)
    if name in ("rotate+", "rotate-"):
        if height != width:
            raise InvalidValueError(f"a quarter turn needs a square map, got {height}×{width}")
        src = (cols, width - 1 - rows) if name == "rotate+" else (height - 1 - cols, rows)
        return Transform(name, height, width, _taking(height, width, *src), eye)
    if name == "flip-x":
        return Transform(name, height, width, _taking(height, width, rows, width - 1 - cols), eye)
    if name == "flip-y":
        return Transform(name, height, width, _taking(height, width, height - 1 - rows, cols), eye)
    raise InvalidValueError(f"unknown transformation {name!r}; choose from {', '.join(TRANSFORMS)} or a∘b")


def transform(name: str, height: int, width: int) -> Transform:
    """A transformation by name, or a composition ``a∘b`` (``b`` first; ASCII ``a*b``) of any but zoom-out (whose
    constraint is a zoom, not a mask): P's multiply, and the positions constrained are those the product fills."""
    parts = [part.strip() for part in name.replace("*", "∘").split("∘")]
    if len(parts) == 1:
        return _elementary(parts[0], height, width)
    target = torch.eye(height * width, dtype=torch.float64)
    for part in reversed(parts):
        if part == "zoom-out":
            raise InvalidValueError("zoom-out does not compose: use zoom-in's backward direction instead")
        target = _elementary(part, height, width).target @ target
    return Transform("∘".join(parts), height, width, target, _determined(target))


def on_channels(operator: Tensor, rows: Tensor, channels: int) -> Tensor:
    """``operator`` [P, HW] applied to every channel of ``rows`` [C·HW, …] (channel-major): [C·P, …]."""
    spatial = operator.shape[1]
    grouped = rows.reshape(channels, spatial, -1).to(operator.dtype)
    out = torch.einsum("ph,chk->cpk", operator, grouped)
    return out.reshape(channels * operator.shape[0], *rows.shape[1:])


__all__ = ["INVERSES", "TRANSFORMS", "Transform", "on_channels", "transform"]
