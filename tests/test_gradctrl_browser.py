"""The Gradient Controls tab in headless Chromium: label a handful of samples, train, an MP4 of the new control plays
in the tab, and the control moves the Edit tab's image. Screenshots go to ``test-artifacts/``. Driven through
``browser.py``."""

from __future__ import annotations

import pytest
from browser import (
    ARTIFACTS,
    IMAGE,
    LOADED,
    app_page,
    changed_after,
    drag,
    export_mp4,
    open_tab,
    settled_src,
    type_into,
    wait_for_sliders,
)

pytestmark = pytest.mark.browser


def test_label_train_and_move_a_gradient_control(tmp_path):
    with app_page(tmp_path, height=1400, timeout_ms=60_000) as page:
        open_tab(page, "Gradient Controls")

        # A grid of samples; clicking two of them lists their seeds, then they are labelled "yes".
        page.click("#gc_show")
        thumbs = page.locator("#gc_grid img")
        thumbs.nth(5).wait_for()
        thumbs.nth(1).click()
        page.keyboard.press("Escape")  # a click may open the preview: close it
        chosen = page.locator("#gc_chosen textarea, #gc_chosen input").first
        page.wait_for_function("el => el.value.includes('1')", arg=chosen.element_handle())
        type_into(page, "gc_chosen", "1, 2, 3")
        page.click("#gc_label")
        page.wait_for_selector("#gc_status :text('labelled set smile')")
        type_into(page, "gc_chosen", "4, 5, 6")
        page.locator("#gc_label_class").get_by_text("no", exact=True).click()
        page.click("#gc_label")
        page.wait_for_selector("#gc_status :text('no: 3')")
        page.screenshot(path=str(ARTIFACTS / "gradctrl-labelled.png"), full_page=True)

        # Train on brightness, warmth and the labelled set (few samples: a browser test, not a benchmark).
        type_into(page, "gc_samples", "200")
        type_into(page, "gc_epochs", "5")
        page.click("#gc_train")
        page.wait_for_selector("#gc_status :text('gradient controls')", timeout=180_000)
        page.wait_for_selector("#gc_accuracy :text('smile')")
        page.screenshot(path=str(ARTIFACTS / "gradctrl-trained.png"), full_page=True)

        # An MP4 of the first control plays in the tab's video preview; the GIF's image preview is hidden.
        export_mp4(
            page,
            format_id="gc_fmt",
            button_id="gc_animate",
            file_id="gc_anim_file",
            video_id="gc_video",
            image_id="gc_animation",
        )
        page.screenshot(path=str(ARTIFACTS / "gradctrl-mp4.png"), full_page=True)

        # The controls are the Edit tab's sliders now: moving the first one changes the image.
        open_tab(page, "Edit")
        wait_for_sliders(page, "brightness")
        settled_src(page)
        changed_after(page, lambda: drag(page, "#gan_steering_strength_0", 0.95), timeout=60_000)
        page.wait_for_function(LOADED, arg=IMAGE)
        page.screenshot(path=str(ARTIFACTS / "gradctrl-edit.png"), full_page=True)
