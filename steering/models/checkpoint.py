"""A checkpoint as read from disk, before we know its architecture."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from torch import Tensor


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
