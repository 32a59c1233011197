"""What the host (webui or Space) tells the UI: where outputs go, which device, limits, the GPU lock."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager


def default_output_dir() -> Path:
    """``$GAN_STEERING_OUTPUTS`` or ``./outputs/gan-steering`` (inside the working directory, which Gradio serves)."""
    return Path(os.environ.get("GAN_STEERING_OUTPUTS") or Path.cwd() / "outputs" / "gan-steering").resolve()


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_model() -> str:
    from .core import catalog

    return catalog.DEFAULT_MODEL


@dataclass
class UISettings:
    """Host-provided settings. ``lock`` serialises GPU work (a webui passes its ``queue_lock``)."""

    output_dir: Path = field(default_factory=default_output_dir)
    device: str = field(default_factory=default_device)
    default_model: str = field(default_factory=default_model)
    max_sliders: int = 10
    lock: ContextManager[Any] = field(default_factory=contextlib.nullcontext)
    #: Optional decorator for GPU-bound handlers (a Space on ZeroGPU passes ``spaces.GPU``).
    gpu: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        if not 1 <= int(self.max_sliders) <= 64:
            raise ValueError(f"max_sliders must be in [1, 64], got {self.max_sliders}")
        self.max_sliders = int(self.max_sliders)
