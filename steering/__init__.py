"""gan-steering: find and apply semantic directions in the latent spaces of pretrained GANs.

Quick start::

    from steering import edit, load_generator
    from steering.methods import sefa

    G = load_generator()                       # the embedded DCGAN faces model
    dirs = sefa(G, num_directions=10)          # closed-form directions, eigenvalues kept
    latents = G.sample(1, seed=3)
    image = edit.render(G, edit.apply(G, latents, dirs, {0: 2.0}))[0]
"""

from __future__ import annotations

from .controls import AffineControl, Control, FieldControl, LinearControl, PathControl, load_control
from .directions import Directions
from .errors import (
    CheckpointFormatError,
    DirectionsFileError,
    DirectionsMismatchError,
    HubError,
    InvalidValueError,
    ModelNotFoundError,
    SteeringError,
    UnsafeCheckpointError,
)
from .models import Generator, Latents
from .sources import load_generator
from .version import __version__

__all__ = [
    "AffineControl",
    "CheckpointFormatError",
    "Control",
    "Directions",
    "DirectionsFileError",
    "DirectionsMismatchError",
    "FieldControl",
    "Generator",
    "HubError",
    "InvalidValueError",
    "Latents",
    "LinearControl",
    "ModelNotFoundError",
    "PathControl",
    "SteeringError",
    "UnsafeCheckpointError",
    "__version__",
    "load_control",
    "load_generator",
]
