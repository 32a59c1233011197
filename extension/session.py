"""Per-user objects too heavy for ``gr.State``: a store of direction sets sized by memory, owned by sessions.

``gr.State`` holds only a key (a short string); the objects live here. Every entry belongs to the browser session that
made it (``gr.Request.session_hash``). The store is bounded by bytes, not by count, and it never drops what a live
session is using: an entry may be evicted only once its session has ended (page closed, or idle past
``session_ttl``) or when it is not among that session's ``keep_per_session`` most recent entries. If every byte is
held by live sessions, a new entry is refused with a clear message instead of silently evicting someone's sliders;
an evicted key always answers with ``SessionExpiredError``, never with something else.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .core import errors, sources

if TYPE_CHECKING:
    from .settings import UISettings

#: The session of calls made without a browser request (tests, scripts): one shared local user.
LOCAL_SESSION = "local"


class SessionExpiredError(errors.SteeringError):
    """The directions this page refers to are no longer in memory (server restarted or the session ended)."""


class StoreFullError(errors.ResourceLimitError):
    """Live sessions hold the whole memory budget; nothing of theirs is evicted to make room."""


def session_id(request: Any) -> str:
    """The browser session behind a Gradio request (``LOCAL_SESSION`` without one)."""
    value = getattr(request, "session_hash", None)
    return str(value) if value else LOCAL_SESSION


def nbytes(item: Any) -> int:
    """Memory an entry holds: its own ``nbytes`` when it reports one, else a nominal kilobyte."""
    size = getattr(item, "nbytes", None)
    return int(size) if isinstance(size, int) and size >= 0 else 1024


@dataclass
class _Entry:
    item: Any
    session: str
    size: int


class DirectionsStore:
    """Thread-safe map key -> object, bounded by ``budget_bytes``, evicting only what no live session needs."""

    def __init__(
        self,
        budget_bytes: int = 512 * 2**20,
        keep_per_session: int = 8,
        session_ttl: float = 6 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if budget_bytes < 1 or keep_per_session < 1:
            raise ValueError("the budget and the entries kept per session must be positive")
        self.budget_bytes, self.keep_per_session, self.session_ttl = budget_bytes, keep_per_session, session_ttl
        self._clock = clock
        self._items: OrderedDict[str, _Entry] = OrderedDict()  # least recently used first
        self._seen: dict[str, float] = {}  # session -> last activity
        self._ended: set[str] = set()
        self._lock = threading.Lock()

    # ----- sessions ----------------------------------------------------------------------------------------------
    def touch(self, session: str) -> None:
        """Mark ``session`` as alive now (every handler call does)."""
        with self._lock:
            self._seen[session] = self._clock()
            self._ended.discard(session)

    def end_session(self, session: str) -> None:
        """The page was closed: its entries may go (they are dropped at once)."""
        with self._lock:
            self._ended.add(session)
            self._seen.pop(session, None)
            for key in [k for k, e in self._items.items() if e.session == session]:
                del self._items[key]

    # ----- entries -----------------------------------------------------------------------------------------------
    def put(self, item: Any, session: str = LOCAL_SESSION) -> str:
        """Store ``item`` for ``session``; returns its key. ``StoreFullError`` when live sessions hold everything."""
        size = nbytes(item)
        if size > self.budget_bytes:
            raise StoreFullError(
                f"this set needs {size // 2**20} MiB; the server keeps at most {self.budget_bytes // 2**20} MiB"
            )
        key = uuid.uuid4().hex
        with self._lock:
            self._seen[session] = self._clock()
            self._ended.discard(session)
            self._items[key] = _Entry(item, session, size)
            if not self._make_room():
                del self._items[key]
                raise StoreFullError(
                    "the server is holding the work of many users right now and has no room for more: "
                    "try again in a few minutes"
                )
        return key

    def get(
        self,
        key: str | None,
        what: str = "these directions are",
        again: str = "discover them again or reload the direction file",
    ) -> Any:
        """The object under ``key``; ``SessionExpiredError`` if unknown (``None`` / empty key: none chosen yet),
        saying that ``what`` is no longer in memory and how to get it back (``again``)."""
        if not key:
            raise SessionExpiredError(
                "no directions yet: discover them (Discover tab), upload a file or pull from the Hub"
            )
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                raise SessionExpiredError(
                    f"{what} no longer in memory (the server restarted or your session ended): {again}"
                )
            self._items.move_to_end(key)
            self._seen[entry.session] = self._clock()
            return entry.item

    def find(self, key: str | None) -> Any:
        """Like ``get`` but ``None`` instead of an error."""
        try:
            return self.get(key)
        except SessionExpiredError:
            return None

    def replace(self, key: str, item: Any) -> None:
        """Swap the object under an existing key (e.g. after renaming a direction)."""
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                raise SessionExpiredError("these directions are no longer in memory: discover or load them again")
            self._items[key] = _Entry(item, entry.session, nbytes(item))
            self._items.move_to_end(key)

    def used_bytes(self) -> int:
        with self._lock:
            return sum(e.size for e in self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._seen.clear()
            self._ended.clear()

    # ----- eviction (called with the lock held) --------------------------------------------------------------------
    def _make_room(self) -> bool:
        used = sum(e.size for e in self._items.values())
        if used <= self.budget_bytes:
            return True
        for key in self._evictable():
            used -= self._items.pop(key).size
            if used <= self.budget_bytes:
                return True
        return False

    def _evictable(self) -> list[str]:
        """Keys no live session needs, least recently used first."""
        now = self._clock()
        recent: dict[str, int] = {}
        keep: set[str] = set()
        for key, entry in reversed(self._items.items()):  # most recent first
            alive = entry.session not in self._ended and now - self._seen.get(entry.session, -1e300) < self.session_ttl
            if alive and recent.get(entry.session, 0) < self.keep_per_session:
                keep.add(key)
                recent[entry.session] = recent.get(entry.session, 0) + 1
        return [key for key in self._items if key not in keep]


#: The process-wide store used by every tab.
directions_store = DirectionsStore()


class Tokens:
    """The Hub token each browser session typed (in memory only, never written or logged; gone with the session).

    A model loaded with a token is used by that session's later events too (render, discover …), which do not carry
    the token field: each event asks ``generator`` with its own session's token, so access is still checked per user.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def remember(self, session: str, token: str | None) -> None:
        with self._lock:
            if token:
                self._tokens[session] = token

    def of(self, session: str) -> str | None:
        with self._lock:
            return self._tokens.get(session)

    def forget(self, session: str) -> None:
        with self._lock:
            self._tokens.pop(session, None)


