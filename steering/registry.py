"""Registries of classes named by strings (``"module:Class"``), imported on first use: architectures, control kinds."""

from __future__ import annotations

import importlib
from typing import Mapping

from .errors import SteeringError


def registered(table: Mapping[str, str], name: str, package: str, error: type[SteeringError], what: str) -> type:
    """The class ``table[name]`` names inside ``package``; ``error`` listing the known names when there is none."""
    try:
        module_name, class_name = table[name].split(":")
    except KeyError:
        raise error(f"unknown {what} {name!r}; known: {', '.join(sorted(table))}") from None
    return getattr(importlib.import_module(f"{package}.{module_name}"), class_name)


__all__ = ["registered"]
