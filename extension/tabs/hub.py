"""Hub tab: load a generator from a Hub file, push the current directions to a repo, pull directions from one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import compat, core
from ..core import errors
from ..feedback import Panel, ok
from ..session import directions_store, generator, session_id
from .common import md, model_summary

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared


def _token(token: Any) -> str | None:
    """An empty field means "use the saved login" (``huggingface_hub`` finds it)."""
    text = str(token or "").strip()
    return text or None


# ----- handlers ---------------------------------------------------------------------------------------------------
def load_hub_model(settings: UISettings, spec: Any, token: Any, *, request: Any = None) -> tuple[str, str, str]:
    """Load ``owner/repo[@revision]:file``; returns ``(model spec, summary, status)``."""
    spec = str(spec or "").strip()
    if not spec:
        raise errors.InvalidValueError("enter a Hub file as owner/repo[@revision]:file (e.g. a .safetensors or .pkl)")
    with settings.lock:
        model = generator(settings, spec, token=_token(token), request=request)
    return spec, model_summary(model), ok(f"loaded {md(model.identity.name)}; Discover and Edit now use it")


def push(
    settings: UISettings, spec: str, key: str, repo_id: Any, token: Any, private: Any, *, request: Any = None
) -> str:
    """Upload the current directions (file + model card) to ``repo_id``; returns a status with the link."""
    repo_id = str(repo_id or "").strip()
    if not repo_id:
        raise errors.InvalidValueError("enter the repo to push to as owner/name")
    found = directions_store.get(key)
    with settings.lock:
        model = generator(settings, spec, request=request)
    found.check_compatible(model)
    token = _token(token) or (False if settings.public else None)  # a visitor never pushes with the server's login
    url = core.share.push_directions(found, repo_id, generator=model, token=token, private=bool(private))
    return ok(f"pushed {len(found)} directions to {md(repo_id)}: {md(url)}")


def pull(settings: UISettings, spec: str, source: Any, token: Any, *, request: Any = None) -> tuple[str, str]:
    """Download directions ``owner/repo[@revision][:file]`` for the loaded model; returns ``(key, status)``."""
    source = str(source or "").strip()
    if not source:
        raise errors.InvalidValueError("enter the direction repo as owner/repo[@revision][:file]")
    with settings.lock:
        model = generator(settings, spec, request=request)
    token = _token(token) or (False if settings.public else None)
    pulled = core.share.pull_directions(source, generator=model, token=token)
    key = directions_store.put(pulled, session_id(request))
    return key, ok(f"pulled {len(pulled)} {md(pulled.method)} directions from {md(source)}")


# ----- layout -----------------------------------------------------------------------------------------------------
#: The token box's label: locally an empty box uses the machine's saved Hub login; in public mode it means anonymous.
TOKEN_LABEL = "Hugging Face token (optional; empty = your saved login)"
TOKEN_LABEL_PUBLIC = "Hugging Face token (optional; empty = anonymous: public repos only, no push)"


class HubTab:
    """Components and events of the Hub tab (``ui.py`` chains the other tabs' refresh to its events)."""

    def __init__(self, settings: UISettings, shared: Shared) -> None:
        C = compat.component
        self.token = compat.password_box(
            value="",
            label=TOKEN_LABEL_PUBLIC if settings.public else TOKEN_LABEL,
            elem_id="gan_steering_hub_token",
        )
        with gr.Row():
            with gr.Column():
                gr.Markdown("### Load a generator from the Hub")
                self.model_spec = C(
                    gr.Textbox,
                    value="",
                    label="Hub checkpoint",
                    placeholder="owner/repo[@revision]:file.pkl",
                    elem_id="gan_steering_hub_model",
                )
                self.load_button = C(gr.Button, value="Load Hub model", elem_id="gan_steering_hub_load")
                self.summary = C(gr.Markdown, value="", elem_id="gan_steering_hub_summary")
            with gr.Column():
                gr.Markdown("### Share directions")
                self.repo = C(
                    gr.Textbox,
                    value="",
                    label="Push to repo",
                    placeholder="owner/name",
                    elem_id="gan_steering_hub_repo",
                )
                self.private = C(gr.Checkbox, value=False, label="Private repo", elem_id="gan_steering_hub_private")
                self.push_button = C(gr.Button, value="Push current directions", elem_id="gan_steering_hub_push")
                self.source = C(
                    gr.Textbox,
                    value="",
                    label="Pull from repo",
                    placeholder="owner/repo[@revision][:directions.safetensors]",
                    elem_id="gan_steering_hub_source",
                )
                self.pull_button = C(gr.Button, value="Pull directions", elem_id="gan_steering_hub_pull")
        self.status = C(gr.Markdown, value="", elem_id="gan_steering_hub_status")

        self.panel = panel = Panel("hub", self.status)
        self.load_event = panel.action(
            self.load_button.click,
            load_hub_model,
            settings,
            [self.model_spec, self.token],
            [shared.model, self.summary, self.status],
            gpu=True,
        )
        panel.action(
            self.push_button.click,
            push,
            settings,
            [shared.model, shared.directions, self.repo, self.token, self.private],
            [self.status],
        )
        self.pull_event = panel.action(
            self.pull_button.click,
            pull,
            settings,
            [shared.model, self.source, self.token],
            [shared.directions, self.status],
            gpu=True,
        )