#: The process-wide token memory (per browser session).
session_tokens = Tokens()


class Cancellations:
    """Cancel requests by key (a browser session's panel): long work checks its key at each progress step.

    Work is ``pending`` from the click (it may wait its turn in the queue), running between ``start`` and
    ``finish``; Cancel is recorded only while some work under the key is pending or running."""

    def __init__(self) -> None:
        self._requested: set[str] = set()
        self._pending: set[str] = set()
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def pending(self, key: str) -> None:
        """Work under ``key`` was asked for (an earlier Cancel no longer applies)."""
        with self._lock:
            self._pending.add(key)
            self._requested.discard(key)

    def start(self, key: str | None) -> None:
        if key is not None:
            with self._lock:
                self._pending.discard(key)
                self._running[key] = self._running.get(key, 0) + 1

    def finish(self, key: str | None) -> None:
        if key is not None:
            with self._lock:
                left = self._running.get(key, 0) - 1
                if left > 0:
                    self._running[key] = left
                else:
                    self._running.pop(key, None)
                    if key not in self._pending:
                        self._requested.discard(key)

    def active(self, key: str) -> bool:
        with self._lock:
            return key in self._pending or key in self._running

    def request(self, key: str) -> bool:
        """Cancel the work under ``key``; ``False`` (nothing recorded) when none is pending or running."""
        with self._lock:
            if key not in self._pending and key not in self._running:
                return False
            self._requested.add(key)
            return True

    def requested(self, key: str) -> bool:
        with self._lock:
            return key in self._requested

    def clear(self, key: str) -> None:
        """Forget a Cancel and any pending work under ``key``."""
        with self._lock:
            self._requested.discard(key)
            self._pending.discard(key)


cancellations = Cancellations()


def generator(settings: UISettings, spec: str | None, token: str | None = None, *, request: Any = None):
    """The loaded generator for ``spec`` on the settings' device (loaded once, shared by users).

    ``token`` (typed in the Hub tab) is remembered for this browser session; without one, the session's remembered
    token is used. In public mode only catalog names and Hub files are accepted, and no token means anonymous: the
    server's own Hub login is never lent to a visitor. Every call checks this caller's access to a Hub model."""
    session = session_id(request)
    session_tokens.remember(session, token)
    spec = (spec or settings.default_model).strip()
    return sources.generators.get(
        spec,
        settings.device,
        token=token or session_tokens.of(session),
        anonymous_default=settings.public,
        allow_local_paths=not settings.public,
    )
