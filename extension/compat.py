"""The only module that knows Gradio versions differ (3.41 in A1111, 4.40 in Forge, 5.x/6.x on Spaces).

Components are built with keyword arguments filtered by the running version's signature (as Forge does); listeners
get ``js``/``_js``, ``concurrency_limit``, ``trigger_mode`` and API visibility in the form the version accepts;
``Blocks`` styling goes to ``Blocks()`` before 6 and to ``launch()`` from 6 on.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

import gradio as gr

from .core import errors


def _parse_version(text: str) -> tuple[int, int]:
    major, minor = [*(int(n) for n in re.findall(r"\d+", text)[:2]), 0, 0][:2]
    return major, minor


GRADIO_VERSION: tuple[int, int] = _parse_version(getattr(gr, "__version__", "0.0"))
GRADIO_MAJOR = GRADIO_VERSION[0]


def accepted(callable_: Callable[..., Any]) -> frozenset[str]:
    """Named parameters of a callable (``**kwargs`` does not count: unknown names are dropped, not forwarded)."""
    if inspect.isfunction(callable_):
        return _function_params(callable_)
    return _params(callable_)


@functools.cache
def _function_params(function: Callable[..., Any]) -> frozenset[str]:
    return _params(function)


def _params(callable_: Callable[..., Any]) -> frozenset[str]:
    try:
        params = inspect.signature(callable_).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))


def _filtered(callable_: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    names = accepted(callable_)
    return {k: v for k, v in kwargs.items() if k in names and v is not None}


def component(cls: type, **kwargs: Any) -> Any:
    """``cls(**kwargs)`` without the keywords this Gradio version does not know (and without ``None`` values)."""
    return cls(**_filtered(cls.__init__, kwargs))


def choices_input(**kwargs: Any) -> Any:
    """A multi-choice dropdown; values may also be typed where the version allows it (not with ``multiselect``
    before Gradio 4: there the choices alone are offered)."""
    if GRADIO_MAJOR < 4:
        kwargs.pop("allow_custom_value", None)
    return component(gr.Dropdown, multiselect=True, **kwargs)


def update(**kwargs: Any) -> dict[str, Any]:
    """A property update (the one form every version accepts)."""
    return gr.update(**kwargs)


def unchanged() -> dict[str, Any]:
    return gr.update()


# ----- components with version-specific arguments ---------------------------------------------------------------
def image_output(*, toolbar: bool = True, **kwargs: Any) -> Any:
    """A non-interactive image shown from PIL images or file paths (PNG where the version lets us choose).

    ``show_label=False`` (every version) for a chart or strip with its own title or column headers: the label badge
    would hide their top-left corner; ``label`` still names the image for screen readers and the download.
    ``toolbar=False`` for a strip whose last column's title sits top right, where the toolbar (download, share,
    full screen) would cover it: ``buttons=[]`` from 6 on, no download/share buttons before."""
    if not toolbar:
        kwargs.update(buttons=[], show_download_button=False, show_share_button=False, show_fullscreen_button=False)
    kwargs.setdefault("interactive", False)
    kwargs.setdefault("format", "png")
    return component(gr.Image, type="pil", **kwargs)


def video_output(**kwargs: Any) -> Any:
    """A non-interactive player for an H.264 MP4 (hidden until shown by an update), looping where the version can
    (4+). No ``format``: every version then serves the file as it is, without ffmpeg (only where an ffmpeg is on
    the PATH does Gradio probe the file first, and an H.264 MP4 passes as playable)."""
    kwargs.setdefault("interactive", False)
    kwargs.setdefault("visible", False)
    return component(gr.Video, autoplay=True, loop=True, **kwargs)


def file_input(**kwargs: Any) -> Any:
    """An upload box whose value ``file_path`` turns into a path on every version."""
    return component(gr.File, type="filepath" if GRADIO_MAJOR >= 4 else "file", file_count="single", **kwargs)


def file_path(value: Any) -> str | None:
    """The local path behind an uploaded-file value (3.x temp-file wrapper, 4+ path string, dict forms)."""
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)):
        return file_path(value[0]) if value else None
    if isinstance(value, dict):
        return value.get("path") or value.get("name")
    if isinstance(value, str):
        return value
    name = getattr(value, "path", None) or getattr(value, "name", None)
    return str(name) if name else str(value)


def upload_folder() -> Path:
    """Where Gradio (every version) stores uploads: ``GRADIO_TEMP_DIR``, else ``<tmp>/gradio``."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def uploaded_path(value: Any, confined: bool) -> Path | None:
    """The file behind an upload value; with ``confined``, only a file inside ``upload_folder()`` (a reference a
    client made up to another server path is refused with the same message whether or not that path exists)."""
    raw = file_path(value)
    if raw is None:
        return None
    path = Path(raw)
    if confined:
        try:
            real = path.resolve(strict=False)
        except (OSError, RuntimeError):
            real = None
        if real is None or not real.is_relative_to(upload_folder()):
            raise errors.InvalidValueError("that file was not uploaded through this page: upload it again")
        return real
    return path


