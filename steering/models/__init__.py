"""Generator architectures behind one interface (see ``base.Generator``)."""

from __future__ import annotations

from ..errors import CheckpointFormatError
from ..registry import registered
from ..values import layer_range
from .base import WPLUS, Generator, LatentProjection, Latents, ModelIdentity, Noise, W, Z

#: Architecture name -> "module:Class". Modules load lazily so that a model's code is imported only when used.
ARCHITECTURES: dict[str, str] = {
    "dcgan": "dcgan:DCGAN",
    "stylegan2": "stylegan2:StyleGAN2",
    "biggan-deep": "biggan:BigGANDeep",
    "pggan": "pggan:PGGAN",
    "stylegan": "stylegan:StyleGAN",
}


def architecture_class(name: str) -> type[Generator]:
    """The Generator subclass registered under ``name``."""
    return registered(ARCHITECTURES, name, __name__, CheckpointFormatError, "architecture")


__all__ = [
    "ARCHITECTURES",
    "WPLUS",
    "Generator",
    "LatentProjection",
    "Latents",
    "ModelIdentity",
    "Noise",
    "W",
    "Z",
    "architecture_class",
    "layer_range",
]
