"""Edit tab: a starting point, one slider per control (any kind), an interpolation towards another seed, live;
sweep grids, GIF/MP4 animations, direction files, latents files and PNGs that carry their recipe."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import compat, outputs
from ..core import controls as core_controls
from ..core import edit as core_edit
from ..core import errors, recipe, values
from ..core import start as core_start
from ..feedback import Panel, bind, ok, warn
from ..session import directions_store, generator, session_id
from . import edit_state as state
from .analyze import trust_beside_sliders
from .common import choice_index, choice_labels, code, counted, for_display, md, previews
from .invert import InvertPanel

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared

NO_DIRECTIONS = state.NO_DIRECTIONS
ANIMATION_FORMATS = ["GIF", "MP4"]


# ----- helpers ----------------------------------------------------------------------------------------------------
def _read(settings: UISettings, inputs: tuple[Any, ...], request: Any, strict: bool) -> tuple[state.View, tuple]:
    """The tab's state (the first ``state.STATE_INPUTS`` inputs: model, set, start, seed … interpolation) as a view of
    core values, and the handler's own inputs after them."""
    spec, *shared = inputs[: state.STATE_INPUTS]
    model = generator(settings, spec, request=request)
    return state.view_of(settings, model, *shared, strict=strict), tuple(inputs[state.STATE_INPUTS :])


def _picture(view: state.View, strengths: list[list[float]], batcher: Any = None) -> str:
    """The edited image as a preview PNG carrying its recipe (download it, replay it, drop it back in); ``batcher``
    lets concurrent live renders of one model share a batch."""
    latents = core_edit.apply(view.model, view.latents(), view.stack, strengths, walk=view.walk)
    image = core_edit.render(view.model, latents, batcher=batcher)[0]
    shown = for_display(image)
    made = recipe.recipe_for(
        view.model, view.start, view.stack, strengths, walk=view.walk, scale=shown.width // image.width
    )
    return outputs.preview(shown, pnginfo=recipe.png_info(made))


def _stack_pickers(view: state.View) -> list[Any]:
    labels = state.pickable(view)
    own = labels[: len(view.current)] if view.current is not None else []
    sweep_value = own[: state.DEFAULT_SWEEP_ROWS] or labels[:1]
    return [compat.update(choices=labels, value=sweep_value), compat.update(choices=labels, value=labels[0])]


def relabel_pickers(settings: UISettings, *inputs: Any, request: Any = None) -> list[Any]:
    """The sweep and animation pickers after the seed, target or interpolation changed (inputs after the state: the
    two pickers' values): the interpolation's label names the seeds, and what was picked stays picked."""
    with settings.lock:
        current, (swept, animated) = _read(settings, inputs, request, strict=False)
    labels = state.pickable(current)
    swept, animated = state.still_picked(labels, swept) or labels[:1], state.still_picked(labels, animated)
    return [compat.update(choices=labels, value=swept), compat.update(choices=labels, value=(animated or labels)[0])]


# ----- handlers: each takes the tab's state inputs first (``EditTab.state_inputs``), then its own ------------------
def view(settings: UISettings, *inputs: Any, request: Any = None) -> list[Any]:
    """Everything that follows the current state: sliders (at their neutral values), image, pickers, walk, info."""
    with settings.lock:
        current, _ = _read(settings, inputs, request, strict=False)
        neutral = state.neutral_strengths(current)
        image = _picture(current, neutral)
    labels = choice_labels(current.current) if current.current is not None else []
    walks = state.walk_choices(current)
    low, high = current.current.range_of(0) if current.current is not None else (-3.0, 3.0)
    unit = f" · a unit of strength: {md(current.current.unit)}" if current.current is not None else ""
    return [
        *state.slider_updates(current.current, settings.max_sliders),
        compat.update(value=neutral[-1][0]),
        image,
        current.info + unit,
        *_stack_pickers(current),
        compat.update(choices=labels, value=labels[0] if labels else None),
        compat.update(value=low),
        compat.update(value=high),
        compat.update(visible=len(walks) > 1, choices=walks, value=current.walk if current.walk in walks else "linear"),
        compat.update(visible=bool(current.model.noise_modes)),
        _class_picker(current),
    ]


