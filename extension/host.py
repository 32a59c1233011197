"""Webui glue (A1111, Forge, reForge, SD.Next): settings, output and model folders, the GPU lock, the tabs.

Imported only inside a webui, by ``scripts/gan_steering.py``. Options are read with defaults because the settings
callback never runs with ``--nowebui``.
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path
from typing import Any

SECTION = ("gan_steering", "GAN steering")
KEY_OUTPUT_DIR = "gan_steering_output_dir"
KEY_DEVICE = "gan_steering_device"
KEY_DEFAULT_MODEL = "gan_steering_default_model"
KEY_PUBLIC = "gan_steering_public_mode"
DEVICES = ("auto", "cpu", "cuda")
PUBLIC_CHOICES = ("auto", "on", "off")
#: webui flags that expose the UI to other people: in "auto", any of them turns public mode on.
EXPOSING_FLAGS = ("share", "listen", "ngrok", "cloudflared", "localhostrun", "remotemoe", "server_name")
HOME_ENV = "GAN_STEERING_HOME"
SUBFOLDER = "gan-steering"


def _webui_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def webui_path(name: str) -> str | None:
    """A folder from ``modules.paths_internal`` (A1111 ≥ 1.6, Forge) or ``modules.paths`` (older, SD.Next)."""
    for module_name in ("modules.paths_internal", "modules.paths"):
        value = getattr(_webui_module(module_name), name, None)
        if value:
            return str(value)
    return None


def setup() -> None:
    """At load time: keep converted checkpoints and cached bases in ``<models_path>/gan-steering`` unless the user
    chose a ``GAN_STEERING_HOME``."""
    models = webui_path("models_path")
    if models and not os.environ.get(HOME_ENV):
        os.environ[HOME_ENV] = str(Path(models) / SUBFOLDER)


def option(key: str, default: Any) -> Any:
    """A webui option, or ``default`` when it is unset, empty or settings were never registered."""
    value = getattr(getattr(_webui_module("modules.shared"), "opts", None), key, None)
    return default if value is None or value == "" else value


def output_dir() -> Path:
    """Our setting, else a ``gan-steering`` subfolder of the images folder (``outdir_samples``) or of the webui's
    default output folder."""
    configured = option(KEY_OUTPUT_DIR, "")
    if configured:
        return Path(configured)
    base = option("outdir_samples", "") or webui_path("default_output_dir") or "outputs"
    return Path(base) / SUBFOLDER


def device() -> str:
    """The torch device for our models: the setting; "auto" follows the webui's device (CUDA, keeping
    ``--device-id``, or else the CPU), or CUDA when available where the webui does not say."""
    choice = option(KEY_DEVICE, "auto")
    if choice in ("cpu", "cuda"):
        return choice
    webui_device = getattr(_webui_module("modules.devices"), "device", None)
    if webui_device is not None:
        return str(webui_device) if getattr(webui_device, "type", None) == "cuda" else "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def public_mode() -> bool:
    """Our public-mode setting: "on", "off", or "auto" = on when the webui is reachable by others (``--share``,
    ``--listen``, a tunnel): then local paths are refused and outputs stay per session (see UISettings)."""
    choice = option(KEY_PUBLIC, "auto")
    if choice in ("on", "off"):
        return choice == "on"
    flags = getattr(_webui_module("modules.shared"), "cmd_opts", None)
    return any(bool(getattr(flags, name, None)) for name in EXPOSING_FLAGS)


def gpu_lock() -> Any:
    """The webui's queue lock (serialises txt2img & co.), or None outside a webui."""
    return getattr(_webui_module("modules.call_queue"), "queue_lock", None)


def _option(shared: Any, default: Any, label: str, component: Any, args: dict, info: str = "", **kwargs: Any) -> Any:
    """``shared.OptionInfo`` in our section, needing "Reload UI" (the tabs read options when built). Keywords after
    ``component_args``, as SD.Next's positional tail differs; keywords or modifiers a host lacks are left out."""
    parameters = inspect.signature(shared.OptionInfo).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        kwargs = {key: value for key, value in kwargs.items() if key in parameters}
    option_info = shared.OptionInfo(default, label, component, args, section=SECTION, **kwargs)
    if info and callable(getattr(option_info, "info", None)):
        option_info = option_info.info(info)
    if callable(getattr(option_info, "needs_reload_ui", None)):
        option_info = option_info.needs_reload_ui()
    return option_info


def on_ui_settings() -> None:
    """Register our options in their own settings section."""
    import gradio as gr
    from modules import shared

    from .core import catalog

    hide_dirs = bool(getattr(getattr(shared, "cmd_opts", None), "hide_ui_dir_config", False))
    model_args: dict[str, Any] = {"choices": sorted(catalog.CATALOG)}
    if "allow_custom_value" in inspect.signature(gr.Dropdown.__init__).parameters:
        model_args["allow_custom_value"] = True
    output = "Output folder for images and videos"
    model = "Default model (catalog name, Hub file 'owner/repo:file' or local path)"
    subfolder = f"empty: a {SUBFOLDER} subfolder of the images folder"
    add = shared.opts.add_option
    dir_args = {"visible": not hide_dirs}  # --hide-ui-dir-config, as the webui's own folder settings
    add(KEY_OUTPUT_DIR, _option(shared, "", output, gr.Textbox, dir_args, subfolder, restrict_api=True))
    add(KEY_DEVICE, _option(shared, "auto", "Device for GAN models", gr.Radio, {"choices": list(DEVICES)}))
    add(KEY_DEFAULT_MODEL, _option(shared, catalog.DEFAULT_MODEL, model, gr.Dropdown, model_args))
    public = "Public mode: refuse local paths in the model field, keep outputs per session"
    public_info = "auto: on when the webui is shared (--share, --listen, a tunnel)"
    add(KEY_PUBLIC, _option(shared, "auto", public, gr.Radio, {"choices": list(PUBLIC_CHOICES)}, public_info))


def ui_settings() -> Any:
    """The options as the UI takes them; read when the tabs are built (changes need "Reload UI")."""
    from .core import catalog
    from .ui import UISettings

    chosen = device()
    lock = None if chosen == "cpu" else gpu_lock()  # CPU work need not wait behind txt2img
    return UISettings(
        output_dir=output_dir(),
        device=chosen,
        default_model=option(KEY_DEFAULT_MODEL, catalog.DEFAULT_MODEL),
        public=public_mode(),
        **({"lock": lock} if lock is not None else {}),
    )


def on_ui_tabs() -> list[tuple[Any, str, str]]:
    """Our tabs for the webui: ``[(Blocks, title, elem_id), ...]``."""
    from .ui import build_tabs

    return build_tabs(ui_settings())
