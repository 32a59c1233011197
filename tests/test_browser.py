"""spaces_app.py in headless Chromium: discover directions, move a slider, see the image change, reset it.

Needs Debian's Chromium (``apt-get install chromium``) and the ``playwright`` package; never downloads a browser.
Screenshots go to ``test-artifacts/`` at the repository root. ``GAN_STEERING_BROWSER_PYTHON`` runs the app under
another interpreter (e.g. a venv with gradio 3.41.2) while the browser is driven from this one.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from appserver import running_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IMAGE = "#gan_steering_image img"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's browser with `apt-get install -y chromium`")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with running_app(tmp_path_factory.mktemp("space")) as app:
        yield app.url


def settled_src(page, quiet: float = 1.5, timeout: float = 20.0) -> str | None:
    """The image's ``src`` once it has not changed for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    src, since = page.get_attribute(IMAGE, "src"), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(200)
        now = page.get_attribute(IMAGE, "src")
        if now != src:
            src, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return src
    raise AssertionError(f"the image kept changing for {timeout} s")


def test_discover_then_slider_changes_the_image(app_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(app_url, wait_until="domcontentloaded")

            page.click("#gan_steering_discover")
            page.wait_for_selector("#gan_steering_spectrum img")
            page.wait_for_selector("#gan_steering_discover_status :text('sefa directions')")
            page.screenshot(path=str(ARTIFACTS / "browser-discover.png"), full_page=True)

            tabs = page.locator("#gan_steering_tabs [role=tab]")  # Gradio 4+; plain buttons in 3.x
            if tabs.count() == 0:
                tabs = page.locator("#gan_steering_tabs button")
            tabs.filter(has_text=re.compile(r"^\s*Edit\s*$")).first.click()
            page.wait_for_selector(IMAGE)
            label = page.locator("#gan_steering_strength_0").inner_text()
            assert "sefa 0" in label  # the slider was relabelled with the discovered direction
            before = page.get_attribute(IMAGE, "src")

            track = page.locator("#gan_steering_strength_0 input[type=range]")
            box = track.bounding_box()
            assert box is not None
            y = box["y"] + box["height"] / 2
            page.mouse.move(box["x"] + box["width"] / 2, y)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] * 0.95, y, steps=6)
            page.mouse.up()
            changed = "([sel, old]) => { const i = document.querySelector(sel); return !!i && i.src !== old; }"
            page.wait_for_function(changed, arg=[IMAGE, before])
            after = settled_src(page)  # live updates may still arrive while the drag's last value renders
            assert after and after != before
            loaded = "sel => { const i = document.querySelector(sel); return !!i && i.complete && i.naturalWidth > 0; }"
            page.wait_for_function(loaded, arg=IMAGE)  # the new picture really displays, not a broken link
            page.screenshot(path=str(ARTIFACTS / "browser-edit.png"), full_page=True)

            # Reset puts every slider back to 0 and shows the unedited image again (same pixels, same file/data).
            page.click("#gan_steering_reset")
            reset_done = (
                "([sel, base, num]) => { const i = document.querySelector(sel); const n = document.querySelector(num);"
                " return !!i && i.src === base && !!n && Number(n.value) === 0; }"
            )
            page.wait_for_function(reset_done, arg=[IMAGE, before, "#gan_steering_strength_0 input[type=number]"])
        finally:
            browser.close()
