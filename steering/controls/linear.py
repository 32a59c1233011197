"""Linear controls: unit directions ``v`` with ``latent + s·v`` (SeFa, GANSpace, classifier boundaries).

A unit of strength is one latent unit along the direction. Several linear sliders add: ``z + Σ sᵢ vᵢ``, one matrix
product for all of them (the slider hot path). For directions in a Gaussian ``z`` the *great-circle* walk keeps ‖z‖:
it rotates ``z`` towards ``u = Σ sᵢ vᵢ`` by the arc length ``‖u‖`` (for one slider, the steerability paper's great
circle through ``z`` and ``v``), so large edits stay inside the latent distribution.

Tensors: ``directions`` [k, d] (unit rows), optional ``scales`` [k] (a natural step, e.g. GANSpace's std-dev).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

import torch
from torch import Tensor

from ..errors import DirectionsFileError, InvalidValueError
from ..models.base import Generator, Latents, Z
from . import spaces
from .base import Control, _vector, finite

#: How far from 1 a direction's length may be (files hold unit rows; float32 rounding stays far below this).
UNIT_TOLERANCE = 1e-3
WALKS = ("linear", "great-circle")


@dataclasses.dataclass(kw_only=True)
class LinearControl(Control):
    """k unit directions in one latent space (the ``Directions`` of earlier releases)."""

    kind: ClassVar[str] = "linear"
    unit: ClassVar[str] = "latent units along a unit direction"
    noun: ClassVar[str] = "directions"
    tensor_names: ClassVar[tuple[str, ...]] = ("directions", "scales")
    file_version: ClassVar[int] = 1  # the version-1 format, unchanged: every release reads these files

    vectors: Tensor  # [k, d]
    scales: Tensor | None = None  # [k]

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def check_tensors(self) -> None:
        vectors = self.vectors
        if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
            raise InvalidValueError(f"directions must be [k, d] with k, d ≥ 1, got {list(vectors.shape)}")
        self.vectors = finite(vectors, "directions")
        norms = self.vectors.double().norm(dim=1)
        if not bool(((norms - 1).abs() <= UNIT_TOLERANCE).all()):
            worst = float(norms[(norms - 1).abs().argmax()])
            raise InvalidValueError(f"directions must be unit vectors; one has length {worst:.6g}")
        self.scales = _vector(self.scales, len(self), "scales")

    def kind_tensors(self) -> dict[str, Tensor]:
        tensors = {"directions": self.vectors}
        if self.scales is not None:
            tensors["scales"] = self.scales
        return tensors

    @classmethod
    def kind_fields(cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str) -> dict[str, Any]:
        if "directions" not in tensors:
            raise DirectionsFileError(f"{origin} has no 'directions' tensor")
        return {"vectors": tensors["directions"], "scales": tensors.get("scales")}

    def select_tensors(self, index: Tensor) -> dict[str, Any]:
        return {"vectors": self.vectors[index], "scales": None if self.scales is None else self.scales[index]}

    @property
    def walks(self) -> tuple[str, ...]:
        """The great-circle walk too, for directions in a Gaussian z."""
        return WALKS if self.space == Z else ("linear",)

    # ----- moving latents ----------------------------------------------------------------------------------------
    def advance(
        self, generator: Generator, latents: Latents, strengths: Tensor, *, walk: str = "linear", **_: Any
    ) -> Latents:
        """``latents + Σ sᵢ vᵢ`` (in the control's space and W+ layers), or the great-circle walk (``walk``)."""
        if walk not in WALKS:
            raise InvalidValueError(f"walk must be one of {list(WALKS)}, got {walk!r}")
        s = strengths.to(latents.codes)
        vectors = self.vectors.to(latents.codes)
        mask = self.layer_mask_for(generator.num_layers)
        latents = spaces.working(generator, latents, self.space, mask)
        if walk == "great-circle":
            if self.space != Z:
                raise InvalidValueError(
                    f"the great-circle walk keeps ‖z‖ of a Gaussian z; these controls move {self.space!r}"
                )
            return latents.replace(codes=great_circle(latents.codes, s @ vectors))
        if mask is None or latents.codes.ndim == 2:
            return spaces.add(latents, s @ vectors, None)
        # delta[n, l, :] = Σ_k s[n, k] · mask[k, l] · v_k
        delta = torch.einsum("...k,kl,kd->...ld", s, mask.to(s), vectors)
        return latents.replace(codes=latents.codes + delta)


def great_circle(z: Tensor, u: Tensor) -> Tensor:
    """Rotate each row of ``z`` towards ``u`` (same shape) by the arc length ``‖u‖``, keeping ‖z‖.

    The rotation is in the plane of ``z`` and ``u``: ``z(θ) = ‖z‖ (cos θ ẑ + sin θ t̂)`` with ``t̂`` the unit part of
    ``u`` orthogonal to ``z`` and ``θ = ‖u‖ / ‖z‖`` (the same arc as the straight move for small ``u``). Rows with
    ``u = 0``, or ``u`` parallel to ``z``, are returned unchanged."""
    radius = z.norm(dim=-1, keepdim=True)
    unit_z = z / radius.clamp_min(torch.finfo(z.dtype).tiny)
    tangent = u - (u * unit_z).sum(-1, keepdim=True) * unit_z
    tangent_norm = tangent.norm(dim=-1, keepdim=True)
    theta = u.norm(dim=-1, keepdim=True) / radius.clamp_min(torch.finfo(z.dtype).tiny)
    moving = tangent_norm > 1e-12 * radius
    direction = tangent / tangent_norm.clamp_min(torch.finfo(z.dtype).tiny)
    rotated = radius * (torch.cos(theta) * unit_z + torch.sin(theta) * direction)
    return torch.where(moving, rotated, z)


__all__ = ["WALKS", "LinearControl", "great_circle"]
