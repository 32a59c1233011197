"""The ``Directions`` type and its file format (safetensors tensors + string metadata).

Tensors: ``directions`` [k, d] (unit rows), optional ``values`` [k] (eigenvalues, variances, …), ``scales`` [k]
(a natural step per direction, e.g. GANSpace's std-dev), ``layer_mask`` [k, L] (which W+ layers each direction edits).
Metadata (all strings; JSON where structured): ``format``, ``format_version``, ``method``, ``params``, ``model``
(identity: architecture, name, source, revision, filename, sha256, config), ``space``, ``layers``, ``names``,
``strength_range``, ``created_with``. The same file goes to disk, into the basis cache and to the Hub.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from . import metadata as meta
from .errors import DirectionsFileError, DirectionsMismatchError, InvalidValueError
from .io import load_safetensors, save_safetensors
from .models.base import WPLUS, Generator, ModelIdentity, W, Z
from .values import MAX_LAYERS, check_count, check_name, check_names, check_strength_range

FORMAT = "gan-steering.directions"
FORMAT_VERSION = 1
_TENSOR_KEYS = ("directions", "values", "scales", "layer_mask")
SPACES = (Z, W, WPLUS)
#: How far from 1 a direction's length may be (files hold unit rows; float32 rounding stays far below this).
UNIT_TOLERANCE = 1e-3


def _package_version() -> str:
    from . import __version__

    return __version__


@dataclass
class Directions:
    """k latent directions for one model, with where they apply and how they were made."""

    vectors: Tensor  # [k, d]
    space: str
    method: str
    model: ModelIdentity
    names: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    values: Tensor | None = None  # [k]
    scales: Tensor | None = None  # [k]
    layers: tuple[int, ...] | None = None  # W+ layers edited (None: the whole latent)
    layer_mask: Tensor | None = None  # [k, L] bool, per-direction layers (overrides ``layers``)
    strength_range: tuple[float, float] = (-3.0, 3.0)

    def __post_init__(self) -> None:
        self.vectors = self.vectors.detach().float()
        if self.vectors.ndim != 2 or self.vectors.shape[0] == 0 or self.vectors.shape[1] == 0:
            raise InvalidValueError(f"directions must be [k, d] with k, d ≥ 1, got {list(self.vectors.shape)}")
        if not torch.isfinite(self.vectors).all():
            raise InvalidValueError("directions contain NaN or infinite values")
        norms = self.vectors.double().norm(dim=1)
        if not bool(((norms - 1).abs() <= UNIT_TOLERANCE).all()):
            worst = float(norms[(norms - 1).abs().argmax()])
            raise InvalidValueError(f"directions must be unit vectors; one has length {worst:.6g}")
        k = self.vectors.shape[0]
        if self.space not in SPACES:
            raise InvalidValueError(f"latent space must be one of {list(SPACES)}, got {self.space!r}")
        self.method = check_name(self.method, "the method name")
        self.names = check_names(self.names or [f"{self.method} {i}" for i in range(k)])
        if len(self.names) != k:
            raise InvalidValueError(f"{len(self.names)} names for {k} directions")
        if not isinstance(self.params, dict):
            raise InvalidValueError(f"params must be a mapping, got {type(self.params).__name__}")
        for label in ("values", "scales"):
            tensor = getattr(self, label)
            if tensor is None:
                continue
            tensor = tensor.detach().float()
            if tuple(tensor.shape) != (k,):
                raise InvalidValueError(f"{label} must have shape [{k}], got {list(tensor.shape)}")
            if not torch.isfinite(tensor).all():
                raise InvalidValueError(f"{label} contain NaN or infinite values")
            setattr(self, label, tensor)
        if self.layer_mask is not None:
            self.layer_mask = self.layer_mask.bool()
            if (
                self.layer_mask.ndim != 2
                or self.layer_mask.shape[0] != k
                or not 1 <= self.layer_mask.shape[1] <= MAX_LAYERS
            ):
                raise InvalidValueError(
                    f"layer_mask must be [{k}, L] with 1 ≤ L ≤ {MAX_LAYERS}, got {list(self.layer_mask.shape)}"
                )
            if not bool(self.layer_mask.any(dim=1).all()):
                raise InvalidValueError("every direction's layer mask must select at least one layer")
        if self.layers is not None:
            self.layers = tuple(check_count(i, "a layer index", 0, MAX_LAYERS - 1) for i in self.layers)
            if not self.layers or len(set(self.layers)) != len(self.layers):
                raise InvalidValueError(f"layers must be distinct indices, at least one, got {list(self.layers)}")
        self.strength_range = check_strength_range(*self.strength_range)

    # ----- views ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the tensors (what a per-user store counts)."""
        tensors = (self.vectors, self.values, self.scales, self.layer_mask)
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def select(self, indices: Sequence[int]) -> Directions:
        """A subset, in the given order."""
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        return dataclasses.replace(
            self,
            vectors=self.vectors[idx],
            names=[self.names[i] for i in idx.tolist()],
            values=pick(self.values),
            scales=pick(self.scales),
            layer_mask=pick(self.layer_mask),
        )

    def renamed(self, index: int, name: str) -> Directions:
        """A copy with direction ``index`` renamed (names stay non-blank and unique)."""
        if not 0 <= index < len(self):
            raise InvalidValueError(f"direction index {index} is outside [0, {len(self)})")
        names = list(self.names)
        names[index] = check_name(name, "a direction name")
        return dataclasses.replace(self, names=check_names(names))

    def label(self, index: int) -> str:
        """UI label: the name plus the value when there is one."""
        if self.values is None:
            return self.names[index]
        return f"{self.names[index]} (λ={float(self.values[index]):.4g})"

    # ----- checks --------------------------------------------------------------------------------
    def check_compatible(self, generator: Generator) -> None:
        """Raise ``DirectionsMismatchError`` saying plainly what does not fit ``generator``."""
        mine, theirs = self.model, generator.identity
        if mine.sha256 != theirs.sha256:
            raise DirectionsMismatchError(
                f"these directions were made for model {mine.name!r} ({mine.architecture}, weights sha256 "
                f"{mine.sha256[:12]}…) but the loaded model is {theirs.name!r} ({theirs.architecture}, sha256 "
                f"{theirs.sha256[:12]}…); load {mine.name!r} or recompute the directions for this model"
            )
        if self.space not in generator.latent_spaces:
            raise DirectionsMismatchError(
                f"directions live in latent space {self.space!r}; {theirs.name!r} has {list(generator.latent_spaces)}"
            )
        dim = generator.space_dim(self.space)
        if self.dim != dim:
            raise DirectionsMismatchError(
                f"directions have dimension {self.dim}; {theirs.name!r} {self.space} has {dim}"
            )
        n = generator.num_layers
        if self.layers is not None and any(not 0 <= i < n for i in self.layers):
            raise DirectionsMismatchError(f"directions edit layers {list(self.layers)}; {theirs.name!r} has {n}")
        if self.layer_mask is not None and self.layer_mask.shape[1] != n:
            raise DirectionsMismatchError(
                f"layer mask covers {self.layer_mask.shape[1]} layers; {theirs.name!r} has {n} ({WPLUS})"
            )

    # ----- file format ---------------------------------------------------------------------------
    def to_tensors_and_metadata(self) -> tuple[dict[str, Tensor], dict[str, str]]:
        tensors = {"directions": self.vectors.contiguous()}
        for key, tensor in (("values", self.values), ("scales", self.scales)):
            if tensor is not None:
                tensors[key] = tensor.detach().float()
        if self.layer_mask is not None:
            tensors["layer_mask"] = self.layer_mask.to(torch.uint8)
        metadata = {
            "format": FORMAT,
            "format_version": str(FORMAT_VERSION),
            "method": self.method,
            "params": json.dumps(self.params, sort_keys=True, default=str),
            "model": self.model.to_json(),
            "space": self.space,
            "layers": json.dumps(None if self.layers is None else list(self.layers)),
            "names": json.dumps(self.names, ensure_ascii=False),
            "strength_range": json.dumps(list(self.strength_range)),
            "created_with": f"gan-steering {_package_version()}",
        }
        return tensors, metadata

    def save(self, path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> Path:
        """Write atomically (see ``io.atomic_path``); an interrupted save never leaves a partial file."""
        tensors, metadata = self.to_tensors_and_metadata()
        return save_safetensors(tensors, metadata, path, follow_symlinks=follow_symlinks)

    @classmethod
    def from_tensors_and_metadata(
        cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str = "file"
    ) -> Directions:
        """Rebuild directions from a file's parts; anything malformed or unusable is a ``DirectionsFileError``."""
        error = DirectionsFileError
        if metadata.get("format") != FORMAT:
            raise error(f"{origin} is not a gan-steering direction file (format {str(metadata.get('format'))[:40]!r})")
        version = meta.field(metadata, "format_version", int, origin, error)
        if version < 1:
            raise error(f"{origin}: format_version must be at least 1, got {version}")
        if version > FORMAT_VERSION:
            raise error(
                f"{origin} uses direction format {version}; this gan-steering reads up to {FORMAT_VERSION}: upgrade it"
            )
        unknown = set(tensors) - set(_TENSOR_KEYS)
        if "directions" not in tensors or unknown:
            raise error(
                f"{origin} must hold a 'directions' tensor and only {list(_TENSOR_KEYS)}, has {sorted(tensors)}"
            )
        layers = meta.field(metadata, "layers", (list, type(None)), origin, error, default=None)
        if layers is not None and not all(meta.is_kind(i, int) for i in layers):
            raise error(f"{origin}: layers must be a list of whole numbers")
        strength_range = meta.field(metadata, "strength_range", list, origin, error, default=[-3.0, 3.0])
        if len(strength_range) != 2 or not all(meta.is_kind(x, float) for x in strength_range):
            raise error(f"{origin}: strength_range must be two numbers")
        names = meta.field(metadata, "names", list, origin, error, default=[])
        if not all(isinstance(name, str) for name in names):
            raise error(f"{origin}: names must be a list of text")
        mask = tensors.get("layer_mask")
        try:
            return cls(
                vectors=tensors["directions"],
                space=meta.field(metadata, "space", str, origin, error, as_json=False),
                method=meta.field(metadata, "method", str, origin, error, as_json=False),
                model=ModelIdentity.from_json(
                    meta.field(metadata, "model", str, origin, error, as_json=False), origin, error
                ),
                names=names,
                params=meta.check_json_object(
                    meta.field(metadata, "params", dict, origin, error, default={}), "params", origin, error
                ),
                values=tensors.get("values"),
                scales=tensors.get("scales"),
                layers=None if layers is None else tuple(layers),
                layer_mask=None if mask is None else mask.bool(),
                strength_range=tuple(strength_range),
            )
        except (InvalidValueError, TypeError, ValueError) as exc:
            raise error(f"{origin} holds unusable directions: {exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str], generator: Generator | None = None) -> Directions:
        """Read a file; with ``generator``, also check that it belongs to that model."""
        tensors, metadata = load_safetensors(path, error=DirectionsFileError)
        directions = cls.from_tensors_and_metadata(tensors, metadata, origin=str(path))
        if generator is not None:
            directions.check_compatible(generator)
        return directions
