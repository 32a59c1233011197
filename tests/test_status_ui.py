"""Status lines and Cancel (extension/feedback.py Panel): a cancelled run ends with the status "cancelled" and its
outputs unchanged (no error), an idle Cancel says so, each Cancel stops only its own panel's work, and a request clears
its panel's status when it starts (a failure never sits under an older success). Handlers called directly, on the real
embedded DCGAN; the wiring is read from the built app's configuration."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from extension import compat  # noqa: E402
from extension.feedback import CANCELLED, NOTHING_TO_CANCEL, Panel  # noqa: E402
from extension.session import cancellations  # noqa: E402
from extension.settings import UISettings  # noqa: E402
from extension.tabs import correlations as correlations_tab  # noqa: E402

MODEL = "dcgan-faces"
ATTRIBUTES = ["brightness", "contrast", "warmth", "saturation"]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def settings(tmp_path, dcgan):
    return UISettings(output_dir=tmp_path / "outputs", device="cpu", default_model=MODEL, max_sliders=4)


def unchanged(value) -> bool:
    return value == compat.unchanged()


def measure_job(panel: Panel, settings):
    """The Correlations tab's Measure as ``Panel.job`` wires it: ``(handler, outputs)``."""
    outputs = [gr.Image(), gr.Markdown(), gr.Dropdown(), gr.Dropdown(), panel.status]
    return panel.handler(correlations_tab.measure, settings, outputs)


def test_cancel_ends_as_cancelled_with_the_outputs_unchanged(settings):
    panel = Panel("correlations", gr.Markdown())
    handler, outputs = measure_job(panel, settings)
    assert panel.starting(pending=True) == ""  # the click: status cleared, Cancel possible while it waits
    assert panel.cancel() == "cancelling…"
    result = handler(MODEL, ATTRIBUTES, 64)  # no gr.Error: a cancel is the user's choice
    assert len(result) == len(outputs) == 5
    assert result[-1] == CANCELLED and "cancelled" in CANCELLED and "rror" not in CANCELLED
    assert all(unchanged(value) for value in result[:-1])
    assert panel.cancel() == NOTHING_TO_CANCEL  # the work is over: nothing is left to cancel


def test_idle_cancel_says_nothing_runs_and_records_nothing(settings):
    panel = Panel("correlations", gr.Markdown())
    assert panel.cancel() == NOTHING_TO_CANCEL
    assert not cancellations.requested(panel.key(None))
    handler, _ = measure_job(panel, settings)
    _, table, *_, status = handler(MODEL, ATTRIBUTES, 64)  # a later run is not cancelled by it
    assert status.startswith("✓") and "|" in table


def test_each_cancel_stops_only_its_own_panel(settings):
    """The Edit tab's Cancel, pressed while Correlations → Measure runs, leaves the measurement alone."""
    correlations, edit = Panel("correlations", gr.Markdown()), Panel("edit", gr.Markdown())
    handler, _ = measure_job(correlations, settings)
    correlations.starting(pending=True)
    assert edit.cancel() == NOTHING_TO_CANCEL
    *_, status = handler(MODEL, ATTRIBUTES, 64)
    assert status.startswith("✓")
    # Another browser session's Cancel does not reach this one's work either.
    other = type("Request", (), {"session_hash": "another visitor"})()
    correlations.starting(pending=True)
    assert correlations.cancel(request=other) == NOTHING_TO_CANCEL
    *_, status = handler(MODEL, ATTRIBUTES, 64)
    assert status.startswith("✓")


def test_cancelled_work_without_a_status_output_still_reports_it(settings):
    """Work whose outputs have no status line (the Edit tab's sweep image and file do; a chart alone does not) gets
    the panel's status appended, left as it is on success, "cancelled" on Cancel; a generator too."""
    panel = Panel("analyze", gr.Markdown())

    def chart_only(settings, *, progress=None):
        progress(0, 1)
        return "chart"

    def previews(settings, *, progress=None):
        for step in range(3):
            progress(step, 3)
            yield f"preview {step}"

    handler, outputs = panel.handler(chart_only, settings, [gr.Image()])
    assert outputs[-1] is panel.status and len(outputs) == 2
    first, status = handler()
    assert first == "chart" and unchanged(status)
    panel.starting(pending=True)
    panel.cancel()
    first, status = handler()
    assert unchanged(first) and status == CANCELLED

    handler, _ = panel.handler(previews, settings, [gr.Image()])
    assert [shown for shown, _ in handler()] == ["preview 0", "preview 1", "preview 2"]
    panel.starting(pending=True)
    panel.cancel()
    assert [status for _, status in handler()] == [CANCELLED]


# ----- the wiring ------------------------------------------------------------------------------------------------
def _dependencies(config):
    """``(trigger ids with their event names, input ids, output ids, queued)`` of each event in the app config."""
    for dep in config["dependencies"]:
        targets = dep.get("targets") or []
        if targets and isinstance(targets[0], (list, tuple)):
            triggers = [(t[0], t[1]) for t in targets]
        else:
            triggers = [(t, dep.get("trigger")) for t in targets]
        yield triggers, dep["inputs"], dep["outputs"], dep.get("queue") is not False, dep


def test_every_status_is_cleared_when_its_panel_starts_work_and_each_cancel_is_its_own():
    from extension import ui

    with compat.blocks() as demo:
        tabs = ui.build_content(UISettings(device="cpu"), demo)
    config = compat.config_of(demo)
    ids = {c["id"]: c for c in config["components"]}
    elem = {c["id"]: (c.get("props") or {}).get("elem_id") for c in config["components"]}
    panels = [tab.panel for tab in tabs.values() if hasattr(tab, "panel")] + [tabs["edit"].invert_panel.panel]
    assert len({p.name for p in panels}) == len(panels) == 7  # one Cancel per panel (the Hub has none), none shared
    statuses = {p.status._id: p for p in panels}
    checked = 0
    for triggers, _, outputs, queued, _dep in _dependencies(config):
        clicked = [t for t, event in triggers if event in ("click", "upload") and ids[t]["type"] in ("button", "file")]
        if not clicked or not statuses.keys() & set(outputs):
            continue
        # A button that writes a status: either the quick first step that clears it (or Cancel), nothing else.
        assert outputs in ([s] for s in statuses), (elem[clicked[0]], [elem[o] for o in outputs])
        assert not queued, elem[clicked[0]]
        checked += 1
    assert checked >= 25  # every action button of the seven panels, and the six Cancels
    reset_clears = [  # Reset sliders replaces the image: the line about the old one (a restored recipe …) goes too
        outputs
        for triggers, _, outputs, _, _ in _dependencies(config)
        if any(elem.get(t) == "gan_steering_reset" for t, _ in triggers)
    ]
    assert [tabs["edit"].panel.status._id] in reset_clears