def _class_picker(current: state.View) -> dict[str, Any]:
    """The class picker for the model shown (hidden for models without classes)."""
    index = getattr(current.start, "class_index", None)
    fits = index is not None and index < current.model.num_classes
    value = state.class_choice(current.model, index if fits else None)
    choices = state.class_choices(current.model)
    return compat.update(visible=bool(current.model.num_classes), choices=choices, value=value)


def render(settings: UISettings, *inputs: Any, request: Any = None) -> Any:
    """The live image for the current slider values (inputs after the state: the interpolation, then the sliders);
    unchanged while the seed box is being retyped. A set that is no longer in memory is an error the user sees,
    never an image that ignores the sliders."""
    start_key, seed = inputs[2], inputs[3]
    if (seed is None or seed == "") and not start_key:
        return compat.unchanged()
    with settings.lock:
        current, (towards, *sliders) = _read(settings, inputs, request, strict=True)
        strengths = state.strengths_for(current, sliders, towards, settings.max_sliders)
        return _picture(current, strengths, settings.batcher)


def reset(settings: UISettings, *inputs: Any, request: Any = None) -> list[Any]:
    """Every slider back to its neutral value (the one ``view`` starts from) and the image at that point (wired as
    the panel's action: the status, which described the image before, is cleared first)."""
    with settings.lock:
        current, _ = _read(settings, inputs, request, strict=False)
        neutral = state.neutral_strengths(current)
        image = _picture(current, neutral)
    sliders = neutral[0] if current.current is not None else []
    shown = min(len(sliders), settings.max_sliders)
    updates = [compat.update(value=v) for v in sliders[:shown]]
    updates += [compat.update(value=0.0) for _ in range(settings.max_sliders - shown)]
    return [*updates, compat.update(value=neutral[-1][0]), image]


def random_seed(settings: UISettings) -> tuple[int, str]:
    """A new seed (and back to starting from a seed)."""
    return random.SystemRandom().randrange(0, 2**31), ""


def use_seed(settings: UISettings) -> str:
    """Typing a seed starts from it again (drops a loaded latents file)."""
    return ""


def sweep(settings: UISettings, *inputs: Any, request: Any = None, progress: Any = None) -> tuple[Any, str, str]:
    """A grid (inputs after the state: rows, from, to, steps; one row per chosen control, one column per strength)
    from the unedited start; saved as a PNG with its recipe."""
    with settings.lock:
        current, (picked_rows, low, high, steps) = _read(settings, inputs, request, strict=True)
        strengths = core_edit.strengths_between(low, high, steps)
        rows = state.picked(current, picked_rows)
        control = rows[0][0]
        if any(c is not control for c, _ in rows):
            raise errors.InvalidValueError("a sweep grid shows directions of one set: pick rows from one set")
        indices = [i for _, i in rows]
        latents = current.latents([control])
        grid = core_edit.sweep(current.model, latents, control, indices, strengths, progress, walk=current.walk)
        layout = recipe.sweep_layout(control, indices, strengths)
        made = recipe.recipe_for(
            current.model, current.start, [control], [[0.0] * len(control)], walk=current.walk, layout=layout
        )
    path = outputs.output_path(settings, "sweeps", f"{control.model.name}-sweep", ".png", session_id(request))
    recipe.save_png(grid, path, made)
    return str(path), str(path), ok(f"sweep saved as {code(outputs.shown(settings, path))}")


def export_animation(
    settings: UISettings, *inputs: Any, request: Any = None, progress: Any = None
) -> tuple[Any, Any, str, str]:
    """A GIF or MP4 (inputs after the state: control, from, to, frames, fps, format) along one control from the
    unedited start; returns ``(GIF preview, MP4 preview, file, status)``: the preview of the other format is hidden."""
    with settings.lock:
        current, (picked_control, low, high, frames, fps, fmt) = _read(settings, inputs, request, strict=True)
        rate = values.check_number(fps, "frames per second", 0.1, 50)
        suffix = ".mp4" if str(fmt).upper() == "MP4" else ".gif"
        control, index = state.picked(current, picked_control)[0]
        own = control is current.current  # the set's controls go over the sweep grid's From/To, a path 0 → 1
        lo, hi = (low, high) if own else control.range_of(index)
        strengths = core_edit.strengths_between(lo, hi, frames)
        where = "the sweep grid's From/To" if own else "its slider's range"
        saved = f"{suffix[1:].upper()} saved as {{}}, strengths {strengths[0]:g} … {strengths[-1]:g} ({where})"
        path = outputs.output_path(settings, "animations", f"{control.names[index]}", suffix, session_id(request))
        latents = current.latents([control])
        core_edit.animate(
            current.model, latents, control, index, strengths, path, fps=rate, progress=progress, walk=current.walk
        )
    return *previews(path), str(path), ok(saved.format(code(outputs.shown(settings, path))))


