"""spaces_app.py in headless Chromium: the page opens ready, sliders (dragged or typed), the interpolation and Reset
change the image, an edited PNG dropped into *PNG info* brings its sliders and image back, the sliders' trust shows
when asked, an MP4 is exported, plays in the page and decodes, the
Analyze tab's local basis and ICT walk (an MP4 that plays), Discover works, and loading another model blanks the
previous model's results.

Driven through ``browser.py`` (Debian's Chromium and the ``playwright`` package; never downloads a browser).
Screenshots go to ``test-artifacts/`` at the repository root. ``GAN_STEERING_BROWSER_PYTHON`` runs the app under
another interpreter (e.g. a venv with gradio 3.41.2) while the browser is driven from this one.
"""

from __future__ import annotations

import pytest
from browser import (
    ARTIFACTS,
    IMAGE,
    LOADED,
    app_page,
    changed_after,
    choose,
    drag,
    export_mp4,
    gradio_major,
    open_accordion,
    open_tab,
    settled_src,
    wait_for_sliders,
)

pytestmark = pytest.mark.browser


def fetched(page, src: str) -> bytes:
    """The bytes behind an image's ``src`` (Gradio 3 inlines them as a ``data:`` URL)."""
    import base64

    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    return page.request.get(src).body()


def same_pixels(a: bytes, b: bytes) -> bool:
    import io

    import numpy as np
    from PIL import Image

    return np.array_equal(np.asarray(Image.open(io.BytesIO(a))), np.asarray(Image.open(io.BytesIO(b))))


def test_the_page_opens_ready_and_every_control_moves_the_image(tmp_path):
    with app_page(tmp_path) as page:
        # The first minute: an image and ready sliders, without a click.
        wait_for_sliders(page, "sefa 0")
        page.screenshot(path=str(ARTIFACTS / "browser-open.png"), full_page=True)
        base = settled_src(page)

        # Dragging a slider and typing a value into its number box both update the image, about as fast.
        dragged = changed_after(page, lambda: drag(page, "#gan_steering_strength_0", 0.95))
        settled_src(page)
        if gradio_major() >= 4:  # 3.x sliders report a typed value only on the next release (see compat)
            number = page.locator("#gan_steering_strength_1 input[type=number]")

            def type_value() -> None:
                number.fill("-2.5")
                number.press("Enter")

            typed = changed_after(page, type_value)
            print(f"\nnew image after a drag: {dragged * 1000:.0f} ms, after a typed value: {typed * 1000:.0f} ms")
            assert typed < max(2.0, 4 * dragged)
        page.wait_for_function(LOADED, arg=IMAGE)  # the new picture really displays, not a broken link
        page.screenshot(path=str(ARTIFACTS / "browser-edit.png"), full_page=True)

        # The interpolation slider (a path control) moves the image towards the target seed.
        changed_after(page, lambda: drag(page, "#gan_steering_towards", 0.9))
        settled_src(page)

        edited = settled_src(page)
        recipe_png = tmp_path / "edited.png"  # the preview PNG carries its recipe
        recipe_png.write_bytes(fetched(page, edited))

        # Reset puts every slider back and shows the unedited image again (same pixels, same file).
        page.click("#gan_steering_reset")
        reset_done = (
            "([sel, base, num]) => { const i = document.querySelector(sel); const n = document.querySelector(num);"
            " return !!i && i.src === base && !!n && Number(n.value) === 0; }"
        )
        page.wait_for_function(reset_done, arg=[IMAGE, base, "#gan_steering_strength_0 input[type=number]"])

        # The edited PNG dropped into *PNG info* brings its sliders back, and the image it shows again.
        open_accordion(page, "gan_steering_png_info_box")
        page.locator("#gan_steering_png_info input[type=file]").set_input_files(str(recipe_png))
        page.wait_for_selector("#gan_steering_edit_status :text('restored')", timeout=30_000)
        page.wait_for_function("([sel, base]) => document.querySelector(sel)?.src !== base", arg=[IMAGE, base])
        restored = fetched(page, settled_src(page))
        assert same_pixels(restored, recipe_png.read_bytes())
        page.screenshot(path=str(ARTIFACTS / "browser-restored.png"), full_page=True)
        page.click("#gan_steering_reset")
        page.wait_for_function(reset_done, arg=[IMAGE, base, "#gan_steering_strength_0 input[type=number]"])

        # Asked for, each slider's trust at this starting point appears under the sliders.
        page.locator("#gan_steering_trust_wanted input[type=checkbox]").check()
        page.wait_for_selector("#gan_steering_trust :text('Trust here')")
        assert page.locator("#gan_steering_trust").first.inner_text().count("sefa") >= 2

        # An MP4 of the first direction: exported, downloaded, decoded to the expected number of frames.
        open_accordion(page, "gan_steering_gif_box")
        link = export_mp4(  # it plays in the page; the GIF's preview is hidden
            page,
            format_id="gan_steering_animation_format",
            button_id="gan_steering_gif",
            file_id="gan_steering_gif_file",
            video_id="gan_steering_mp4_preview",
            image_id="gan_steering_gif_preview",
        )
        page.screenshot(path=str(ARTIFACTS / "browser-mp4.png"), full_page=True)
        video = page.request.get(link.get_attribute("href") or "")
        assert video.ok
        target = ARTIFACTS / "browser-walk.mp4"
        target.write_bytes(video.body())
        import imageio_ffmpeg

        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(target))
        assert frames == 2 * 24 - 2  # 24 frames forward, then back without repeating the ends

        # The Analyze tab: the local basis at the same starting point, then an ICT walk as an MP4 that plays there.
        open_tab(page, "Analyze")
        page.click("#gan_steering_lb_basis")
        page.wait_for_selector("#gan_steering_lb_summary :text('Local basis of')", timeout=60_000)
        export_mp4(
            page,
            format_id="gan_steering_lb_format",
            button_id="gan_steering_lb_walk",
            file_id="gan_steering_lb_file",
            video_id="gan_steering_lb_video",
            image_id="gan_steering_lb_preview",
        )
        page.screenshot(path=str(ARTIFACTS / "browser-analyze-mp4.png"), full_page=True)

        # Discover still works from its tab.
        open_tab(page, "Discover")
        page.click("#gan_steering_discover")
        page.wait_for_selector("#gan_steering_discover_status :text('sefa directions for')")
        page.screenshot(path=str(ARTIFACTS / "browser-discover.png"), full_page=True)

        # Discovering on the same model keeps the Edit tab's results; loading another model blanks them.
        mp4 = "#gan_steering_gif_file a[href*='.mp4']"
        open_tab(page, "Edit")
        page.wait_for_selector(mp4, state="attached")
        open_tab(page, "Discover")
        choose(page, "gan_steering_model", "dcgan-eyes")
        page.click("#gan_steering_load_model")
        page.wait_for_selector("#gan_steering_model_summary :text('dcgan-eyes')")
        open_tab(page, "Edit")
        page.wait_for_selector(mp4, state="detached", timeout=20_000)
        page.wait_for_function("() => !document.querySelector('#gan_steering_mp4_preview video[src]')")
