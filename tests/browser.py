"""Driving ``spaces_app.py`` in headless Chromium, for the browser tests: the page on a running app, and what a user
does on it (drag a slider, open a tab or an accordion, wait for the edited image).

Needs Debian's Chromium (``apt-get install chromium``) and the ``playwright`` package; never downloads a browser.
Screenshots go to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import functools
import re
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from appserver import SERVER_PYTHON, running_app

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
CHANGED = "([sel, old]) => { const i = document.querySelector(sel); return !!i && i.src !== old; }"
LOADED = "sel => { const i = document.querySelector(sel); return !!i && i.complete && i.naturalWidth > 0; }"
#: The Edit tab's sliders are ready: the first one carries its direction's label.
SLIDERS_READY = "() => (document.querySelector('#gan_steering_strength_0') || {}).innerText?.includes('{label}')"


def require_browser() -> None:
    """Skip the calling test where Debian's Chromium or the playwright package is missing."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's browser with `apt-get install -y chromium`")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@contextmanager
def app_page(folder: Path, height: int = 1100, timeout_ms: int = 30_000) -> Iterator[Any]:
    """A Chromium page on a freshly started app (its files under ``folder``), once the first image has loaded."""
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with running_app(folder) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            page.set_default_timeout(timeout_ms)
            page.goto(app.url, wait_until="domcontentloaded")
            page.wait_for_function(LOADED, arg=IMAGE)
            try:
                yield page
            except BaseException:
                _keep_evidence(page, app, folder)
                raise
        finally:
            browser.close()


def _keep_evidence(page: Any, app: Any, folder: Path) -> None:
    """On a failed browser test: a screenshot of the page (``test-artifacts/failed-<folder>.png``), the page's
    toasts and the server log's tail in the test output."""
    shot = ARTIFACTS / f"failed-{folder.name}.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
        toasts = page.locator(".toast-body, .toast-wrap, [data-testid='toast-body']").all_inner_texts()
    except Exception as error:  # the page itself may be gone
        toasts = [f"(page unreadable: {error})"]
    print(f"\n--- failed browser test: screenshot {shot}; toasts: {toasts}")
    print("--- server log (tail):\n" + app.log[-6000:])


def wait_for_sliders(page, label: str) -> None:
    """Wait until the Edit tab's first slider is labelled with ``label`` (its controls are in place)."""
    page.wait_for_function(SLIDERS_READY.replace("{label}", label))


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


@functools.cache
def gradio_major() -> int:
    """The major version of the gradio serving the page (the app's interpreter: ``GAN_STEERING_BROWSER_PYTHON``)."""
    found = subprocess.run(
        [SERVER_PYTHON, "-c", "import gradio; print(gradio.__version__)"], capture_output=True, text=True, check=True
    )
    return int(found.stdout.strip().split(".")[0])


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


def wait_until_playing(page, elem_id: str, timeout: float = 20_000) -> None:
    """Wait until the video in ``elem_id`` plays an MP4: the file as its source, decoded (its frames' size known),
    no error, time running."""
    playing = (
        "sel => { const v = document.querySelector(sel);"
        " return !!v && v.currentSrc.includes('.mp4') && !v.error && v.videoWidth > 0 && v.currentTime > 0; }"
    )
    page.wait_for_function(playing, arg=f"#{elem_id} video", timeout=timeout)


def export_mp4(page, *, format_id: str, button_id: str, file_id: str, video_id: str, image_id: str) -> Any:
    """Pick "MP4" in the radio ``format_id`` and click ``button_id``; wait until ``file_id`` links an ``.mp4`` and it
    plays in the video ``video_id``, with the image preview ``image_id`` hidden. Returns the link."""
    page.locator(f"#{format_id}").get_by_text("MP4").click()
    page.click(f"#{button_id}")
    link = page.locator(f"#{file_id} a[href*='.mp4']").first
    link.wait_for(timeout=60_000)
    wait_until_playing(page, video_id)
    assert not page.locator(f"#{image_id}").first.is_visible()
    return link


def open_accordion(page, elem_id: str) -> None:
    box = page.locator(f"#{elem_id}")
    box.locator("button, .label-wrap").first.click()


def open_tab(page, name: str) -> None:
    """Click the app's tab called ``name`` (role=tab in Gradio 4+, plain buttons in 3.x)."""
    tabs = page.locator("#gan_steering_tabs [role=tab]")
    if tabs.count() == 0:
        tabs = page.locator("#gan_steering_tabs button")
    tabs.filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")).first.click()


def choose(page, elem_id: str, option: str) -> None:
    """Pick ``option`` in a dropdown: type it (the list filters to it), then Enter takes the match."""
    box = page.locator(f"#{elem_id} input").first
    box.click()
    box.fill(option)
    box.press("Enter")
    box.press("Tab")


def type_into(page, elem_id: str, text: str) -> None:
    """Fill a textbox or number box and leave it (Tab), so that its change event fires."""
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input").first
    box.fill(text)
    box.press("Tab")
