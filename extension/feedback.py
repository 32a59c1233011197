"""Turning handler failures into messages the user can act on, and binding handlers to the host's settings.

Every Gradio handler is a plain module-level function ``fn(settings, *inputs)``; ``bind`` fixes ``settings`` and wraps
the call so that a ``SteeringError`` (a bad value, a file for another model, a Hub failure…) is shown as a
``gr.Error`` with its own message, and anything unexpected is logged and reported without taking the app down.
A generator handler (one that yields previews while it works) stays a generator.
A handler that raises changes no output, so a refused upload leaves the current directions as they were.

A handler with a keyword-only ``request`` parameter receives the Gradio request (its browser session), or ``None``
when called directly; one with a keyword-only ``progress`` parameter receives a ``progress(done, total)`` callback
that drives Gradio's progress bar and raises ``CancelledError`` once the user pressed Cancel (``cancel``). The
wrapper declares them as its first positional parameters (``request: gr.Request``, ``progress=gr.Progress()``, where
every Gradio version inserts them, which works for handlers with ``*inputs`` too) and hands them over by keyword.

In public mode messages never show a server path: only file names.
"""

from __future__ import annotations

import html
import inspect
import logging
import re
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from . import compat
from .core import errors
from .session import cancellations, directions_store, session_id

if TYPE_CHECKING:
    from .settings import UISettings

log = logging.getLogger("gan_steering.ui")
_ABSOLUTE_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\](?:[^\s'\"`()<>,;:]+[/\\])+([^\s'\"`()<>,;:/\\]*)")


def user_message(exc: BaseException, public: bool = False) -> str:
    """What to show for an exception raised inside a handler (escaped: messages quote names and file text)."""
    if isinstance(exc, errors.SteeringError):
        text = str(exc)
    elif isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        text = "out of memory: ask for fewer images, frames or samples"
    elif public:
        text = f"unexpected error ({type(exc).__name__}); the details are in the server log"
    else:
        text = f"unexpected error ({type(exc).__name__}: {exc}); the details are in the server log"
    if public:
        text = hide_paths(text)
    return html.escape(text.strip().splitlines()[0] if text.strip() else type(exc).__name__, quote=False)


def hide_paths(text: str) -> str:
    """Absolute paths in ``text`` reduced to their file names (``/srv/app/outputs/a.png`` -> ``a.png``)."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or "…", text)


def bind(fn: Callable[..., Any], settings: UISettings, *, gpu: bool = False) -> Callable[..., Any]:
    """``fn`` with ``settings`` fixed and errors turned into ``gr.Error``; ``gpu`` applies ``settings.gpu``."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    special = {p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name in ("request", "progress")}
    inputs = [p.replace(annotation=inspect.Parameter.empty) for p in params if p.name not in special]

    def prepared(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        request = args[0] if args and isinstance(args[0], gr.Request) else None
        if request is not None:
            args = args[1:]
        bar = args[0] if args and isinstance(args[0], gr.Progress) else None
        if bar is not None:
            args = args[1:]
        session = session_id(request)
        directions_store.touch(session)
        extra: dict[str, Any] = {}
        if "request" in special:
            extra["request"] = request
        if "progress" in special:
            cancellations.clear(session)
            extra["progress"] = progress_callback(bar, session)
        return args, extra

    def shown(exc: Exception) -> gr.Error:
        if not isinstance(exc, errors.SteeringError):
            log.exception("gan-steering handler %s failed", fn.__name__)
        return compat.error(user_message(exc, settings.public))

    def handler(*args: Any) -> Any:
        args, extra = prepared(args)
        try:
            return fn(settings, *args, **extra)
        except gr.Error:
            raise
        except Exception as exc:
            raise shown(exc) from exc

    def streaming(*args: Any) -> Any:  # a generator handler (previews while it works) is wrapped as a generator
        args, extra = prepared(args)
        try:
            yield from fn(settings, *args, **extra)
        except gr.Error:
            raise
        except Exception as exc:
            raise shown(exc) from exc

    if inspect.isgeneratorfunction(fn):
        handler = streaming

    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    leading = [inspect.Parameter("request", positional, annotation=gr.Request)]
    if "progress" in special:  # Gradio finds it by its default; the inputs after it then need defaults too
        leading.append(inspect.Parameter("progress", positional, default=gr.Progress()))
        inputs = [
            p if p.kind is p.VAR_POSITIONAL or p.default is not p.empty else p.replace(default=None) for p in inputs
        ]
    handler.__name__ = handler.__qualname__ = fn.__name__
    handler.__doc__ = fn.__doc__
    handler.__signature__ = inspect.Signature([*leading, *inputs])  # type: ignore[attr-defined]
    handler.__annotations__ = {"request": gr.Request}
    if gpu and settings.gpu is not None:
        return settings.gpu(handler)
    return handler


def progress_callback(bar: Any, session: str) -> Callable[[int, int], None]:
    """``progress(done, total)`` for the core: moves Gradio's bar (when there is one) and stops on Cancel."""

    def progress(done: int, total: int) -> None:
        if cancellations.requested(session):
            raise errors.CancelledError("cancelled: nothing was kept")
        if bar is not None:
            bar((done, total))

    return progress


def cancel(settings: UISettings, *, request: Any = None) -> str:
    """The Cancel button: the running computation of this session stops at its next progress step."""
    cancellations.request(session_id(request))
    return "cancelling…"


def ok(text: str) -> str:
    """A status line for a successful action."""
    return f"✓ {text}"


def warn(text: str) -> str:
    """A status line for an action that finished with a result the user should not trust as it is."""
    return f"⚠️ {text}"
