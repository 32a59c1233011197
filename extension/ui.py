"""Public entry points: ``build_tabs`` for a webui (one host tab with inner Discover / Edit / Hub tabs) and
``build_app`` for the Space or a standalone launch (the same tabs in one Blocks)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gradio as gr

from . import compat, outputs
from .feedback import bind
from .session import directions_store, session_id, session_tokens
from .settings import UISettings
from .tabs import Shared
from .tabs.analyze import AnalyzeTab
from .tabs.correlations import CorrelationsTab
from .tabs.discover import DiscoverTab, first_page, show_model
from .tabs.edit import EditTab
from .tabs.gradctrl import GradCtrlTab
from .tabs.hub import HubTab

TITLE = "GAN Steering"
#: Gradio's file cache: every 10 minutes, files older than an hour are deleted (a Space must not grow without bound);
#: ``GAN_STEERING_CACHE_CLEANUP="every,older_than"`` (seconds) changes it.
CACHE_CLEANUP_ENV = "GAN_STEERING_CACHE_CLEANUP"


def cache_cleanup() -> tuple[int, int]:
    every, _, older = os.environ.get(CACHE_CLEANUP_ENV, "600,3600").partition(",")
    try:
        return max(1, int(every)), max(1, int(older))
    except ValueError:
        return 600, 3600


ELEM_ID = "gan_steering"
#: The extension's stylesheet: webuis load ``style.css`` from the extension root themselves; the Space passes it on.
CSS = (Path(__file__).resolve().parent.parent / "style.css").read_text(encoding="utf-8")

__all__ = ["CSS", "ELEM_ID", "TITLE", "UISettings", "build_app", "build_content", "build_tabs"]


def build_content(settings: UISettings, blocks: Any) -> dict[str, Any]:
    """Lay out the inner tabs inside ``blocks`` (the current Blocks context) and wire them together; returns the tab
    objects. When a page opens, the default model's directions are ready in the Edit tab (shown first)."""
    shared = Shared(model=gr.State(settings.default_model), directions=gr.State(""))
    with compat.component(gr.Tabs, selected="gan_steering_edit_tab", elem_id="gan_steering_tabs"):
        with compat.component(
            gr.Tab, label="Discover", id="gan_steering_discover_tab", elem_id="gan_steering_discover_tab"
        ):
            discover = DiscoverTab(settings, shared)
        with compat.component(gr.Tab, label="Edit", id="gan_steering_edit_tab", elem_id="gan_steering_edit_tab"):
            edit = EditTab(settings, shared)
        with compat.component(
            gr.Tab, label="Gradient Controls", id="gan_steering_gradctrl_tab", elem_id="gan_steering_gradctrl_tab"
        ):
            gradient = GradCtrlTab(settings, shared)
        with compat.component(
            gr.Tab, label="Analyze", id="gan_steering_analyze_tab", elem_id="gan_steering_analyze_tab"
        ):
            analyze = AnalyzeTab(settings, shared, edit)
        with compat.component(
            gr.Tab, label="Correlations", id="gan_steering_correlations_tab", elem_id="gan_steering_correlations_tab"
        ):
            correlated = CorrelationsTab(settings, shared)
        with compat.component(gr.Tab, label="Hub", id="gan_steering_hub_tab", elem_id="gan_steering_hub_tab"):
            hub = HubTab(settings, shared)
    # A new model or a new set of directions (from any tab) refreshes the Edit tab; a Hub model shows in Discover.
    for event in (discover.load_event, discover.discover_event, hub.load_event, hub.pull_event, analyze.send_event):
        edit.refresh_after(event)
    for event in (gradient.train_event, gradient.apply_event, correlated.corrected):
        edit.refresh_after(event)
    compat.then(hub.load_event, bind(show_model, settings), [shared.model], [discover.model, discover.summary])
    # Results made from the previous model (images, files, tables, status lines) go once another model is loaded.
    results = [*edit.results, *analyze.results, *gradient.results, *correlated.results]
    blanks = gr.State([blank_of(c) for c in results])
    shown = gr.State(settings.default_model)  # the model the results shown were made from
    forget = bind(forget_results, settings)
    for event in (discover.load_event, discover.discover_event, hub.load_event):
        compat.then(event, forget, [shared.model, shown, blanks], [shown, *results], show_progress="hidden")
    opened = compat.on_load(
        blocks,
        bind(first_page, settings, gpu=True),
        [shared.model, shared.directions],
        [shared.directions, discover.spectrum, discover.summary, discover.status],
    )
    if opened is not None:
        edit.refresh_after(opened)
    return {
        "shared": shared,
        "discover": discover,
        "edit": edit,
        "analyze": analyze,
        "gradctrl": gradient,
        "correlations": correlated,
        "hub": hub,
    }


def blank_of(component: Any) -> dict[str, Any]:
    """How a result component looks with no result: empty text, no value, and a video player hidden."""
    if isinstance(component, gr.Markdown):
        return {"value": ""}
    if isinstance(component, gr.Video):
        return {"value": None, "visible": False}
    return {"value": None}


def forget_results(settings: UISettings, model: str, shown: str, blanks: list[dict[str, Any]]) -> list[Any]:
    """After a model was loaded: if it is not the one the results ``shown`` were made from, the model's spec, then
    each result blank (``blanks``: ``blank_of`` each); otherwise nothing changes."""
    if model == shown:
        return [shown, *(compat.unchanged() for _ in blanks)]
    return [model, *(compat.update(**blank) for blank in blanks)]


def end_session(request: gr.Request) -> None:
    """A browser session ended: its directions and (public mode) its outputs go at once."""
    session = session_id(request)
    directions_store.end_session(session)
    session_tokens.forget(session)
    outputs.end_session(session)


def build_tabs(settings: UISettings | None = None) -> list[tuple[gr.Blocks, str, str]]:
    """For a webui's ``on_ui_tabs``: one standalone Blocks, built outside any parent, as ``(blocks, title, elem_id)``.

    Not queued here: the host owns ``queue()``."""
    settings = settings or UISettings()
    with compat.tab_blocks() as blocks:
        build_content(settings, blocks)
        compat.on_unload(blocks, end_session)
    return [(blocks, TITLE, ELEM_ID)]


def build_app(settings: UISettings | None = None) -> gr.Blocks:
    """The whole app for a Space or a standalone launch; the caller queues and launches it (``compat.launch`` with
    ``css=CSS`` where Gradio takes styling at launch)."""
    settings = settings or UISettings()
    with compat.blocks(title=TITLE, css=CSS, delete_cache=cache_cleanup()) as demo:
        gr.Markdown(
            f"## {TITLE}\nFind semantic directions in a pretrained GAN (**Discover**), move along them (**Edit**), "
            "share them (**Hub**)."
        )
        build_content(settings, demo)
        compat.on_unload(demo, end_session)
    return demo
