"""The embedded default model: the DCGAN faces generator shipped in the ``gan-face-generate`` wheel.

The package itself is never imported (its ``__init__`` pulls training dependencies); we only locate its file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ModelNotFoundError

PACKAGE = "gan-face-generate"
VERSION = "1.1.1"
FILENAME = "weights.tar"


def embedded_weights_path() -> Path:
    """Path of ``gan_face_generate/weights.tar``, or a clear error telling how to install it."""
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the embedded faces model needs the {PACKAGE} wheel: pip install --no-deps {PACKAGE}=={VERSION}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / FILENAME
    if not path.is_file():
        raise ModelNotFoundError(f"{PACKAGE} is installed but {path} is missing; reinstall it")
    return path
