"""Where gan-steering keeps its files. One root, overridable by ``GAN_STEERING_HOME`` (a webui sets it to its
models folder)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Root folder for converted checkpoints and cached bases."""
    root = os.environ.get("GAN_STEERING_HOME")
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "gan-steering"


def models_dir() -> Path:
    """Converted checkpoints (safetensors), one file per source file hash."""
    return home() / "models"


def bases_dir() -> Path:
    """Cached direction bases, named by the hash of what produced them."""
    return home() / "bases"


def confined(folder: Path, name: object) -> Path | None:
    """``folder / name`` if ``name`` (read from our own metadata) is a plain file name that stays inside ``folder``
    once links are resolved; ``None`` for anything else (a path, ``..``, an absolute path, a link leading out)."""
    if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name or "\\" in name or "\0" in name:
        return None
    path = folder / name
    try:
        inside = path.resolve(strict=True).parent == folder.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a link loop
        return None
    return path if inside else None
