"""Layout and wording the page shows, read from the built app (every Gradio version): images with their own column
titles carry no label chip nor toolbar over them, the Hub token box says what an empty box means in public mode, and a
file that is not a labelled set is called that (handler called directly on the real embedded DCGAN)."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from extension import compat, ui  # noqa: E402
from extension.settings import UISettings  # noqa: E402
from extension.tabs import gradctrl as gradctrl_tab  # noqa: E402
from extension.tabs import hub as hub_tab  # noqa: E402
from steering.errors import CorruptFileError  # noqa: E402

MODEL = "dcgan-faces"
TITLED = ("gan_steering_invert_preview", "gc_strip_image", "cc_strip", "gan_steering_lb_preview")


def props_by_elem(settings):
    with compat.blocks() as demo:
        tabs = ui.build_content(settings, demo)
    config = compat.config_of(demo)
    found = {(c.get("props") or {}).get("elem_id"): c.get("props") or {} for c in config["components"]}
    return tabs, found


def test_titled_images_have_no_label_chip_and_no_toolbar_over_their_titles():
    _, props = props_by_elem(UISettings(device="cpu"))
    for elem_id in TITLED:
        shown = props[elem_id]
        assert shown.get("show_label") is False, elem_id
        assert shown.get("buttons", []) == [], elem_id  # Gradio 6
        assert not shown.get("show_download_button", False) and not shown.get("show_share_button", False), elem_id
    assert props["gan_steering_image"].get("show_label") is not False  # other images keep theirs


def test_the_token_box_says_what_empty_means_where_it_runs():
    _, public = props_by_elem(UISettings(device="cpu", public=True))
    _, local = props_by_elem(UISettings(device="cpu"))
    assert public["gan_steering_hub_token"]["label"] == hub_tab.TOKEN_LABEL_PUBLIC
    assert "saved login" not in hub_tab.TOKEN_LABEL_PUBLIC and "anonymous" in hub_tab.TOKEN_LABEL_PUBLIC
    assert local["gan_steering_hub_token"]["label"] == hub_tab.TOKEN_LABEL and "saved login" in hub_tab.TOKEN_LABEL


@pytest.mark.parametrize(
    "name, content",
    [("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8), ("notes.txt", b"my labels: 3, 4, 5\n" * 20)],
)
def test_a_file_that_is_not_a_labelled_set_is_called_that(tmp_path, dcgan, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorruptFileError) as refused:
        gradctrl_tab.upload_labels(UISettings(device="cpu"), MODEL, str(path))
    message = str(refused.value)
    assert message.startswith("not a labelled set") and f"{name} is not a readable safetensors file" in message
    assert "header" not in message.lower()
