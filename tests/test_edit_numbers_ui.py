"""The Edit tab's number boxes on the real embedded DCGAN, through the events the built app wires (handlers called
directly, as the page would): a bad box is reported once (one message, not one per listener), names the box it came
from, and a non-whole number reaches the core's checks instead of being rounded."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from extension import compat, ui  # noqa: E402
from extension.settings import UISettings  # noqa: E402
from extension.tabs import discover as discover_tab  # noqa: E402
from extension.tabs import edit as edit_tab  # noqa: E402
from steering.errors import InvalidValueError  # noqa: E402

MODEL = "dcgan-faces"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def app(tmp_path_factory, dcgan):
    settings = UISettings(
        output_dir=tmp_path_factory.mktemp("outputs"), device="cpu", default_model=MODEL, max_sliders=4
    )
    with compat.blocks() as demo:
        tabs = ui.build_content(settings, demo)
    return settings, demo, tabs, compat.config_of(demo)


def _targets(dep):
    targets = dep.get("targets") or []
    if targets and isinstance(targets[0], (list, tuple)):
        return [(t[0], t[1]) for t in targets]
    return [(t, dep.get("trigger")) for t in targets]


def _fns(demo):
    fns = demo.fns
    return [fns[i] for i in sorted(fns)] if isinstance(fns, dict) else list(fns)


def events(app, component, names=("change", "input", "release")):
    """Indices of the dependencies a user's change of ``component`` starts, then those chained after them."""
    _, _, _, config = app
    deps = config["dependencies"]
    started = [i for i, d in enumerate(deps) if any(t == component._id and e in names for t, e in _targets(d))]
    chained, todo = [], list(started)
    while todo:
        i = todo.pop(0)
        chained.append(i)
        todo += [j for j, d in enumerate(deps) if d.get("trigger_after") == i]
    return started, chained


def messages(app, component, value):
    """What the page shows after the user types ``value`` into ``component``: each refusal, in event order."""
    settings, demo, tabs, config = app
    edit = tabs["edit"]
    _, key, *_ = discover_tab.discover(settings, MODEL, "sefa", 3, "all", 0)
    values = {c["id"]: (c.get("props") or {}).get("value") for c in config["components"]}
    values.update({tabs["shared"].model._id: MODEL, tabs["shared"].directions._id: key, edit.start_key._id: ""})
    values[component._id] = value
    shown = []
    for i in events(app, component)[1]:
        dep, block_fn = config["dependencies"][i], _fns(demo)[i]
        try:
            block_fn.fn(*[values[j] for j in dep["inputs"]])
        except gr.Error as exc:
            shown.append(exc.message)
    return shown


@pytest.mark.parametrize("value", [-1, 1.5])
def test_a_bad_seed_is_reported_once_and_names_its_box(app, value):
    shown = messages(app, app[2]["edit"].seed, value)
    assert len(shown) == 1 and shown[0].startswith("Seed: a seed must be a whole number"), shown


def test_a_bad_target_seed_names_its_box_in_any_action_that_reads_it(app):
    settings, _, _, _ = app
    shown = messages(app, app[2]["edit"].target, -3)
    assert len(shown) == 1 and shown[0].startswith("Target seed: "), shown
    _, key, *_ = discover_tab.discover(settings, MODEL, "sefa", 3, "all", 0)
    state = (MODEL, key, "", 3, 1.0, None, "const", "linear", -3, "slerp")
    with pytest.raises(InvalidValueError, match=r"^Target seed: a seed must be a whole number .* got -3"):
        edit_tab.sweep(settings, *state, ["0.0: sefa 0"], -2, 2, 3)


def test_each_slider_change_is_one_event(app):
    """A slider moved or typed into starts one render (Gradio ≥ 4 fired ``input`` and ``release`` for a typed value:
    two renders, and each refusal — 1e9, ψ −5 — shown twice)."""
    edit = app[2]["edit"]
    for slider in (edit.truncation, edit.towards, *edit.sliders):
        started, _ = events(app, slider)
        assert len(started) == 1, slider.elem_id


def test_a_strength_beyond_the_core_limit_is_reported_once(app):
    shown = messages(app, app[2]["edit"].sliders[0], 1e9)
    assert len(shown) <= 1  # Gradio 6 refuses it before any handler, once; older versions let the core say it


def test_non_whole_numbers_reach_the_checks_unrounded(app):
    """2.5 directions or a seed of 1.5 are refused, not rounded to 2 and 2 (every whole-number box)."""
    settings, _, tabs, _ = app
    directions = next(p for p in tabs["discover"].parameters if p.elem_id == "gan_steering_param_num_directions")
    for box in [tabs["edit"].seed, tabs["edit"].target, directions, tabs["gradctrl"].epochs]:
        assert box.preprocess(2.5) == 2.5, box.elem_id
    with pytest.raises(InvalidValueError, match="whole number"):
        discover_tab.discover(settings, MODEL, "sefa", 2.5, "all", 0)
