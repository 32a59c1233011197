"""Direction files: ``Directions``, the linear kind of control, under the name earlier releases gave it.

Every kind of control (linear, affine, field, path) lives in ``steering.controls``, with the file format they share
(safetensors tensors + string metadata; see ``steering.controls.base``). A linear file is still written as format
version 1, so it loads in every release; ``Directions.load`` reads linear files, ``Control.load`` any kind.
"""

from __future__ import annotations

from .controls.base import FORMAT, FORMAT_VERSION, SPACES, Control, load_control
from .controls.linear import UNIT_TOLERANCE, LinearControl

Directions = LinearControl

__all__ = ["FORMAT", "FORMAT_VERSION", "SPACES", "UNIT_TOLERANCE", "Control", "Directions", "load_control"]
