"""Reading checkpoint files of any supported container format into a ``Checkpoint`` without running code.

* safetensors: read directly.
* torch zip / legacy files (``.pt``, ``.pth``, ``.bin``, ``.tar``): ``torch.load(weights_only=True)``; rosinality
  training checkpoints that carry ``argparse.Namespace`` are allowed exactly that one extra class.
* plain pickles (NVlabs ``.pkl``): the restricted unpickler in ``safe_pickle``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointFormatError, UnsafeCheckpointError
from ..models.checkpoint import Checkpoint, check_backed, flatten_tensors


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read ``path`` as whichever container it is; extras come from JSON-able scalars found in it.

    Every tensor must be backed by its own bytes (``check_backed``) before anything is built from it."""
    checkpoint = _read_any(Path(path))
    check_backed(checkpoint.tensors, Path(path).name)
    return checkpoint


def _read_any(path: Path) -> Checkpoint:
    if not path.is_file():
        raise CheckpointFormatError(f"no such checkpoint file: {path}")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head:
        raise CheckpointFormatError(f"{path} is empty")
    if path.suffix == ".safetensors" or _looks_like_safetensors(head):
        return _read_safetensors(path)
    if zipfile.is_zipfile(path) or _is_legacy_torch(path):
        return _read_torch(path)
    if head[:4] == b"PK\x03\x04":  # a zip (torch.save) whose central directory at the end is missing
        raise CheckpointFormatError(
            f"{path} is a torch zip checkpoint that is corrupt or truncated (its end is missing): "
            f"the download or upload was cut short; get the whole file again"
        )
    if head[:1] == b"\x80":
        from .safe_pickle import read_network_pickle

        return read_network_pickle(path)
    raise CheckpointFormatError(f"{path.name} is neither safetensors, a torch file nor a pickle")


def _looks_like_safetensors(head: bytes) -> bool:
    return len(head) >= 9 and head[8:9] == b"{"


class _NoGlobals(pickle.Unpickler):
    """Reads plain data only: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} refused")


def _is_legacy_torch(path: Path) -> bool:
    """Legacy (non-zip) ``torch.save`` files start with a pickled magic number."""
    with open(path, "rb") as handle:
        if handle.read(1) != b"\x80":
            return False
        handle.seek(0)
        try:
            magic = _NoGlobals(handle).load()
        except Exception:
            return False
    return magic == 0x1950A86A20F9469CFC6C


def _read_safetensors(path: Path) -> Checkpoint:
    from ..io import load_safetensors

    tensors, metadata = load_safetensors(path, error=CheckpointFormatError)
    extras: dict[str, Any] = {}
    for key, value in metadata.items():
        try:
            extras[key] = json.loads(value)
        except ValueError:
            extras[key] = value
    return Checkpoint(tensors=tensors, extras=extras, format="safetensors")


def _read_torch(path: Path) -> Checkpoint:
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"{path} needs objects that weights_only loading refuses, so it was not loaded: {exc}".splitlines()[0]
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CheckpointFormatError(f"{path} is corrupt or truncated ({type(exc).__name__}: {exc})") from exc
    extras: dict[str, Any] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, (int, float, str, bool)):
                extras[str(key)] = value
            elif isinstance(value, argparse.Namespace):
                extras[str(key)] = {k: v for k, v in vars(value).items() if isinstance(v, (int, float, str, bool))}
    tensors = flatten_tensors(obj)
    if not tensors:
        raise CheckpointFormatError(f"{path} holds no tensors (top-level object: {type(obj).__name__})")
    return Checkpoint(tensors=tensors, extras=extras, format="torch")
