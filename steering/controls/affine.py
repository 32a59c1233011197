"""Affine-map controls: one unit of strength applies ``z ← M z + q`` (steerability's nonlinear walk).

Whole steps are exact (``n`` applications of the map); a fractional strength interpolates linearly between the two
whole steps around it. When ``M``'s spectral radius is below 1 the walk converges to the fixed point
``z* = (I − M)⁻¹ q`` whatever the start: re-applying the transformation there changes nothing, which is the paper's
*natural end-point*. The strength range ends at the first step ``n`` with ``‖Mⁿ‖_F ≤ END_TOLERANCE`` (Frobenius, which
bounds the spectral norm), so at the end of the range every latent is within ``END_TOLERANCE · ‖z₀ − z*‖`` of
``z*``. Negative strengths apply the backward map (``backward_matrices`` / ``backward_offsets``, e.g. zoom-out for a
zoom-in control) when the file has one; without it the range starts at 0.

Class-conditional models: ``offsets`` may be [k, C, d], one offset per class; a latent's offset is its class vector
times them (``q`` follows the class, ``M`` does not).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Callable, ClassVar, Mapping, Sequence

import torch
from torch import Tensor

from .. import metadata as meta
from ..errors import DirectionsFileError, InvalidValueError
from ..models.base import Generator, Latents
from .base import finite
from .stepwise import StepwiseControl

#: ‖Mⁿ‖_F below this ends the range (the walk is then within this fraction of its fixed point).
END_TOLERANCE = 1e-6
#: Where no natural end-point exists (spectral radius ≥ 1, or slower than this many steps), the range ends here.
DEFAULT_STEPS = 10
MAX_END_STEPS = 1000
#: With ``keep_norm`` the walk ends when a step moves the latent by less than this share of its first step (the steps
#: shrink geometrically towards the limit direction; its image then changes little from step to step).
SETTLE_TOLERANCE = 0.1


@dataclasses.dataclass(kw_only=True)
class AffineControl(StepwiseControl):
    """k affine maps, each with an optional backward map for negative strengths."""

    kind: ClassVar[str] = "affine"
    unit: ClassVar[str] = "one application of the map z ← M z + q"
    noun: ClassVar[str] = "transformations"
    tensor_names: ClassVar[tuple[str, ...]] = ("matrices", "offsets", "backward_matrices", "backward_offsets")

    matrices: Tensor  # [k, d, d]
    offsets: Tensor  # [k, d] or [k, C, d]
    backward_matrices: Tensor | None = None
    backward_offsets: Tensor | None = None
    keep_norm: bool = False  # every step rescaled to the latent's norm before the walk

    def __post_init__(self) -> None:
        super().__post_init__()
        # Without explicit ``ranges`` each control's range ends at its natural end-point(s); derived from the maps
        # (not a field: a copy with other maps derives its own).
        self._ends = [(-self._extent(i, True) or 0.0, self._extent(i, False)) for i in range(len(self))]

    def range_of(self, index: int) -> tuple[float, float]:
        if self.ranges is not None:
            return super().range_of(index)
        return self._ends[index]

    def __len__(self) -> int:
        return int(self.matrices.shape[0])

    @property
    def dim(self) -> int:
        return int(self.matrices.shape[-1])

    def check_tensors(self) -> None:
        self.matrices, self.offsets = _checked_map(self.matrices, self.offsets, "")
        if (self.backward_matrices is None) != (self.backward_offsets is None):
            raise InvalidValueError("backward_matrices and backward_offsets come together")
        if self.backward_matrices is not None:
            self.backward_matrices, self.backward_offsets = _checked_map(
                self.backward_matrices, self.backward_offsets, "backward "
            )
            if self.backward_matrices.shape != self.matrices.shape or self.backward_offsets.shape != self.offsets.shape:
                raise InvalidValueError("the backward maps must have the shapes of the forward ones")

    def kind_tensors(self) -> dict[str, Tensor]:
        tensors = {"matrices": self.matrices, "offsets": self.offsets}
        if self.backward_matrices is not None and self.backward_offsets is not None:
            tensors.update(backward_matrices=self.backward_matrices, backward_offsets=self.backward_offsets)
        return tensors

    def kind_metadata(self) -> dict[str, str]:
        return {"affine": json.dumps({"keep_norm": self.keep_norm})}

    @classmethod
    def kind_fields(cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str) -> dict[str, Any]:
        if "matrices" not in tensors or "offsets" not in tensors:
            raise DirectionsFileError(f"{origin} has no 'matrices' and 'offsets' tensors")
        options = meta.field(metadata, "affine", dict, origin, DirectionsFileError, default={})
        keep_norm = options.get("keep_norm", False)
        if not isinstance(keep_norm, bool):
            raise DirectionsFileError(f"{origin}: affine keep_norm must be true or false")
        return {**{name: tensors.get(name) for name in cls.tensor_names}, "keep_norm": keep_norm}

    def select_tensors(self, index: Tensor) -> dict[str, Any]:
        return {name: None if t is None else t[index] for name, t in self._maps().items()}

    def _maps(self) -> dict[str, Tensor | None]:
        return {name: getattr(self, name) for name in self.tensor_names}

    # ----- properties of the maps ---------------------------------------------------------------------------------
    def spectral_radius(self, index: int, backward: bool = False) -> float:
        """max |eigenvalue| of control ``index``'s (backward) map."""
        matrix = self._map(index, backward)[0]
        return float(torch.linalg.eigvals(matrix.double()).abs().max())

    def fixed_point(self, index: int, classes: Tensor | None = None, backward: bool = False) -> Tensor | None:
        """``z* = (I − M)⁻¹ q`` [N or 1, d] (``classes`` [N, C] for class-conditional offsets); ``None`` when the walk
        does not converge (spectral radius ≥ 1)."""
        if self.spectral_radius(index, backward) >= 1:
            return None
        matrix, offsets = self._map(index, backward)
        q = _offset(offsets, classes, 1).double()
        eye = torch.eye(self.dim, dtype=torch.float64)
        return torch.linalg.solve(eye - matrix.double(), q.T).T.float()

    def end_point(self, index: int) -> float | None:
        """Steps to the natural end-point (``None`` where the walk has none)."""
        steps = self._end_steps(index, backward=False)
        return None if steps is None else float(steps)

    def _end_steps(self, index: int, backward: bool) -> int | None:
        matrix, offsets = self._map(index, backward)
        if self.keep_norm:
            return _settling_steps(matrix, offsets.reshape(-1, self.dim).mean(0))
        return _end_steps(matrix)

    def _extent(self, index: int, backward: bool) -> float:
        if backward and self.backward_matrices is None:
            return 0.0
        steps = self._end_steps(index, backward)
        return float(steps if steps is not None else DEFAULT_STEPS)

    def _map(self, index: int, backward: bool) -> tuple[Tensor, Tensor]:
        if backward:
            if self.backward_matrices is None or self.backward_offsets is None:
                raise InvalidValueError(f"{self.names[index]!r} has no backward map: its strengths start at 0")
            return self.backward_matrices[index], self.backward_offsets[index]
        return self.matrices[index], self.offsets[index]

    # ----- moving latents ----------------------------------------------------------------------------------------
    def move(
        self, generator: Generator, start: Tensor, s: Tensor, index: int, latents: Latents, report: Any
    ) -> tuple[Tensor, None]:
        """``|s|`` applications of the map: forward for ``s > 0``, backward for ``s < 0``."""
        moved = start.clone()
        for backward in (False, True):
            side = s < 0 if backward else s > 0
            if bool(side.any()):
                moved[side] = self._steps(index, start[side], s[side].abs(), latents, side, backward)
        return moved, None

    def frames(
        self, generator: Generator, start: Tensor, index: int, targets: Sequence[float], latents: Latents
    ) -> list[Tensor]:
        """Each whole step continues from the previous frame's whole step (no restart from the start)."""
        backward = targets[0] < 0
        matrix, offsets = self._map(index, backward)
        q = _offset(offsets, latents.classes, len(latents)).to(start)
        current, done, out = start, 0, []
        for target in (abs(t) for t in targets):
            whole = math.floor(target)
            for _ in range(whole - done):
                current = self._apply(current, matrix, q, start)
            done = max(done, whole)
            out.append(self._fraction(current, target - whole, matrix, q, start))
        return out

    def _steps(
        self, index: int, start: Tensor, amount: Tensor, latents: Latents, side: Tensor, backward: bool
    ) -> Tensor:
        matrix, offsets = self._map(index, backward)
        classes = None if latents.classes is None else latents.classes[side]
        q = _offset(offsets, classes, len(start)).to(start)
        matrix = matrix.to(start)
        whole = amount.floor()
        current = start
        for step in range(int(whole.max())):
            current = torch.where((whole > step)[:, None], self._apply(current, matrix, q, start), current)
        fraction = (amount - whole).to(start)[:, None]
        if bool((fraction > 0).any()):
            current = torch.where(fraction > 0, self._fraction(current, fraction, matrix, q, start), current)
        return current

    def _apply(self, current: Tensor, matrix: Tensor, q: Tensor, start: Tensor) -> Tensor:
        """One step ``M z + q`` (rescaled to ``start``'s norm with ``keep_norm``)."""
        moved = current @ matrix.to(current).T + q
        return _rescaled(moved, start) if self.keep_norm else moved

    def _fraction(self, current: Tensor, fraction: Any, matrix: Tensor, q: Tensor, start: Tensor) -> Tensor:
        """Part of the next step: linear between the whole steps (on the sphere's chord, rescaled, with
        ``keep_norm``)."""
        if not torch.is_tensor(fraction) and fraction <= 0:
            return current
        moved = current + fraction * (self._apply(current, matrix, q, start) - current)
        return _rescaled(moved, start) if self.keep_norm else moved


