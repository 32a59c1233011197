"""One module per tab. Each has plain module-level handlers ``fn(settings, *inputs)`` (directly testable) and a
``build(settings, shared)`` that lays out its components and wires them with ``feedback.bind``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Shared:
    """Per-user values shared by the tabs: small ``gr.State``s holding keys, never heavy objects."""

    model: Any  # gr.State: model spec (catalog name, "owner/repo[@rev]:file" or path)
    directions: Any  # gr.State: key of the current directions in ``session.directions_store`` ("" = none)
