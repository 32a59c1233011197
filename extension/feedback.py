"""Turning handler failures into messages the user can act on, and binding handlers to the host's settings.

Every Gradio handler is a plain module-level function ``fn(settings, *inputs)``; ``bind`` fixes ``settings`` and wraps
the call so that a ``SteeringError`` (a bad value, a file for another model, a Hub failure…) is shown as a
``gr.Error`` with its own message, and anything unexpected is logged and reported without taking the app down.
A generator handler (one that yields previews while it works) stays a generator.
A handler that raises changes no output, so a refused upload leaves the current directions as they were.

A handler with a keyword-only ``request`` parameter receives the Gradio request (its browser session), or ``None``
when called directly; one with a keyword-only ``progress`` parameter receives a ``progress(done, total)`` callback
that drives Gradio's progress bar and raises ``CancelledError`` once the user pressed its panel's Cancel. The
wrapper declares them as its first positional parameters (``request: gr.Request``, ``progress=gr.Progress()``, where
every Gradio version inserts them, which works for handlers with ``*inputs`` too) and hands them over by keyword.

A ``Panel`` is a status line and, for long work, the Cancel button beside it: ``Panel.action`` wires a button so that
the status is cleared when a request starts (a failed request never leaves an older result's text under its error),
``Panel.job`` does the same for cancellable work, whose Cancel stops only this panel's work of this browser session
and ends with the status "cancelled" (outputs unchanged, no error).

In public mode messages never show a server path: only file names.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import gradio as gr

from . import compat
from .core import errors
from .session import cancellations, directions_store, session_id

if TYPE_CHECKING:
    from .settings import UISettings

log = logging.getLogger("gan_steering.ui")
#: An absolute path (``/srv/a/b.png``, ``C:\\x\\y``) that starts a word: not the path part of a URL
#: (``https://host/x``) nor a relative path (``../etc/passwd``), which reveal nothing of the server's folders.
_ABSOLUTE_PATH = re.compile(r"(?<![^\s'\"`(\[<=])(?:[A-Za-z]:)?[/\\](?:[^\s'\"`()<>,;:]+[/\\])+([^\s'\"`()<>,;:/\\]*)")


def user_message(exc: BaseException, public: bool = False, typed: Sequence[str] = ()) -> str:
    """What to show for an exception raised inside a handler (escaped: messages quote names and file text); in
    public mode without server paths, but the user's own ``typed`` text is never rewritten."""
    if isinstance(exc, errors.SteeringError):
        text = str(exc)
    elif isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        text = "out of memory: ask for fewer images, frames or samples"
    elif public:
        text = f"unexpected error ({type(exc).__name__}); the details are in the server log"
    else:
        text = f"unexpected error ({type(exc).__name__}: {exc}); the details are in the server log"
    if public:
        text = hide_paths(text, typed)
    return html.escape(text.strip().splitlines()[0] if text.strip() else type(exc).__name__, quote=False)


def hide_paths(text: str, typed: Sequence[str] = ()) -> str:
    """Absolute paths in ``text`` reduced to their file names (``/srv/app/outputs/a.png`` -> ``a.png``), except
    inside the ``typed`` strings (what the user typed, quoted back as it was)."""
    spans = [(m.start(), m.end()) for t in {t for t in typed if t} for m in re.finditer(re.escape(t), text)]

    def hidden(match: re.Match[str]) -> str:
        if any(start <= match.start() and match.end() <= end for start, end in spans):
            return match.group(0)
        return match.group(1) or "…"

    return _ABSOLUTE_PATH.sub(hidden, text)


def typed_text(values: Sequence[Any]) -> list[str]:
    """The strings among a handler's inputs that the user typed (an uploaded file's server path is not one)."""
    found: list[str] = []
    for value in values:
        if isinstance(value, (list, tuple)):
            found += typed_text(value)
        elif isinstance(value, str) and value.strip() and not _uploaded(value):
            found.append(value.strip())
    return found


