"""What the host (webui or Space) tells the UI: where outputs go, which device, public mode, limits, the GPU lock."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager

PUBLIC_ENV = "GAN_STEERING_PUBLIC"
BATCHING_ENV = "GAN_STEERING_BATCHING"
LIVE_ENV = "GAN_STEERING_LIVE_CONCURRENCY"


def default_output_dir() -> Path:
    """``$GAN_STEERING_OUTPUTS`` or ``./outputs/gan-steering``."""
    return Path(os.environ.get("GAN_STEERING_OUTPUTS") or Path.cwd() / "outputs" / "gan-steering").resolve()


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_model() -> str:
    from .core import catalog

    return catalog.DEFAULT_MODEL


def default_batcher() -> Any:
    """A ``SynthesisBatcher`` (concurrent live renders of one model share a batch) unless ``GAN_STEERING_BATCHING``
    is ``0``/``false``."""
    import importlib

    from .core import CORE

    if os.environ.get(BATCHING_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    return importlib.import_module(CORE + ".coalesce").SynthesisBatcher()


def live_concurrency(default: int = 16) -> int:
    """How many live renders an app serves at once: ``GAN_STEERING_LIVE_CONCURRENCY`` (1 … 64), else ``default``."""
    try:
        value = int(os.environ.get(LIVE_ENV, "").strip() or default)
    except ValueError:
        value = default
    return max(1, min(64, value))


def default_public() -> bool:
    """Public mode from ``GAN_STEERING_PUBLIC`` (``1``/``true``), else on where a Space runs (``SPACE_ID``)."""
    value = os.environ.get(PUBLIC_ENV, "").strip().lower()
    if value:
        return value in ("1", "true", "yes", "on")
    return bool(os.environ.get("SPACE_ID"))


@dataclass
class UISettings:
    """Host-provided settings. ``lock`` serialises GPU work (a webui passes its ``queue_lock``).

    ``public``: the app serves people who must not reach the server: the model field takes catalog names and Hub
    files only (no local paths), uploads are read only from the host's upload folder, messages show no server paths
    or file contents, outputs live in a private per-session folder (served only through the app's own file cache)
    and a visitor without a token is anonymous on the Hub. A local webui keeps local paths (``public=False``).
    """

    output_dir: Path = field(default_factory=default_output_dir)
    device: str = field(default_factory=default_device)
    default_model: str = field(default_factory=default_model)
    max_sliders: int = 10
    public: bool = field(default_factory=default_public)
    lock: ContextManager[Any] = field(default_factory=contextlib.nullcontext)
    #: Optional decorator for GPU-bound handlers (a Space on ZeroGPU passes ``spaces.GPU``).
    gpu: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None
    #: Coalesces concurrent live renders of one model into one batch (``steering.coalesce``); ``None``: each alone.
    batcher: Any = field(default_factory=default_batcher)
    #: How many live renders (slider moves of every user, all sliders together) run at once; ``None``: the host's
    #: queue decides (a webui).
    live_concurrency: int | None = None

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        if not 1 <= int(self.max_sliders) <= 64:
            raise ValueError(f"max_sliders must be in [1, 64], got {self.max_sliders}")
        self.max_sliders = int(self.max_sliders)
        self.public = bool(self.public)