def save_directions(settings: UISettings, key: str, *, request: Any = None) -> tuple[str, str]:
    """Write the current set (with its names) to a new file for download."""
    found = directions_store.get(key)
    stem = f"{found.model.name}-{found.method}-{len(found)}"
    path = found.save(outputs.output_path(settings, "directions", stem, ".safetensors", session_id(request)))
    return str(path), ok(f"saved as {code(outputs.shown(settings, path))}")


def upload_directions(
    settings: UISettings, spec: str, key: str, upload: Any, *, request: Any = None
) -> tuple[str, str]:
    """Load a control file (any kind) for the current model; a file that is corrupt or for another model is refused
    and the current set stays. In public mode only files uploaded through the app are read."""
    path = compat.uploaded_path(upload, confined=settings.public)
    if path is None:
        raise errors.InvalidValueError("choose a direction file (.safetensors) to upload first")
    with settings.lock:
        model = generator(settings, spec, request=request)
        loaded = core_controls.load_control(path, model)
    new_key = directions_store.put(loaded, session_id(request))
    return new_key, ok(f"loaded {counted(loaded, loaded.method)} from the file")


def rename_direction(
    settings: UISettings,
    key: str,
    picked_name: Any,
    new_name: Any,
    *,
    request: Any = None,
) -> list[Any]:
    """Rename one control: store, slider label, pickers and the downloadable file all follow."""
    found = directions_store.get(key)
    index = choice_index(picked_name, found)
    renamed = found.renamed(index, str(new_name or ""))
    directions_store.replace(key, renamed)
    path, _ = save_directions(settings, key, request=request)
    labels = choice_labels(renamed)
    shown = min(len(renamed), settings.max_sliders)
    sliders = [compat.update(label=renamed.label(i)) if i == index else compat.unchanged() for i in range(shown)]
    sliders += [compat.unchanged() for _ in range(settings.max_sliders - shown)]
    return [
        *sliders,
        compat.update(choices=labels, value=labels[index]),
        path,
        ok(f"direction {index} is now {md(renamed.names[index])}; the file below has the new name"),
    ]


def upload_latents(settings: UISettings, spec: str, upload: Any, *, request: Any = None) -> tuple[str, str]:
    """Start from a latents file (checked against the model); returns ``(start key, status)``."""
    path = compat.uploaded_path(upload, confined=settings.public)
    if path is None:
        raise errors.InvalidValueError("choose a latents file (.safetensors) to upload first")
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = core_start.load_latents(path, model)
    if len(found.stored) != 1:
        raise errors.InvalidValueError(f"the file holds {len(found.stored)} latents; an edit starts from one")
    return directions_store.put(found, session_id(request)), ok("starting from the latents file")


def save_start(
    settings: UISettings,
    spec: str,
    start_key: str,
    seed: Any,
    truncation: Any,
    klass: Any,
    noise: Any,
    *,
    request: Any = None,
) -> tuple[str, str]:
    """The current starting point as a latents file (with the model identity) for download."""
    with settings.lock:
        model = generator(settings, spec, request=request)
        start = state.starting_point(model, start_key, seed, truncation, klass, noise)
        latents = start.latents(model)
    path = outputs.output_path(settings, "latents", f"{model.identity.name}-start", ".safetensors", session_id(request))
    core_start.save_latents(latents, model, path, source=start.describe())
    return str(path), ok(f"starting point saved as {code(outputs.shown(settings, path))}")