def _uploaded(value: str) -> bool:
    try:
        return Path(value).resolve().is_relative_to(compat.upload_folder())
    except (OSError, RuntimeError, ValueError):
        return False


def bind(
    fn: Callable[..., Any],
    settings: UISettings,
    *,
    gpu: bool = False,
    panel: Panel | None = None,
    outputs: Sequence[Any] | None = None,
    silent: int = 0,
) -> Callable[..., Any]:
    """``fn`` with ``settings`` fixed and errors turned into ``gr.Error``; ``gpu`` applies ``settings.gpu``.

    ``silent`` (its number of outputs): a user's error (a ``SteeringError``: a bad box…) leaves the outputs as they
    are, without a message, for a handler that reads the same boxes as another one on the same event, which reports
    it (once).

    With ``panel`` and the event's ``outputs`` (``Panel.job``), the work is this panel's: its Cancel stops it, and a
    cancelled run changes no output but the panel's status, which says "cancelled"."""
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
            key = panel.key(request) if panel is not None else session
            if panel is None:
                cancellations.clear(key)
            extra["progress"] = progress_callback(bar, key)
        return args, extra

    def job_key(args: tuple[Any, ...]) -> str | None:
        if panel is None or outputs is None:
            return None
        return panel.key(args[0] if args and isinstance(args[0], gr.Request) else None)

    def cancelled(exc: Exception, args: tuple[Any, ...]) -> Any:
        if silent and isinstance(exc, errors.SteeringError):
            return compat.unchanged() if silent == 1 else tuple(compat.unchanged() for _ in range(silent))
        if panel is None or outputs is None or not isinstance(exc, errors.CancelledError):
            raise shown(exc, args) from exc
        return panel.cancelled(outputs)

    def shown(exc: Exception, args: tuple[Any, ...] = ()) -> gr.Error:
        if not isinstance(exc, errors.SteeringError):
            log.exception("gan-steering handler %s failed", fn.__name__)
        return compat.error(user_message(exc, settings.public, typed_text(args) if settings.public else ()))

    def handler(*args: Any) -> Any:
        key = job_key(args)
        cancellations.start(key)
        try:
            args, extra = prepared(args)
            return fn(settings, *args, **extra)
        except gr.Error:
            raise
        except Exception as exc:
            return cancelled(exc, args)
        finally:
            cancellations.finish(key)

    def streaming(*args: Any) -> Any:  # a generator handler (previews while it works) is wrapped as a generator
        key = job_key(args)
        cancellations.start(key)
        try:
            args, extra = prepared(args)
            yield from fn(settings, *args, **extra)
        except gr.Error:
            raise
        except Exception as exc:
            yield cancelled(exc, args)
        finally:
            cancellations.finish(key)

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
            raise errors.CancelledError(CANCELLED)
        if bar is not None:
            bar((done, total))

    return progress


#: What a panel's status says once its work stopped on Cancel (a user's choice, not an error).
CANCELLED = "cancelled: nothing was kept"
#: What Cancel says when none of its panel's work is running or waiting.
NOTHING_TO_CANCEL = "nothing is running here to cancel"


def cancel_key(key: str) -> str:
    """Cancel the work registered under ``key``: it stops at its next progress step (or before it starts)."""
    return "cancelling…" if cancellations.request(key) else NOTHING_TO_CANCEL


