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