def restore(
    settings: UISettings, spec: str, key: str, image: Any, start_key: str = "", *, request: Any = None
) -> list[Any]:
    """Read a PNG's recipe (PNG info) and restore its seed, truncation, class, noise, set, sliders, interpolation and
    walk.

    The recipe's set is the current one when its sha256 matches, else it is recomputed with the recorded method
    and parameters (a cached basis: instant); an image without a recipe gets a clear message. An image that started
    from a latents file (an inverted photo, a saved start) restores its set and sliders when that file is the
    current starting point (same latents sha256); otherwise the message says where to load it. The tab holds one
    set: a recipe with more (a CLI edit with several files) restores the first and says the image will differ."""
    path = compat.uploaded_path(image, confined=settings.public)
    if path is None:
        raise errors.InvalidValueError("drop a PNG saved by gan-steering first")
    made = recipe.read_recipe(path)
    with settings.lock:
        model = generator(settings, spec, request=request)
        if made.model.get("sha256") != model.identity.sha256:
            raise errors.DirectionsMismatchError(
                f"this image was made with {made.model.get('name')!r}; load that model ({made.model.get('spec')}) first"
            )
        start = made.start
        from_file = "seed" not in start
        if from_file:
            loaded = directions_store.find(start_key) if start_key else None
            if loaded is None or loaded.describe().get("latents_sha256") != start.get("latents_sha256"):
                named = f" ({md(start['file'])})" if start.get("file") else ""
                raise errors.InvalidValueError(
                    f"this image starts from a latents file{named}: upload it under *Starting point (latents file)* "
                    "(or invert the photo again), then drop this PNG again to restore its sliders"
                )
        else:
            recipe.start_of(made, model).latents(model)  # the seed, ψ and class checked against the model
        path_entry = next((c for c in made.controls if _is_the_tabs_interpolation(c, start)), None)
        entries = [c for c in made.controls if c is not path_entry]
        current = directions_store.find(key)
        new_key = key
        if entries:
            matched = current if current is not None and current.content_hash() == entries[0]["sha256"] else None
            if matched is None:
                try:
                    matched = recipe.controls_of(recipe.Recipe(made.model, start, entries[:1]), model)[0]
                except recipe.ControlsNotFoundError as exc:
                    named = f" ({md(exc.file)})" if exc.file else ""
                    raise errors.DirectionsMismatchError(
                        f"the {exc.method} controls of this image{named} cannot be recomputed here: upload their "
                        "direction file under *Direction file* (Load uploaded file), then drop this PNG again"
                    ) from exc
            core_edit.strength_vector(matched, entries[0]["strengths"])  # as many strengths as controls
            if matched is not current:
                new_key = directions_store.put(matched, session_id(request))
    strengths = entries[0]["strengths"] if entries else None  # an image made without a set: sliders at neutral
    restored = directions_store.find(new_key) if new_key else None
    sliders = state.slider_updates(restored, settings.max_sliders, strengths if restored is not None else None)
    walks = list(restored.walks) if restored is not None else ["linear"]
    walk = compat.update(visible=len(walks) > 1, choices=walks, value=made.walk if made.walk in walks else "linear")
    status = ok(f"restored: {md(made.summary())}")
    if len(entries) > 1:
        status = warn(
            f"restored {md(made.summary())} — but only its first set of controls: the Edit tab holds one set, so this "
            f"image differs from the PNG without the other {len(entries) - 1} (`python -m steering replay` renders "
            "the whole recipe)"
        )
    if from_file:  # the starting point stays the loaded file: the seed, ψ, class and noise boxes are left alone
        target, mode, towards = _interpolation_of(path_entry, 0)
        unchanged = [compat.unchanged() for _ in range(4)]
        return [new_key, start_key, *unchanged, target, mode, towards, *sliders, walk, status]
    noise = (start.get("noise") or {}).get("mode", "const")
    target, mode, towards = _interpolation_of(path_entry, start["seed"])
    return [
        new_key,
        "",
        start["seed"],
        start.get("truncation", 1.0),
        state.class_choice(model, start.get("class_index") if model.num_classes else None),
        noise,
        target,
        mode,
        towards,
        *sliders,
        walk,
        status,
    ]


def _is_the_tabs_interpolation(entry: dict[str, Any], start: dict[str, Any]) -> bool:
    """Whether a recipe's control entry is the Edit tab's own interpolation (from the start towards one seed), not a
    path file that happens to interpolate (a CLI edit may start at seed 0 and move along a path from seed 3 to 7)."""
    if entry.get("method") != "interpolation":
        return False
    params = entry.get("params") or {}
    if "seed" not in start:
        return "to_seed" in params
    seeds = params.get("seeds")
    return isinstance(seeds, list) and len(seeds) == 2 and seeds[0] == start["seed"]


