"""The Gradient Controls tab in headless Chromium: label a handful of samples, train, and move the new control in
the Edit tab (the image changes). Screenshots go to ``test-artifacts/``. Driven like ``test_browser.py``."""

from __future__ import annotations

import re

import pytest
from appserver import running_app
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, IMAGE, LOADED, changed_after, drag, settled_src

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's browser with `apt-get install -y chromium`")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with running_app(tmp_path_factory.mktemp("space")) as app:
        yield app.url


def _tab(page, name: str) -> None:
    tabs = page.locator("#gan_steering_tabs [role=tab]")  # Gradio 4+; plain buttons in 3.x
    if tabs.count() == 0:
        tabs = page.locator("#gan_steering_tabs button")
    tabs.filter(has_text=re.compile(rf"^\s*{name}\s*$")).first.click()


def _type(page, elem_id: str, text: str) -> None:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input").first
    box.fill(text)
    box.press("Tab")


def test_label_train_and_move_a_gradient_control(app_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(60_000)
            page.goto(app_url, wait_until="domcontentloaded")
            page.wait_for_function(LOADED, arg=IMAGE)
            _tab(page, "Gradient Controls")

            # A grid of samples; clicking two of them lists their seeds, then they are labelled "yes".
            page.click("#gc_show")
            thumbs = page.locator("#gc_grid img")
            thumbs.nth(5).wait_for()
            thumbs.nth(1).click()
            page.keyboard.press("Escape")  # a click may open the preview: close it
            chosen = page.locator("#gc_chosen textarea, #gc_chosen input").first
            page.wait_for_function("el => el.value.includes('1')", arg=chosen.element_handle())
            _type(page, "gc_chosen", "1, 2, 3")
            page.click("#gc_label")
            page.wait_for_selector("#gc_status :text('labelled set smile')")
            _type(page, "gc_chosen", "4, 5, 6")
            page.locator("#gc_label_class").get_by_text("no", exact=True).click()
            page.click("#gc_label")
            page.wait_for_selector("#gc_status :text('no: 3')")
            page.screenshot(path=str(ARTIFACTS / "gradctrl-labelled.png"), full_page=True)

            # Train on brightness, warmth and the labelled set (few samples: a browser test, not a benchmark).
            _type(page, "gc_samples", "200")
            _type(page, "gc_epochs", "5")
            page.click("#gc_train")
            page.wait_for_selector("#gc_status :text('gradient controls')", timeout=180_000)
            page.wait_for_selector("#gc_accuracy :text('smile')")
            page.screenshot(path=str(ARTIFACTS / "gradctrl-trained.png"), full_page=True)

            # The controls are the Edit tab's sliders now: moving the first one changes the image.
            _tab(page, "Edit")
            page.wait_for_function(
                "() => (document.querySelector('#gan_steering_strength_0') || {}).innerText?.includes('brightness')"
            )
            settled_src(page)
            changed_after(page, lambda: drag(page, "#gan_steering_strength_0", 0.95), timeout=60_000)
            page.wait_for_function(LOADED, arg=IMAGE)
            page.screenshot(path=str(ARTIFACTS / "gradctrl-edit.png"), full_page=True)
        finally:
            browser.close()
