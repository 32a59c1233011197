"""Where the UI writes files, and how it names them to the user.

* Saved outputs (sweep grids, GIFs, direction files): the host's output folder for a local webui; in public mode a
  private per-session folder that nothing serves directly: a browser gets a file only through the app's own file
  cache, under a name derived from its content with the app's secret, and messages show file names, never paths.
* Live previews (the edited image): always a private scratch folder, one fresh PNG per render written atomically,
  so a request streaming an image never sees another request rewrite it. Old previews are pruned by age.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import io

if TYPE_CHECKING:
    from .settings import UISettings

#: Previews older than this are deleted (the browser fetched them long ago).
PREVIEW_MAX_AGE = 600.0
#: Public-mode outputs of sessions that never said goodbye are deleted after this long.
OUTPUT_MAX_AGE = 6 * 3600.0
_PRUNE_EVERY = 60.0

_scratch: Path | None = None
_scratch_lock = threading.Lock()
_last_prune: dict[Path, float] = {}


def scratch_root() -> Path:
    """This process's private folder (mode 0700) for previews and public-mode outputs."""
    global _scratch
    with _scratch_lock:
        if _scratch is None or not _scratch.is_dir():
            _scratch = Path(tempfile.mkdtemp(prefix="gan-steering-"))
        return _scratch


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "file"


def _session_folder(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()[:24]


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1_000_000_000:09d}"


def output_path(settings: UISettings, kind: str, stem: str, suffix: str, session: str) -> Path:
    """A new file name for a saved output: ``<output_dir>/<kind>/<stem>-<time><suffix>`` (public mode: the session's
    private folder instead of ``output_dir``). The folder is created."""
    if settings.public:
        base = scratch_root() / "sessions" / _session_folder(session)
        _prune(scratch_root() / "sessions", OUTPUT_MAX_AGE)
    else:
        base = Path(settings.output_dir)
    folder = base / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{slug(stem)}-{_stamp()}{suffix}"


def preview(image: Any, **pil_options: Any) -> str:
    """Write a live preview PNG atomically to a fresh private file; returns its path for an image component."""
    folder = scratch_root() / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, PREVIEW_MAX_AGE)
    path = folder / f"{_stamp()}-{threading.get_ident() % 100_000}.png"
    return str(io.save_image(image, path, **pil_options))


def shown(settings: UISettings, path: str | Path) -> str:
    """How a file is named to the user: its path for a local webui, only its name in public mode."""
    return Path(path).name if settings.public else str(path)


def end_session(session: str) -> None:
    """Delete a public-mode session's outputs (the page was closed)."""
    shutil.rmtree(scratch_root() / "sessions" / _session_folder(session), ignore_errors=True)


def _prune(folder: Path, max_age: float) -> None:
    """Delete files (and emptied folders) under ``folder`` older than ``max_age`` seconds, at most once a minute."""
    now = time.time()
    if now - _last_prune.get(folder, 0.0) < _PRUNE_EVERY:
        return
    _last_prune[folder] = now
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*"), reverse=True):
        try:
            if path.is_file() and now - path.stat().st_mtime > max_age:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        except OSError:
            continue
