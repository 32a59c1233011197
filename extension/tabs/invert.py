"""The Edit tab's *Your own image* panel: upload a photograph, watch its reconstruction converge, then edit it with any
control (the inverted latents become the tab's starting point, saved as a latents file for download).

The handler is a generator: it yields the prepared image beside the current reconstruction every few steps. The GPU
lock is held for one chunk of steps at a time, never across a yield. A refused image (empty, not an image, too large,
wrong mode) or a cancelled run leaves the current starting point and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import gradio as gr

from .. import compat, outputs
from ..core import errors, render, values
from ..core import inversion as core_inversion
from ..core import start as core_start
from ..feedback import Panel, ok
from ..session import directions_store, generator, session_id
from .common import code, for_display

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared

SPACES = ["default", "z", "w", "w+"]
IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"]
MAX_UI_STEPS = 2000
#: Previews shown during one run.
PREVIEWS = 20


def _side_by_side(target: Any, current: Any) -> str:
    """The prepared image beside the current reconstruction, as a preview PNG: the pictures upscaled for the screen
    first, the labels drawn after (crisp, at the font's size)."""
    pictures = [for_display(p) for p in (target.image, *render.to_pil(current.clamp(-1, 1)))]
    return outputs.preview(render.grid(pictures, columns=2, column_labels=["your image", "reconstruction"]))


def invert_image(
    settings: UISettings,
    spec: str,
    start_key: str,
    upload: Any,
    space: Any,
    steps: Any,
    target_psnr: Any,
    use_encoder: Any,
    crop: Any = "",
    *,
    request: Any = None,
    progress: Any = None,
) -> Iterator[tuple[Any, str, str, Any]]:
    """Invert the uploaded image; yields ``(preview, status, start key, latents file)``: previews while it runs (the
    start unchanged), then the inverted start and its file. ``crop``: ``"L,T,W,H"`` cut out first (empty: none)."""
    path = compat.uploaded_path(upload, confined=settings.public)
    if path is None:
        raise errors.InvalidValueError("choose an image to invert first")
    steps = values.check_count(steps, "the number of steps", 1, MAX_UI_STEPS)
    psnr = None if target_psnr in (None, "", 0) else values.check_number(target_psnr, "the target PSNR", 1.0, 100.0)
    chosen = None if str(space or "default") == "default" else str(space)
    box = core_inversion.parse_crop(crop)
    session = session_id(request)
    with settings.lock:
        model = generator(settings, spec, request=request)
        target = core_inversion.prepare_image(path, model.resolution, name=Path(path).name, crop=box)
        run_settings = core_inversion.InversionSettings(
            space=chosen, steps=steps, target_psnr=psnr, preview_every=max(1, steps // PREVIEWS)
        )
        space_used = run_settings.space_for(model)
        encoder = core_inversion.find_encoder(model) if use_encoder and space_used == "z" else None
        init = encoder.predict(model, target.pixels.to(model.device)) if encoder is not None else None
        inversion = core_inversion.Inversion(model, target, run_settings, init, "encoder" if encoder else None)
        steps_of = inversion.steps(progress)
    while True:
        with settings.lock:
            state = next(steps_of, None)
        if state is None:
            break
        status = f"step {state.step}/{state.total}: PSNR {state.psnr:.1f} dB (best {state.best_psnr:.1f})"
        yield _side_by_side(target, state.image), status, start_key, None
    result = inversion.result
    assert result is not None
    stem = f"{model.identity.name}-inverted"
    file = outputs.output_path(settings, "latents", stem, ".safetensors", session)
    result.save(file, model)
    key = directions_store.put(core_start.load_latents(file, model), session)
    klass = f", class {model.class_names[result.class_index]}" if result.class_index is not None else ""
    notes = f" ({'; '.join(target.notes)})" if target.notes else ""
    status = ok(
        f"inverted into {result.space}: PSNR {result.psnr:.1f} dB, SSIM {result.ssim:.3f} after {result.steps} steps "
        f"({result.stopped}, start: {result.initial}{klass}){notes}; the sliders now edit it; saved as "
        f"{code(outputs.shown(settings, file))}"
    )
    yield _side_by_side(target, result.image), status, key, str(file)


class InvertPanel:
    """Components of the panel (laid out where it is made) and its events (``wire``): the inverted image becomes the
    Edit tab's starting point."""

    def __init__(self) -> None:
        C = compat.component
        with C(gr.Accordion, label="Your own image (inversion)", open=False, elem_id="gan_steering_invert_box"):
            with gr.Row():
                with gr.Column():
                    self.upload = compat.file_input(
                        file_types=IMAGE_TYPES, label="Image to edit", elem_id="gan_steering_invert_upload"
                    )
                    with gr.Row():
                        self.space = C(
                            gr.Dropdown,
                            choices=SPACES,
                            value="default",
                            label="Latent space",
                            elem_id="gan_steering_invert_space",
                        )
                        self.steps = C(
                            gr.Slider,
                            minimum=10,
                            maximum=1000,
                            value=200,
                            step=10,
                            label="Steps (at most)",
                            elem_id="gan_steering_invert_steps",
                        )
                    with gr.Row():
                        self.target = C(
                            gr.Number, value=0, label="Stop at PSNR (dB, 0: never)", elem_id="gan_steering_invert_psnr"
                        )
                        self.use_encoder = C(
                            gr.Checkbox,
                            value=True,
                            label="Start from the trained encoder (if any)",
                            elem_id="gan_steering_invert_encoder",
                        )
                    self.crop = C(
                        gr.Textbox,
                        value="",
                        label="Crop box L,T,W,H in pixels (optional: e.g. around the face; no automatic alignment)",
                        elem_id="gan_steering_invert_crop",
                    )
                    with gr.Row():
                        self.button = C(gr.Button, value="Invert", variant="primary", elem_id="gan_steering_invert")
                        self.cancel = C(gr.Button, value="Cancel", elem_id="gan_steering_invert_cancel")
                with gr.Column():
                    self.preview = compat.image_output(  # its own column titles: no label chip, no toolbar over them
                        label="Your image and its reconstruction",
                        show_label=False,
                        toolbar=False,
                        elem_id="gan_steering_invert_preview",
                    )
                    self.status = C(gr.Markdown, value="", elem_id="gan_steering_invert_status")
                    self.file = C(
                        gr.File,
                        label="Inverted latents (download)",
                        interactive=False,
                        elem_id="gan_steering_invert_file",
                    )

    def wire(self, settings: UISettings, shared: Shared, edit: Any) -> None:
        """Connect the panel once the Edit tab's components all exist (the inverted start refreshes the tab)."""
        panel = [self.upload, self.space, self.steps, self.target, self.use_encoder, self.crop]
        self.panel = Panel("invert", self.status)
        inverted = self.panel.job(
            self.button.click,
            invert_image,
            settings,
            [shared.model, edit.start_key, *panel],
            [self.preview, self.status, edit.start_key, self.file],
            gpu=True,
        )
        edit.refresh_after(inverted)
        self.panel.wire_cancel(self.cancel, settings)