def whole_number(**kwargs: Any) -> Any:
    """A number box for a whole number (a count, a seed). Not ``precision=0``: every version would round what the user
    typed (2.5 → 2) before any check; the value reaches the handler as typed, and the core's checks refuse 2.5 with
    a message (arrows still step by 1 where the version has ``step``)."""
    kwargs.pop("precision", None)
    return component(gr.Number, step=1, **kwargs)


def password_box(**kwargs: Any) -> Any:
    return component(gr.Textbox, type="password", **kwargs)


# ----- listeners ------------------------------------------------------------------------------------------------
def _listener_kwargs(
    method: Callable[..., Any],
    *,
    show_progress: str | None = None,
    concurrency_limit: int | None = None,
    concurrency_id: str | None = None,
    trigger_mode: str | None = None,
    js: str | None = None,
    queue: bool | None = None,
) -> dict[str, Any]:
    names = accepted(method)
    out: dict[str, Any] = {}
    if show_progress is not None and "show_progress" in names:
        out["show_progress"] = show_progress
    if concurrency_limit is not None and "concurrency_limit" in names:
        out["concurrency_limit"] = concurrency_limit
    if concurrency_id is not None and "concurrency_id" in names:  # 4.x+: listeners sharing one limit
        out["concurrency_id"] = concurrency_id
    if trigger_mode is not None and "trigger_mode" in names:
        out["trigger_mode"] = trigger_mode
    if js is not None:
        out["js" if "js" in names else "_js"] = js
    if queue is not None and "queue" in names:
        out["queue"] = queue
    # Keep handlers out of the API docs: api_visibility (6.x), show_api (4.x/5.x); 3.x lists only named endpoints.
    if "api_visibility" in names:
        out["api_visibility"] = "undocumented"
    elif "show_api" in names:
        out["show_api"] = False
    return out


def listen(
    event: Callable[..., Any],
    fn: Callable[..., Any],
    inputs: Iterable[Any] | None,
    outputs: Iterable[Any] | None,
    **options: Any,
) -> Any:
    """Attach ``fn`` to a bound event method (``button.click``, ``slider.release``…); returns the dependency."""
    kwargs = _listener_kwargs(event, **options)
    return event(fn, inputs=list(inputs or []), outputs=list(outputs or []), **kwargs)


def then(
    dependency: Any,
    fn: Callable[..., Any],
    inputs: Iterable[Any] | None,
    outputs: Iterable[Any] | None,
    *,
    only_on_success: bool = True,
    **options: Any,
) -> Any:
    """Run ``fn`` after ``dependency`` (only when it succeeded, by default: a refused upload changes nothing)."""
    method = dependency.success if only_on_success and hasattr(dependency, "success") else dependency.then
    return listen(method, fn, inputs, outputs, **options)


def live_slider(**kwargs: Any) -> Any:
    """A slider for ``on_user_change``: without Gradio 6's own reset button (it sets the value without an ``input``
    event, so the image would not follow; the tab's own Reset button resets the sliders)."""
    return component(gr.Slider, buttons=[], **kwargs)


