"""Generator architectures behind one interface (see ``base.Generator``)."""

from __future__ import annotations

import importlib

from ..errors import CheckpointFormatError
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
    try:
        module_name, class_name = ARCHITECTURES[name].split(":")
    except KeyError:
        raise CheckpointFormatError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}") from None
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)


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
