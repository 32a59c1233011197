"""Converted checkpoints: one safetensors file per source file, carrying architecture, config and provenance.

The first load of a checkpoint reads the original file, converts it to our layout and writes
``<home>/models/<architecture>-<sha256[:16]>.safetensors`` atomically. A small index entry, keyed by where the file
came from (Hub repo + commit + filename, or a local path with size and mtime), points at it, so later loads read only
the converted file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from .. import paths
from ..errors import CheckpointFormatError
from ..io import atomic_path, load_safetensors, save_safetensors, tidy
from ..models import ModelIdentity, architecture_class
from ..models.base import Generator

FORMAT = "gan-steering.model"
FORMAT_VERSION = "1"


@dataclass(frozen=True)
class Converted:
    architecture: str
    config: dict[str, Any]
    state: dict[str, Tensor]
    identity: ModelIdentity


def converted_path(identity: ModelIdentity) -> Path:
    return paths.models_dir() / f"{identity.architecture}-{identity.sha256[:16]}.safetensors"


def save_converted(converted: Converted) -> Path:
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": converted.architecture,
        "config": json.dumps(converted.config, sort_keys=True),
        "identity": converted.identity.to_json(),
    }
    return save_safetensors(converted.state, metadata, converted_path(converted.identity), follow_symlinks=False)


def build_generator(converted: Converted, device: str | torch.device = "cpu") -> Generator:
    """Instantiate the architecture from its config and load the weights (strictly: every key must fit).

    The weights are *assigned*, not copied: the model's freshly initialised tensors are dropped as soon as they are
    replaced, so the checkpoint is held once (plus the initial weights only while the model is being built).
    """
    cls = architecture_class(converted.architecture)
    try:
        _check_fits(cls.expected_state(converted.config), converted)  # before any real allocation
        generator = cls.from_config(converted.config)
        expected = generator.state_dict()
        state = {  # keep the model's dtypes (a half-precision file would otherwise make a half-precision model)
            k: v.to(expected[k].dtype) if k in expected and v.dtype != expected[k].dtype else v
            for k, v in converted.state.items()
        }
        missing, unexpected = generator.load_state_dict(state, strict=False, assign=True)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:  # e.g. a tensor whose shape fits no config
        raise CheckpointFormatError(
            f"weights do not fit {converted.architecture} {converted.config}: {exc}".splitlines()[0]
        ) from exc
    if missing or unexpected:
        raise CheckpointFormatError(
            f"weights do not fit {converted.architecture} {converted.config}: "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    generator.identity = converted.identity
    return generator.to(device).eval()


def _check_fits(expected: Mapping[str, Tensor], converted: Converted) -> None:
    """Every tensor the config calls for is in the file with the same shape (so the model is no larger than it)."""
    wrong = [
        key
        for key, ref in expected.items()
        if key not in converted.state or tuple(converted.state[key].shape) != tuple(ref.shape)
    ]
    if wrong:
        raise CheckpointFormatError(
            f"weights do not fit {converted.architecture} {converted.config}: missing or misshapen {sorted(wrong)[:5]}"
        )


def load_converted(path: Path) -> Converted:
    tensors, metadata = load_safetensors(path, error=CheckpointFormatError)
    if metadata.get("format") != FORMAT:
        raise CheckpointFormatError(f"{path} is not a converted gan-steering model (format {metadata.get('format')!r})")
    return Converted(
        architecture=metadata["architecture"],
        config=json.loads(metadata["config"]),
        state=tensors,
        identity=ModelIdentity.from_json(metadata["identity"]),
    )


def _index_path(source_key: str) -> Path:
    return paths.models_dir() / "index" / (hashlib.sha256(source_key.encode()).hexdigest()[:32] + ".json")


def lookup(source_key: str) -> Path | None:
    """The converted file recorded for ``source_key``, if it is still there and readable.

    The recorded name must be a plain file name inside the models folder (links included): an entry naming anything
    else is dropped, never followed, so a damaged or planted index cannot make us read or delete files elsewhere.
    """
    folder = tidy(paths.models_dir())
    index = _index_path(source_key)
    try:
        entry = json.loads(index.read_text())
        name = entry["file"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    path = paths.confined(folder, name)
    if path is None or not path.is_file():
        forget(source_key)
        return None
    return path


def record(source_key: str, converted_file: Path, extra: Mapping[str, Any] | None = None) -> None:
    with atomic_path(_index_path(source_key), follow_symlinks=False) as tmp:
        tmp.write_text(json.dumps({"source": source_key, "file": converted_file.name, **(extra or {})}))


def forget(source_key: str) -> None:
    """Drop an index entry (after its converted file turned out corrupt or missing); on a read-only models folder
    the entry stays, which costs nothing: ``lookup`` checks the file every time."""
    try:
        _index_path(source_key).unlink(missing_ok=True)
    except OSError:
        pass


__all__ = [
    "Converted",
    "build_generator",
    "converted_path",
    "forget",
    "load_converted",
    "lookup",
    "record",
    "save_converted",
]