def _interpolation_of(entry: dict[str, Any] | None, seed: int) -> tuple[int, str, float]:
    """``(target seed, interpolation, amount)`` of a recipe's interpolation entry (none: towards the next seed)."""
    if entry is None:
        return seed + 1, "slerp", 0.0
    params = entry.get("params") or {}
    seeds, mode = params.get("seeds"), params.get("interpolation", "slerp")
    if "to_seed" in params:  # from a latents file towards a seed's sample (``edit_state.interpolation_towards``)
        seeds = [params["to_seed"]]
    if not isinstance(seeds, list) or not seeds or mode not in ("slerp", "linear") or len(entry["strengths"]) != 1:
        raise recipe.RecipeError("the image's interpolation is malformed: it cannot be restored")
    return values.check_seed(seeds[-1]), mode, values.check_strength(entry["strengths"][0], "the interpolation")


# ----- layout -----------------------------------------------------------------------------------------------------
class EditTab:
    """Components and events of the Edit tab; ``refresh_after`` re-reads the shared state after another event."""

    def __init__(self, settings: UISettings, shared: Shared) -> None:
        self.settings, self.shared = settings, shared
        C = compat.component
        self.start_key = gr.State("")
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Row():
                    self.seed = compat.whole_number(value=0, label="Seed", elem_id="gan_steering_seed", scale=3)
                    self.dice = C(gr.Button, value="Random seed", elem_id="gan_steering_random_seed", scale=1)
                self.truncation = compat.live_slider(
                    minimum=0.05,
                    maximum=1.0,
                    value=1.0,
                    step=0.05,
                    label="Truncation ψ",
                    elem_id="gan_steering_truncation",
                )
                self.klass = C(
                    gr.Dropdown,
                    choices=[state.SEED_CLASS],
                    value=state.SEED_CLASS,
                    label="Class",
                    visible=False,
                    elem_id="gan_steering_class",
                )
                with gr.Row():
                    self.noise = C(
                        gr.Dropdown,
                        choices=["const", "random", "none"],
                        value="const",
                        label="Noise",
                        visible=False,
                        elem_id="gan_steering_noise",
                    )
                    self.walk = C(
                        gr.Radio,
                        choices=["linear", "great-circle"],
                        value="linear",
                        label="Walk (great circle: keep ‖z‖)",
                        visible=False,
                        elem_id="gan_steering_walk",
                    )
                self.reset_button = C(gr.Button, value="Reset sliders", elem_id="gan_steering_reset")
                self.sliders = [
                    compat.live_slider(
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
                self.trust_wanted = C(
                    gr.Checkbox,
                    value=False,
                    label="Show how far each direction can be trusted here (Local Basis)",
                    elem_id="gan_steering_trust_wanted",
                )
                self.trust_line = C(gr.Markdown, value="", elem_id="gan_steering_trust")
                with C(
                    gr.Accordion,
                    label="Interpolation towards another seed",
                    open=True,
                    elem_id="gan_steering_interpolation_box",
                ):
                    with gr.Row():
                        self.target = compat.whole_number(
                            value=1, label="Target seed", elem_id="gan_steering_target_seed"
                        )
                        self.mode = C(
                            gr.Radio,
                            choices=["slerp", "linear"],
                            value="slerp",
                            label="Interpolation",
                            elem_id="gan_steering_interpolation",
                        )
                    self.towards = compat.live_slider(
                        minimum=0.0,
                        maximum=1.0,
                        value=0.0,
                        step=0.01,
                        label="Towards the target seed",
                        elem_id="gan_steering_towards",
                    )
            with gr.Column(scale=1):
                self.image = compat.image_output(
                    label="Edited image (the PNG carries its recipe)", height=400, elem_id="gan_steering_image"
                )
                self.info = C(gr.Markdown, value=NO_DIRECTIONS, elem_id="gan_steering_directions_info")
                self.status = C(gr.Markdown, value="", elem_id="gan_steering_edit_status")
                with C(
                    gr.Accordion,
                    label="PNG info: drop an image to restore its recipe",
                    open=False,
                    elem_id="gan_steering_png_info_box",
                ):
                    self.png = compat.file_input(
                        file_types=[".png"], label="PNG saved by gan-steering", elem_id="gan_steering_png_info"
                    )

        with C(gr.Accordion, label="Sweep grid", open=False, elem_id="gan_steering_sweep_box"):
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
            self.sweep_image = compat.image_output(  # the grid has its own row and column titles
                label="Sweep grid (from the unedited image)",
                show_label=False,
                toolbar=False,
                elem_id="gan_steering_sweep_image",
            )
            self.sweep_file = C(gr.File, label="Sweep grid file", interactive=False, elem_id="gan_steering_sweep_file")

        with C(gr.Accordion, label="Animation (GIF or MP4)", open=False, elem_id="gan_steering_gif_box"):
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
                self.format = C(
                    gr.Radio,
                    choices=ANIMATION_FORMATS,
                    value="GIF",
                    label="Format",
                    elem_id="gan_steering_animation_format",
                )
            with gr.Row():
                self.gif_button = C(gr.Button, value="Export animation", elem_id="gan_steering_gif")
                self.cancel_button = C(gr.Button, value="Cancel", elem_id="gan_steering_edit_cancel")
            with gr.Row():
                self.gif_preview = C(
                    gr.Image,
                    type="filepath",
                    interactive=False,
                    label="GIF preview",
                    elem_id="gan_steering_gif_preview",
                )
                self.mp4_preview = compat.video_output(
                    label="MP4 preview", height=300, elem_id="gan_steering_mp4_preview"
                )
                self.gif_file = C(gr.File, label="Animation file", interactive=False, elem_id="gan_steering_gif_file")

        with C(gr.Accordion, label="Starting point (latents file)", open=False, elem_id="gan_steering_start_box"):
            with gr.Row():
                with gr.Column():
                    self.save_start_button = C(
                        gr.Button, value="Save starting point", elem_id="gan_steering_save_start"
                    )
                    self.start_file = C(
                        gr.File, label="Latents file (download)", interactive=False, elem_id="gan_steering_start_file"
                    )
                with gr.Column():
                    self.start_upload = compat.file_input(
                        file_types=[".safetensors"], label="Latents file (upload)", elem_id="gan_steering_start_upload"
                    )
                    self.start_button = C(
                        gr.Button, value="Start from the uploaded file", elem_id="gan_steering_load_start"
                    )

        self.invert_panel = InvertPanel()
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

        self.invert_panel.wire(settings, shared, self)
        self._wire(settings, shared)
        panel = self.invert_panel
        #: What shows a result made from the current model (blanked when another model is loaded).
        self.results = [self.status, self.sweep_image, self.sweep_file, self.gif_preview, self.mp4_preview]
        self.results += [self.gif_file, self.start_file, panel.preview, panel.status, panel.file]

    # The same lists are used to wire events and, in tests, to read handler results.
    @property
    def state_inputs(self) -> list[Any]:
        """What every handler reads: model, set, starting point and the walk settings."""
        return [
            self.shared.model,
            self.shared.directions,
            self.start_key,
            self.seed,
            self.truncation,
            self.klass,
            self.noise,
            self.walk,
            self.target,
            self.mode,
        ]

    @property
    def view_outputs(self) -> list[Any]:
        return [
            *self.sliders,
            self.towards,
            self.image,
            self.info,
            self.sweep_pick,
            self.gif_pick,
            self.rename_pick,
            self.low,
            self.high,
            self.walk,
            self.noise,
            self.klass,
        ]

    def refresh_after(self, dependency: Any) -> Any:
        """After ``dependency`` succeeds (new model, set or start), show the new state here (then the sliders' trust,
        where it is wanted)."""
        shown = compat.then(dependency, bind(view, self.settings, gpu=True), self.state_inputs, self.view_outputs)
        self._trust_after(shown)
        return shown

    def _trust_after(self, dependency: Any) -> None:
        trust = bind(trust_beside_sliders, self.settings, gpu=True, silent=1)
        compat.then(dependency, trust, [*self.state_inputs, self.trust_wanted], [self.trust_line])

    def _wire(self, settings: UISettings, shared: Shared) -> None:
        base = self.state_inputs
        assert len(base) == state.STATE_INPUTS, "the handlers read the state inputs by position"
        live = bind(render, settings, gpu=True)
        moved_truncation: list[Any] = []
        for slider in [self.truncation, self.towards, *self.sliders]:
            deps = compat.on_user_change(
                slider,
                live,
                [*base, self.towards, *self.sliders],
                [self.image],
                show_progress="hidden",
                concurrency_limit=settings.live_concurrency,  # all users' slider moves share this limit
                concurrency_id="gan_steering_live" if settings.live_concurrency else None,
            )
            if slider is self.truncation:
                moved_truncation = deps
        typed = compat.listen(self.seed.change, bind(use_seed, settings), [], [self.start_key])
        compat.then(typed, live, [*base, self.towards, *self.sliders], [self.image], show_progress="minimal")
        self._trust_after(typed)
        for choice in (self.target, self.klass, self.noise, self.walk, self.mode):
            compat.listen(choice.change, live, [*base, self.towards, *self.sliders], [self.image])
        # The image's render reports a bad box once; what else reads the same boxes stays quiet about it.
        relabel = bind(relabel_pickers, settings, silent=2)
        pickers = [self.sweep_pick, self.gif_pick]
        compat.then(typed, relabel, [*base, *pickers], pickers, show_progress="hidden")
        for choice in (self.target, self.mode):
            compat.listen(choice.change, relabel, [*base, *pickers], pickers, show_progress="hidden")
        trust = bind(trust_beside_sliders, settings, gpu=True, silent=1)
        for moved in (self.trust_wanted.change, self.klass.change, self.noise.change):
            compat.listen(moved, trust, [*base, self.trust_wanted], [self.trust_line], show_progress="minimal")
        for rendered in moved_truncation:  # after the image (a refused ψ is reported by the render alone)
            compat.then(rendered, trust, [*base, self.trust_wanted], [self.trust_line], show_progress="minimal")
        compat.listen(self.dice.click, bind(random_seed, settings), [], [self.seed, self.start_key])
        self.panel = panel = Panel("edit", self.status)
        panel.action(
            self.reset_button.click, reset, settings, base, [*self.sliders, self.towards, self.image], gpu=True
        )
        panel.job(
            self.sweep_button.click,
            sweep,
            settings,
            [*base, self.sweep_pick, self.low, self.high, self.steps],
            [self.sweep_image, self.sweep_file, self.status],
            gpu=True,
        )
        panel.job(
            self.gif_button.click,
            export_animation,
            settings,
            [*base, self.gif_pick, self.low, self.high, self.frames, self.fps, self.format],
            [self.gif_preview, self.mp4_preview, self.gif_file, self.status],
            gpu=True,
        )
        panel.wire_cancel(self.cancel_button, settings)
        panel.action(
            self.save_button.click, save_directions, settings, [shared.directions], [self.download, self.status]
        )
        uploaded = panel.action(
            self.upload_button.click,
            upload_directions,
            settings,
            [shared.model, shared.directions, self.upload],
            [shared.directions, self.status],
            gpu=True,
        )
        self.refresh_after(uploaded)
        panel.action(
            self.rename_button.click,
            rename_direction,
            settings,
            [shared.directions, self.rename_pick, self.new_name],
            [*self.sliders, self.rename_pick, self.download, self.status],
        )
        started = panel.action(
            self.start_button.click,
            upload_latents,
            settings,
            [shared.model, self.start_upload],
            [self.start_key, self.status],
            gpu=True,
        )
        self.refresh_after(started)
        panel.action(
            self.save_start_button.click,
            save_start,
            settings,
            [shared.model, self.start_key, self.seed, self.truncation, self.klass, self.noise],
            [self.start_file, self.status],
            gpu=True,
        )
        restored = panel.action(
            self.png.upload,
            restore,
            settings,
            [shared.model, shared.directions, self.png, self.start_key],
            [
                shared.directions,
                self.start_key,
                self.seed,
                self.truncation,
                self.klass,
                self.noise,
                self.target,
                self.mode,
                self.towards,
                *self.sliders,
                self.walk,
                self.status,
            ],
            gpu=True,
        )
        compat.then(restored, live, [*base, self.towards, *self.sliders], [self.image])
        self._trust_after(restored)
