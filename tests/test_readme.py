"""The README's Python API example runs as written (in a scratch folder), and the PNG it saves replays to the same
pixels: the first thing a new user copies must work."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.usefixtures("one_thread")


def _python_api_block() -> str:
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S)[1]


def test_the_python_api_example_runs_and_its_png_replays(tmp_path, monkeypatch):
    from steering.recipe import replay

    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(_python_api_block(), "README.md (Python API)", "exec"), scope)
    for name in ("grid.png", "walk.mp4", "faces-sefa.safetensors", "start.safetensors", "edit.png"):
        assert (tmp_path / name).is_file(), name
    again, _ = replay(tmp_path / "edit.png", scope["G"])
    assert np.array_equal(np.asarray(again), np.asarray(Image.open(tmp_path / "edit.png").convert("RGB")))
    assert np.array_equal(np.asarray(again), np.asarray(scope["image"]))
