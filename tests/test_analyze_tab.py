"""The Analyze tab's handlers, called directly on the embedded faces DCGAN (no browser): spectrum, walks, sending
controls to the Edit tab, trust of the Edit tab's directions, warpage, Cancel."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

import imageio_ffmpeg  # noqa: E402
from PIL import Image  # noqa: E402

from extension import compat  # noqa: E402
from extension.session import cancellations, directions_store  # noqa: E402
from extension.session import generator as session_generator  # noqa: E402
from extension.settings import UISettings  # noqa: E402
from extension.tabs import analyze  # noqa: E402
from extension.tabs import discover as discover_tab  # noqa: E402
from extension.tabs import edit as edit_tab  # noqa: E402
from steering.errors import CancelledError, InvalidValueError  # noqa: E402

MODEL = "dcgan-faces"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def settings(tmp_path, dcgan):
    return UISettings(output_dir=tmp_path / "outputs", device="cpu", default_model=MODEL, max_sliders=6)


def state(key="", seed=3, start_key=""):
    """The Edit tab's state inputs: model, set, start, seed, ψ, class, noise, walk, interpolation target and mode."""
    return (MODEL, key, start_key, seed, 1.0, None, "const", "linear", 1, "slerp")


def opened(image):
    from PIL import Image

    return image if hasattr(image, "convert") else Image.open(image)


def test_spectrum_at_the_edit_tabs_starting_point(settings):
    chart, summary, picker, features = analyze.spectrum(settings, *state(seed=3), "block1", 5, "exact")
    assert opened(chart).size[0] > 100
    assert "block1" in summary and "exact Jacobian" in summary and "seed 3" in summary and "σ₀/σ₄ = " in summary
    assert len(picker["choices"]) == 5 and picker["value"].startswith("0: σ=")
    assert "block1" in features["choices"] and "image" not in features["choices"]
    # another seed, another basis
    _, other, _, _ = analyze.spectrum(settings, *state(seed=4), "block1", 5, "exact")
    assert other != summary


def test_the_starting_point_is_described_in_the_cores_words_with_its_class(settings, eyes):
    """The summary names the starting point as ``start.summarize`` does (the class of a class-conditional model too)."""
    at = ("dcgan-eyes", "", "", 5, 0.7, 2, "const", "linear", 1, "slerp")
    _, summary, _, _ = analyze.spectrum(settings, *at, "", 3, "exact")
    assert "seed 5, ψ 0\\.7, class 2" in summary, summary


def test_walk_strip_and_animation(settings):
    own = ("block1", "1: σ=1", -1.0, 1.0, 3, 0.5, "all", "auto")
    image, video, path, status = analyze.walk(settings, *state(), *own, "strip (PNG)")
    strip = opened(image["value"])
    assert path.endswith(".png") and strip.size[1] > 2 * 64 and "strip saved" in status  # two rows: ICT, linear
    assert image["visible"] and video == compat.update(value=None, visible=False)  # a strip shows as an image
    # A GIF of the ICT (forward then back) shows in the image preview, upscaled for the screen; the video hidden.
    image, video, path, status = analyze.walk(settings, *state(), *own, "GIF")
    assert path.endswith(".gif") and "GIF saved" in status and image["visible"]
    assert video == compat.update(value=None, visible=False)
    with Image.open(path) as gif, Image.open(image["value"]) as shown:
        assert gif.n_frames == shown.n_frames == 2 * 3 - 2 and gif.size == (64, 64) and min(shown.size) >= 256
    # An MP4 plays in the video preview (the file itself), the image preview hidden; it decodes to its frames.
    image, video, path, status = analyze.walk(settings, *state(), *own, "MP4")
    assert path.endswith(".mp4") and "MP4 saved" in status
    assert video == compat.update(value=path, visible=True) and image == compat.update(value=None, visible=False)
    assert imageio_ffmpeg.count_frames_and_secs(path)[0] == 2 * 3 - 2  # forward then back
    with pytest.raises(InvalidValueError):
        analyze.walk(settings, *state(), "block1", "x", -1.0, 1.0, 3, 0.5, "all", "auto", "GIF")
    with pytest.raises(InvalidValueError, match=r"the step size must be in \[0\.001, 10\], got 0"):
        analyze.walk(settings, *state(), "block1", "0", -1.0, 1.0, 3, 0, "all", "auto", "GIF")
    with pytest.raises(InvalidValueError, match="re-estimate the local basis 2000 times"):  # bounded work per request
        analyze.walk(settings, *state(), "block1", "0", -100.0, 100.0, 3, 0.1, "all", "auto", "GIF")


def test_send_to_edit_gives_sliders_that_move_the_image(settings):
    key, status = analyze.send_to_edit(settings, *state(), "block1", 3, "iterative", 0.5, "all", "sefa", "auto")
    assert "ready in the Edit tab" in status
    control = directions_store.get(key)
    assert control.kind == "field" and len(control) == 3
    view = edit_tab.view(settings, *state(key))
    sliders = view[:6]
    assert sliders[0]["visible"] and sliders[2]["visible"] and not sliders[3]["visible"]
    still = edit_tab.render(settings, *state(key), 0.0, 0.0, 0.0, 0.0)
    moved = edit_tab.render(settings, *state(key), 0.0, 1.0, 0.0, 0.0)
    assert opened(still).tobytes() != opened(moved).tobytes()
    key, _ = analyze.send_to_edit(settings, *state(), "block1", 2, "linear", 0.5, "all", "sefa", "auto")
    assert directions_store.get(key).kind == "linear"


