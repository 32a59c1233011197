"""``spaces_app.py`` in a subprocess on a free localhost port, for browser, public-mode and load tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

ROOT = Path(__file__).resolve().parents[1]
#: ``GAN_STEERING_BROWSER_PYTHON`` runs the app under another interpreter (e.g. a venv with gradio 3.41.2).
SERVER_PYTHON = os.environ.get("GAN_STEERING_BROWSER_PYTHON") or sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class App:
    url: str
    process: subprocess.Popen[bytes]
    folder: Path  # the app's working folder; TMPDIR, GRADIO_TEMP_DIR and the home live under it

    @property
    def log(self) -> str:
        return (self.folder / "server.log").read_text(errors="replace")


@contextmanager
def running_app(folder: Path, env: Mapping[str, str] | None = None, timeout: float = 90) -> Iterator[App]:
    """Start the app with its own home, outputs, temp and Gradio cache folders under ``folder``; stop it after."""
    port = free_port()
    for name in ("home", "outputs", "tmp", "gradio"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    full_env = {
        **os.environ,
        "GAN_STEERING_HOME": os.environ.get("GAN_STEERING_HOME") or str(folder / "home"),
        "GAN_STEERING_OUTPUTS": str(folder / "outputs"),
        "TMPDIR": str(folder / "tmp"),
        "GRADIO_TEMP_DIR": str(folder / "gradio"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        **(env or {}),
    }
    for name in ("SPACE_ID", "SPACES_ZERO_GPU"):
        if not (env and name in env):
            full_env.pop(name, None)
    log = open(folder / "server.log", "w")  # closed in the finally block below
    process = subprocess.Popen(
        [SERVER_PYTHON, str(ROOT / "spaces_app.py"), "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    app = App(f"http://127.0.0.1:{port}/", process, folder)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"spaces_app.py exited with {process.returncode}:\n{app.log}")
            try:
                with urllib.request.urlopen(app.url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"spaces_app.py did not answer within {timeout:.0f} s:\n{app.log}")
            time.sleep(0.3)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def discover_data(method: str, **values: object) -> list[object]:
    """The Discover event's data through the raw API: model spec, method, then one value per parameter of every
    registered method in the tab's order (each method's default unless given), so the call follows the registry."""
    from extension.tabs.discover import parameters

    data: list[object] = []
    for name, parameter in parameters().items():
        value = values.get(name, parameter.default)
        data.append(list(value) if isinstance(value, (list, tuple)) else value)
    return [method, *data]


def edit_state(seed: int, truncation: float = 1.0, target: int | None = None) -> tuple[object, ...]:
    """The Edit tab's state inputs after the model, set and start (a raw API call's data): seed, ψ, class, noise,
    great circle, target seed, interpolation."""
    from extension.tabs.edit_state import SEED_CLASS

    return (seed, truncation, SEED_CLASS, "const", "linear", seed + 1 if target is None else target, "slerp")
