"""A long-running Space stays healthy: whole images under concurrency, read-only folders, a lean build."""

from __future__ import annotations

import ast
import errno
import re
import threading
from pathlib import Path

import pytest
from PIL import Image

from steering import cache, io
from steering.methods import sefa
from steering.sources import load_generator

ROOT = Path(__file__).resolve().parents[1]


def read_only(*_args, **_kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def test_a_read_only_cache_folder_falls_back_to_computing_without_caching(dcgan, isolated_home, monkeypatch):
    monkeypatch.setattr(io, "atomic_path", read_only)
    found = cache.cached(dcgan, "sefa", {"num_directions": 3}, lambda: sefa(dcgan, 3, use_cache=False))
    assert len(found) == 3 and not list(isolated_home.rglob("*.safetensors"))
    again = sefa(dcgan, 3)  # every request still gets its answer
    assert len(again) == 3


def test_a_read_only_models_folder_still_loads_the_model(isolated_home, monkeypatch, dcgan):
    monkeypatch.setattr(io, "atomic_path", read_only)
    messages: list[str] = []
    model = load_generator("dcgan-faces", log=messages.append)
    assert model.identity.sha256 == dcgan.identity.sha256
    assert any("without saving" in m for m in messages) and not list(isolated_home.rglob("*.safetensors"))


def test_previews_are_content_named_and_always_whole_under_concurrency():
    gr = pytest.importorskip("gradio")  # noqa: F841
    from extension import outputs

    image = Image.effect_noise((256, 256), 40).convert("RGB")
    first = outputs.preview(image)
    assert outputs.preview(image) == first  # the same picture: the same file, so the same URL
    other = outputs.preview(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    assert other != first
    errors: list[str] = []

    def writer() -> None:
        for _ in range(30):
            Path(first).unlink(missing_ok=True)
            outputs.preview(image)

    def reader() -> None:
        for _ in range(200):
            try:
                data = Path(first).read_bytes()
            except FileNotFoundError:
                continue
            if not data.endswith(b"IEND\xaeB`\x82"):
                errors.append(f"truncated read of {len(data)} bytes")

    threads = [threading.Thread(target=writer) for _ in range(3)] + [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]


def third_party_imports() -> set[str]:
    """Top-level modules the app imports (steering/, extension/, spaces_app.py), outside the standard library."""
    import sys

    names: set[str] = set()
    for path in [ROOT / "spaces_app.py", *ROOT.glob("steering/**/*.py"), *ROOT.glob("extension/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    ours = {"steering", "extension", "spaces", "modules"}  # ZeroGPU (Spaces only), the webui (host.py only)
    return {n for n in names if n not in sys.stdlib_module_names and n not in ours}


def test_the_space_installs_only_what_the_app_needs():
    text = (ROOT / "requirements.txt").read_text()
    listed = {
        re.split(r"[<>=!\[ ;]", line.strip())[0].lower() for line in text.splitlines() if line.strip()[:1].isalnum()
    }
    assert "gan-face-generate" not in listed and "omniart-eye-generator" not in listed
    assert "torchvision" not in listed and "wandb" not in listed
    distribution = {
        "PIL": "pillow",
        "yaml": "pyyaml",
        "huggingface_hub": "huggingface_hub",
        "imageio_ffmpeg": "imageio-ffmpeg",
    }
    distribution |= {"pytorch_msssim": "pytorch-msssim"}
    optional = {"ray", "pyarrow"}  # extras for batch jobs on a cluster and dataset export, never imported by the UI
    extras = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1].split("\n[")[0]
    assert all(f'"{name}' in extras for name in optional)
    needed = {distribution.get(name, name).lower() for name in third_party_imports()} - {"gradio"} - optional
    assert needed <= listed, f"imported but not in requirements.txt: {needed - listed}"
    assert listed <= needed, f"in requirements.txt but never imported: {listed - needed}"
    assert all(re.search(r"<\d", line) for line in text.splitlines() if line.strip()[:1].isalnum())  # bounded


def test_the_space_installs_the_embedded_wheel_without_its_dependencies(monkeypatch):
    pytest.importorskip("gradio")
    import importlib.util
    import subprocess

    import spaces_app

    calls: list[list[str]] = []
    monkeypatch.setenv("SPACE_ID", "someone/gan-steering")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    spaces_app.ensure_embedded_model()
    (command,) = calls  # one pip call for every missing wheel
    assert "--no-deps" in command and {"gan-face-generate==1.1.1", "omniart-eye-generator==0.1"} <= set(command)
    calls.clear()
    monkeypatch.delenv("SPACE_ID")
    spaces_app.ensure_embedded_model()  # a local launch never installs anything
    assert calls == []
