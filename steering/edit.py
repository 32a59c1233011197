"""Applying controls: the one composition rule, trajectories, and rendering them as images, grids, GIFs and MP4s.

**Composition** (``apply`` with several control files, each with its own strengths):

1. controls in ``z`` come before controls in ``w`` (a latent mapped to ``w`` cannot go back);
2. within a space, by kind: *paths* set the point (in slider order; the last non-zero path slider wins), then
   *affine maps* step from it (in slider order), then *fields* are integrated from there (in slider order), and
   last the *linear* strengths are added (``Σ sᵢ vᵢ``, one matrix product per file: the order of files does not
   matter, strengths simply add);
3. a control whose strengths are all 0 is skipped, so a slider at 0 leaves the image bit-identical.

The great-circle walk (``walk="great-circle"``) replaces the straight linear move for controls in a Gaussian ``z``
(see ``controls.linear``). Directions in ``w`` that edit only some W+ layers turn the latents into ``w+`` and move
just those layers; the others keep their codes.

**Trajectories** (``trajectory``, ``sweep``, ``animate``) ask the control for its frames: a nonlinear control advances
each frame from the previous one instead of recomputing from the start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import torch
from PIL import Image
from torch import Tensor

from . import limits
from . import render as _render
from .controls import Control
from .errors import InvalidValueError
from .models.base import Generator, Latents, W, Z
from .values import MAX_ABS_STRENGTH, check_count, check_strength

if TYPE_CHECKING:
    from .coalesce import SynthesisBatcher

Strengths = Mapping[int, float] | Sequence[float] | Tensor
Controls = Control | Sequence[Control]
#: ``progress(done, total)``: called as work advances (e.g. images rendered); for CLI bars and UI progress.
Progress = Callable[[int, int], None]
#: ``report(name, steps, seconds)``: what an integrated (field) control cost.
Report = Callable[[str, int, float], None]

#: The order controls are applied in: by space, then by kind (see the module docstring).
SPACE_ORDER = (Z, W)
KIND_ORDER = ("path", "affine", "field", "linear")


def strength_vector(control: Control, strengths: Strengths) -> Tensor:
    """A dense [k] (or [N, k]) float tensor from a mapping ``{index: value}`` or a sequence, every value checked
    (finite, within ``±MAX_ABS_STRENGTH``)."""
    return _strengths(control, strengths)[0]


def _strengths(control: Control, strengths: Strengths) -> tuple[Tensor, bool]:
    """``strength_vector`` and whether any strength is not 0 (known from the Python values on the slider path)."""
    k = len(control)
    if isinstance(strengths, Mapping):  # filled as a list: one tensor op, not one per slider (a hot path)
        values = [0.0] * k
        for index, value in strengths.items():
            if not 0 <= int(index) < k:
                raise InvalidValueError(f"control index {index} is outside [0, {k})")
            values[int(index)] = check_strength(value)
        return torch.tensor(values), any(values)
    vector = strengths if isinstance(strengths, Tensor) else torch.as_tensor(strengths, dtype=torch.float64)
    if vector.ndim > 2:
        raise InvalidValueError(f"strengths are [k] or [N, k], got shape {list(vector.shape)}")
    if vector.ndim == 0 or vector.shape[-1] != k:
        raise InvalidValueError(f"{vector.shape[-1] if vector.ndim else 1} strengths for {k} controls")
    if not bool((vector.abs() <= MAX_ABS_STRENGTH).all()):  # NaN fails this too
        raise InvalidValueError(f"strengths must be finite numbers within ±{MAX_ABS_STRENGTH:g}")
    return vector.float(), bool(vector.any())


def apply(
    generator: Generator,
    latents: Latents,
    controls: Controls,
    strengths: Strengths | Sequence[Strengths],
    *,
    walk: str = "linear",
    report: Report | None = None,
) -> Latents:
    """``latents`` moved by ``controls`` (one control file, or several with one strengths entry each); ``walk``
    applies to the controls that offer it, and one none of them offers is refused."""
    check_walk([controls] if isinstance(controls, Control) else list(controls), walk)
    for control, table in _plan(controls, strengths, len(latents)):
        latents = control.advance(generator, latents, table, walk=walk, report=report)
    return latents


def check_walk(controls: Sequence[Control], walk: str) -> str:
    """``walk``, refused where none of ``controls`` offers it (it would move nothing the way it says)."""
    if walk != "linear" and controls and not any(walk in control.walks for control in controls):
        kinds = sorted({control.kind for control in controls})
        raise InvalidValueError(
            f"the {walk} walk does not apply to {' or '.join(kinds)} controls: they walk their own way "
            f"(walks offered: {', '.join(sorted({w for c in controls for w in c.walks}))})"
        )
    return walk


def _plan(controls: Controls, strengths: Any, n: int) -> list[tuple[Control, Tensor]]:
    """(control, [N, k] strengths) pairs in the order of the composition rule; controls with every strength at 0 are
    left out (so a slider at 0 leaves the image bit-identical)."""
    if isinstance(controls, Control):
        pairs = [(controls, strengths)]
    else:
        controls = list(controls)
        strengths = list(strengths)
        if len(strengths) != len(controls):
            raise InvalidValueError(f"{len(strengths)} strength sets for {len(controls)} control files")
        pairs = list(zip(controls, strengths, strict=True))
    plan = []
    for control, values in pairs:
        table, moves = _strengths(control, values)
        if table.ndim == 2 and table.shape[0] not in (1, n):
            raise InvalidValueError(f"{table.shape[0]} rows of strengths for {n} latents")
        if moves:
            plan.append((control, table.expand(n, -1) if table.ndim == 1 else table))
    if len(plan) > 1:
        plan.sort(key=lambda pair: (SPACE_ORDER.index(pair[0].space), KIND_ORDER.index(pair[0].kind)))
    return plan


def trajectory(
    generator: Generator,
    latents: Latents,
    control: Control,
    index: int,
    strengths: Sequence[float],
    *,
    walk: str = "linear",
) -> Latents:
    """One latent moved along control ``index`` to each strength: a batch of ``len(strengths)`` latents."""
    if len(latents) != 1:
        raise InvalidValueError(f"a trajectory starts from one latent, got {len(latents)}")
    if not 0 <= index < len(control):
        raise InvalidValueError(f"control index {index} is outside [0, {len(control)})")
    check_walk([control], walk)
    checked = [check_strength(s) for s in strengths]
    if not checked:
        raise InvalidValueError("a trajectory needs at least one strength")
    limits.check_images(generator, len(checked), "strengths")
    return control.walk(generator, latents, index, checked, walk=walk)


def strengths_between(low: float, high: float, steps: int) -> list[float]:
    """``steps`` evenly spaced strengths from ``low`` to ``high`` (both checked; at most ``MAX_STEPS``)."""
    count = check_count(steps, "the number of steps", 2, limits.MAX_STEPS)
    lo, hi = check_strength(low, "the lowest strength"), check_strength(high, "the highest strength")
    return [round(x, 6) + 0.0 for x in torch.linspace(lo, hi, count).tolist()]


@torch.no_grad()
def synthesize(
    generator: Generator,
    latents: Latents,
    batch_size: int = 16,
    progress: Progress | None = None,
    *,
    batcher: SynthesisBatcher | None = None,
) -> Tensor:
    """Images for any number of latents, in batches (no autograd); ``progress(done, total)`` after each batch.

    One request renders at most ``limits.max_images(generator)`` images. A ``batcher`` (``steering.coalesce``) lets
    a small request share one batch with other users' concurrent requests of the same model."""
    limits.check_images(generator, len(latents))
    if len(latents) <= batch_size:  # the slider path: one batch, no slicing or concatenation
        images = generator.synthesize(latents) if batcher is None else batcher.synthesize(generator, latents)
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
    generator: Generator,
    latents: Latents,
    batch_size: int = 16,
    progress: Progress | None = None,
    *,
    batcher: SynthesisBatcher | None = None,
) -> list[Image.Image]:
    """PIL images for latents (``batcher``: see ``synthesize``)."""
    return _render.to_pil(synthesize(generator, latents, batch_size, progress, batcher=batcher))


