"""Edit tab: a seed, a truncation and one slider per direction, live; sweep grids, GIFs, direction files."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Sequence

import gradio as gr

from .. import compat, outputs
from ..core import Directions, errors, values
from ..core import edit as core_edit
from ..core import io as core_io
from ..feedback import bind, ok
from ..session import directions_store, generator, session_id
from .common import choice_index, choice_labels, code, directions_summary, for_display, md

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared

NO_DIRECTIONS = (
    "No directions yet: discover them in the Discover tab, load a direction file below or pull from the Hub."
)
DEFAULT_SWEEP_ROWS = 3


# ----- helpers ----------------------------------------------------------------------------------------------------
def usable_directions(model: Any, key: str | None, max_sliders: int) -> tuple[Directions | None, str]:
    """The current directions if they fit ``model``, else ``None`` and why (shown instead of the sliders)."""
    if not key:
        return None, NO_DIRECTIONS
    found = directions_store.find(key)
    if found is None:
        return None, "⚠️ The directions of this page are no longer in memory: discover or load them again."
    try:
        found.check_compatible(model)
    except errors.DirectionsMismatchError as exc:
        return None, f"⚠️ The current directions do not fit the loaded model: {md(exc)}"
    shown = min(len(found), max_sliders)
    more = f" (sliders for the first {shown})" if shown < len(found) else ""
    return found, directions_summary(found) + more


def current_directions(model: Any, key: str | None) -> Directions:
    """The current directions, checked against ``model``; a clear error when there are none or they do not fit."""
    found = directions_store.get(key)
    found.check_compatible(model)
    return found


def strengths_from(directions: Directions | None, values_: Sequence[Any]) -> list[float]:
    """One strength per direction from the slider values (directions beyond the sliders stay at 0)."""
    if directions is None:
        return []
    out = [0.0] * len(directions)
    for i, value in enumerate(values_[: len(directions)]):
        out[i] = 0.0 if value is None else values.check_strength(value, f"slider {i + 1}")
    return out


def base_latents(model: Any, seed: Any, truncation: Any):
    return model.sample(1, seed=values.check_seed(seed), truncation=values.check_truncation(truncation))


def edited_image(model: Any, directions: Directions | None, seed: Any, truncation: Any, strengths: Sequence[float]):
    """The image for ``seed``/``truncation`` moved by ``strengths`` along ``directions``, as a fresh preview file."""
    latents = base_latents(model, seed, truncation)
    if directions is not None:
        latents = core_edit.apply(model, latents, directions, strengths)
    return outputs.preview(for_display(core_edit.render(model, latents)[0]))


def slider_step(low: float, high: float) -> float:
    return float(f"{(high - low) / 200:.2g}")


def _picked(directions: Directions, labels: Any) -> list[int]:
    labels = [labels] if isinstance(labels, str) else list(labels or [])
    if not labels:
        raise errors.InvalidValueError("choose at least one direction")
    return [choice_index(label, directions) for label in labels]


# ----- handlers ---------------------------------------------------------------------------------------------------
def view(settings: UISettings, spec: str, key: str, seed: Any, truncation: Any, *, request: Any = None) -> list[Any]:
    """Everything that follows the current directions: sliders (at their neutral value), image, pickers, range, info."""
    with settings.lock:
        model = generator(settings, spec, request=request)
        found, info = usable_directions(model, key, settings.max_sliders)
        k = len(found) if found is not None else 0
        shown = min(k, settings.max_sliders)
        low, high = found.strength_range if found is not None else (-3.0, 3.0)
        neutral = values.neutral_strength((low, high))
        image = edited_image(model, found, seed, truncation, [neutral] * shown + [0.0] * (k - shown))
    sliders = [
        compat.update(
            visible=True, label=found.label(i), minimum=low, maximum=high, step=slider_step(low, high), value=neutral
        )
        for i in range(shown)
    ] + [compat.update(visible=False, value=0.0) for _ in range(settings.max_sliders - shown)]
    labels = choice_labels(found) if found is not None else []
    return [
        *sliders,
        image,
        info,
        compat.update(choices=labels, value=labels[:DEFAULT_SWEEP_ROWS]),
        compat.update(choices=labels, value=labels[0] if labels else None),
        compat.update(choices=labels, value=labels[0] if labels else None),
        compat.update(value=low),
        compat.update(value=high),
    ]


def render(settings: UISettings, spec: str, key: str, seed: Any, truncation: Any, *strengths: Any, request: Any = None):
    """The live image for the current slider values (unchanged while the seed box is being retyped).

    Directions that are no longer in memory are an error the user sees, never an image that ignores the sliders."""
    if seed is None or seed == "":
        return compat.unchanged()
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = current_directions(model, key) if key else None
        return edited_image(model, found, seed, truncation, strengths_from(found, strengths))


def reset(settings: UISettings, spec: str, key: str, seed: Any, truncation: Any, *, request: Any = None) -> list[Any]:
    """Every slider back to its neutral value (the one ``view`` starts from) and the image at that point."""
    with settings.lock:
        model = generator(settings, spec, request=request)
        found, _ = usable_directions(model, key, settings.max_sliders)
        neutral = values.neutral_strength(found.strength_range) if found is not None else 0.0
        k = len(found) if found is not None else 0
        image = edited_image(
            model,
            found,
            seed,
            truncation,
            [neutral] * min(k, settings.max_sliders) + [0.0] * max(0, k - settings.max_sliders),
        )
    return [compat.update(value=neutral) for _ in range(settings.max_sliders)] + [image]


def random_seed(settings: UISettings) -> int:
    return random.SystemRandom().randrange(0, 2**31)


def sweep(
    settings: UISettings,
    spec: str,
    key: str,
    seed: Any,
    truncation: Any,
    picked: Any,
    low: Any,
    high: Any,
    steps: Any,
    *,
    request: Any = None,
) -> tuple[Any, str, str]:
    """A grid (one row per chosen direction, one column per strength) from the unedited image; saved as PNG."""
    strengths = core_edit.strengths_between(low, high, steps)
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = current_directions(model, key)
        indices = _picked(found, picked)
        grid = core_edit.sweep(model, base_latents(model, seed, truncation), found, indices, strengths)
    stem = f"{found.model.name}-seed{values.check_seed(seed)}"
    path = core_io.save_image(grid, outputs.output_path(settings, "sweeps", stem, ".png", session_id(request)))
    return str(path), str(path), ok(f"sweep saved as {code(outputs.shown(settings, path))}")


def export_gif(
    settings: UISettings,
    spec: str,
    key: str,
    seed: Any,
    truncation: Any,
    picked: Any,
    low: Any,
    high: Any,
    frames: Any,
    fps: Any,
    *,
    request: Any = None,
) -> tuple[str, str, str]:
    """An animated GIF along one direction from the unedited image; returns ``(preview, file, status)``."""
    strengths = core_edit.strengths_between(low, high, frames)
    rate = values.check_number(fps, "frames per second", 0.1, 50)
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = current_directions(model, key)
        index = _picked(found, picked)[0]
        stem = f"{found.model.name}-seed{values.check_seed(seed)}-{found.names[index]}"
        path = outputs.output_path(settings, "gifs", stem, ".gif", session_id(request))
        core_edit.animate(model, base_latents(model, seed, truncation), found, index, strengths, path, fps=rate)
    return str(path), str(path), ok(f"GIF saved as {code(outputs.shown(settings, path))}")


def save_directions(settings: UISettings, key: str, *, request: Any = None) -> tuple[str, str]:
    """Write the current directions (with their names) to a new file for download."""
    found = directions_store.get(key)
    stem = f"{found.model.name}-{found.method}-{len(found)}"
    path = found.save(outputs.output_path(settings, "directions", stem, ".safetensors", session_id(request)))
    return str(path), ok(f"saved as {code(outputs.shown(settings, path))}")


def upload_directions(
    settings: UISettings, spec: str, key: str, upload: Any, *, request: Any = None
) -> tuple[str, str]:
    """Load a direction file for the current model; a file that is corrupt or for another model is refused and
    the current directions stay. In public mode only files uploaded through the app are read.
    Returns ``(directions key, status)``."""
    path = compat.uploaded_path(upload, confined=settings.public)
    if path is None:
        raise errors.InvalidValueError("choose a direction file (.safetensors) to upload first")
    with settings.lock:
        model = generator(settings, spec, request=request)
        loaded = Directions.load(path, model)
    new_key = directions_store.put(loaded, session_id(request))
    return new_key, ok(f"loaded {len(loaded)} {md(loaded.method)} directions from the file")


def rename_direction(
    settings: UISettings,
    key: str,
    picked: Any,
    new_name: Any,
    sweep_picked: Any,
    gif_picked: Any,
    *,
    request: Any = None,
) -> list[Any]:
    """Rename one direction: store, slider label, pickers and the downloadable file all follow."""
    found = directions_store.get(key)
    index = _picked(found, picked)[0]
    keep_sweep = [choice_index(label, found) for label in (sweep_picked or [])]
    keep_gif = choice_index(gif_picked, found) if gif_picked else None
    renamed = found.renamed(index, str(new_name or ""))
    directions_store.replace(key, renamed)
    path, _ = save_directions(settings, key, request=request)
    labels = choice_labels(renamed)
    shown = min(len(renamed), settings.max_sliders)
    sliders = [compat.update(label=renamed.label(i)) if i == index else compat.unchanged() for i in range(shown)]
    sliders += [compat.unchanged() for _ in range(settings.max_sliders - shown)]
    return [
        *sliders,
        compat.update(choices=labels, value=[labels[i] for i in keep_sweep]),
        compat.update(choices=labels, value=labels[keep_gif] if keep_gif is not None else None),
        compat.update(choices=labels, value=labels[index]),
        path,
        ok(f"direction {index} is now {md(renamed.names[index])}; the file below has the new name"),
    ]


# ----- layout -----------------------------------------------------------------------------------------------------
class EditTab:
    """Components and events of the Edit tab; ``refresh_after`` re-reads the shared state after another event."""

    def __init__(self, settings: UISettings, shared: Shared) -> None:
        self.settings, self.shared = settings, shared
        C = compat.component
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Row():
                    self.seed = C(gr.Number, value=0, precision=0, label="Seed", elem_id="gan_steering_seed", scale=3)
                    self.dice = C(gr.Button, value="Random seed", elem_id="gan_steering_random_seed", scale=1)
                self.truncation = C(
                    gr.Slider,
                    minimum=0.05,
                    maximum=1.0,
                    value=1.0,
                    step=0.05,
                    label="Truncation ψ",
                    elem_id="gan_steering_truncation",
                )
                self.reset_button = C(gr.Button, value="Reset sliders", elem_id="gan_steering_reset")
                self.sliders = [
                    C(
                        gr.Slider,
                        minimum=-3.0,
                        maximum=3.0,
                        value=0.0,
                        step=0.03,
                        label=f"Direction {i + 1}",
                        visible=False,
                        elem_id=f"gan_steering_strength_{i}",
                    )
                    for i in range(settings.max_sliders)
                ]
            with gr.Column(scale=1):
                self.image = compat.image_output(label="Edited image", height=400, elem_id="gan_steering_image")
                self.info = C(gr.Markdown, value=NO_DIRECTIONS, elem_id="gan_steering_directions_info")
                self.status = C(gr.Markdown, value="", elem_id="gan_steering_edit_status")

        with C(gr.Accordion, label="Sweep grid", open=False, elem_id="gan_steering_sweep_box"):
            with gr.Row():
                self.sweep_pick = C(
                    gr.CheckboxGroup, choices=[], label="Directions (rows)", elem_id="gan_steering_sweep_pick"
                )
            with gr.Row():
                self.low = C(gr.Number, value=-3.0, label="From strength", elem_id="gan_steering_sweep_low")
                self.high = C(gr.Number, value=3.0, label="To strength", elem_id="gan_steering_sweep_high")
                self.steps = C(
                    gr.Slider, minimum=2, maximum=11, value=5, step=1, label="Steps", elem_id="gan_steering_sweep_steps"
                )
            self.sweep_button = C(gr.Button, value="Render sweep grid", elem_id="gan_steering_sweep")
            self.sweep_image = compat.image_output(
                label="Sweep grid (from the unedited image)", elem_id="gan_steering_sweep_image"
            )
            self.sweep_file = C(gr.File, label="Sweep grid file", interactive=False, elem_id="gan_steering_sweep_file")

        with C(gr.Accordion, label="Animated GIF", open=False, elem_id="gan_steering_gif_box"):
            with gr.Row():
                self.gif_pick = C(
                    gr.Dropdown, choices=[], label="Direction to animate", elem_id="gan_steering_gif_pick"
                )
                self.frames = C(
                    gr.Slider,
                    minimum=4,
                    maximum=60,
                    value=24,
                    step=1,
                    label="Frames",
                    elem_id="gan_steering_gif_frames",
                )
                self.fps = C(
                    gr.Slider, minimum=1, maximum=30, value=12, step=1, label="FPS", elem_id="gan_steering_gif_fps"
                )
            self.gif_button = C(gr.Button, value="Export GIF", elem_id="gan_steering_gif")
            with gr.Row():
                self.gif_preview = C(
                    gr.Image,
                    type="filepath",
                    interactive=False,
                    label="GIF preview",
                    elem_id="gan_steering_gif_preview",
                )
                self.gif_file = C(gr.File, label="GIF file", interactive=False, elem_id="gan_steering_gif_file")

        with C(gr.Accordion, label="Direction file", open=False, elem_id="gan_steering_file_box"):
            with gr.Row():
                with gr.Column():
                    self.save_button = C(gr.Button, value="Save direction file", elem_id="gan_steering_save_directions")
                    self.download = C(
                        gr.File, label="Direction file (download)", interactive=False, elem_id="gan_steering_download"
                    )
                with gr.Column():
                    self.upload = compat.file_input(
                        file_types=[".safetensors"], label="Direction file (upload)", elem_id="gan_steering_upload"
                    )
                    self.upload_button = C(gr.Button, value="Load uploaded file", elem_id="gan_steering_load_upload")
            with gr.Row():
                self.rename_pick = C(
                    gr.Dropdown, choices=[], label="Direction to rename", elem_id="gan_steering_rename_pick"
                )
                self.new_name = C(gr.Textbox, value="", label="New name", elem_id="gan_steering_new_name")
                self.rename_button = C(gr.Button, value="Rename", elem_id="gan_steering_rename")

        self._wire(settings, shared)

    # The same lists are used to wire events and, in tests, to read handler results.
    @property
    def view_outputs(self) -> list[Any]:
        return [
            *self.sliders,
            self.image,
            self.info,
            self.sweep_pick,
            self.gif_pick,
            self.rename_pick,
            self.low,
            self.high,
        ]

    @property
    def view_inputs(self) -> list[Any]:
        return [self.shared.model, self.shared.directions, self.seed, self.truncation]

    def refresh_after(self, dependency: Any) -> Any:
        """After ``dependency`` succeeds (new model or directions), show the new state here."""
        return compat.then(dependency, bind(view, self.settings, gpu=True), self.view_inputs, self.view_outputs)

    def _wire(self, settings: UISettings, shared: Shared) -> None:
        base = [shared.model, shared.directions, self.seed, self.truncation]
        live = bind(render, settings, gpu=True)
        for slider in [self.truncation, *self.sliders]:
            compat.on_user_change(slider, live, base + self.sliders, [self.image], show_progress="hidden")
        compat.listen(self.seed.change, live, base + self.sliders, [self.image], show_progress="minimal")
        compat.listen(self.dice.click, bind(random_seed, settings), [], [self.seed])
        compat.listen(self.reset_button.click, bind(reset, settings, gpu=True), base, [*self.sliders, self.image])
        compat.listen(
            self.sweep_button.click,
            bind(sweep, settings, gpu=True),
            [*base, self.sweep_pick, self.low, self.high, self.steps],
            [self.sweep_image, self.sweep_file, self.status],
        )
        compat.listen(
            self.gif_button.click,
            bind(export_gif, settings, gpu=True),
            [*base, self.gif_pick, self.low, self.high, self.frames, self.fps],
            [self.gif_preview, self.gif_file, self.status],
        )
        compat.listen(
            self.save_button.click, bind(save_directions, settings), [shared.directions], [self.download, self.status]
        )
        uploaded = compat.listen(
            self.upload_button.click,
            bind(upload_directions, settings, gpu=True),
            [shared.model, shared.directions, self.upload],
            [shared.directions, self.status],
        )
        self.refresh_after(uploaded)
        compat.listen(
            self.rename_button.click,
            bind(rename_direction, settings),
            [shared.directions, self.rename_pick, self.new_name, self.sweep_pick, self.gif_pick],
            [*self.sliders, self.sweep_pick, self.gif_pick, self.rename_pick, self.download, self.status],
        )
