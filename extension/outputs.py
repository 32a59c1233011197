"""Where the UI writes files, and how it names them to the user.

* Saved outputs (sweep grids, GIFs, direction files): the host's output folder for a local webui; in public mode a
  private per-session folder that nothing serves directly: a browser gets a file only through the app's own file
  cache, under a name derived from its content with the app's secret, and messages show file names, never paths.
* Live previews (the edited image): always a private scratch folder, one fresh PNG per render written atomically,
  so a request streaming an image never sees another request rewrite it. Old previews are pruned by age.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import io as core_io

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


def preview(image: Any, format: str = "PNG", **pil_options: Any) -> str:
    """A live preview PNG (or ``format``: GIF for an animation) in the private scratch folder, named by its content;
    returns its path.

    The same picture always gets the same file (and so the same URL: the browser shows it without a reload); a new
    picture is written atomically under a new name, so a file being streamed is never rewritten."""
    buffer = BytesIO()
    image.save(buffer, format=format, **pil_options)
    data = buffer.getvalue()
    folder = scratch_root() / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, PREVIEW_MAX_AGE)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:32]}.{format.lower()}"
    if path.is_file():
        os.utime(path)  # keeps it from being pruned while in use
    else:
        with core_io.atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return str(path)


def shown(settings: UISettings, path: str | Path) -> str:
    """How a file is named to the user: its path for a local webui, only its name in public mode."""
    return Path(path).name if settings.public else str(path)


def end_session(session: str) -> None:
    """Delete a public-mode session's outputs (the page was closed)."""
    shutil.rmtree(scratch_root() / "sessions" / _session_folder(session), ignore_errors=True)


def start_cache_janitor(folder: Path, every: float, older_than: float) -> threading.Thread:
    """Delete files older than ``older_than`` seconds under ``folder`` (Gradio's file cache) every ``every`` seconds.

    Gradio's own ``delete_cache`` walks live sets that request threads add to; under load the walk fails once and
    its schedule stops for good (seen with 16 clients on 6.31: the cache grew without bound). This walks the folder
    itself, so a Space stays bounded whatever the version does."""

    def run() -> None:
        while True:
            time.sleep(every)
            _last_prune.pop(folder, None)
            _prune(folder, older_than)

    thread = threading.Thread(target=run, name="gan-steering-cache-janitor", daemon=True)
    thread.start()
    return thread


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
