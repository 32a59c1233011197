"""Starting points: where an edit starts. A seed, a latents file (saved from any starting point), later an image.

A starting point is a value, not UI state: ``latents(generator)`` gives the latents to edit, ``describe()`` what a
recipe needs to reproduce it. A *latents file* is a small safetensors file: ``codes`` (and ``classes``), the space, the
truncation, the noise, the model identity it belongs to, and where it came from (``source``: e.g. a seed, or the
sha256 of the image it was inverted from). An inverted image's optimised noise maps (style-based models) are stored
as ``noise.0`` … ``noise.n-1`` with the noise mode ``given``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from . import metadata as meta
from .controls.spaces import start_space
from .errors import DirectionsMismatchError, InvalidValueError, LatentsFileError
from .io import load_safetensors, save_safetensors
from .models.base import WPLUS, Generator, Latents, ModelIdentity, Noise
from .values import check_count, check_seed, check_truncation

LATENTS_FORMAT = "gan-steering.latents"
LATENTS_VERSION = 1
#: At most this many latents in one file (a starting point is one; a batch for a job is more).
MAX_LATENTS = 4096
#: A class vector's weights (one-hot, soft mixtures: within [0, 1]); far beyond, a model draws NaN.
MAX_CLASS_WEIGHT = 100.0
#: At most this many noise maps (one per noise input of a style-based model; StyleGAN2-1024 has 17).
MAX_NOISE_MAPS = 64


def latents_sha256(latents: Latents) -> str:
    """sha256 of the codes, classes, space and truncation (what makes two starting points the same)."""
    digest = hashlib.sha256(f"{latents.space}:{latents.truncation!r}:{latents.noise}".encode())
    for tensor in (latents.codes, latents.classes):
        if tensor is not None:
            data = tensor.detach().cpu().float().contiguous()
            digest.update(f"{list(data.shape)};".encode())
            digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
    if latents.noise.maps:  # given noise (an inverted image's): its maps are part of the starting point
        digest.update(f"noise:{latents.noise.digest}".encode())
    return digest.hexdigest()


def summarize(described: Mapping[str, Any]) -> str:
    """A starting point's ``describe()`` (or a recipe's ``start``) as one readable phrase: ``seed 3, ψ 0.8, class 2``
    or ``latents file start.safetensors``."""
    if "seed" not in described:
        return f"latents file {described['file']}" if described.get("file") else "latents file"
    parts = [f"seed {described['seed']}", f"ψ {float(described.get('truncation', 1.0)):g}"]
    if described.get("class_index") is not None:
        parts.append(f"class {described['class_index']}")
    noise = described.get("noise") or {}
    if noise.get("mode") == "random":
        parts.append(f"random noise (seed {noise.get('seed', 0)})")
    elif noise.get("mode", "const") != "const":
        parts.append(f"noise {noise['mode']}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Seed:
    """A seeded sample: ``generator.sample(1, seed, truncation, class_index)``, in the space the controls it starts
    need (``latents(generator, controls)``)."""

    seed: int
    truncation: float = 1.0
    class_index: int | None = None
    noise: Noise = field(default_factory=Noise)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", check_seed(self.seed))
        object.__setattr__(self, "truncation", check_truncation(self.truncation))
        if self.class_index is not None:
            object.__setattr__(self, "class_index", check_count(self.class_index, "the class index", 0, 1 << 20))

    def latents(self, generator: Generator, controls: Iterable[Any] = ()) -> Latents:
        """The sample, in z where one of ``controls`` moves z, else in the model's default space."""
        space = start_space(generator, controls)
        sample = generator.sample(
            1, seed=self.seed, truncation=self.truncation, space=space, class_index=self.class_index
        )
        return sample.replace(noise=self.noise)

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "truncation": self.truncation,
            "class_index": self.class_index,
            "noise": self.noise.describe(),
        }


@dataclass(frozen=True)
class LatentsFile:
    """Latents read from a file, with the model they belong to and where they came from."""

    stored: Latents
    model: ModelIdentity
    source: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def latents(self, generator: Generator, controls: Iterable[Any] = ()) -> Latents:
        """The stored latents, checked against ``generator`` (their space is theirs: ``controls`` cannot change it)."""
        if self.model.sha256 != generator.identity.sha256:
            raise DirectionsMismatchError(
                f"these latents were made for model {self.model.name!r} (sha256 {self.model.sha256[:12]}…), not for "
                f"{generator.identity.name!r} (sha256 {generator.identity.sha256[:12]}…)"
            )
        self.check_shapes(generator)
        return self.stored.to(generator.device)

    def check_shapes(self, generator: Generator) -> None:
        """``LatentsFileError`` unless the space, code shape and classes fit ``generator`` (a file that names this
        model but holds latents it cannot render is corrupt or forged)."""
        origin = self.path.name if self.path is not None else "the latents"
        codes, classes, space = self.stored.codes, self.stored.classes, self.stored.space
        if space not in generator.latent_spaces:
            raise LatentsFileError(f"{origin}: {generator.identity.name} has no latent space {space!r}")
        expected = [generator.num_layers] * (space == WPLUS) + [generator.space_dim(space)]
        if list(codes.shape[1:]) != expected:
            raise LatentsFileError(f"{origin}: codes of shape {list(codes.shape)} do not fit {space} {expected}")
        wanted = generator.num_classes or None
        found = None if classes is None else int(classes.shape[1])
        if found != wanted:
            raise LatentsFileError(
                f"{origin}: {generator.identity.name} takes {wanted or 'no'} classes, the file holds {found or 'none'}"
            )
        maps = self.stored.noise.maps
        if maps:
            shapes = [list(b.shape) for b in generator.noise_buffers()] if generator.noise_modes else []
            if [list(m.shape) for m in maps] != shapes:
                raise LatentsFileError(f"{origin}: its noise maps do not fit {generator.identity.name}'s noise inputs")

    def describe(self) -> dict[str, Any]:
        return {"latents_sha256": latents_sha256(self.stored), "file": None if self.path is None else self.path.name}


