"""Linear controls: unit directions ``v`` with ``latent + s·v`` (SeFa, GANSpace, classifier boundaries).

A unit of strength is one latent unit along the direction. Several linear sliders add: ``z + Σ sᵢ vᵢ``, one matrix
product for all of them (the slider hot path). For directions in a Gaussian ``z`` the *great-circle* walk keeps ‖z‖:
it rotates ``z`` towards ``u = Σ sᵢ vᵢ`` by the arc length ``‖u‖`` (for one slider, the steerability paper's great
circle through ``z`` and ``v``), so large edits stay inside the latent distribution. The *small-circle* walk
(controls with a ``reference`` direction, e.g. the least principal one) turns ``z`` in the plane of ``u`` and the
reference only, keeping both the rest of ``z`` and its radius in that plane: the reference code's ``scircle``.

Tensors: ``directions`` [k, d] (unit rows), optional ``scales`` [k] (a natural step, e.g. GANSpace's std-dev),
optional ``reference`` [d] (unit; the small circle's second axis).
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
WALKS = ("linear", "great-circle", "small-circle")


@dataclasses.dataclass(kw_only=True)
class LinearControl(Control):
    """k unit directions in one latent space (the ``Directions`` of earlier releases)."""

    kind: ClassVar[str] = "linear"
    unit: ClassVar[str] = "latent units along a unit direction"
    noun: ClassVar[str] = "directions"
    tensor_names: ClassVar[tuple[str, ...]] = ("directions", "scales", "reference")
    file_version: ClassVar[int] = 1  # the version-1 format, unchanged: every release reads these files

    vectors: Tensor  # [k, d]
    scales: Tensor | None = None  # [k]
    reference: Tensor | None = None  # [d], unit: the small circle's second axis

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
        if self.reference is not None:
            reference = finite(self.reference.reshape(-1), "the reference direction")
            if reference.numel() != self.dim or abs(float(reference.double().norm()) - 1) > UNIT_TOLERANCE:
                raise InvalidValueError(f"the reference direction must be a unit vector of {self.dim} values")
            self.reference = reference

    def kind_tensors(self) -> dict[str, Tensor]:
        tensors = {"directions": self.vectors}
        if self.scales is not None:
            tensors["scales"] = self.scales
        if self.reference is not None:
            tensors["reference"] = self.reference
        return tensors

    @classmethod
    def kind_fields(cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str) -> dict[str, Any]:
        if "directions" not in tensors:
            raise DirectionsFileError(f"{origin} has no 'directions' tensor")
        return {
            "vectors": tensors["directions"],
            "scales": tensors.get("scales"),
            "reference": tensors.get("reference"),
        }

    def select_tensors(self, index: Tensor) -> dict[str, Any]:
        return {"vectors": self.vectors[index], "scales": None if self.scales is None else self.scales[index]}

    @property
    def walks(self) -> tuple[str, ...]:
        """The great-circle walk too, for directions in a Gaussian z; the small circle where a reference is stored."""
        if self.space != Z:
            return ("linear",)
        return WALKS if self.reference is not None else WALKS[:2]

    # ----- moving latents ----------------------------------------------------------------------------------------
    def advance(
        self, generator: Generator, latents: Latents, strengths: Tensor, *, walk: str = "linear", **_: Any
    ) -> Latents:
        """``latents + Σ sᵢ vᵢ`` (in the control's space and W+ layers), or the great-circle walk (``walk``)."""
        if walk not in self.walks:
            raise InvalidValueError(f"walk must be one of {list(self.walks)} for these controls, got {walk!r}")
        s = strengths.to(latents.codes)
        vectors = self.vectors.to(latents.codes)
        mask = self.layer_mask_for(generator.num_layers)
        latents = spaces.working(generator, latents, self.space, mask)
        if walk == "great-circle":
            return latents.replace(codes=great_circle(latents.codes, s @ vectors))
        if walk == "small-circle":
            return latents.replace(codes=small_circle(latents.codes, s @ vectors, self.reference.to(latents.codes)))
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


def small_circle(z: Tensor, u: Tensor, reference: Tensor) -> Tensor:
    """Turn each row of ``z`` in the plane of ``reference`` and ``v`` (the unit part of ``u`` orthogonal to it) on the
    circle of ``z``'s radius in that plane, by the arc length of ``u``'s part along ``v``; the rest of ``z`` stays.

    ``z(t) = z_⊥ + r (cos(θ₀ + t) ref + sin(θ₀ + t) v)``: ``r`` the in-plane radius, ``θ₀ ∈ [−π/2, π/2]`` where ``z``
    starts (``ref`` signed to ``z``'s side, as the reference code's ``|⟨z, ref⟩|``); the walk reaches its end
    (``cos = 0``) when ``z``'s in-plane part is aligned with ``v``."""
    tiny = torch.finfo(z.dtype).tiny
    ref = reference / reference.norm().clamp_min(tiny)
    along = u - (u @ ref)[..., None] * ref
    v = along / along.norm(dim=-1, keepdim=True).clamp_min(tiny)
    a, b = z @ ref, (z * v).sum(-1)
    side = torch.where(a < 0, -1.0, 1.0).to(z)[..., None] * ref  # the reference's half-plane that z is in
    radius = torch.sqrt(a * a + b * b)
    theta = torch.atan2(b, a.abs()) + along.norm(dim=-1) / radius.clamp_min(tiny)
    rest = z - a[..., None] * ref - b[..., None] * v
    moved = rest + radius[..., None] * (torch.cos(theta)[..., None] * side + torch.sin(theta)[..., None] * v)
    moving = (along.norm(dim=-1, keepdim=True) > 1e-12) & (radius[..., None] > 1e-12)
    return torch.where(moving, moved, z)


__all__ = ["WALKS", "LinearControl", "great_circle", "small_circle"]
