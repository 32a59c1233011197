"""Discover tab: pick a model and a method, set its parameters, see the values; the result is the Edit tab's set.

Built from the method table (``steering.methods.METHODS``), read when the tab is built and when a handler runs (never
copied at import): one input per parameter of any method, shown for the methods that take it; the handler passes each
method only its own parameters. A new method needs no change here.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import compat, plot
from ..core import catalog, methods
from ..feedback import Panel, ok
from ..session import directions_store, generator, session_id
from .common import counted, md, model_summary

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared


#: The parameter that fills the Edit tab's sliders (its input starts at the number of sliders).
NUM_DIRECTIONS = "num_directions"


# ----- the method table, read when used ---------------------------------------------------------------------------
def parameters() -> dict[str, methods.Parameter]:
    """Every parameter of every registered method, in the order of the tab's inputs."""
    return methods.all_parameters(methods.METHODS)


def default_method() -> str:
    """The method the tab starts with (the first registered one)."""
    return next(iter(methods.METHODS))


# ----- handlers ---------------------------------------------------------------------------------------------------
def method_choices() -> list[tuple[str, str]]:
    return [(m.title, m.name) for m in methods.METHODS.values()]


def load_model(settings: UISettings, spec: str, *, request: Any = None) -> list[Any]:
    """Load (or reuse) the model: ``[model spec for the shared state, summary, then one update per parameter]``
    (pickers whose choices depend on the model, such as features, list this model's)."""
    spec = (spec or settings.default_model).strip()
    with settings.lock:
        model = generator(settings, spec, request=request)
    updates = [
        compat.update(choices=p.options(model)) if p.depends_on_model else compat.unchanged()
        for p in parameters().values()
    ]
    return [spec, model_summary(model), *updates]


def show_model(settings: UISettings, spec: str, *, request: Any = None) -> tuple[dict[str, Any], str]:
    """Reflect a model loaded elsewhere (Hub tab) in this tab's picker and summary."""
    spec, summary, *_ = load_model(settings, spec, request=request)
    return compat.update(value=spec), summary


def method_options(method: str, max_sliders: int | None = None) -> list[dict[str, Any]]:
    """Show the inputs of the chosen method's parameters with its own labels and defaults (an input several methods
    share never shows another method's label or a value typed for another method), hide the others. The number of
    directions keeps what the user set."""
    own = {p.name: p for p in methods.method(method).parameters}
    updates = []
    for name in parameters():
        if name not in own:
            updates.append(compat.update(visible=False))
        elif name == NUM_DIRECTIONS:
            updates.append(compat.update(visible=True, label=own[name].help))
        else:
            shown = shown_default(own[name], max_sliders)
            updates.append(compat.update(visible=True, label=own[name].help, value=shown))
    return updates


def discover(
    settings: UISettings, spec: str, method: str, *values: Any, request: Any = None, progress: Any = None
) -> tuple[str, str, Any, str, str]:
    """Run the method with its own parameters (checked by the core, with the CLI's limits); returns
    ``(model spec, controls key, values chart, model summary, status)``. Cancel stops it at its next progress step."""
    chosen = methods.method(method)
    own = {p.name for p in chosen.parameters}
    options = {name: value for name, value in zip(parameters(), values, strict=False) if name in own}
    spec = (spec or settings.default_model).strip()
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = chosen.run(model, options, progress=progress)
    key = directions_store.put(found, session_id(request))
    chart = None
    if found.has_values:
        chart = plot.bar_chart(found.values.tolist(), title=f"{chosen.title}: {chosen.value_label or 'values'}")
    zeros = "" if found.has_values or found.values is None else f" ({md(chosen.value_label or 'values')}: 0 for each)"
    status = ok(f"{counted(found, chosen.name)} for {md(found.model.name)}{zeros}: move the sliders in the Edit tab")
    return spec, key, chart, model_summary(model), status


def first_page(settings: UISettings, spec: str, key: str, *, request: Any = None) -> tuple[str, Any, str, str]:
    """When a page opens: directions of the default method for the model shown (from the basis cache, or computed
    once), so the Edit tab has an image and ready sliders before any click. Returns ``(key, chart, summary, status)``;
    a page that already has a set keeps it."""
    with settings.lock:
        model = generator(settings, spec, request=request)
        if key and directions_store.find(key) is not None:
            return key, compat.unchanged(), model_summary(model), compat.unchanged()
        chosen = methods.method(default_method())
        found = chosen.run(model, {"num_directions": min(settings.max_sliders, model.space_dim(model.default_space))})
    chart = plot.bar_chart(found.values.tolist(), title=chosen.title) if found.has_values else None
    status = ok(f"{counted(found, chosen.name)} ready: move the sliders in the Edit tab")
    return directions_store.put(found, session_id(request)), chart, model_summary(model), status


