"""Gradient Controls tab (GradCtrl): label samples or pick attribute scorers, train latent heads, get one control per
attribute and class; set each control's excluded attributes and k; see a trajectory strip, a GIF/MP4, and the
disentanglement table and plot against the linear baselines. The controls go to the Edit tab as sliders (the
session's directions store, like Discover's).

Handlers are plain functions ``fn(settings, *inputs)``; the labelled set and the trained heads live in the session
store under keys kept in small ``gr.State``s. No math here: every step is a core call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import compat, outputs
from ..core import CORE, edit, errors, limits, methods, start, values
from ..feedback import Panel, bind, ok, warn
from ..session import directions_store, generator, session_id
from .common import code, for_display, md, previews, typed_or

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared

attributes = importlib.import_module(CORE + ".attributes")
measurement = importlib.import_module(CORE + ".attributes.measure")
scorers = importlib.import_module(CORE + ".scorers")
gradctrl = importlib.import_module(CORE + ".methods.gradctrl")
boundaries = importlib.import_module(CORE + ".methods.boundaries")
charts = importlib.import_module(CORE + ".charts")

GRID = 12
LABELS_PREFIX = "labels: "


# ----- labelling ---------------------------------------------------------------------------------------------------
def sample_grid(settings: UISettings, spec: str, first_seed: Any, *, request: Any = None) -> list[tuple[Any, str]]:
    """Generated samples (seeds ``first_seed`` … ``first_seed + 11``) to label, each captioned with its seed."""
    first = values.check_seed(typed_or(first_seed, 0))
    with settings.lock:
        model = generator(settings, spec, request=request)
        seeds = list(range(first, first + GRID))
        latents = start.Latents.cat([model.sample(1, seed=s) for s in seeds])
        images = edit.render(model, latents)
    return [(for_display(image), f"seed {seed}") for seed, image in zip(seeds, images, strict=True)]


def picked_seed(chosen: str, first_seed: Any, event: gr.SelectData) -> str:
    """Clicking a sample adds its seed to the list to label (the grid shows ``first_seed`` onwards)."""
    seed = str(
        values.check_seed(typed_or(first_seed, 0)) + int(event.index if not isinstance(event.index, list) else 0)
    )
    listed = [s.strip() for s in str(chosen or "").split(",") if s.strip()]
    return ", ".join([*listed, seed] if seed not in listed else listed)


def label(
    settings: UISettings,
    spec: str,
    key: str,
    attribute: str,
    classes: str,
    chosen: str,
    label_class: str,
    *,
    request: Any = None,
) -> tuple[str, Any, str]:
    """Assign the listed seeds to ``label_class`` of ``attribute`` (classes comma-separated: two make a binary
    attribute); returns ``(labelled-set key, class picker, status)``."""
    names = [c.strip() for c in str(classes or "").split(",") if c.strip()]
    seeds = [values.check_seed(s) for s in str(chosen or "").split(",") if s.strip()]
    if not seeds:
        raise errors.InvalidValueError("click samples (or type their seeds) to label them")
    with settings.lock:
        model = generator(settings, spec, request=request)
        current = None
        if key:  # a set this page labelled: evicted meanwhile is an error, never a silent start from zero
            current = directions_store.get(
                key, "the labelled set is", "upload it (Save labelled set gave you the file) or label the seeds again"
            )
        same = current is not None and current.model.sha256 == model.identity.sha256  # labels of another model: new
        if not same or current.attribute != attribute.strip() or list(current.class_names) != names:
            current = attributes.LabelledSet.empty(model, attribute, names)
        if label_class not in current.class_names:
            raise errors.InvalidValueError(f"choose one of the classes {', '.join(current.class_names)}")
        index = current.class_names.index(label_class)
        current = current.with_seeds(model, seeds, [index] * len(seeds))
    new_key = directions_store.put(current, session_id(request))
    counts = ", ".join(f"{md(n)}: {c}" for n, c in current.counts().items())
    picker = compat.update(choices=list(current.class_names), value=label_class)
    return new_key, picker, ok(f"labelled set {md(current.attribute)}: {counts}")


def class_choices(settings: UISettings, classes: str) -> Any:
    names = [c.strip() for c in str(classes or "").split(",") if c.strip()]
    return compat.update(choices=names, value=names[0] if names else None)


def save_labels(settings: UISettings, key: str, *, request: Any = None) -> tuple[str, str]:
    current = directions_store.get(key)
    path = outputs.output_path(settings, "labels", current.attribute, ".safetensors", session_id(request))
    current.save(path)
    return str(path), ok(f"labelled set saved as {code(outputs.shown(settings, path))}")


def upload_labels(settings: UISettings, spec: str, upload: Any, *, request: Any = None) -> tuple[str, str, str, str]:
    """A labelled set file to extend: ``(key, attribute, classes, status)``."""
    path = compat.uploaded_path(upload, settings.public)
    if path is None:
        raise errors.InvalidValueError("choose a labelled set file (.safetensors) first")
    with settings.lock:
        model = generator(settings, spec, request=request)
        try:
            loaded = attributes.LabelledSet.load(path, model)
        except errors.CorruptFileError as exc:
            raise type(exc)(f"not a labelled set (a .safetensors file saved by Save labelled set): {exc}") from exc
    key = directions_store.put(loaded, session_id(request))
    return key, loaded.attribute, ", ".join(loaded.class_names), ok(f"{len(loaded)} labelled samples loaded")


def attribute_choices() -> list[str]:
    """Built-in scorers this installation can run (image statistics; fer's emotions when its wheel is there)."""
    return scorers.available()


# ----- training ----------------------------------------------------------------------------------------------------
def train(
    settings: UISettings,
    spec: str,
    chosen: list[str],
    labels_key: str,
    use_labels: bool,
    num_samples: Any,
    fraction: Any,
    epochs: Any,
    exclude: str,
    top_k: Any,
    *,
    request: Any = None,
    progress: Any = None,
) -> tuple[str, str, str, Any, str]:
    """Train heads for the chosen attributes (and the labelled set), make the controls and the linear baselines;
    returns ``(shared controls key, heads key, accuracy table, control picker, status)``."""
    sources: list[Any] = list(chosen or [])
    labelled = directions_store.get(labels_key) if use_labels and labels_key else None
    if not sources and labelled is None:
        raise errors.InvalidValueError("choose at least one attribute or label some samples")
    sampling = attributes.Sampling(num_samples, fraction)  # both checked there, with the CLI's limits and words
    training = attributes.Training(epochs=epochs)
    k = None if top_k in (None, "", 0) else values.check_count(top_k, "k", 0, 1 << 20)
    session = session_id(request)
    with settings.lock:
        model = generator(settings, spec, request=request)
        left_out = labelled is not None and labelled.model.sha256 != model.identity.sha256 and bool(sources)
        if labelled is not None and not left_out:  # alone, a set of another model is refused by its model check
            sources.append(labelled)
        trained = attributes.train(model, sources, sampling, training, progress)
        controls = gradctrl.controls_from(model, trained, exclude=exclude, top_k=k)
    key = directions_store.put(controls, session)
    heads_key = directions_store.put(trained, session)
    rows = ["| attribute | classes | validation accuracy | samples |", "|---|---|---|---|"]
    for head in trained.heads.describe():
        accuracy = "—" if head["accuracy"] is None else f"{head['accuracy']:.3f}"
        samples = f"{head['samples'].get('train', 0)} + {head['samples'].get('validation', 0)}"
        rows.append(f"| {md(head['name'])} | {md(', '.join(head['classes']))} | {accuracy} | {samples} |")
    picker = compat.update(choices=list(controls.names), value=controls.names[0])
    weak = trained.heads.weak()
    status = ok(f"{len(controls)} gradient controls: move them in the Edit tab")
    notes = [md(w) for w in weak.values()]
    if left_out:
        notes.append(f"your labelled set {md(labelled.attribute)} was left out: it labels {md(labelled.model.name)}")
    if notes:
        status = warn(f"{len(controls)} gradient controls, but " + "; ".join(notes))
    return key, heads_key, "\n".join(rows), picker, status


def _controls(key: str) -> Any:
    found = directions_store.get(key)
    if getattr(found, "field", None) != "gradctrl":
        raise errors.InvalidValueError("train gradient controls first")
    return found


def show_exclusions(settings: UISettings, key: str, control: str) -> str:
    """The picked control's excluded attributes as ``name=k`` text."""
    if not key or not control:
        return ""
    found = _controls(key)
    return ", ".join(f"{n}={k}" for n, k in gradctrl.exclusions(found, found.names.index(control)).items())


def set_exclusions(settings: UISettings, key: str, control: str, text: str, *, request: Any = None) -> tuple[str, str]:
    """Set the picked control's excluded attributes (``name=k, …``; empty: none); returns ``(key, status)``."""
    found = _controls(key)
    budgets = {}
    for item in str(text or "").split(","):
        if item.strip():
            name, _, k = item.partition("=")
            budgets[name.strip()] = values.check_count(k.strip() or 0, f"k of {name.strip()!r}", 0, found.dim)
    changed = gradctrl.with_exclusions(found, found.names.index(control), budgets)
    new_key = directions_store.put(changed, session_id(request))
    return new_key, ok(f"{md(control)} excludes {md(text or 'nothing')}")


# ----- trajectories and measurement --------------------------------------------------------------------------------
def strip(settings: UISettings, spec: str, key: str, control: str, seed: Any, *, request: Any = None) -> Any:
    """One row from the seed along the picked control: strengths from −end to +end."""
    found = _controls(key)
    with settings.lock:
        model = generator(settings, spec, request=request)
        latents = model.sample(1, seed=values.check_seed(typed_or(seed, 0)))
        strengths = edit.strengths_between(*found.range_of(found.names.index(control)), 7)
        return edit.sweep(model, latents, found, indices=[found.names.index(control)], strengths=strengths)


def animation(
    settings: UISettings, spec: str, key: str, control: str, seed: Any, fmt: str, *, request: Any = None
) -> tuple[Any, Any, str, str]:
    """A GIF or MP4 from the seed along the picked control; returns ``(GIF preview, MP4 preview, file, status)``:
    the preview of the other format is hidden."""
    found = _controls(key)
    index = found.names.index(control)
    suffix = ".mp4" if str(fmt).upper() == "MP4" else ".gif"
    path = outputs.output_path(settings, "animations", control, suffix, session_id(request))
    with settings.lock:
        model = generator(settings, spec, request=request)
        latents = model.sample(1, seed=values.check_seed(typed_or(seed, 0)))
        edit.animate(model, latents, found, index, edit.strengths_between(*found.range_of(index), 16), path)
    return *previews(path), str(path), ok(f"{suffix[1:].upper()} saved as {code(outputs.shown(settings, path))}")


def measure(
    settings: UISettings,
    spec: str,
    key: str,
    heads_key: str,
    control: str,
    seeds: Any,
    *,
    request: Any = None,
    progress: Any = None,
) -> tuple[str, Any]:
    """The picked control against the same heads unmasked, the linear and conditional boundaries and the SeFa and
    GANSpace directions that move the target most, measured on the scored attributes (built-in scorers) the control
    excludes, or on the heads' other scored attributes when it excludes none: ``(table, plot)``."""
    found = _controls(key)
    trained = directions_store.get(heads_key)
    index = found.names.index(control)
    names = [a.name for a in trained.heads.attributes]
    target, column = int(found.tensors["control.target"][index]), int(found.tensors["control.column"][index])
    if names[target] not in scorers.SCORERS:
        raise errors.InvalidValueError("a labelled attribute has no image scorer to measure with")
    excluded = [n for n in gradctrl.exclusions(found, index) if n in scorers.SCORERS]
    # Nothing excluded (exclude "none", or nothing entangled): what else moves is still worth seeing.
    watched = excluded or [n for i, n in enumerate(names) if i != target and n in scorers.SCORERS]
    measured = [names[target], *watched]
    chosen = [scorers.scorer(n) for n in measured]
    # The core's measure takes latents, not a count: the bound is the CLI's (gradctrl measure --seeds).
    count = values.check_count(typed_or(seeds, 16), "the number of seeds", 1, limits.MAX_IMAGES)
    with settings.lock:
        model = generator(settings, spec, request=request)
        free = gradctrl.controls_from(model, trained, exclude="none")
        linear = boundaries.boundaries_from(model, trained.labelled)
        conditional = boundaries.boundaries_from(model, trained.labelled, conditional=True, exclude={index: excluded})
        others = tuple(range(1, len(measured))) or None
        edits = [
            measurement.Edit("GradCtrl", found, index, 0, column, others),
            measurement.Edit("no mask", free, index, 0, column, others),
            measurement.Edit("linear", linear, index, 0, column, others),
            measurement.Edit("conditional", conditional, index, 0, column, others),
        ]
        latents = model.sample(count, seed=1000)
        for name in ("sefa", "ganspace"):  # the direction of each that moves the target most, oriented to raise it
            directions = methods.method(name).run(model, {"num_directions": 10})
            probe = latents.select(slice(0, 4))
            best, sign = measurement.best_direction(model, directions, chosen[0], column, probe)
            edits.append(measurement.Edit(name, directions, best, 0, column, others, flip=sign < 0))
        result = measurement.measure(model, edits, chosen, latents, [1, 2, 3, 4], progress=progress)
    level = f"Compared at an equal change of {md(names[target])}: {result.level:.3f} std."
    if not excluded:
        level += (
            f" This control excludes nothing: the change of {md(', '.join(watched) or 'no other attribute')} is shown."
        )
    column_name = "excluded change" if excluded else "others' change"
    rows = [level, "", f"| edit | strength | target change | {column_name} | success |", "|---|---|---|---|---|"]
    for row in result.table():
        strength = "—" if row["strength"] is None else f"{row['strength']:.2f}"
        if row["note"]:
            moved = f"— *{md(row['note'])}*"
        else:
            moved = "—" if row["others_change"] is None else f"{row['others_change']:.3f}"
        rows.append(f"| {md(row['edit'])} | {strength} | {row['target_change']:.3f} | {moved} | {row['success']:.0%} |")
    weak = trained.heads.weak().get(names[target])
    if weak:
        rows += ["", warn(md(weak))]
    chart = charts.line_chart(
        result.curves_for_plot(), title=control, x_label="target change (std)", y_label="excluded change (std)"
    )
    return "\n".join(rows), chart


# ----- layout ------------------------------------------------------------------------------------------------------
class GradCtrlTab:
    """Components and events of the Gradient Controls tab (``ui.py`` refreshes the Edit tab after ``train_event``)."""

    def __init__(self, settings: UISettings, shared: Shared) -> None:
        C = compat.component
        self.labels_key = gr.State("")
        self.heads_key = gr.State("")
        with gr.Row():
            with gr.Column(scale=1):
                gr.Markdown("**1 · Label samples** (optional): click samples, pick a class, *Label*.")
                with gr.Row():
                    self.first_seed = compat.whole_number(value=0, label="First seed", elem_id="gc_first_seed")
                    self.show = C(gr.Button, value="Show samples", elem_id="gc_show")
                self.grid = C(gr.Gallery, label="Samples", columns=6, height=260, elem_id="gc_grid")
                with gr.Row():
                    self.attribute = C(gr.Textbox, value="smile", label="Attribute", elem_id="gc_attribute")
                    self.classes = C(gr.Textbox, value="no, yes", label="Classes (2: binary)", elem_id="gc_classes")
                with gr.Row():
                    self.chosen = C(gr.Textbox, value="", label="Seeds to label", elem_id="gc_chosen")
                    self.label_class = C(
                        gr.Radio, choices=["no", "yes"], value="yes", label="Label as", elem_id="gc_label_class"
                    )
                    self.label_button = C(gr.Button, value="Label", elem_id="gc_label")
                with gr.Row():
                    self.save_labels = C(gr.Button, value="Save labelled set", elem_id="gc_save_labels")
                    self.upload = compat.file_input(label="Load a labelled set", elem_id="gc_upload_labels")
                self.labels_file = C(gr.File, label="Labelled set", interactive=False, elem_id="gc_labels_file")
            with gr.Column(scale=1):
                gr.Markdown("**2 · Train** heads on attributes: built-in scorers and your labelled set.")
                self.chosen_attributes = C(
                    gr.CheckboxGroup,
                    choices=attribute_choices(),
                    value=["brightness", "warmth"],
                    label="Attributes (built-in scorers)",
                    elem_id="gc_attributes",
                )
                self.use_labels = C(gr.Checkbox, value=True, label="Include my labelled set", elem_id="gc_use_labels")
                with gr.Row():
                    self.samples = compat.whole_number(value=2000, label="Scored samples", elem_id="gc_samples")
                    self.fraction = C(gr.Number, value=0.1, label="Confident share", elem_id="gc_fraction")
                    self.epochs = compat.whole_number(value=30, label="Epochs", elem_id="gc_epochs")
                with gr.Row():
                    self.exclude = C(
                        gr.Dropdown,
                        choices=list(gradctrl.EXCLUDE),
                        value="entangled",
                        label="Exclude",
                        elem_id="gc_exclude",
                    )
                    self.top_k = compat.whole_number(value=0, label="k (0: d/4)", elem_id="gc_top_k")
                with gr.Row():
                    self.train_button = C(gr.Button, value="Train", variant="primary", elem_id="gc_train")
                    self.cancel_button = C(gr.Button, value="Cancel", elem_id="gc_cancel")
                self.accuracy = C(gr.Markdown, value="", elem_id="gc_accuracy")
                gr.Markdown("**3 · Each control**: excluded attributes and k, trajectory, disentanglement.")
                self.control = C(gr.Dropdown, choices=[], label="Control", elem_id="gc_control")
                with gr.Row():
                    self.exclusions = C(gr.Textbox, value="", label="Excluded (name=k, …)", elem_id="gc_exclusions")
                    self.apply_button = C(gr.Button, value="Apply", elem_id="gc_apply")
                with gr.Row():
                    self.seed = compat.whole_number(value=0, label="Trajectory seed", elem_id="gc_seed")
                    self.strip_button = C(gr.Button, value="Trajectory", elem_id="gc_strip")
                    self.fmt = C(
                        gr.Radio, choices=["GIF", "MP4"], value="GIF", label="Animation format", elem_id="gc_fmt"
                    )
                    self.animate_button = C(gr.Button, value="Animate", elem_id="gc_animate")
                self.strip = compat.image_output(
                    label="Trajectory", show_label=False, toolbar=False, elem_id="gc_strip_image"
                )
                self.animation = compat.image_output(label="Animation", elem_id="gc_animation")
                self.animation_video = compat.video_output(label="Animation (MP4)", height=300, elem_id="gc_video")
                self.animation_file = C(
                    gr.File, label="Control animation file", interactive=False, elem_id="gc_anim_file"
                )
                with gr.Row():
                    self.seeds = compat.whole_number(value=16, label="Seeds measured", elem_id="gc_seeds")
                    self.measure_button = C(gr.Button, value="Measure", elem_id="gc_measure")
                self.table = C(gr.Markdown, value="", elem_id="gc_table")
                self.plot = compat.image_output(label="Target vs excluded change", elem_id="gc_plot")
                self.status = C(gr.Markdown, value="", elem_id="gc_status")
        #: What shows a result made from the current model (blanked when another model is loaded).
        self.results = [self.grid, self.accuracy, self.strip, self.animation, self.animation_video]
        self.results += [self.animation_file, self.table, self.plot, self.status]
        self._wire(settings, shared)

    def _wire(self, settings: UISettings, shared: Shared) -> None:
        listen = compat.listen
        listen(self.show.click, bind(sample_grid, settings, gpu=True), [shared.model, self.first_seed], [self.grid])
        listen(self.grid.select, picked_seed, [self.chosen, self.first_seed], [self.chosen])
        listen(self.classes.change, bind(class_choices, settings), [self.classes], [self.label_class])
        self.panel = panel = Panel("gradctrl", self.status)
        panel.action(
            self.label_button.click,
            label,
            settings,
            [shared.model, self.labels_key, self.attribute, self.classes, self.chosen, self.label_class],
            [self.labels_key, self.label_class, self.status],
        )
        panel.action(self.save_labels.click, save_labels, settings, [self.labels_key], [self.labels_file, self.status])
        panel.action(
            self.upload.upload,
            upload_labels,
            settings,
            [shared.model, self.upload],
            [self.labels_key, self.attribute, self.classes, self.status],
        )
        self.train_event = panel.job(
            self.train_button.click,
            train,
            settings,
            [
                shared.model,
                self.chosen_attributes,
                self.labels_key,
                self.use_labels,
                self.samples,
                self.fraction,
                self.epochs,
                self.exclude,
                self.top_k,
            ],
            [shared.directions, self.heads_key, self.accuracy, self.control, self.status],
            gpu=True,
        )
        panel.wire_cancel(self.cancel_button, settings)
        listen(
            self.control.change, bind(show_exclusions, settings), [shared.directions, self.control], [self.exclusions]
        )
        self.apply_event = panel.action(
            self.apply_button.click,
            set_exclusions,
            settings,
            [shared.directions, self.control, self.exclusions],
            [shared.directions, self.status],
        )
        listen(
            self.strip_button.click,
            bind(strip, settings, gpu=True),
            [shared.model, shared.directions, self.control, self.seed],
            [self.strip],
        )
        panel.job(
            self.animate_button.click,
            animation,
            settings,
            [shared.model, shared.directions, self.control, self.seed, self.fmt],
            [self.animation, self.animation_video, self.animation_file, self.status],
            gpu=True,
        )
        panel.job(
            self.measure_button.click,
            measure,
            settings,
            [shared.model, shared.directions, self.heads_key, self.control, self.seeds],
            [self.table, self.plot],
            gpu=True,
        )
