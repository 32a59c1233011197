"""The Edit tab's own-image panel: its handler called directly (previews stream, the inverted image becomes the
starting point every control edits, bad uploads change nothing, Cancel keeps nothing), and in headless Chromium with
scikit-image's astronaut (a screenshot with the inverted photograph and one edit goes to ``test-artifacts/``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

gr = pytest.importorskip("gradio")

import test_ui_callbacks as callbacks  # noqa: E402  (the Edit tab's state inputs, kept in one place)

from extension.feedback import bind  # noqa: E402
from extension.session import directions_store  # noqa: E402
from extension.settings import UISettings  # noqa: E402
from extension.tabs import edit as edit_tab  # noqa: E402
from extension.tabs import invert as invert_tab  # noqa: E402
from steering.errors import (  # noqa: E402
    CancelledError,
    DirectionsMismatchError,
    ImageInputError,
    InvalidValueError,
    ResourceLimitError,
)
from steering.methods import sefa  # noqa: E402
from steering.start import LatentsFile  # noqa: E402

MODEL, state, pixels = callbacks.MODEL, callbacks.state, callbacks.pixels


@pytest.fixture()
def settings(tmp_path, dcgan):
    return UISettings(output_dir=tmp_path / "outputs", device="cpu", default_model=MODEL, max_sliders=6)


@pytest.fixture()
def key(dcgan):
    """A SeFa set in the store, as the Discover tab leaves it."""
    return directions_store.put(sefa(dcgan, num_directions=4))


def face_png(dcgan, path: Path, seed: int = 5) -> Path:
    with torch.no_grad():
        image = dcgan.synthesize(dcgan.sample(1, seed=seed))[0].clamp(-1, 1)
    Image.fromarray(image.permute(1, 2, 0).add(1).mul(127.5).round().byte().numpy()).save(path)
    return path


def invert(settings, upload, steps=30, start_key="", progress=None, spec=MODEL, crop=""):
    return list(
        invert_tab.invert_image(
            settings, spec, start_key, str(upload), "default", steps, 0, True, crop, progress=progress
        )
    )


def test_the_panel_streams_previews_and_the_inversion_becomes_the_start(settings, key, dcgan, tmp_path):
    upload = face_png(dcgan, tmp_path / "face.png")
    runs = invert(settings, upload, steps=40, crop=" 2, 2, 60,60 ")
    previews, (final, status, start_key, file) = runs[:-1], runs[-1]
    assert len(previews) >= 5 and all(p[2] == "" and p[3] is None for p in previews)  # the start unchanged meanwhile
    assert "inverted into z" in status and "PSNR" in status and Path(file).is_file()
    assert "cropped to 60×60 at (2, 2)" in status
    assert Path(file).parent == settings.output_dir / "latents"
    found = directions_store.get(start_key)
    assert isinstance(found, LatentsFile) and found.source["image"] == "face.png"
    # the Edit tab now shows the reconstruction, and every slider edits it
    plain = pixels(edit_tab.render(settings, MODEL, *state(key, start_key=start_key), 0.0))
    moved = pixels(edit_tab.render(settings, MODEL, *state(key, start_key=start_key), 0.0, 3.0))
    assert np.abs(plain - moved).mean() > 2
    with torch.no_grad():
        expected = dcgan.synthesize(found.latents(dcgan))[0].add(1).mul(127.5).round().clamp(0, 255)
    shown = Image.fromarray(plain.astype(np.uint8)).resize((64, 64), Image.Resampling.NEAREST)
    assert np.abs(np.asarray(shown, dtype=np.int16) - expected.permute(1, 2, 0).numpy()).max() <= 1
    # the preview's first frame differs from its last: the reconstruction converged in front of the user
    assert pixels(previews[0][0]).tolist() != pixels(final).tolist()


def test_bad_uploads_are_clear_errors_and_change_nothing(settings, dcgan, tmp_path):
    before = len(directions_store)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("hello")
    huge = tmp_path / "huge.png"
    from test_inversion import huge_png

    huge.write_bytes(huge_png(20000, 20000))
    for upload, error, words in (
        (empty, ImageInputError, "empty"),
        (text, ImageInputError, "not an image"),
        (huge, ResourceLimitError, "megapixels"),
    ):
        with pytest.raises(error, match=words):
            invert(settings, upload)
        with pytest.raises(gr.Error, match=words):  # the user sees one line, the app stays up
            list(bind(invert_tab.invert_image, settings)(MODEL, "", str(upload), "default", 10, 0, True))
    with pytest.raises(InvalidValueError, match="choose an image"):
        list(invert_tab.invert_image(settings, MODEL, "", None, "default", 10, 0, True))
    face = face_png(dcgan, tmp_path / "f.png")
    with pytest.raises(InvalidValueError, match="latent spaces"):
        list(invert_tab.invert_image(settings, MODEL, "", str(face), "w+", 10, 0, True))
    bad_crops = (("1,2,3", "four whole numbers"), ("a,b,c,d", "four whole numbers"), ("0,0,65,10", "not inside"))
    for crop, words in bad_crops:
        with pytest.raises(InvalidValueError, match=words):
            invert(settings, face, crop=crop)
    public = UISettings(output_dir=settings.output_dir, device="cpu", default_model=MODEL, public=True)
    with pytest.raises(InvalidValueError, match="not uploaded through this page"):
        invert(public, face)
    # Cancel: nothing kept
    calls = []

    def cancelling(done, total):
        calls.append(done)
        if done == 3:
            raise CancelledError("cancelled: nothing was kept")

    with pytest.raises(CancelledError):
        invert(settings, face, progress=cancelling)
    assert calls[-1] == 3
    assert not (settings.output_dir / "latents").exists() and len(directions_store) == before


def test_inverted_latents_of_another_model_are_refused(settings, dcgan, tmp_path):
    *_, (_, _, _, file) = invert(settings, face_png(dcgan, tmp_path / "face.png"), steps=3)
    with pytest.raises(DirectionsMismatchError, match="made for model"):
        edit_tab.upload_latents(settings, "dcgan-eyes", file)


# ----- the browser ---------------------------------------------------------------------------------------------------
@pytest.mark.browser
def test_a_photograph_is_inverted_and_edited_in_the_browser(tmp_path):
    from browser import ARTIFACTS, CHANGED, IMAGE, app_page, drag, open_accordion, settled_src, wait_for_sliders

    data = pytest.importorskip("skimage.data", reason="scikit-image is a test dependency (dev.sh)")
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    with app_page(tmp_path, height=1400, timeout_ms=60_000) as page:
        wait_for_sliders(page, "sefa 0")
        open_accordion(page, "gan_steering_invert_box")
        page.locator("#gan_steering_invert_upload input[type=file]").set_input_files(str(photo))
        page.wait_for_selector("#gan_steering_invert_upload :text('astronaut')")  # uploaded (slow on a busy machine)
        steps = page.locator("#gan_steering_invert_steps input[type=number]")
        steps.fill("80")
        steps.press("Enter")
        before = page.get_attribute(IMAGE, "src")
        page.locator("#gan_steering_invert").click()
        page.wait_for_function(
            "() => (document.querySelector('#gan_steering_invert_status') || {}).innerText?.includes('inverted')",
            timeout=300_000,
        )
        page.wait_for_function(CHANGED, arg=[IMAGE, before])
        inverted = settled_src(page)
        status = page.locator("#gan_steering_invert_status").first.inner_text()  # gradio 3: the id twice
        assert "PSNR" in status
        drag(page, "#gan_steering_strength_0", 0.9)
        deadline = time.monotonic() + 30
        while page.get_attribute(IMAGE, "src") == inverted and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert page.get_attribute(IMAGE, "src") != inverted, "the slider did not edit the inverted photograph"
        settled_src(page)
        page.locator("#gan_steering_invert_box").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "inversion-astronaut-edited.png"), full_page=True)
        print(f"\nbrowser: {status}")


def test_the_preview_labels_are_drawn_after_upscaling_and_not_clipped():
    """The pictures are upscaled for the screen first; the labels are then drawn at the font's size, in a band as
    tall as its lines (not a 64 px grid's band blown up, pixelated and cut)."""
    from types import SimpleNamespace

    from steering.glyphs import line_height

    target = SimpleNamespace(image=Image.new("RGB", (64, 64), "grey"))
    preview = Image.open(invert_tab._side_by_side(target, torch.zeros(1, 3, 64, 64)))
    band = line_height() + 4
    assert preview.size[1] == band + 256 + 2 and preview.size[0] >= 2 * 256
    ink = np.asarray(preview.convert("L"))[:band] < 200
    assert ink.any() and not ink[0].any() and not ink[-1].any()  # labels inside the band, none cut
