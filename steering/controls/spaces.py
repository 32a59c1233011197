"""Moving latents between the spaces controls edit, and spreading a change into W+ layers (shared by every kind).

A control lives in one space: ``z`` (needs latents still in z), ``w`` (latents in z are mapped; a control that edits
only some W+ layers turns them into ``w+`` and changes just those layers, the others keep their codes) or ``w+``.
"""

from __future__ import annotations

from typing import Any, Iterable

from torch import Tensor

from ..errors import DirectionsMismatchError
from ..models.base import WPLUS, Generator, Latents, W, Z


def start_space(generator: Generator, controls: Iterable[Any] = ()) -> str:
    """The space a seeded start of ``controls`` is drawn in: z when one of them moves z (on a style-based model, a
    Local Basis traversal of the mapping network: w cannot be mapped back), else the model's default space."""
    return Z if any(control.space == Z for control in controls) else generator.default_space


def working(generator: Generator, latents: Latents, space: str, layer_mask: Tensor | None) -> Latents:
    """``latents`` in the space a control of ``space`` edits (``layer_mask`` [L] or [k, L]: the layers it edits)."""
    if space == Z:
        if latents.space != Z:
            raise DirectionsMismatchError(f"these controls move z; the latents are already in {latents.space!r}")
        return latents
    if space not in (W, WPLUS):
        raise DirectionsMismatchError(f"cannot apply controls in space {space!r}")
    if latents.space == Z:
        return generator.to_space(latents, W if layer_mask is None and space == W else WPLUS)
    if latents.space == W and (layer_mask is not None or space == WPLUS):
        return generator.to_space(latents, WPLUS)
    return latents


def vector(latents: Latents, layer_mask: Tensor | None) -> Tensor:
    """The [N, d] vector a nonlinear control moves: the codes, or (in w+) the first layer it edits."""
    if latents.codes.ndim == 2:
        return latents.codes
    first = 0 if layer_mask is None else int(layer_mask.nonzero()[0])
    return latents.codes[:, first]


def add(latents: Latents, delta: Tensor, layer_mask: Tensor | None) -> Latents:
    """``latents`` moved by ``delta`` [N, d]: in every layer of w+ codes, or only where ``layer_mask`` [L] is set."""
    codes = latents.codes
    if codes.ndim == 2:
        return latents.replace(codes=codes + delta)
    if layer_mask is None:
        return latents.replace(codes=codes + delta.unsqueeze(-2))
    return latents.replace(codes=codes + delta.unsqueeze(-2) * layer_mask.to(delta)[:, None])


def put(latents: Latents, moved: Tensor, layer_mask: Tensor | None) -> Latents:
    """``latents`` with their moved vector [N, d] (from ``vector``): exactly ``moved`` where the codes are one vector,
    else the same change added to every edited W+ layer (layers keep their own differences)."""
    if latents.codes.ndim == 2:
        return latents.replace(codes=moved)
    return add(latents, moved - vector(latents, layer_mask), layer_mask)


def layer_row(mask: Tensor | None, index: int) -> Tensor | None:
    """Control ``index``'s row of a [k, L] layer mask."""
    return None if mask is None else mask[index]


__all__ = ["add", "layer_row", "put", "vector", "working"]
