"""Applying directions: composed edits, trajectories, and rendering them as images, grids and GIFs.

Strengths are in latent units along unit directions. Directions in ``w`` that edit only some W+ layers turn the
latents into ``w+`` and move just those layers; the others keep the original code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
from PIL import Image
from torch import Tensor

from . import limits
from . import render as _render
from .directions import Directions
from .errors import DirectionsMismatchError, InvalidValueError
from .models.base import WPLUS, Generator, Latents, W, Z
from .values import MAX_ABS_STRENGTH, check_count, check_strength

Strengths = Mapping[int, float] | Sequence[float] | Tensor
#: ``progress(done, total)``: called as work advances (e.g. images rendered); for CLI bars and UI progress.
Progress = Callable[[int, int], None]


def strength_vector(directions: Directions, strengths: Strengths) -> Tensor:
    """A dense [k] (or [N, k]) float tensor from a mapping ``{index: value}`` or a sequence, every value checked
    (finite, within ``±MAX_ABS_STRENGTH``)."""
    k = len(directions)
    if isinstance(strengths, Mapping):  # filled as a list: one tensor op, not one per slider (a hot path)
        values = [0.0] * k
        for index, value in strengths.items():
            if not 0 <= int(index) < k:
                raise InvalidValueError(f"direction index {index} is outside [0, {k})")
            values[int(index)] = check_strength(value)
        return torch.tensor(values)
    vector = strengths if isinstance(strengths, Tensor) else torch.as_tensor(strengths, dtype=torch.float64)
    if vector.ndim == 0 or vector.shape[-1] != k:
        raise InvalidValueError(f"{vector.shape[-1] if vector.ndim else 1} strengths for {k} directions")
    if not bool((vector.abs() <= MAX_ABS_STRENGTH).all()):  # NaN fails this too
        raise InvalidValueError(f"strengths must be finite numbers within ±{MAX_ABS_STRENGTH:g}")
    return vector.float()


def layer_mask(directions: Directions, num_layers: int) -> Tensor | None:
    """[k, L] bool mask of the W+ layers each direction edits; ``None`` when every layer is edited."""
    if directions.layer_mask is not None:
        mask = directions.layer_mask
    elif directions.layers is not None:
        mask = torch.zeros(len(directions), num_layers, dtype=torch.bool)
        mask[:, list(directions.layers)] = True
    else:
        return None
    if mask.shape[1] != num_layers:
        raise DirectionsMismatchError(f"directions edit {mask.shape[1]} W+ layers; the model has {num_layers}")
    return None if bool(mask.all()) else mask


def apply(generator: Generator, latents: Latents, directions: Directions, strengths: Strengths) -> Latents:
    """``latents`` moved by Σ strengthᵢ · directionᵢ, in the directions' space (and W+ layers)."""
    s = strength_vector(directions, strengths).to(latents.codes)
    vectors = directions.vectors.to(latents.codes)
    mask = layer_mask(directions, generator.num_layers)
    if directions.space == Z:
        if latents.space != Z:
            raise DirectionsMismatchError(f"these directions move z; the latents are already in {latents.space!r}")
        return latents.replace(codes=latents.codes + s @ vectors)
    if directions.space != W:
        raise DirectionsMismatchError(f"cannot apply directions in space {directions.space!r}")
    if latents.space == Z:
        latents = generator.to_space(latents, W if mask is None else WPLUS)
    if mask is None:
        return latents.replace(
            codes=latents.codes + (s @ vectors if latents.space == W else (s @ vectors).unsqueeze(-2))
        )
    if latents.space == W:
        latents = generator.to_space(latents, WPLUS)
    # delta[n, l, :] = Σ_k s[n, k] · mask[k, l] · v_k
    delta = torch.einsum("...k,kl,kd->...ld", s, mask.to(s), vectors)
    return latents.replace(codes=latents.codes + delta)


def trajectory(
    generator: Generator, latents: Latents, directions: Directions, index: int, strengths: Sequence[float]
) -> Latents:
    """One latent moved along direction ``index`` to each strength: a batch of ``len(strengths)`` latents."""
    if len(latents) != 1:
        raise InvalidValueError(f"a trajectory starts from one latent, got {len(latents)}")
    if not 0 <= index < len(directions):
        raise InvalidValueError(f"direction index {index} is outside [0, {len(directions)})")
    base = Latents.cat([latents] * len(strengths))
    table = torch.zeros(len(strengths), len(directions))
    table[:, index] = torch.as_tensor(list(strengths), dtype=torch.float32)
    return apply(generator, base, directions, table)


def strengths_between(low: float, high: float, steps: int) -> list[float]:
    """``steps`` evenly spaced strengths from ``low`` to ``high`` (both checked; at most ``MAX_STEPS``)."""
    count = check_count(steps, "the number of steps", 2, limits.MAX_STEPS)
    lo, hi = check_strength(low, "the lowest strength"), check_strength(high, "the highest strength")
    return [round(x, 6) + 0.0 for x in torch.linspace(lo, hi, count).tolist()]


@torch.no_grad()
def synthesize(
    generator: Generator, latents: Latents, batch_size: int = 16, progress: Progress | None = None
) -> Tensor:
    """Images for any number of latents, in batches (no autograd); ``progress(done, total)`` after each batch.

    One request renders at most ``limits.max_images(generator)`` images."""
    limits.check_images(generator, len(latents))
    if len(latents) <= batch_size:  # the slider path: one batch, no slicing or concatenation
        images = generator.synthesize(latents)
        if progress is not None:
            progress(len(latents), len(latents))
        return images
    images = []
    for i in range(0, len(latents), batch_size):
        images.append(generator.synthesize(latents.select(slice(i, i + batch_size))))
        if progress is not None:
            progress(min(i + batch_size, len(latents)), len(latents))
    return torch.cat(images)


def render(
    generator: Generator, latents: Latents, batch_size: int = 16, progress: Progress | None = None
) -> list[Image.Image]:
    """PIL images for latents."""
    return _render.to_pil(synthesize(generator, latents, batch_size, progress))


def sweep(
    generator: Generator,
    latents: Latents,
    directions: Directions,
    indices: Sequence[int],
    strengths: Sequence[float],
    progress: Progress | None = None,
) -> Image.Image:
    """A labelled grid: one row per direction, one column per strength, for one starting latent."""
    limits.check_images(generator, len(indices) * len(strengths), "grid cells")
    rows = [trajectory(generator, latents, directions, i, strengths) for i in indices]
    images = render(generator, Latents.cat(rows), progress=progress)
    return _render.grid(
        images,
        columns=len(strengths),
        row_labels=[directions.names[i] for i in indices],
        column_labels=[f"{s:+.3g}" for s in strengths],
    )


def animate(
    generator: Generator,
    latents: Latents,
    directions: Directions,
    index: int,
    strengths: Sequence[float],
    path: str | os.PathLike[str],
    fps: float = 12.0,
    progress: Progress | None = None,
    bounce: bool = True,
) -> Path:
    """A GIF moving along one direction (``bounce``: forward then back, see ``render.save_gif``)."""
    frames = render(generator, trajectory(generator, latents, directions, index, strengths), progress=progress)
    return _render.save_gif(frames, path, fps=fps, bounce=bounce)
