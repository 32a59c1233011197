"""spaces_app.py in headless Chromium: the page opens ready, sliders (dragged or typed), the interpolation and Reset
change the image, an MP4 is exported and decodes, Discover works.

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


CHANGED = "([sel, old]) => { const i = document.querySelector(sel); return !!i && i.src !== old; }"
LOADED = "sel => { const i = document.querySelector(sel); return !!i && i.complete && i.naturalWidth > 0; }"


def gradio_major() -> int:
    import gradio

    return int(gradio.__version__.split(".")[0])


def changed_after(page, action, timeout: float = 20_000) -> float:
    """Seconds from ``action()`` until the edited image shows a new picture."""
    before = page.get_attribute(IMAGE, "src")
    start = time.monotonic()
    action()
    page.wait_for_function(CHANGED, arg=[IMAGE, before], timeout=timeout)
    return time.monotonic() - start


def drag(page, slider: str, fraction: float) -> None:
    """Drag ``slider``'s handle from the middle of its track to ``fraction`` of it, as a user does."""
    track = page.locator(f"{slider} input[type=range]")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, y, steps=6)
    page.mouse.up()


def open_accordion(page, elem_id: str) -> None:
    box = page.locator(f"#{elem_id}")
    box.locator("button, .label-wrap").first.click()


def test_the_page_opens_ready_and_every_control_moves_the_image(app_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.set_default_timeout(30_000)
            page.goto(app_url, wait_until="domcontentloaded")

            # The first minute: an image and ready sliders, without a click.
            page.wait_for_function(LOADED, arg=IMAGE)
            page.wait_for_function(
                "() => (document.querySelector('#gan_steering_strength_0') || {}).innerText?.includes('sefa 0')"
            )
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

            # Reset puts every slider back and shows the unedited image again (same pixels, same file).
            page.click("#gan_steering_reset")
            reset_done = (
                "([sel, base, num]) => { const i = document.querySelector(sel); const n = document.querySelector(num);"
                " return !!i && i.src === base && !!n && Number(n.value) === 0; }"
            )
            page.wait_for_function(reset_done, arg=[IMAGE, base, "#gan_steering_strength_0 input[type=number]"])

            # An MP4 of the first direction: exported, downloaded, decoded to the expected number of frames.
            open_accordion(page, "gan_steering_gif_box")
            page.locator("#gan_steering_animation_format").get_by_text("MP4").click()
            page.click("#gan_steering_gif")
            link = page.locator("#gan_steering_gif_file a[href*='.mp4']").first
            link.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "browser-mp4.png"), full_page=True)
            video = page.request.get(link.get_attribute("href") or "")
            assert video.ok
            target = ARTIFACTS / "browser-walk.mp4"
            target.write_bytes(video.body())
            import imageio_ffmpeg

            frames, _ = imageio_ffmpeg.count_frames_and_secs(str(target))
            assert frames == 2 * 24 - 2  # 24 frames forward, then back without repeating the ends

            # Discover still works from its tab.
            tabs = page.locator("#gan_steering_tabs [role=tab]")  # Gradio 4+; plain buttons in 3.x
            if tabs.count() == 0:
                tabs = page.locator("#gan_steering_tabs button")
            tabs.filter(has_text=re.compile(r"^\s*Discover\s*$")).first.click()
            page.click("#gan_steering_discover")
            page.wait_for_selector("#gan_steering_discover_status :text('sefa directions for')")
            page.screenshot(path=str(ARTIFACTS / "browser-discover.png"), full_page=True)
        finally:
            browser.close()
