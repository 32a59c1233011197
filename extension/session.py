"""Per-user objects that are too heavy for ``gr.State``: direction sets in a thread-safe LRU store keyed by uuid.

``gr.State`` holds only the key (a short string) and the model spec; generators live in the core's process-level
``GeneratorCache`` (one load per model, shared by users); directions live here, one entry per discovery or upload.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING

from .core import errors, sources

if TYPE_CHECKING:
    from .settings import UISettings


class SessionExpiredError(errors.SteeringError):
    """The directions this page refers to are no longer in memory (server restarted or too many sessions)."""


class DirectionsStore:
    """LRU map uuid -> Directions, safe to use from concurrent Gradio worker threads."""

    def __init__(self, max_items: int = 256) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, directions: object) -> str:
        key = uuid.uuid4().hex
        with self._lock:
            self._items[key] = directions
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return key

    def get(self, key: str | None):
        """The directions under ``key``; ``SessionExpiredError`` if unknown (``None`` / empty key: none chosen yet)."""
        if not key:
            raise SessionExpiredError(
                "no directions yet: discover them (Discover tab), upload a file or pull from the Hub"
            )
        with self._lock:
            try:
                self._items.move_to_end(key)
                return self._items[key]
            except KeyError:
                raise SessionExpiredError(
                    "these directions are no longer in memory (the server restarted or evicted them): "
                    "discover them again or reload the direction file"
                ) from None

    def find(self, key: str | None):
        """Like ``get`` but ``None`` instead of an error."""
        try:
            return self.get(key)
        except SessionExpiredError:
            return None

    def replace(self, key: str, directions: object) -> None:
        """Swap the object under an existing key (e.g. after renaming a direction)."""
        with self._lock:
            if key not in self._items:
                raise SessionExpiredError("these directions are no longer in memory: discover or load them again")
            self._items[key] = directions
            self._items.move_to_end(key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: The process-wide store used by every tab.
directions_store = DirectionsStore()


def generator(settings: UISettings, spec: str | None, token: str | None = None):
    """The loaded generator for ``spec`` on the settings' device (loaded once, shared by users)."""
    spec = (spec or settings.default_model).strip()
    return sources.generators.get(spec, settings.device, token=token or None)
