"""Safe file primitives: atomic writes, hashing, safetensors reading with clear errors."""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CorruptFileError


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step.

    Readers never see a half-written file, and a failed write leaves no file behind.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_safetensors(
    tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str], path: str | os.PathLike[str]
) -> Path:
    """Write ``tensors`` atomically (as contiguous CPU tensors sharing no memory, copying only those that need it)."""
    clean = writable_tensors(tensors)
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=dict(metadata))
    return Path(path)


def writable_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What safetensors accepts: contiguous CPU tensors, no two sharing memory.

    Only tensors that are not so are copied (on another device, strided, a part of a larger storage, or an alias of
    one already taken); the others are written as they are, so a checkpoint is not held twice while it is saved.
    """
    taken: set[tuple[int, int]] = set()
    clean: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        tensor = value.detach()
        if tensor.device.type != "cpu" or not tensor.is_contiguous():
            tensor = tensor.to("cpu").contiguous()  # always a fresh copy here
        else:
            storage = tensor.untyped_storage()
            span = (storage.data_ptr(), storage.nbytes())
            whole = tensor.storage_offset() == 0 and tensor.nbytes == storage.nbytes()
            if storage.nbytes() and (span in taken or not whole):
                tensor = tensor.clone()
            elif storage.nbytes():
                taken.add(span)
        clean[key] = tensor
    return clean


def read_safetensors_metadata(
    path: str | os.PathLike[str], error: type[CorruptFileError] = CorruptFileError
) -> dict[str, str]:
    """Only the header's metadata (cheap: tensors are not read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise error(f"{path} is not a readable safetensors file ({exc})") from exc


def load_safetensors(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    error: type[CorruptFileError] = CorruptFileError,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata; a missing, truncated or corrupt file raises ``error``."""
    path = Path(path)
    if not path.is_file():
        raise error(f"no such file: {path}")
    metadata = read_safetensors_metadata(path, error)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise error(f"{path} is corrupt or truncated ({exc})") from exc
    return tensors, metadata