def on_user_change(
    component_: Any, fn: Callable[..., Any], inputs: Iterable[Any], outputs: Iterable[Any], **options: Any
) -> list[Any]:
    """Live updates while the user moves a slider (``live_slider``) or types its value, once per change, without
    re-running when the program sets its value.

    Gradio ≥ 4: ``input`` with ``trigger_mode="always_last"`` (renders as fast as the server keeps up, the final value
    always last; a typed value fires it too). Not also ``release``: it fires again for the same value (pointer up,
    leaving the number box), which rendered twice and showed each refusal twice. 3.x has no trigger modes and no
    ``input`` while dragging, so ``release`` alone (one render per drag or typed value)."""
    inputs, outputs = list(inputs), list(outputs)
    typed = getattr(component_, "input", None)
    if typed is not None and "trigger_mode" in accepted(typed):
        return [listen(typed, fn, inputs, outputs, trigger_mode="always_last", **options)]
    return [listen(component_.release, fn, inputs, outputs, **options)]


def error(message: str) -> Any:
    """The ``gr.Error`` a handler raises to show ``message``. Gradio 5+ would also print the exception's traceback to
    the server log: not here (a user's mistake is not a server fault; unexpected errors are logged by ``bind``)."""
    quiet = {"print_exception": False} if "print_exception" in accepted(gr.Error.__init__) else {}
    return gr.Error(message, **quiet)


# ----- apps -----------------------------------------------------------------------------------------------------
def blocks(*, css: str | None = None, theme: Any = None, **kwargs: Any) -> Any:
    """A top-level ``gr.Blocks``; ``css``/``theme`` go here before Gradio 6 (from 6 on, to ``launch``).

    ``delete_cache=(every, older_than)`` (seconds) bounds Gradio's file cache where the version has it (4.x+)."""
    kwargs.setdefault("analytics_enabled", False)
    if GRADIO_MAJOR < 6:
        kwargs.update(css=css, theme=theme)
    return component(gr.Blocks, **kwargs)


def on_load(demo: Any, fn: Callable[..., Any], inputs: Iterable[Any], outputs: Iterable[Any]) -> Any:
    """Run ``fn`` when a page opens (every version has ``Blocks.load``); returns the dependency (``None`` if not)."""
    if not hasattr(demo, "load"):
        return None
    kwargs = _listener_kwargs(demo.load, show_progress="minimal")
    return demo.load(fn, inputs=list(inputs), outputs=list(outputs), **kwargs)


def on_unload(demo: Any, fn: Callable[..., Any]) -> bool:
    """Run ``fn(request)`` when a browser session ends (Gradio 4.x+); ``False`` where the version cannot."""
    if not hasattr(demo, "unload"):
        return False
    demo.unload(fn)
    return True


def tab_blocks() -> Any:
    """A standalone Blocks for a webui tab: no theme/css/js (the host owns them)."""
    return gr.Blocks(analytics_enabled=False)


def queue(demo: Any, *, max_size: int | None = None, default_concurrency_limit: int | None = None) -> Any:
    """``demo.queue`` with keywords only; the concurrency default exists from Gradio 4 on (3.x: concurrency_count)."""
    names = accepted(type(demo).queue)
    kwargs: dict[str, Any] = {}
    if max_size is not None:
        kwargs["max_size"] = max_size
    if default_concurrency_limit is not None:
        if "default_concurrency_limit" in names:
            kwargs["default_concurrency_limit"] = default_concurrency_limit
        elif "concurrency_count" in names:
            kwargs["concurrency_count"] = default_concurrency_limit
    return demo.queue(**kwargs)


def launch(demo: Any, *, css: str | None = None, theme: Any = None, **kwargs: Any) -> Any:
    """``demo.launch`` with keywords this version knows; ``css``/``theme`` only where ``launch`` takes them (6+)."""
    if GRADIO_MAJOR >= 6:
        kwargs.update(css=css, theme=theme)
    return demo.launch(**_filtered(type(demo).launch, kwargs))


def config_of(demo: Any) -> dict[str, Any]:
    """The app's front-end configuration (for tests: it must serialise on every version)."""
    return demo.get_config_file()
