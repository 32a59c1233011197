"""A checkpoint as read from disk, before we know its architecture."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from torch import Tensor

from ..errors import CheckpointFormatError


@dataclass
class Checkpoint:
    """Flattened tensors (nested dicts joined with dots) and the non-tensor extras that came with them.

    ``extras`` holds JSON-able side information: ``"config.json"`` from the repo, NVlabs ``init_kwargs`` keyed by
    object path (``"G_ema"``), scalar values found in the file. ``format`` names the reader used.
    """

    tensors: dict[str, Tensor]
    extras: dict[str, Any] = field(default_factory=dict)
    format: str = "torch"

    def prefix_of(self, key: str) -> str | None:
        """The prefix under which ``key`` appears (``""`` at the top level), ``None`` if absent."""
        if key in self.tensors:
            return ""
        matches = sorted((k[: -len(key)] for k in self.tensors if k.endswith("." + key)), key=len)
        return matches[0] if matches else None

    def sub(self, prefix: str) -> dict[str, Tensor]:
        """The tensors under ``prefix`` with the prefix removed."""
        if not prefix:
            return dict(self.tensors)
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}

    def summary(self, limit: int = 8) -> str:
        """A short description of what the file holds, for error messages."""
        tops = sorted({k.split(".", 1)[0] for k in self.tensors})
        sample = ", ".join(f"{k} {list(v.shape)}" for k, v in list(self.tensors.items())[:limit])
        extras = f"; extras {sorted(self.extras)[:limit]}" if self.extras else ""
        return f"{len(self.tensors)} tensors (top-level {tops[:limit]}): {sample}{extras}"


def flatten_tensors(obj: Any, prefix: str = "", out: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """Join nested mappings of tensors into one dotted-key dict; non-tensor leaves are skipped."""
    out = {} if out is None else out
    if isinstance(obj, Tensor):
        out[prefix.rstrip(".")] = obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            flatten_tensors(value, f"{prefix}{key}.", out)
    return out


def check_backed(tensors: Mapping[str, Tensor], origin: str) -> None:
    """Refuse tensors that declare more elements than their storage holds (stride-0 or overlapping views).

    A few kilobytes of such views can declare gigabytes; a model built from them, or a copy made to save them, would
    allocate all of it. Every tensor of a real checkpoint is backed by its own bytes."""
    for key, tensor in tensors.items():
        if tensor.device.type == "meta" or tensor.numel() <= 1:
            continue
        declared = tensor.numel() * tensor.element_size()
        stored = tensor.untyped_storage().nbytes() - tensor.storage_offset() * tensor.element_size()
        zero_stride = any(stride == 0 and size > 1 for size, stride in zip(tensor.shape, tensor.stride(), strict=True))
        if zero_stride or declared > stored:
            raise CheckpointFormatError(
                f"{origin}: tensor {key!r} declares {list(tensor.shape)} ({declared} bytes) but stores {stored} "
                f"bytes (a stride-0 or overlapping view): the file is crafted or corrupt, so it was not used"
            )
