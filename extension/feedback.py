"""Turning handler failures into messages the user can act on, and binding handlers to the host's settings.

Every Gradio handler is a plain module-level function ``fn(settings, *inputs)``; ``bind`` fixes ``settings`` and wraps
the call so that a ``SteeringError`` (a bad value, a file for another model, a Hub failure…) is shown as a
``gr.Error`` with its own message, and anything unexpected is logged and reported without taking the app down.
A handler that raises changes no output, so a refused upload leaves the current directions as they were.

A handler with a keyword-only ``request`` parameter receives the Gradio request (its browser session), or ``None``
when called directly: the wrapper declares a first positional ``request: gr.Request`` (Gradio inserts the request at
that position, which works for handlers with ``*inputs`` too) and hands it over by keyword.

In public mode messages never show a server path: only file names.
"""

from __future__ import annotations

import html
import inspect
import logging
import re
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from .core import errors
from .session import directions_store, session_id

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
    wants_request = any(p.name == "request" and p.kind is p.KEYWORD_ONLY for p in params)
    inputs = [p.replace(annotation=inspect.Parameter.empty) for p in params if p.name != "request"]

    def handler(*args: Any) -> Any:
        request = args[0] if args and isinstance(args[0], gr.Request) else None
        if request is not None:
            args = args[1:]
        directions_store.touch(session_id(request))
        try:
            return fn(settings, *args, request=request) if wants_request else fn(settings, *args)
        except gr.Error:
            raise
        except errors.SteeringError as exc:
            raise gr.Error(user_message(exc, settings.public)) from exc
        except Exception as exc:
            log.exception("gan-steering handler %s failed", fn.__name__)
            raise gr.Error(user_message(exc, settings.public)) from exc

    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
    handler.__name__ = handler.__qualname__ = fn.__name__
    handler.__doc__ = fn.__doc__
    handler.__signature__ = inspect.Signature([request, *inputs])  # type: ignore[attr-defined]
    handler.__annotations__ = {"request": gr.Request}
    if gpu and settings.gpu is not None:
        return settings.gpu(handler)
    return handler


def ok(text: str) -> str:
    """A status line for a successful action."""
    return f"✓ {text}"
