"""Steering methods: each a pure function ``(generator, parameters) -> Directions`` (or a trajectory)."""

from .ganspace import ganspace
from .sefa import sefa

#: Method name -> function, for the CLI and the UI.
METHODS = {"sefa": sefa, "ganspace": ganspace}

__all__ = ["METHODS", "ganspace", "sefa"]