class Panel:
    """A status line (a component) and the work that reports there; ``name`` sets its work apart from other panels'
    (a Cancel stops only its own panel's work, in its own browser session)."""

    def __init__(self, name: str, status: Any) -> None:
        self.name, self.status = name, status

    def key(self, request: Any) -> str:
        return f"{session_id(request)}/{self.name}"

    def cancelled(self, outputs: Sequence[Any]) -> Any:
        """The outputs of a cancelled run: all unchanged but this panel's status (one value for one output)."""
        values = [CANCELLED if o is self.status else compat.unchanged() for o in outputs]
        return values[0] if len(values) == 1 else tuple(values)

    def starting(self, *, pending: bool, request: Any = None) -> str:
        """When a request starts: its status is cleared (and with ``pending``, Cancel may stop it from now on)."""
        if pending:
            cancellations.pending(self.key(request))
        return ""

    def cancel(self, *, request: Any = None) -> str:
        """The Cancel button: this panel's work of this session stops at its next progress step."""
        return cancel_key(self.key(request))

    def handler(
        self, fn: Callable[..., Any], settings: UISettings, outputs: Sequence[Any], *, gpu: bool = False
    ) -> tuple[Callable[..., Any], list[Any]]:
        """``(handler, outputs)`` for work this panel's Cancel stops: the status is among the outputs (appended,
        left as it is by ``fn``, where ``fn`` has none), and a cancelled run sets it alone."""
        outputs = list(outputs)
        if not any(o is self.status for o in outputs):
            fn = _also_status(fn, len(outputs))
            outputs.append(self.status)
        return bind(fn, settings, gpu=gpu, panel=self, outputs=outputs), outputs

    # ----- wiring ------------------------------------------------------------------------------------------------
    def _clearing(self, event: Callable[..., Any], settings: UISettings, *, pending: bool) -> Any:
        def starting(settings: UISettings, *, request: Any = None) -> str:
            return self.starting(pending=pending, request=request)

        starting.__name__ = f"{self.name}_starting"
        return compat.listen(event, bind(starting, settings), [], [self.status], queue=False, show_progress="hidden")

    def action(
        self,
        event: Callable[..., Any],
        fn: Callable[..., Any],
        settings: UISettings,
        inputs: Sequence[Any],
        outputs: Sequence[Any],
        *,
        gpu: bool = False,
        **options: Any,
    ) -> Any:
        """``fn`` on ``event``, the status cleared first (then ``fn`` writes its own); returns ``fn``'s dependency."""
        cleared = self._clearing(event, settings, pending=False)
        return compat.then(cleared, bind(fn, settings, gpu=gpu), inputs, outputs, **options)

    def job(
        self,
        event: Callable[..., Any],
        fn: Callable[..., Any],
        settings: UISettings,
        inputs: Sequence[Any],
        outputs: Sequence[Any],
        *,
        gpu: bool = False,
        **options: Any,
    ) -> Any:
        """Like ``action`` for work this panel's Cancel stops (from the click on, also while it waits its turn)."""
        handler, outputs = self.handler(fn, settings, outputs, gpu=gpu)
        cleared = self._clearing(event, settings, pending=True)
        return compat.then(cleared, handler, inputs, outputs, **options)

    def wire_cancel(self, button: Any, settings: UISettings) -> Any:
        """``button`` cancels this panel's work (of the session that pressed it) and says so in the status."""

        def cancel(settings: UISettings, *, request: Any = None) -> str:
            return self.cancel(request=request)

        cancel.__name__ = f"{self.name}_cancel"
        return compat.listen(button.click, bind(cancel, settings), [], [self.status], queue=False)


def _also_status(fn: Callable[..., Any], count: int) -> Callable[..., Any]:
    """``fn`` with one more output, a status it leaves as it is (``count``: its own outputs)."""

    def plus(result: Any) -> tuple[Any, ...]:
        return (result, compat.unchanged()) if count == 1 else (*result, compat.unchanged())

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*args: Any, **kwargs: Any) -> Any:
            for result in fn(*args, **kwargs):
                yield plus(result)

        return streaming

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return plus(fn(*args, **kwargs))

    return wrapped


def ok(text: str) -> str:
    """A status line for a successful action."""
    return f"✓ {text}"


def warn(text: str) -> str:
    """A status line for an action that finished with a result the user should not trust as it is."""
    return f"⚠️ {text}"