def save_latents(
    latents: Latents, generator: Generator, path: str | os.PathLike[str], source: Mapping[str, Any] | None = None
) -> Path:
    """Write ``latents`` (on any device) with ``generator``'s identity, atomically."""
    tensors = {"codes": latents.codes.detach().cpu().float()}
    if latents.classes is not None:
        tensors["classes"] = latents.classes.detach().cpu().float()
    for i, noise_map in enumerate(latents.noise.maps):
        tensors[f"noise.{i}"] = noise_map.detach().cpu().float().contiguous()
    metadata = {
        "format": LATENTS_FORMAT,
        "format_version": str(LATENTS_VERSION),
        "space": latents.space,
        "truncation": json.dumps(float(latents.truncation)),
        "noise": json.dumps(latents.noise.describe()),
        "model": generator.identity.to_json(),
        "source": json.dumps(dict(source or {}), sort_keys=True, default=str),
    }
    return save_safetensors(tensors, metadata, path)


def load_latents(path: str | os.PathLike[str], generator: Generator | None = None) -> LatentsFile:
    """Read a latents file (checked against ``generator`` when one is given); malformed files: ``LatentsFileError``."""
    origin, error = str(path), LatentsFileError
    tensors, metadata = load_safetensors(path, error=error)
    if metadata.get("format") != LATENTS_FORMAT:
        raise error(f"{origin} is not a gan-steering latents file (format {str(metadata.get('format'))[:40]!r})")
    version = meta.field(metadata, "format_version", int, origin, error)
    if not 1 <= version <= LATENTS_VERSION:
        raise error(f"{origin} uses latents format {version}; this gan-steering reads up to {LATENTS_VERSION}")
    codes = tensors.get("codes")
    if codes is None or codes.ndim not in (2, 3) or not 1 <= codes.shape[0] <= MAX_LATENTS or not codes.numel():
        raise error(f"{origin} must hold codes [N, d] or [N, L, d] with 1 ≤ N ≤ {MAX_LATENTS}")
    if not torch.isfinite(codes).all():
        raise error(f"{origin} holds NaN or infinite codes")
    classes = tensors.get("classes")
    if classes is not None and (
        classes.ndim != 2 or classes.shape[0] != codes.shape[0] or not bool((classes.abs() <= MAX_CLASS_WEIGHT).all())
    ):
        raise error(f"{origin}: classes must be [N, C] with the codes' N, each weight within ±{MAX_CLASS_WEIGHT:g}")
    space = meta.field(metadata, "space", str, origin, error, as_json=False)
    expected_ndim = 3 if space == WPLUS else 2
    if space not in ("z", "w", "w+") or codes.ndim != expected_ndim:
        raise error(f"{origin}: space {space[:10]!r} does not fit codes of shape {list(codes.shape)}")
    truncation = meta.field(metadata, "truncation", float, origin, error, default=1.0)
    noise = meta.check_json_object(
        meta.field(metadata, "noise", dict, origin, error, default={}), "noise", origin, error
    )
    maps = [tensors[f"noise.{i}"] for i in range(MAX_NOISE_MAPS) if f"noise.{i}" in tensors]
    if len(maps) != sum(name.startswith("noise.") for name in tensors):
        raise error(f"{origin}: its noise maps are not numbered 0 … n-1")
    try:
        stored = Latents(
            codes.float(), space, classes, check_truncation(truncation), Noise.from_description(noise, maps)
        )
        model = ModelIdentity.from_json(meta.field(metadata, "model", str, origin, error, as_json=False), origin, error)
    except InvalidValueError as exc:
        raise error(f"{origin} holds unusable latents: {exc}") from None
    source = meta.check_json_object(
        meta.field(metadata, "source", dict, origin, error, default={}), "source", origin, error
    )
    found = LatentsFile(stored, model, source, Path(path))
    if generator is not None:
        found.latents(generator)  # the model check
    return found


__all__ = ["LATENTS_FORMAT", "LatentsFile", "Seed", "latents_sha256", "load_latents", "save_latents"]