def test_trust_of_the_edit_tabs_directions(settings):
    _, key, _, _, _ = discover_tab.discover(settings, MODEL, "sefa", 3, "all", 0)
    table = analyze.trust(settings, *state(key), "block1", 10)
    assert table.count("\n| sefa") == 3 and "random direction" in table
    with pytest.raises(InvalidValueError, match="no directions"):
        analyze.trust(settings, *state(""), "block1", 10)


def test_trust_beside_the_edit_tabs_sliders(settings):
    """The line under the Edit tab's sliders: nothing until asked; then each slider's trust at the current start, as
    the Analyze tab's table gives it (default partial network, k = 10); a field control gets a note, not an error."""
    import re

    _, key, _, _, _ = discover_tab.discover(settings, MODEL, "sefa", 3, "all", 0)
    assert analyze.trust_beside_sliders(settings, *state(key), False) == ""
    assert analyze.trust_beside_sliders(settings, *state(""), True) == ""
    line = analyze.trust_beside_sliders(settings, *state(key, seed=3), True)
    scores = [float(v) for v in re.findall(r"\*\*([0-9.]+)\*\*", line)]
    assert len(scores) == 3 and all(0.0 <= v <= 1.0 for v in scores) and "top-10" in line
    table = analyze.trust(settings, *state(key, seed=3), "default", 10)
    exact = [float(v) for v in re.findall(r"\| ([0-9.]+) \|", table)]  # 3 decimals there, 2 here
    assert len(exact) == 3 and all(abs(a - b) <= 0.0051 for a, b in zip(exact, scores, strict=True))
    assert analyze.trust_beside_sliders(settings, *state(key, seed=4), True) != line  # another start, other trust
    field, _ = analyze.send_to_edit(settings, *state(), "block1", 2, "iterative", 0.5, "all", "sefa", "auto")
    assert "global linear directions" in analyze.trust_beside_sliders(settings, *state(field), True)


def test_warpage_chart_and_table(settings):
    chart, table = analyze.warpage(settings, MODEL, "block1", 3, 2, 0.1, "projection", 0)
    assert opened(chart).size == (640, 400)
    assert "random pairs" in table and "random subspaces" in table and table.count("\n| ") >= 3
    # A typed 0 reaches warpage's own checks (the CLI's bounds and words), never a default or the UI's own bounds.
    for typed, words in (
        ((3, 0, 0.1), r"number of pairs must be a whole number in \[1, 4096\]"),
        ((3, 2, 0), "ε must"),
    ):
        with pytest.raises(InvalidValueError, match=words + ".*got 0"):
            analyze.warpage(settings, MODEL, "block1", *typed, "projection", 0)


def test_cancel_stops_a_warpage(settings):
    """Cancel (pressed while it runs) stops the warpage at its next local basis: nothing comes back."""
    from extension.feedback import progress_callback

    cancellations.pending("local")
    cancellations.request("local")
    try:
        with pytest.raises(CancelledError):
            analyze.warpage(
                settings, MODEL, "block1", 3, 4, 0.1, "geodesic", 0, progress=progress_callback(None, "local")
            )
    finally:
        cancellations.clear("local")


def test_style_based_z_controls_start_from_any_seed(settings, tmp_path):
    """On a style-based model (random StyleGAN2 as a rosinality file) an ICT moves z, and a seed's latent is w: every
    seed (the one sent from, another one, the dice's), the sweep, the Hub preview and a replayed PNG draw the seed in
    z for such controls; the linear traversal edits w in the chosen layers."""
    import torch

    from steering import recipe, share
    from steering.models.stylegan2 import StyleGAN2

    torch.manual_seed(0)
    model = StyleGAN2(size=16, style_dim=32, n_mlp=4).eval()
    state = model.state_dict()
    path = tmp_path / "stylegan2.pt"
    torch.save(
        {"g_ema": {k: v for k, v in state.items() if k != "latent_avg"}, "latent_avg": state["latent_avg"]}, path
    )
    spec = str(path)
    inputs = (spec, "", "", 5, 1.0, None, "const", "linear", 1, "slerp")
    key, _ = analyze.send_to_edit(settings, *inputs, "default", 2, "iterative", 0.25, "all", "sefa", "auto")
    ict = directions_store.get(key)
    assert ict.space == "z"
    for seed in (5, 6, edit_tab.random_seed(settings)[0]):
        edit_inputs = (spec, key, "", seed, *inputs[4:])
        still = edit_tab.render(settings, *edit_inputs, 0.0, 0.0, 0.0)
        moved = edit_tab.render(settings, *edit_inputs, 0.0, 0.75, 0.0)
        assert opened(still).tobytes() != opened(moved).tobytes()
    grid, _, status = edit_tab.sweep(settings, *edit_inputs, ["0.0: " + ict.names[0]], -0.5, 0.5, 3)
    assert "sweep saved" in status and Image.open(grid).size[0] >= 3 * 16
    generator = session_generator(settings, spec)
    ict.save(tmp_path / "ict.safetensors")
    replayed, _ = recipe.replay(moved, generator, directions=[tmp_path / "ict.safetensors"])
    assert replayed.tobytes() == opened(moved).convert(replayed.mode).tobytes()
    assert share.preview_grid(generator, ict).size[0] >= 3 * 16
    key, _ = analyze.send_to_edit(settings, *inputs, "default", 2, "linear", 0.25, "0:2", "sefa", "auto")
    linear = directions_store.get(key)
    assert linear.space == "w" and linear.layers == (0, 1)
