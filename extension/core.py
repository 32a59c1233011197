"""The one door from the UI to the core library.

Inside a webui the packages are loaded under unique aliases (``gan_steering_ui`` for ``extension/``,
``gan_steering_core`` for ``steering/``) so that another extension's top-level ``steering`` cannot collide. This module
picks the core package by the name this package was loaded under; every other UI module imports the core from here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CORE = "gan_steering_core" if __name__.startswith("gan_steering_ui") else "steering"

steering = importlib.import_module(CORE)
errors = importlib.import_module(CORE + ".errors")
io = importlib.import_module(CORE + ".io")
values = importlib.import_module(CORE + ".values")
limits = importlib.import_module(CORE + ".limits")
directions = importlib.import_module(CORE + ".directions")
edit = importlib.import_module(CORE + ".edit")
render = importlib.import_module(CORE + ".render")
io = importlib.import_module(CORE + ".io")
methods = importlib.import_module(CORE + ".methods")
models = importlib.import_module(CORE + ".models")
sources = importlib.import_module(CORE + ".sources")
catalog = importlib.import_module(CORE + ".sources.catalog")
controls = importlib.import_module(CORE + ".controls")
start = importlib.import_module(CORE + ".start")
recipe = importlib.import_module(CORE + ".recipe")

Directions = directions.Directions
SteeringError = errors.SteeringError


def __getattr__(name: str) -> ModuleType:
    """Modules imported on first use (``core.share``, ``core.inversion``)."""
    if name in ("share", "inversion"):  # Hub push/pull (the Hub tab); inversion (the Edit tab's own-image panel)
        return importlib.import_module(f"{CORE}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
