"""Content-addressed cache of computed bases: the key is a hash of (model sha256, method, parameters, format).

Entries are ordinary direction files written atomically; an entry that fails to load, or loads but does not fit the
model it is looked up for, is deleted and recomputed, so the cache never keeps a broken file (on a read-only cache
folder it cannot be deleted: it is computed without the cache, with a warning).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

from . import paths
from .controls import FORMAT_VERSION, Control
from .errors import CorruptFileError, DirectionsMismatchError
from .io import tidy
from .models.base import Generator

log = logging.getLogger("gan_steering")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def cache_key(generator: Generator, method: str, params: Mapping[str, Any]) -> str:
    payload = {
        "model": generator.identity.sha256,
        "architecture": generator.architecture,
        "method": method,
        "params": params,
        "format": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def entry_path(key: str, root: Path | None = None) -> Path:
    return (root or paths.bases_dir()) / key[:2] / f"{key}.safetensors"


def cached(
    generator: Generator,
    method: str,
    params: Mapping[str, Any],
    compute: Callable[[], Control],
    root: Path | None = None,
) -> Control:
    """Return the cached basis for (model, method, params), computing and storing it on a miss."""
    key = cache_key(generator, method, params)
    path = entry_path(key, tidy(root or paths.bases_dir()))
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # two users asking for the same basis compute it once
        readable = paths.confined(path.parent, path.name)  # a link leading out of the cache is not read
        if readable is not None and readable.is_file():
            try:
                return Control.load(path, generator)
            except (CorruptFileError, DirectionsMismatchError) as exc:
                try:
                    path.unlink(missing_ok=True)
                except OSError as failed:  # a read-only cache folder: computed without it, the entry stays
                    log.warning("gan-steering: cannot remove the bad cached basis %s (%s: %s)", path, exc, failed)
        directions = compute()
        try:
            directions.save(path, follow_symlinks=False)  # a planted link is replaced, never written through
        except OSError as exc:  # a read-only or full cache folder: the result is still good, only not kept
            log.warning("gan-steering: cannot cache a basis in %s (%s); computing without caching", path.parent, exc)
        return directions
