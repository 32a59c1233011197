"""Turning handler failures into messages the user can act on, and binding handlers to the host's settings.

Every Gradio handler is a plain module-level function ``fn(settings, *inputs)``; ``bind`` fixes ``settings`` and wraps
the call so that a ``SteeringError`` (a bad value, a file for another model, a Hub failure…) is shown as a
``gr.Error`` with its own message, and anything unexpected is logged and reported without taking the app down.
A handler that raises changes no output, so a refused upload leaves the current directions as they were.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from .core import errors

if TYPE_CHECKING:
    from .settings import UISettings

log = logging.getLogger("gan_steering.ui")


def user_message(exc: BaseException) -> str:
    """What to show for an exception raised inside a handler."""
    if isinstance(exc, errors.SteeringError):
        return str(exc)
    return f"unexpected error ({type(exc).__name__}: {exc}); the details are in the server log"


def bind(fn: Callable[..., Any], settings: UISettings, *, gpu: bool = False) -> Callable[..., Any]:
    """``fn`` with ``settings`` fixed and errors turned into ``gr.Error``; ``gpu`` applies ``settings.gpu``."""

    def handler(*args: Any) -> Any:
        try:
            return fn(settings, *args)
        except gr.Error:
            raise
        except errors.SteeringError as exc:
            raise gr.Error(user_message(exc)) from exc
        except Exception as exc:
            log.exception("gan-steering handler %s failed", fn.__name__)
            raise gr.Error(user_message(exc)) from exc

    params = list(inspect.signature(fn).parameters.values())[1:]
    handler.__name__ = handler.__qualname__ = fn.__name__
    handler.__doc__ = fn.__doc__
    handler.__signature__ = inspect.Signature([p.replace(annotation=inspect.Parameter.empty) for p in params])
    if gpu and settings.gpu is not None:
        return settings.gpu(handler)
    return handler


def ok(text: str) -> str:
    """A status line for a successful action."""
    return f"✓ {text}"
