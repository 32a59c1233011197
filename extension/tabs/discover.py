"""Discover tab: pick a model, run SeFa or GANSpace, see the spectrum; the result becomes the Edit tab's set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import compat, plot
from ..core import catalog, errors, methods, values
from ..feedback import bind, ok
from ..session import directions_store, generator, session_id
from .common import md, model_summary

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared

METHOD_CHOICES = ["sefa", "ganspace"]
LAYER_CHOICES = ["all", "coarse", "middle", "fine"]
DEFAULT_FEATURE = "default"
SPECTRUM_TITLES = {"sefa": "SeFa eigenvalues", "ganspace": "GANSpace variances (PCA)"}


# ----- handlers ---------------------------------------------------------------------------------------------------
def feature_choices(model: Any) -> list[str]:
    """What GANSpace can run PCA on: the default (w, or the first layer), or any named intermediate feature."""
    return [DEFAULT_FEATURE, *(name for name in model.feature_names() if name != "image")]


def load_model(settings: UISettings, spec: str, *, request: Any = None) -> tuple[str, str, dict[str, Any]]:
    """Load (or reuse) the model; returns ``(model spec for the shared state, summary markdown, feature picker)``."""
    spec = (spec or settings.default_model).strip()
    with settings.lock:
        model = generator(settings, spec, request=request)
    return spec, model_summary(model), compat.update(choices=feature_choices(model), value=DEFAULT_FEATURE)


def show_model(settings: UISettings, spec: str, *, request: Any = None) -> tuple[dict[str, Any], str]:
    """Reflect a model loaded elsewhere (Hub tab) in this tab's picker and summary."""
    spec, summary, _ = load_model(settings, spec, request=request)
    return compat.update(value=spec), summary


def method_options(method: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sample count and the feature only matter for GANSpace."""
    return compat.update(visible=method == "ganspace"), compat.update(visible=method == "ganspace")


def discover(
    settings: UISettings,
    spec: str,
    method: str,
    num_directions: Any,
    layers: Any,
    num_samples: Any,
    feature: Any = DEFAULT_FEATURE,
    *,
    request: Any = None,
) -> tuple[str, str, Any, str, str]:
    """Run the method; returns ``(model spec, directions key, spectrum image, model summary, status)``.

    Every value is checked by the core (the method itself), with the same limits as the CLI."""
    if method not in methods.METHODS:
        raise errors.InvalidValueError(f"unknown method {str(method)[:40]!r}; choose one of {sorted(methods.METHODS)}")
    options: dict[str, Any] = {"num_directions": num_directions, "layers": values.parse_layers(layers)}
    if method == "ganspace":
        options["num_samples"] = num_samples
        if feature and feature != DEFAULT_FEATURE:
            options["feature"] = str(feature)
    spec = (spec or settings.default_model).strip()
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = methods.METHODS[method](model, **options)
    key = directions_store.put(found, session_id(request))
    spectrum = None
    if found.values is not None:
        spectrum = plot.bar_chart(found.values.tolist(), title=SPECTRUM_TITLES.get(method, method))
    status = ok(f"{len(found)} {md(method)} directions for {md(found.model.name)}: move the sliders in the Edit tab")
    return spec, key, spectrum, model_summary(model), status


# ----- layout -----------------------------------------------------------------------------------------------------
class DiscoverTab:
    """Components and events of the Discover tab (``ui.py`` chains the Edit tab's refresh to its events)."""

    def __init__(self, settings: UISettings, shared: Shared) -> None:
        names = list(catalog.CATALOG)
        with gr.Row():
            with gr.Column(scale=1):
                self.model = compat.component(
                    gr.Dropdown,
                    choices=names,
                    value=settings.default_model,
                    allow_custom_value=True,
                    label="Model (catalog name, owner/repo[@rev]:file or local path)",
                    elem_id="gan_steering_model",
                )
                self.load_button = compat.component(gr.Button, value="Load model", elem_id="gan_steering_load_model")
                self.method = compat.component(
                    gr.Radio, choices=METHOD_CHOICES, value="sefa", label="Method", elem_id="gan_steering_method"
                )
                self.num_directions = compat.component(
                    gr.Slider,
                    minimum=1,
                    maximum=64,
                    value=settings.max_sliders,
                    step=1,
                    label="Number of directions",
                    elem_id="gan_steering_num_directions",
                )
                self.layers = compat.component(
                    gr.Dropdown,
                    choices=LAYER_CHOICES,
                    value="all",
                    allow_custom_value=True,
                    label="Layers (all / coarse / middle / fine / lo:hi / 0,2,5)",
                    elem_id="gan_steering_layers",
                )
                self.num_samples = compat.component(
                    gr.Number,
                    value=10_000,
                    precision=0,
                    label="GANSpace samples",
                    visible=False,
                    elem_id="gan_steering_num_samples",
                )
                self.feature = compat.component(
                    gr.Dropdown,
                    choices=[DEFAULT_FEATURE],
                    value=DEFAULT_FEATURE,
                    label="GANSpace: PCA on (default: w for style-based models, else the first layer)",
                    visible=False,
                    elem_id="gan_steering_feature",
                )
                self.discover_button = compat.component(
                    gr.Button, value="Discover directions", variant="primary", elem_id="gan_steering_discover"
                )
            with gr.Column(scale=1):
                self.spectrum = compat.image_output(label="Spectrum", elem_id="gan_steering_spectrum")
                self.summary = compat.component(gr.Markdown, value="", elem_id="gan_steering_model_summary")
                self.status = compat.component(gr.Markdown, value="", elem_id="gan_steering_discover_status")

        self.load_event = compat.listen(
            self.load_button.click,
            bind(load_model, settings, gpu=True),
            [self.model],
            [shared.model, self.summary, self.feature],
        )
        compat.listen(self.method.change, method_options, [self.method], [self.num_samples, self.feature])
        self.discover_event = compat.listen(
            self.discover_button.click,
            bind(discover, settings, gpu=True),
            [self.model, self.method, self.num_directions, self.layers, self.num_samples, self.feature],
            [shared.model, shared.directions, self.spectrum, self.summary, self.status],
        )
