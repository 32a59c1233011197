"""The Gradient Controls tab's handlers, called directly as the UI calls them: label seeds, save and reload the
labelled set, train, the controls reach the Edit tab's store, per-control exclusions, trajectory, GIF and MP4 (each
in its own preview), measurement."""

from __future__ import annotations

import re

import imageio_ffmpeg
import pytest
import torch
from PIL import Image

from extension import compat
from extension.session import directions_store
from extension.settings import UISettings
from extension.tabs import gradctrl as tab
from extension.tabs.common import directions_summary
from steering.errors import DirectionsMismatchError, InvalidValueError
from steering.methods import gradctrl as gc

MODEL = "dcgan-faces"


@pytest.fixture()
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STEERING_OUTPUTS", str(tmp_path / "outputs"))
    return UISettings()


def test_the_tab_builds_in_the_app(settings):
    from extension.ui import build_app

    build_app(settings)


def test_label_train_exclude_and_render(settings, tmp_path):
    grid = tab.sample_grid(settings, MODEL, 3)
    assert [caption for _, caption in grid[:2]] == ["seed 3", "seed 4"] and len(grid) == tab.GRID
    key, picker, status = tab.label(settings, MODEL, "", "smile", "no, yes", "3, 4, 5", "yes")
    key, _, status = tab.label(settings, MODEL, key, "smile", "no, yes", "6, 7", "no")
    assert "no: 2" in status and "yes: 3" in status and picker["choices"] == ["no", "yes"]
    with pytest.raises(InvalidValueError, match="classes"):
        tab.label(settings, MODEL, key, "smile", "no, yes", "8", "maybe")
    path, _ = tab.save_labels(settings, key)
    assert path.endswith(".safetensors")
    reloaded, attribute, classes, _ = tab.upload_labels(settings, MODEL, path)
    assert (attribute, classes) == ("smile", "no, yes") and len(directions_store.get(reloaded)) == 5
    assert directions_store.get(reloaded).nbytes == 5 * (100 * 4 + 8 + 8)  # the store counts what a set holds

    controls_key, heads_key, table, picker, status = tab.train(
        settings, MODEL, ["brightness", "warmth"], reloaded, True, 200, 0.2, 5, "others", 20
    )
    # A typed 0 is refused by the core's checks with their words (never silently the default); an empty box is.
    for bad, words in (
        (("0", 0.2, 5), "number of samples"),
        ((200, 0, 5), "confident fraction"),
        ((200, 0.2, 0), "number of epochs"),
    ):
        with pytest.raises(InvalidValueError, match=words + ".*got 0"):
            tab.train(settings, MODEL, ["brightness"], "", False, *bad, "others", 20)
    controls = directions_store.get(controls_key)
    assert directions_store.get(heads_key).nbytes > 80 * 100 * 4  # the training data is counted too
    assert controls.names == ["brightness", "warmth", "smile"] and picker["choices"] == controls.names
    assert "| smile | yes |" in table and "gradient controls" in status
    assert tab.show_exclusions(settings, controls_key, "smile") == "brightness=20, warmth=20"
    changed_key, _ = tab.set_exclusions(settings, controls_key, "smile", "warmth=33")
    assert gc.exclusions(directions_store.get(changed_key), 2) == {"warmth": 33}
    # The Edit tab's line about the set: the method's own short account, not a dump of its parameters.
    line = directions_summary(directions_store.get(changed_key)).replace("\\", "")  # Markdown escapes dropped
    assert (
        re.search(r"validation accuracy brightness \d\.\d\d, warmth", line)
        and "smile excludes warmth" in line
        and "brightness excludes" in line
    )
    assert not any(word in line for word in ("batch", "entanglement", "learning", "steps")) and len(line) < 600, line
    with pytest.raises(InvalidValueError, match="own attribute"):
        tab.set_exclusions(settings, controls_key, "smile", "smile=3")

    strip = tab.strip(settings, MODEL, changed_key, "brightness", 1)
    assert strip.size[0] > 5 * strip.size[1]  # one row of 7 frames
    image, video, file, _ = tab.animation(settings, MODEL, changed_key, "warmth", 1, "GIF")
    assert file.endswith(".gif") and image["visible"] and video == compat.update(value=None, visible=False)
    with Image.open(file) as gif, Image.open(image["value"]) as shown:  # the preview: upscaled for the screen
        assert gif.n_frames == shown.n_frames == 2 * 16 - 2 and gif.size == (64, 64) and min(shown.size) >= 256
    # An MP4 plays in the video preview (the file itself), the image preview hidden; it decodes to its frames.
    image, video, file, status = tab.animation(settings, MODEL, changed_key, "warmth", 1, "MP4")
    assert file.endswith(".mp4") and "MP4 saved" in status
    assert video == compat.update(value=file, visible=True) and image == compat.update(value=None, visible=False)
    assert imageio_ffmpeg.count_frames_and_secs(file)[0] == 2 * 16 - 2  # 16 strengths forward then back
    table, chart = tab.measure(settings, MODEL, changed_key, heads_key, "brightness", 4)
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 7 and "GradCtrl" in table and "ganspace" in table and chart.size == (640, 400)
    with pytest.raises(InvalidValueError, match=r"number of seeds must be a whole number in \[1, 4096\], got 0"):
        tab.measure(settings, MODEL, changed_key, heads_key, "brightness", 0)
    with pytest.raises(InvalidValueError, match="no image scorer"):
        tab.measure(settings, MODEL, changed_key, heads_key, "smile", 4)
    edited = torch.equal(
        directions_store.get(changed_key).tensors["head2.w1"], directions_store.get(controls_key).tensors["head2.w1"]
    )
    assert edited  # exclusions change the masks, never the heads


