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
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from .errors import DirectionsFileError, DirectionsMismatchError, InvalidValueError
from .io import load_safetensors, save_safetensors
from .models.base import WPLUS, Generator, ModelIdentity

FORMAT = "gan-steering.directions"
FORMAT_VERSION = 1
_TENSOR_KEYS = ("directions", "values", "scales", "layer_mask")


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
        if self.vectors.ndim != 2 or self.vectors.shape[0] == 0:
            raise InvalidValueError(f"directions must be [k, d] with k ≥ 1, got {list(self.vectors.shape)}")
        if not torch.isfinite(self.vectors).all():
            raise InvalidValueError("directions contain NaN or infinite values")
        k = self.vectors.shape[0]
        if not self.names:
            self.names = [f"{self.method} {i}" for i in range(k)]
        self.names = [str(n) for n in self.names]
        if len(self.names) != k:
            raise InvalidValueError(f"{len(self.names)} names for {k} directions")
        for label, tensor in (("values", self.values), ("scales", self.scales)):
            if tensor is not None and tuple(tensor.shape) != (k,):
                raise InvalidValueError(f"{label} must have shape [{k}], got {list(tensor.shape)}")
        if self.layer_mask is not None:
            self.layer_mask = self.layer_mask.bool()
            if self.layer_mask.ndim != 2 or self.layer_mask.shape[0] != k:
                raise InvalidValueError(f"layer_mask must be [{k}, L], got {list(self.layer_mask.shape)}")
        if self.layers is not None:
            self.layers = tuple(int(i) for i in self.layers)
        lo, hi = (float(x) for x in self.strength_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InvalidValueError(f"strength range must be finite with min < max, got {self.strength_range}")
        self.strength_range = (lo, hi)

    # ----- views ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.vectors.shape[0])

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
        name = name.strip()
        if not name:
            raise InvalidValueError("a direction name cannot be empty")
        if not 0 <= index < len(self):
            raise InvalidValueError(f"direction index {index} is outside [0, {len(self)})")
        names = list(self.names)
        names[index] = name
        return dataclasses.replace(self, names=names)

    def label(self, index: int) -> str:
        """UI label: the name plus the value when there is one."""
        if self.values is None:
            return self.names[index]
        return f"{self.names[index]} (λ={float(self.values[index]):.4g})"

    # ----- checks --------------------------------------------------------------------------------
    def check_compatible(self, generator: Generator) -> None:
        """Raise ``DirectionsMismatchError`` saying plainly what does not fit ``generator``."""
        mine, theirs = self.model, generator.identity
        if mine.sha256 and theirs.sha256 and mine.sha256 != theirs.sha256:
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
        if metadata.get("format") != FORMAT:
            raise DirectionsFileError(
                f"{origin} is not a gan-steering direction file (format {metadata.get('format')!r})"
            )
        try:
            version = int(metadata["format_version"])
        except (KeyError, ValueError):
            raise DirectionsFileError(f"{origin} has no valid format_version") from None
        if version > FORMAT_VERSION:
            raise DirectionsFileError(
                f"{origin} uses direction format {version}; this gan-steering reads up to {FORMAT_VERSION}: upgrade it"
            )
        if "directions" not in tensors:
            raise DirectionsFileError(f"{origin} has no 'directions' tensor")
        try:
            layers = json.loads(metadata.get("layers", "null"))
            mask = tensors.get("layer_mask")
            return cls(
                vectors=tensors["directions"],
                space=metadata["space"],
                method=metadata["method"],
                model=ModelIdentity.from_json(metadata["model"]),
                names=json.loads(metadata.get("names", "[]")),
                params=json.loads(metadata.get("params", "{}")),
                values=tensors.get("values"),
                scales=tensors.get("scales"),
                layers=None if layers is None else tuple(layers),
                layer_mask=None if mask is None else mask.bool(),
                strength_range=tuple(json.loads(metadata.get("strength_range", "[-3, 3]"))),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise DirectionsFileError(f"{origin} has invalid metadata ({type(exc).__name__}: {exc})") from exc
        except InvalidValueError as exc:
            raise DirectionsFileError(f"{origin} holds invalid directions: {exc}") from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str], generator: Generator | None = None) -> Directions:
        """Read a file; with ``generator``, also check that it belongs to that model."""
        tensors, metadata = load_safetensors(path, error=DirectionsFileError)
        directions = cls.from_tensors_and_metadata(tensors, metadata, origin=str(path))
        if generator is not None:
            directions.check_compatible(generator)
        return directions
