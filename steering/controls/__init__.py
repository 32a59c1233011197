"""Controls: what a slider moves along. One kind per module, registered in ``KINDS`` (see ``base``)."""

from .affine import AffineControl
from .base import FORMAT, FORMAT_VERSION, KINDS, SPACES, Control, SliderSpec, control_class, load_control
from .field import FIELDS, FieldControl, FieldInputs
from .linear import WALKS, LinearControl, great_circle, small_circle
from .path import PathControl

__all__ = [
    "FIELDS",
    "FORMAT",
    "FORMAT_VERSION",
    "KINDS",
    "SPACES",
    "WALKS",
    "AffineControl",
    "Control",
    "FieldControl",
    "FieldInputs",
    "LinearControl",
    "PathControl",
    "SliderSpec",
    "control_class",
    "great_circle",
    "load_control",
    "small_circle",
]
