"""What every control shares: identity, names, values, layers, strength ranges, the model check and the file format.

A *control* is what one slider moves along; a control file holds ``k`` of them of one *kind*. Each kind (its own
module, registered in ``KINDS``) says how a latent *advances* by a strength and what a unit of strength means:

* ``linear`` — ``codes + s·v`` along unit directions (SeFa, GANSpace, boundaries); strengths of several add.
* ``affine`` — ``z ← M z + q`` per unit step (steerability's nonlinear walk); ends at the fixed point.
* ``field`` — a step direction recomputed from the current latent (Local Basis traversal, GradCtrl).
* ``path`` — a position along recorded latents (interpolations, recorded trajectories), from 0 to 1.

File format (safetensors; metadata strings): ``format`` = ``gan-steering.directions``, ``format_version`` (1 for
linear files, readable by every release; 2 for the other kinds), ``kind`` (missing: linear), ``method``, ``params``,
``model`` (identity with weights sha256), ``space``, ``layers``, ``names``, ``strength_range``, ``created_with``, plus
the kind's own tensors and metadata. Optional tensors for every kind: ``values`` [k], ``layer_mask`` [k, L],
``ranges`` [k, 2] (per-slider strength ranges).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence, TypeVar

import torch
from torch import Tensor

from .. import metadata as meta
from ..errors import DirectionsFileError, DirectionsMismatchError, InvalidValueError
from ..io import load_safetensors, save_safetensors
from ..models.base import WPLUS, Generator, Latents, ModelIdentity, W, Z
from ..registry import registered
from ..values import (
    MAX_LAYERS,
    check_count,
    check_name,
    check_names,
    check_strength_range,
    neutral_strength,
    slider_grid,
)
from ..version import __version__

FORMAT = "gan-steering.directions"
#: The newest file version this release reads and writes (linear files are still written as version 1).
FORMAT_VERSION = 2
#: Spaces a control moves: z, or w (optionally only some W+ layers, see ``layers`` / ``layer_mask``).
SPACES = (Z, W)
COMMON_TENSORS = ("values", "layer_mask", "ranges")

#: Kind name -> "module:Class" (modules load on first use), like the architectures.
KINDS: dict[str, str] = {
    "linear": "linear:LinearControl",
    "affine": "affine:AffineControl",
    "field": "field:FieldControl",
    "path": "path:PathControl",
}

C = TypeVar("C", bound="Control")


@dataclass(frozen=True)
class SliderSpec:
    """What a UI needs to draw one slider: label, range, step, the neutral value and what a unit means."""

    label: str
    minimum: float
    maximum: float
    step: float
    neutral: float
    unit: str
    end_point: float | None = None


@dataclass(kw_only=True)
class Control(ABC):
    """``k`` controls of one kind for one model. Subclasses add their tensors and say how latents advance."""

    kind: ClassVar[str]
    #: What one unit of strength means for this kind (shown next to sliders and in the README).
    unit: ClassVar[str]
    #: What the controls of this kind are called in messages ("3 sefa directions").
    noun: ClassVar[str] = "controls"
    #: The kind's own tensor names in files (besides ``COMMON_TENSORS``).
    tensor_names: ClassVar[tuple[str, ...]] = ()
    #: Written as this ``format_version`` (linear: 1, readable by every release).
    file_version: ClassVar[int] = FORMAT_VERSION

    space: str
    method: str
    model: ModelIdentity
    names: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    values: Tensor | None = None  # [k] eigenvalues, variances, accuracies …
    layers: tuple[int, ...] | None = None  # W+ layers edited (None: the whole latent)
    layer_mask: Tensor | None = None  # [k, L] bool, per-control layers (overrides ``layers``)
    strength_range: tuple[float, float] = (-3.0, 3.0)
    ranges: Tensor | None = None  # [k, 2] per-control strength ranges (override ``strength_range``)

    def __post_init__(self) -> None:
        self.check_tensors()
        k = len(self)
        if self.space not in SPACES:
            raise InvalidValueError(f"latent space must be one of {list(SPACES)}, got {self.space!r}")
        self.method = check_name(self.method, "the method name")
        self.names = check_names(self.names or [f"{self.method} {i}" for i in range(k)])
        if len(self.names) != k:
            raise InvalidValueError(f"{len(self.names)} names for {k} controls")
        if not isinstance(self.params, dict):
            raise InvalidValueError(f"params must be a mapping, got {type(self.params).__name__}")
        self.values = _vector(self.values, k, "values")
        if self.layer_mask is not None:
            self.layer_mask = self.layer_mask.bool()
            shape = list(self.layer_mask.shape)
            if self.layer_mask.ndim != 2 or shape[0] != k or not 1 <= shape[1] <= MAX_LAYERS:
                raise InvalidValueError(f"layer_mask must be [{k}, L] with 1 ≤ L ≤ {MAX_LAYERS}, got {shape}")
            if not bool(self.layer_mask.any(dim=1).all()):
                raise InvalidValueError("every control's layer mask must select at least one layer")
        if self.layers is not None:
            self.layers = tuple(check_count(i, "a layer index", 0, MAX_LAYERS - 1) for i in self.layers)
            if not self.layers or len(set(self.layers)) != len(self.layers):
                raise InvalidValueError(f"layers must be distinct indices, at least one, got {list(self.layers)}")
        self.strength_range = check_strength_range(*self.strength_range)
        if self.ranges is not None:
            self.ranges = self.ranges.detach().float()
            if tuple(self.ranges.shape) != (k, 2):
                raise InvalidValueError(f"ranges must have shape [{k}, 2], got {list(self.ranges.shape)}")
            for low, high in self.ranges.tolist():
                check_strength_range(low, high)

    # ----- what each kind provides ---------------------------------------------------------------------------------
    @abstractmethod
    def __len__(self) -> int:
        """Number of controls (sliders)."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Dimension of the latent vectors this control moves."""

    @abstractmethod
    def check_tensors(self) -> None:
        """Validate and normalise the kind's own tensors (``InvalidValueError`` on anything unusable)."""

    @abstractmethod
    def kind_tensors(self) -> dict[str, Tensor]:
        """The kind's tensors as written to a file."""

    def kind_metadata(self) -> dict[str, str]:
        """The kind's own metadata strings (none by default)."""
        return {}

    @classmethod
    @abstractmethod
    def kind_fields(cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str) -> dict[str, Any]:
        """Constructor keywords from the kind's tensors and metadata (file errors raise ``DirectionsFileError``)."""

    @abstractmethod
    def advance(self, generator: Generator, latents: Latents, strengths: Tensor, **options: Any) -> Latents:
        """``latents`` moved by ``strengths`` [N, k] (rows: samples, columns: controls; zeros are skipped)."""

    def walk(
        self, generator: Generator, latents: Latents, index: int, strengths: Sequence[float], **options: Any
    ) -> Latents:
        """One latent at each of ``strengths`` along control ``index``: a batch of ``len(strengths)`` latents.

        Kinds whose moves are not closed-form override this to advance step by step from the previous point."""
        table = torch.zeros(len(strengths), len(self))
        table[:, index] = torch.as_tensor(list(strengths), dtype=torch.float32)
        return self.advance(generator, Latents.cat([latents] * len(strengths)), table, **options)

    def end_point(self, index: int) -> float | None:
        """The strength where control ``index`` naturally ends (``None``: no natural end)."""
        return None

    @property
    def walks(self) -> tuple[str, ...]:
        """The walks ``advance`` offers (``edit.apply(walk=…)``): straight moves, for most kinds."""
        return ("linear",)

    # ----- shared views ------------------------------------------------------------------------------------------
    def range_of(self, index: int) -> tuple[float, float]:
        """The strength range of control ``index``."""
        if self.ranges is not None:
            low, high = self.ranges[index].tolist()
            return float(low), float(high)
        return self.strength_range

    def slider(self, index: int) -> SliderSpec:
        """How a UI draws control ``index``'s slider."""
        low, high = self.range_of(index)
        minimum, step = slider_grid((low, high))
        return SliderSpec(
            label=self.label(index),
            minimum=minimum,
            maximum=high,
            step=step,
            neutral=neutral_strength((low, high)),
            unit=self.unit,
            end_point=self.end_point(index),
        )

    @property
    def has_values(self) -> bool:
        """Whether ``values`` say anything: present and not all zero (a geometric move the model's mean map does not
        show has a change of 0 for every transformation: a label or chart of zeros would only confuse)."""
        return self.values is not None and bool((self.values.abs() > 0).any())

    def label(self, index: int) -> str:
        """UI label: the name plus the value when the values say anything."""
        if not self.has_values:
            return self.names[index]
        return f"{self.names[index]} ({self.value_symbol}={float(self.values[index]):.4g})"

    value_symbol: ClassVar[str] = "λ"

    @property
    def nbytes(self) -> int:
        """Memory held by the tensors (what a per-user store counts)."""
        tensors = [*self.kind_tensors().values(), self.values, self.layer_mask, self.ranges]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    def select(self: C, indices: Sequence[int]) -> C:
        """A subset, in the given order."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        changes = self.select_tensors(idx)
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        return dataclasses.replace(
            self,
            names=[self.names[i] for i in idx.tolist()],
            values=pick(self.values),
            layer_mask=pick(self.layer_mask),
            ranges=pick(self.ranges),
            **changes,
        )

    @abstractmethod
    def select_tensors(self, index: Tensor) -> dict[str, Any]:
        """Constructor keywords for the kind's tensors restricted to ``index``."""

    def renamed(self: C, index: int, name: str) -> C:
        """A copy with control ``index`` renamed (names stay non-blank and unique)."""
        if not 0 <= index < len(self):
            raise InvalidValueError(f"control index {index} is outside [0, {len(self)})")
        names = list(self.names)
        names[index] = check_name(name, "a direction name")
        return dataclasses.replace(self, names=check_names(names))

    def behaviour_params(self) -> dict[str, Any]:
        """The parameters that change what the control does beside its tensors (a field's step reads its
        ``params``): part of ``content_hash``. None for kinds whose tensors say everything."""
        return {}

    def content_hash(self) -> str:
        """sha256 of what the control does (kind, space, layers, ranges, tensors, ``behaviour_params``), not of its
        names: a renamed file still replays the same edit."""
        digest = hashlib.sha256()
        head = {"kind": self.kind, "space": self.space, "layers": self.layers, "model": self.model.sha256}
        described = {**head, **self.kind_metadata(), **self.behaviour_params()}
        digest.update(json.dumps(described, sort_keys=True, default=str).encode())
        tensors = {**self.kind_tensors(), "values": self.values, "layer_mask": self.layer_mask, "ranges": self.ranges}
        for name, tensor in sorted(tensors.items()):
            if tensor is not None:
                data = tensor.detach().cpu().contiguous()
                digest.update(f"{name}:{data.dtype}:{list(data.shape)};".encode())
                digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    # ----- the model check ---------------------------------------------------------------------------------------
    def check_compatible(self, generator: Generator) -> None:
        """Raise ``DirectionsMismatchError`` saying plainly what does not fit ``generator``."""
        mine, theirs = self.model, generator.identity
        if mine.sha256 != theirs.sha256:
            raise DirectionsMismatchError(
                f"these controls were made for model {mine.name!r} ({mine.architecture}, weights sha256 "
                f"{mine.sha256[:12]}…) but the loaded model is {theirs.name!r} ({theirs.architecture}, sha256 "
                f"{theirs.sha256[:12]}…); load {mine.name!r} or recompute the controls for this model"
            )
        if self.space not in generator.latent_spaces:
            raise DirectionsMismatchError(
                f"controls live in latent space {self.space!r}; {theirs.name!r} has {list(generator.latent_spaces)}"
            )
        dim = generator.space_dim(self.space)
        if self.dim != dim:
            raise DirectionsMismatchError(f"controls have dimension {self.dim}; {theirs.name!r} {self.space} has {dim}")
        n = generator.num_layers
        if self.layers is not None and any(not 0 <= i < n for i in self.layers):
            raise DirectionsMismatchError(f"controls edit layers {list(self.layers)}; {theirs.name!r} has {n}")
        if self.layer_mask is not None and self.layer_mask.shape[1] != n:
            raise DirectionsMismatchError(
                f"layer mask covers {self.layer_mask.shape[1]} layers; {theirs.name!r} has {n} ({WPLUS})"
            )

    def layer_mask_for(self, num_layers: int) -> Tensor | None:
        """[k, L] bool mask of the W+ layers each control edits; ``None`` when every layer is edited."""
        if self.layer_mask is not None:
            mask = self.layer_mask
        elif self.layers is not None:
            mask = torch.zeros(len(self), num_layers, dtype=torch.bool)
            mask[:, list(self.layers)] = True
        else:
            return None
        if mask.shape[1] != num_layers:
            raise DirectionsMismatchError(f"controls edit {mask.shape[1]} W+ layers; the model has {num_layers}")
        return None if bool(mask.all()) else mask

    # ----- file format -------------------------------------------------------------------------------------------
    def to_tensors_and_metadata(self) -> tuple[dict[str, Tensor], dict[str, str]]:
        tensors = {name: t.contiguous() for name, t in self.kind_tensors().items()}
        if self.values is not None:
            tensors["values"] = self.values.detach().float()
        if self.layer_mask is not None:
            tensors["layer_mask"] = self.layer_mask.to(torch.uint8)
        if self.ranges is not None:
            tensors["ranges"] = self.ranges.detach().float()
        metadata = {
            "format": FORMAT,
            "format_version": str(self.file_version),
            "kind": self.kind,
            "method": self.method,
            "params": json.dumps(self.params, sort_keys=True, default=str),
            "model": self.model.to_json(),
            "space": self.space,
            "layers": json.dumps(None if self.layers is None else list(self.layers)),
            "names": json.dumps(self.names, ensure_ascii=False),
            "strength_range": json.dumps(list(self.strength_range)),
            "created_with": f"gan-steering {_package_version()}",
            **self.kind_metadata(),
        }
        return tensors, metadata

    def save(self, path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> Path:
        """Write atomically; an interrupted save never leaves a partial file."""
        tensors, metadata = self.to_tensors_and_metadata()
        return save_safetensors(tensors, metadata, path, follow_symlinks=follow_symlinks)

    @classmethod
    def from_tensors_and_metadata(
        cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str = "file"
    ) -> Control:
        """Rebuild controls of any kind from a file's parts (for a kind class: only that kind); anything malformed
        or unusable is a ``DirectionsFileError``."""
        error = DirectionsFileError
        if metadata.get("format") != FORMAT:
            raise error(f"{origin} is not a gan-steering direction file (format {str(metadata.get('format'))[:40]!r})")
        version = meta.field(metadata, "format_version", int, origin, error)
        if version < 1:
            raise error(f"{origin}: format_version must be at least 1, got {version}")
        if version > FORMAT_VERSION:
            raise error(
                f"{origin} uses control format {version}; this gan-steering reads up to {FORMAT_VERSION}: upgrade it"
            )
        kind = meta.field(metadata, "kind", str, origin, error, default="linear", as_json=False)
        if kind not in KINDS:
            raise error(
                f"{origin} holds controls of kind {kind[:40]!r}, which this gan-steering does not know "
                f"(it knows {', '.join(KINDS)}): upgrade it"
            )
        kind_class = control_class(kind)
        if cls is not Control and not issubclass(kind_class, cls):
            raise error(f"{origin} holds {kind} controls, not {cls.kind} ones: load it with Control.load")
        allowed = set(COMMON_TENSORS) | set(kind_class.tensor_names)
        unknown = sorted(n for n in tensors if n not in allowed and not kind_class.accepts_tensor(n))
        if unknown:
            raise error(f"{origin}: unexpected tensors {unknown[:5]} for {kind} controls")
        layers = meta.field(metadata, "layers", (list, type(None)), origin, error, default=None)
        if layers is not None and not all(meta.is_kind(i, int) for i in layers):
            raise error(f"{origin}: layers must be a list of whole numbers")
        strength_range = meta.field(metadata, "strength_range", list, origin, error, default=[-3.0, 3.0])
        if len(strength_range) != 2 or not all(meta.is_kind(x, float) for x in strength_range):
            raise error(f"{origin}: strength_range must be two numbers")
        names = meta.field(metadata, "names", list, origin, error, default=[])
        if not all(isinstance(name, str) for name in names):
            raise error(f"{origin}: names must be a list of text")
        params = meta.field(metadata, "params", dict, origin, error, default={})
        mask = tensors.get("layer_mask")
        try:
            return kind_class(
                space=meta.field(metadata, "space", str, origin, error, as_json=False),
                method=meta.field(metadata, "method", str, origin, error, as_json=False),
                model=ModelIdentity.from_json(
                    meta.field(metadata, "model", str, origin, error, as_json=False), origin, error
                ),
                names=names,
                params=meta.check_json_object(params, "params", origin, error),
                values=tensors.get("values"),
                layers=None if layers is None else tuple(layers),
                layer_mask=None if mask is None else mask.bool(),
                strength_range=tuple(strength_range),
                ranges=tensors.get("ranges"),
                **kind_class.kind_fields(tensors, metadata, origin),
            )
        except (InvalidValueError, TypeError, ValueError) as exc:
            raise error(f"{origin} holds unusable controls: {exc}") from None

    @classmethod
    def accepts_tensor(cls, name: str) -> bool:
        """Whether a tensor name outside ``tensor_names`` belongs to this kind (fields keep named tensors)."""
        return False

    @classmethod
    def load(cls, path: str | os.PathLike[str], generator: Generator | None = None) -> Control:
        """Read a file; with ``generator``, also check that it belongs to that model."""
        tensors, metadata = load_safetensors(path, error=DirectionsFileError)
        control = cls.from_tensors_and_metadata(tensors, metadata, origin=str(path))
        if generator is not None:
            control.check_compatible(generator)
        return control


def control_class(kind: str) -> type[Control]:
    """The Control subclass registered under ``kind``."""
    return registered(KINDS, kind, __package__, InvalidValueError, "control kind")


def load_control(path: str | os.PathLike[str], generator: Generator | None = None) -> Control:
    """A control file of any kind (checked against ``generator`` when one is given)."""
    return Control.load(path, generator)


def _vector(tensor: Tensor | None, k: int, label: str) -> Tensor | None:
    if tensor is None:
        return None
    tensor = tensor.detach().float()
    if tuple(tensor.shape) != (k,):
        raise InvalidValueError(f"{label} must have shape [{k}], got {list(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise InvalidValueError(f"{label} contain NaN or infinite values")
    return tensor


def finite(tensor: Tensor, label: str) -> Tensor:
    """``tensor`` as a contiguous float32 tensor (what a file holds: results do not depend on where it came from),
    refusing NaN or infinite entries."""
    tensor = tensor.detach().float().contiguous()
    if not torch.isfinite(tensor).all():
        raise InvalidValueError(f"{label} contain NaN or infinite values")
    return tensor


def _package_version() -> str:
    return __version__