def test_cli_label_train_measure(tmp_path, capsys):
    from steering.attributes import LabelledSet
    from steering.cli import main
    from steering.controls import load_control

    labels, controls, linear = tmp_path / "smile.safetensors", tmp_path / "g.safetensors", tmp_path / "l.safetensors"
    label = ["-q", "label", MODEL, "--device", "cpu", "--attribute", "smile", "-o", str(labels)]
    assert main([*label, "--classes", "no,yes", "--set", "1=yes", "--set", "2=no", "--set", "3=yes"]) == 0
    grid = ["--grid", str(tmp_path / "grid.png"), "--seeds", "1,2"]
    assert main([*label, "--extend", str(labels), "--set", "4=0", "--set", "5=0", *grid]) == 0
    assert LabelledSet.load(labels).counts() == {"no": 3, "yes": 2} and (tmp_path / "grid.png").is_file()
    capsys.readouterr()
    other = [*label[:6], "frown", *label[7:]]
    for argv, words in [
        ([*other, "--extend", str(labels)], "holds the attribute 'smile', not 'frown'"),
        ([*label, "--extend", str(labels), "--truncation", "0.5"], "holds samples at ψ 1, not 0.5"),
    ]:
        assert main(argv) == 2 and words in capsys.readouterr().err  # refused, not silently ignored

    train = ["-q", "train", MODEL, "--device", "cpu", "--samples", "200", "--fraction", "0.2", "--epochs", "5"]
    sources = ["--attribute", "brightness", "--attribute", "warmth", "--labels", str(labels)]
    outputs = ["-o", str(controls), "--linear", str(linear)]
    assert main([*train, *sources, "--exclude", "others", "--top-k", "10", *outputs]) == 0
    field = load_control(controls)
    assert field.names == ["brightness", "warmth", "smile"]
    assert field.params["exclude"][0] == {"warmth": 10, "smile": 10}
    assert load_control(linear).names == ["brightness (linear)", "warmth (linear)", "smile (linear)"]
    assert main([*train, "-o", str(tmp_path / "x.safetensors")]) == 2  # nothing to train on: one clear line
    for bad, words in [(["--top-k", "500"], "--top-k"), (["--layers", "3:9"], "layer"), (["--fraction", "0.9"], "0.5")]:
        assert main([*train, "--attribute", "brightness", *bad, "-o", str(tmp_path / "x.safetensors")]) == 2
        assert words in capsys.readouterr().err  # refused before scoring

    sefa = tmp_path / "sefa.safetensors"
    assert main(["-q", "discover", MODEL, "--device", "cpu", "--method", "sefa", "-k", "5", "-o", str(sefa)]) == 0
    capsys.readouterr()
    edits = ["--edit", f"{controls}=warmth", "--edit", f"{linear}=1", "--edit", str(sefa)]
    scored = ["--target", "warmth", "--attributes", "warmth,brightness", "--seeds", "4", "--strengths", "2,4"]
    assert main(["-q", "measure", MODEL, "--device", "cpu", *edits, *scored, "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "gradctrl: warmth" in out and "boundaries: warmth (linear)" in out and (tmp_path / "p.png").is_file()
    sefa_row = next(line for line in out.splitlines() if line.startswith("sefa: "))
    assert sefa_row.split()[4] != "—" and float(sefa_row.split()[4]) > 0  # oriented: its best direction raises warmth
    measure = ["-q", "measure", MODEL, "--device", "cpu", "--edit", str(sefa), "--seeds", "2", "--attributes", "warmth"]
    for bad, words in [
        (["--target", "warmth", "--others", "warmht"], "warmht not among the measured warmth"),
        (["--target", "warmth:nope"], "warmth has classes"),
        (["--target", "warmth", "--strengths", "1,abc"], "a strength"),
    ]:
        assert main([*measure, *bad]) == 2  # one clear line, never a traceback
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_head_at_chance_is_a_warning_and_the_measure_table_shows_no_nan(settings, tmp_path, capsys):
    """The browser walkthrough: brightness + warmth on 200 samples for 3 epochs leaves heads at chance level. Training
    says so (UI status and CLI), and Measure compares the edits that do raise the target instead of showing ``nan``
    on every row: an edit that does not gets a reason in words."""
    from steering.cli import main

    controls_key, heads_key, _, _, status = tab.train(
        settings, MODEL, ["brightness", "warmth"], "", False, 200, 0.1, 3, "entangled", 0
    )
    weak = directions_store.get(heads_key).heads.weak()
    assert "warmth" in weak and status.startswith("⚠️") and "cannot steer" in status
    table, chart = tab.measure(settings, MODEL, controls_key, heads_key, "warmth", 4)
    assert "nan" not in table.lower() and chart.size == (640, 400)
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 6 and sum(row[3][0].isdigit() for row in rows) >= 4  # the boundaries and SeFa/GANSpace
    assert all(row[3][0].isdigit() or row[3].startswith("— *") for row in rows)  # a number, or why not in words
    assert "⚠️" in table  # the head behind this control is at chance: said beside the table too
    free_key, heads_key, *_ = tab.train(settings, MODEL, ["brightness", "warmth"], "", False, 200, 0.1, 3, "none", 0)
    table, _ = tab.measure(settings, MODEL, free_key, heads_key, "brightness", 4)
    assert "excludes nothing: the change of warmth is shown" in table and "others' change" in table
    changes = [line.split(" | ")[3] for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert any(c[0].isdigit() and float(c) > 0 for c in changes)  # not "0.000" on every row

    capsys.readouterr()
    train = ["-q", "train", MODEL, "--device", "cpu", "--samples", "200", "--fraction", "0.1", "--epochs", "3"]
    target = str(tmp_path / "g.safetensors")
    assert main([*train, "--attribute", "brightness", "--attribute", "warmth", "-o", target]) == 0
    assert "gan-steering: warning: warmth: validation accuracy 0.500" in capsys.readouterr().err


def test_labels_of_another_model_never_block_labelling_or_training(settings, dcgan, eyes):
    """The labelled set's key outlives a change of model: labelling starts a new set for the new model, training
    with scorers leaves the old set out and says so; the old set alone is refused with its model named."""
    key, _, _ = tab.label(settings, "dcgan-faces", "", "smile", "no, yes", "3, 4", "yes")
    new_key, _, status = tab.label(settings, "dcgan-eyes", key, "smile", "no, yes", "5", "no")
    relabelled = directions_store.get(new_key)
    assert relabelled.model.sha256 == eyes.identity.sha256 and len(relabelled) == 1 and "no: 1" in status
    *_, status = tab.train(settings, "dcgan-eyes", ["brightness"], key, True, 100, 0.2, 2, "none", 0)
    assert "labelled set smile was left out: it labels dcgan\\-faces" in status  # Markdown-escaped
    with pytest.raises(DirectionsMismatchError, match="made for model 'dcgan-faces'"):
        tab.train(settings, "dcgan-eyes", [], key, True, 100, 0.2, 2, "none", 0)


def test_labelling_after_the_set_was_evicted_says_so(settings):
    """A labelled set this page holds was evicted (memory needed elsewhere): the next label click reports it instead
    of silently starting a new set holding only the seeds just clicked."""
    from types import SimpleNamespace

    from extension.session import SessionExpiredError

    alice = SimpleNamespace(session_hash="alice-evicted")
    key, _, _ = tab.label(settings, "dcgan-faces", "", "smile", "no,yes", "0,2,4", "yes", request=alice)
    key, _, status = tab.label(settings, "dcgan-faces", key, "smile", "no,yes", "1,3", "no", request=alice)
    assert "no: 2" in status and "yes: 3" in status
    directions_store.end_session("alice-evicted")  # what eviction leaves: the page holds a key the server forgot
    with pytest.raises(SessionExpiredError, match="labelled set is"):
        tab.label(settings, "dcgan-faces", key, "smile", "no,yes", "5", "yes", request=alice)