def sweep(
    generator: Generator,
    latents: Latents,
    control: Control,
    indices: Sequence[int],
    strengths: Sequence[float],
    progress: Progress | None = None,
    *,
    walk: str = "linear",
    row_labels: Sequence[str] | None = None,
) -> Image.Image:
    """A labelled grid: one row per control (labelled with its name, or ``row_labels``), one column per strength, for
    one starting latent."""
    if not indices:
        raise InvalidValueError("a sweep needs at least one control")
    if row_labels is not None and len(row_labels) != len(indices):
        raise InvalidValueError(f"{len(row_labels)} row labels for {len(indices)} rows")
    limits.check_images(generator, len(indices) * len(strengths), "grid cells")
    rows = [trajectory(generator, latents, control, i, strengths, walk=walk) for i in indices]
    images = render(generator, Latents.cat(rows), progress=progress)
    return _render.grid(
        images,
        columns=len(strengths),
        row_labels=list(row_labels) if row_labels is not None else [control.names[i] for i in indices],
        column_labels=[f"{s:+.3g}" for s in strengths],
    )


def animate(
    generator: Generator,
    latents: Latents,
    control: Control,
    index: int,
    strengths: Sequence[float],
    path: str | os.PathLike[str],
    fps: float = 12.0,
    progress: Progress | None = None,
    bounce: bool = True,
    *,
    walk: str = "linear",
) -> Path:
    """A GIF or MP4 (by the file's suffix) moving along one control (``bounce``: forward then back)."""
    frames = render(generator, trajectory(generator, latents, control, index, strengths, walk=walk), progress=progress)
    return _render.save_animation(frames, path, fps=fps, bounce=bounce)