# ----- layout -----------------------------------------------------------------------------------------------------
def shown_default(parameter: methods.Parameter, max_sliders: int | None = None) -> Any:
    """What a parameter's input shows before the user types (one place, for building the tab and switching method):
    the number of directions fills the sliders; lists are typed "0, 1, 2"; no default is an empty field."""
    if parameter.name == NUM_DIRECTIONS and max_sliders is not None:
        return max_sliders
    if parameter.type == "choices":
        return list(parameter.default or [])
    if parameter.type in ("choice", "layers", "feature"):
        return parameter.default if parameter.default is not None else parameter.options(None)[0]
    if parameter.type == "bool":
        return bool(parameter.default)
    if _number_box(parameter):
        return parameter.default
    return parameter.as_text()


def _number_box(parameter: methods.Parameter) -> bool:
    """A number input, unless some method leaves the parameter empty by default (a number box cannot be empty: it
    would show 0, which means something else, e.g. class 0)."""
    if parameter.type not in ("int", "float"):
        return False
    return all(
        p.default is not None for m in methods.METHODS.values() for p in m.parameters if p.name == parameter.name
    )


def parameter_input(parameter: methods.Parameter, settings: UISettings, visible: bool) -> Any:
    """The input for one method parameter, by its type (one place: every method's inputs come from here)."""
    C = compat.component
    elem_id = f"gan_steering_param_{parameter.name}"
    label = parameter.help
    value = shown_default(parameter, settings.max_sliders)
    if parameter.type == "choices":  # several; compositions ("a∘b") typed where the version allows
        return compat.choices_input(
            choices=parameter.options(None),
            value=value,
            allow_custom_value=True,
            label=label,
            visible=visible,
            elem_id=elem_id,
        )
    if parameter.type in ("choice", "layers", "feature"):
        # Layer ranges and model-dependent choices are typed as well as picked.
        custom = parameter.type == "layers" or parameter.depends_on_model
        return C(
            gr.Dropdown,
            choices=parameter.options(None),
            value=value,
            allow_custom_value=custom,
            label=label,
            visible=visible,
            elem_id=elem_id,
        )
    if parameter.type == "bool":
        return C(gr.Checkbox, value=value, label=label, visible=visible, elem_id=elem_id)
    if _number_box(parameter):
        return (compat.whole_number if parameter.type == "int" else partial(C, gr.Number))(
            value=value,
            minimum=parameter.minimum,
            maximum=parameter.maximum,
            label=label,
            visible=visible,
            elem_id=elem_id,
        )
    return C(gr.Textbox, value=value, label=label, visible=visible, elem_id=elem_id)


class DiscoverTab:
    """Components and events of the Discover tab (``ui.py`` chains the Edit tab's refresh to its events)."""

    def __init__(self, settings: UISettings, shared: Shared) -> None:
        C = compat.component
        first = default_method()
        own = {p.name for p in methods.method(first).parameters}
        model_label = "Model (catalog name or owner/repo[@rev]:file" + (")" if settings.public else " or local path)")
        with gr.Row():
            with gr.Column(scale=1):
                self.model = C(
                    gr.Dropdown,
                    choices=list(catalog.CATALOG),
                    value=settings.default_model,
                    allow_custom_value=True,
                    label=model_label,
                    elem_id="gan_steering_model",
                )
                self.load_button = C(gr.Button, value="Load model", elem_id="gan_steering_load_model")
                self.method = C(
                    gr.Radio,
                    choices=method_choices(),
                    value=first,
                    label="Method",
                    elem_id="gan_steering_method",
                )
                self.parameters = [parameter_input(p, settings, p.name in own) for p in parameters().values()]
                with gr.Row():
                    self.discover_button = C(
                        gr.Button, value="Discover", variant="primary", elem_id="gan_steering_discover"
                    )
                    self.cancel_button = C(gr.Button, value="Cancel", elem_id="gan_steering_discover_cancel")
            with gr.Column(scale=1):
                self.spectrum = compat.image_output(label="Values", elem_id="gan_steering_spectrum")
                self.summary = C(gr.Markdown, value="", elem_id="gan_steering_model_summary")
                self.status = C(gr.Markdown, value="", elem_id="gan_steering_discover_status")

        self.panel = Panel("discover", self.status)
        self.load_event = self.panel.action(
            self.load_button.click,
            load_model,
            settings,
            [self.model],
            [shared.model, self.summary, *self.parameters],
            gpu=True,
        )
        compat.listen(
            self.method.change,
            lambda method: method_options(method, settings.max_sliders),
            [self.method],
            self.parameters,
        )
        self.discover_event = self.panel.job(
            self.discover_button.click,
            discover,
            settings,
            [self.model, self.method, *self.parameters],
            [shared.model, shared.directions, self.spectrum, self.summary, self.status],
            gpu=True,
        )
        self.panel.wire_cancel(self.cancel_button, settings)
