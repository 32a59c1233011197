"""The Correlations tab's handlers (SC²GAN), called directly on the embedded faces DCGAN (no browser): the
correlation heat map and table with the most correlated pair picked, a correction of A's boundary or of the Edit
tab's controls that reaches the Edit tab as sliders, the before/after table and strip, bad choices, Cancel."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from extension.feedback import progress_callback  # noqa: E402
from extension.session import SessionExpiredError, cancellations, directions_store  # noqa: E402
from extension.settings import UISettings  # noqa: E402
from extension.tabs import correlations as tab  # noqa: E402
from extension.tabs import discover as discover_tab  # noqa: E402
from extension.tabs import edit as edit_tab  # noqa: E402
from steering.errors import CancelledError, InvalidValueError  # noqa: E402

MODEL = "dcgan-faces"
#: samples, confident share, rare per side, re-projection steps, seeds for the leak: small, for speed
SMALL = (400, 0.1, 8, 10, 4)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def settings(tmp_path, dcgan):
    return UISettings(output_dir=tmp_path / "outputs", device="cpu", default_model=MODEL, max_sliders=6)


def opened(image):
    from PIL import Image

    return image if hasattr(image, "convert") else Image.open(image)


def edit_state(key: str, seed: int = 3):
    """The Edit tab's state inputs: model, set, start, seed, ψ, class, noise, walk, interpolation target and mode."""
    return (MODEL, key, "", seed, 1.0, None, "const", "linear", 1, "slerp")


def test_measure_draws_the_matrix_and_picks_the_most_correlated_binary_pair(settings):
    chosen = ["brightness", "contrast", "saturation", "warmth", "centre-colour"]
    chart, table, first, second, status = tab.measure(settings, MODEL, chosen, 300)
    image = opened(chart)
    assert image.size[0] > 8 * 36 and len(image.getcolors(1 << 20)) > 10  # coloured cells, not a blank canvas
    assert table.startswith("| pair | r |") and table.count("\n| ") >= 10  # 4 statistics, 7 colours
    assert {first["value"], second["value"]} <= set(chosen) and first["value"] != second["value"]
    assert f"{first['value']}" in status and "~" in status


def test_correcting_the_boundary_sends_two_sliders_to_the_edit_tab(settings):
    key, table, strip, status = tab.correct(settings, MODEL, "", tab.BASES[0], "brightness", "contrast", *SMALL)
    control = directions_store.get(key)
    assert control.method == "sc2gan" and len(control) == 2 and "SC²GAN" in control.names[1]
    assert table.count("\n| brightness") == 2 and "per unit" in table
    assert opened(strip).size[0] > 3 * 64  # start, base, corrected
    assert "in the Edit tab" in status
    still = edit_tab.render(settings, *edit_state(key), 0.0, 0.0)
    moved = edit_tab.render(settings, *edit_state(key), 0.0, 2.0)
    assert opened(still).tobytes() != opened(moved).tobytes()


def test_the_edit_tabs_controls_can_be_the_parent(settings):
    _, key, _, _, _ = discover_tab.discover(settings, MODEL, "sefa", 1, "all", 0)
    corrected, _, _, _ = tab.correct(settings, MODEL, key, tab.BASES[1], "brightness", "contrast", *SMALL)
    control, parent = directions_store.get(corrected), directions_store.get(key)
    assert control.params["parent_sha256"] == parent.content_hash() and control.names[0] == parent.names[0]
    with pytest.raises(SessionExpiredError):
        tab.correct(settings, MODEL, "", tab.BASES[1], "brightness", "contrast", *SMALL)


def test_bad_choices_are_clear_errors(settings):
    with pytest.raises(InvalidValueError, match="two different attributes"):
        tab.correct(settings, MODEL, "", tab.BASES[0], "warmth", "warmth", *SMALL)
    with pytest.raises(InvalidValueError, match="pick the attribute"):
        tab.correct(settings, MODEL, "", tab.BASES[0], None, "warmth", *SMALL)
    with pytest.raises(InvalidValueError, match="choose what to correct"):
        tab.correct(settings, MODEL, "", "something else", "brightness", "warmth", *SMALL)
    with pytest.raises(InvalidValueError):
        tab.correct(settings, MODEL, "", tab.BASES[0], "brightness", "warmth", 400, float("nan"), 8, 10, 4)


def test_cancel_stops_a_correction(settings):
    cancellations.pending("local")
    cancellations.request("local")
    try:
        with pytest.raises(CancelledError):
            tab.correct(
                settings,
                MODEL,
                "",
                tab.BASES[0],
                "brightness",
                "contrast",
                *SMALL,
                progress=progress_callback(None, "local"),
            )
    finally:
        cancellations.clear("local")


@pytest.mark.core
@pytest.mark.slow
def test_a_pair_tied_in_the_images_fails_with_its_cause_not_with_advice_that_cannot_help(settings):
    """saturation ~ warmth (r ≈ 0.9 on the faces): with 200 samples only a handful of rare combinations can be made
    (making warmth low moves saturation too), and re-projection pulls warmth back: the error gives the counts and
    asks for more samples or another pair, not just more inversion steps."""
    with pytest.raises(InvalidValueError) as failed:
        tab.correct(settings, MODEL, "", tab.BASES[0], "saturation", "warmth", 200, 0.1, 64, 100, 4)
    message = str(failed.value)
    assert "synthesised rare combinations of 'saturation' and 'warmth' survived" in message
    assert "kept warmth on its rare side" in message and "more samples" in message and "another pair" in message
    assert "raise the inversion steps" not in message


@pytest.mark.core
@pytest.mark.slow
def test_a_correction_that_does_not_lower_the_leak_says_so(settings):
    """The swapped pair corrects (a few rare samples, one side of A), but B's change per unit of A stays the same:
    a real result (saturation follows warmth in the pixels whatever the direction), reported as a warning."""
    _, table, _, status = tab.correct(settings, MODEL, "", tab.BASES[0], "warmth", "saturation", 200, 0.1, 64, 100, 8)
    assert "nan" not in table and status.startswith("⚠️")
    assert "all have warmth low" in status and "did not lower the change of saturation" in status


def test_a_typed_zero_is_refused_by_the_core_not_turned_into_the_default(settings):
    """0 in a box is refused with the core's words (as the CLI refuses it); only an empty box means the default."""
    with pytest.raises(InvalidValueError, match=r"number of samples must be a whole number in \[16, .*got 0"):
        tab.measure(settings, MODEL, ["brightness", "warmth"], 0)
    for position, words in ((0, "number of samples"), (1, "confident fraction"), (2, "rare samples"), (3, "inversion")):
        typed = list(SMALL)
        typed[position] = 0
        with pytest.raises(InvalidValueError, match=words + ".*got 0"):
            tab.correct(settings, MODEL, "", tab.BASES[0], "brightness", "warmth", *typed)