def _rescaled(moved: Tensor, start: Tensor) -> Tensor:
    return moved * (start.norm(dim=-1, keepdim=True) / moved.norm(dim=-1, keepdim=True).clamp_min(1e-12))


def _settling_steps(matrix: Tensor, q: Tensor, probes: int = 64) -> int | None:
    """With the norm kept, the steps after which the walk of seeded Gaussian latents has settled (``settled_after``)."""
    d = matrix.shape[0]
    start = torch.randn(probes, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    m, q = matrix.double(), q.double()
    return settled_after(lambda z: _rescaled(z @ m.T + q, start) - z, start, MAX_END_STEPS)


def settled_after(step: Callable[[Tensor], Tensor], start: Tensor, limit: int) -> int | None:
    """The first step whose size (median over the rows of ``start``) is at most ``SETTLE_TOLERANCE`` of the first
    step's; ``None`` within ``limit`` steps."""
    current, first = start, None
    for n in range(1, limit + 1):
        move = step(current)
        size = float(move.norm(dim=1).median())
        first = size if first is None else first
        if n > 1 and size <= SETTLE_TOLERANCE * first:
            return n
        current = current + move
    return None


def _offset(offsets: Tensor, classes: Tensor | None, n: int) -> Tensor:
    """[n, d] offsets: the same ``q`` for every latent, or (class-conditional) each latent's class mixture."""
    if offsets.ndim == 1:
        return offsets.expand(n, -1)
    if classes is None:
        raise InvalidValueError("this control's offset depends on the class: the latents carry no class")
    if classes.shape[-1] != offsets.shape[0]:
        raise InvalidValueError(f"the latents have {classes.shape[-1]} classes; the offsets {offsets.shape[0]}")
    return classes.to(offsets) @ offsets


def _checked_map(matrices: Tensor, offsets: Tensor | None, which: str) -> tuple[Tensor, Tensor]:
    if matrices.ndim != 3 or matrices.shape[0] == 0 or matrices.shape[1] != matrices.shape[2] or matrices.shape[1] == 0:
        raise InvalidValueError(f"{which}matrices must be [k, d, d] with k, d ≥ 1, got {list(matrices.shape)}")
    k, d = matrices.shape[0], matrices.shape[1]
    if offsets is None or offsets.ndim not in (2, 3) or offsets.shape[0] != k or offsets.shape[-1] != d:
        shape = None if offsets is None else list(offsets.shape)
        raise InvalidValueError(f"{which}offsets must be [{k}, {d}] or [{k}, C, {d}], got {shape}")
    return finite(matrices, f"{which}matrices"), finite(offsets, f"{which}offsets")


def _end_steps(matrix: Tensor) -> int | None:
    """The first ``n`` with ``‖Mⁿ‖_F ≤ END_TOLERANCE`` (``None`` if the spectral radius is ≥ 1 or it takes too long)."""
    m = matrix.double()
    if float(torch.linalg.eigvals(m).abs().max()) >= 1:
        return None
    power = torch.eye(m.shape[0], dtype=torch.float64)
    for n in range(1, MAX_END_STEPS + 1):
        power = power @ m
        if float(torch.linalg.matrix_norm(power)) <= END_TOLERANCE:  # Frobenius ≥ spectral: a safe, cheap bound
            return n
    return None


__all__ = ["DEFAULT_STEPS", "END_TOLERANCE", "AffineControl"]
