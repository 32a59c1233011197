"""What the command line shows people: words and values as they would type them (no Python reprs), every option
explained, counts that agree with their nouns, errors that name the user's file and say what to do instead."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import pytest

from steering.attributes import Sampling, Training
from steering.cli import build_parser, main
from steering.cli.console import Console
from steering.cli.steer_commands import through_zero
from steering.errors import InvalidValueError
from steering.inversion import InversionSettings
from steering.recipe import read_recipe
from steering.text import counted, plain

MODEL = "dcgan-faces"
REPRS = ("{'", "['", "': ", "None", "True", "False")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def no_repr(text: str) -> None:
    found = [r for r in REPRS if r in text]
    assert not found, f"a Python repr {found} in {text!r}"


@pytest.fixture(scope="module")
def sefa_one(tmp_path_factory: pytest.TempPathFactory, dcgan) -> Path:
    path = tmp_path_factory.mktemp("out") / "faces.safetensors"
    assert main(["-q", "discover", MODEL, "--method", "sefa", "-k", "1", "--device", "cpu", "-o", str(path)]) == 0
    return path


# ----- 1. starting points, samples and exclusions in words -----------------------------------------------------------
def test_latents_and_basis_describe_the_start_in_words(dcgan, tmp_path, capsys):
    code, out, _ = run(
        capsys,
        "latents",
        MODEL,
        "--seed",
        "3",
        "--truncation",
        "0.8",
        "--device",
        "cpu",
        "-o",
        tmp_path / "s.safetensors",
    )
    assert code == 0 and "at seed 3, ψ 0.8" in out, out
    no_repr(out)
    code, out, _ = run(capsys, "basis", MODEL, "--seed", "3", "--truncation", "0.8", "-k", "1", "--device", "cpu")
    assert code == 0 and "at seed 3, ψ 0.8\n" in out, out
    no_repr(out)


def test_train_reports_samples_and_exclusions_in_words(dcgan, tmp_path, capsys):
    out_file = tmp_path / "g.safetensors"
    argv = ["train", MODEL, "--attribute", "brightness", "--attribute", "warmth", "--samples", "400", "--epochs", "1"]
    code, out, err = run(capsys, *argv, "--device", "cpu", "-o", out_file)
    assert code == 0, err
    counts = re.findall(r"(\w+): validation accuracy [\d.]+, (\d+) training, (\d+) validation samples$", err, re.M)
    assert [name for name, *_ in counts] == ["brightness", "warmth"], err
    code, out, _ = run(capsys, "inspect", out_file)  # the same figures as the file records
    assert all(f"samples (train {train}, validation {val})" in out for _, train, val in counts), out
    assert "brightness: excludes warmth (25 channels)" in err and "warmth: excludes brightness (25 channels)" in err
    no_repr(err)
    assert code == 0 and "exclude: (warmth 25), (brightness 25)" in out, out
    no_repr(out)


def test_plain_writes_values_as_typed():
    assert plain(["shift-x+", "zoom-in"]) == "shift-x+,zoom-in" and plain((0, 1, 2)) == "0,1,2"
    assert (
        plain({"num_directions": 4, "layers": None, "keep_norm": True})
        == "num directions 4, layers none, keep norm true"
    )
    assert plain({"exclude": [{"warmth": 25}, {}]}) == "exclude (warmth 25), none"
    assert plain(0.05) == "0.05" and plain([]) == "none"


# ----- 2. and 3. --help: every option explained, defaults as typed ----------------------------------------------------
def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subs.choices)


def test_every_option_has_help_with_defaults_as_typed():
    missing, reprs = [], []
    for name, parser in subcommands().items():
        for action in parser._actions:
            flag = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not action.help:
                missing.append(flag)
            elif action.help != argparse.SUPPRESS and any(r in action.help for r in ("['", "[0,", "True", "False")):
                reprs.append(f"{flag}: {action.help}")
    assert not missing, f"options without help: {missing}"
    assert not reprs, f"help showing Python values: {reprs}"
    helps = {a.dest: a.help for a in subcommands()["steer"]._actions}
    assert "(default shift-x+,shift-y+,zoom-in)" in helps["transformations"]
    assert "(default 0,1,2,3,4)" in {a.dest: a.help for a in subcommands()["transfer"]._actions}["directions"]


# ----- 4. counts agree with their nouns -------------------------------------------------------------------------------
def test_one_control_is_singular(dcgan, sefa_one, tmp_path, capsys):
    path = tmp_path / "interp.safetensors"
    code, out, _ = run(capsys, "discover", MODEL, "--method", "interpolation", "--device", "cpu", "-o", path)
    assert code == 0 and "interpolation: 1 path in z" in out, out
    code, out, _ = run(capsys, "inspect", path)
    assert code == 0 and "z, 1 path of dimension 100" in out, out
    code, out, _ = run(capsys, "inspect", sefa_one)
    assert code == 0 and "z, 1 direction of dimension 100" in out, out
    code, _, err = run(
        capsys, "sweep", MODEL, "--directions", sefa_one, "--indices", "3", "--device", "cpu", "-o", tmp_path / "g.png"
    )
    assert code == 2 and "the file holds 1 direction (" in err, err
    assert counted(1, "class", "classes") == "1 class" and counted(2, "class", "classes") == "2 classes"


# ----- 5. label --set -----------------------------------------------------------------------------------------------
def test_label_names_the_classes_and_takes_a_negative_seed_to_its_check(dcgan, tmp_path, capsys):
    argv = [
        "label",
        MODEL,
        "--attribute",
        "smile",
        "--classes",
        "no,yes",
        "--device",
        "cpu",
        "-o",
        tmp_path / "l.safetensors",
    ]
    code, _, err = run(capsys, *argv, "--set", "1=maybe")
    assert code == 2 and "'maybe' is not one of the classes (no, yes)" in err and "its index" in err, err
    code, _, err = run(capsys, *argv, "--set", "-1=yes")
    assert code == 2 and "--set -1=yes: a seed must be a whole number" in err and "got -1" in err, err
    code, _, err = run(capsys, *argv, "--set", "1=2")
    assert code == 2 and "a class index must be a whole number in [0, 1], got 2" in err, err
    assert not (tmp_path / "l.safetensors").exists()
    code, _, err = run(capsys, *argv, "--set", "1=1", "--set", "2=no")
    assert code == 0 and "no: 1, yes: 1" in err, err


# ----- 6. to 8. errors about files ------------------------------------------------------------------------------------
def test_a_missing_image_reads_like_every_missing_file(sefa_one, tmp_path, capsys):
    missing = tmp_path / "missing.png"
    code, _, err = run(capsys, "replay", missing)
    assert code == 2 and f"error: no such file: {missing}" in err, err
    code, _, other = run(capsys, "inspect", tmp_path / "missing.safetensors")
    assert code == 2 and f"error: no such file: {tmp_path / 'missing.safetensors'}" in other


def test_a_control_or_latents_file_given_as_the_model_is_named_at_once(dcgan, sefa_one, tmp_path, capsys):
    code, _, err = run(capsys, "info", sefa_one, "--device", "cpu")
    assert code == 2 and "faces.safetensors is a control file, not a model" in err, err
    assert f"({MODEL}) as MODEL" in err and "inspect faces.safetensors" in err and "converting" not in err
    start = tmp_path / "start.safetensors"
    assert main(["-q", "latents", MODEL, "--device", "cpu", "-o", str(start)]) == 0
    code, _, err = run(capsys, "edit", start, "--directions", sefa_one, "--device", "cpu", "-o", tmp_path / "x.png")
    assert code == 2 and "start.safetensors is a latents file" in err and "--latents start.safetensors" in err, err
    assert "converting" not in err and not (tmp_path / "x.png").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (a folder no file can be created in)")
def test_a_failed_write_names_the_users_path_not_a_temporary(dcgan, sefa_one, capsys):
    code, _, err = run(capsys, "edit", MODEL, "--directions", sefa_one, "--device", "cpu", "-o", "/proc/x.png")
    assert code == 1 and "/proc/x.png" in err and ".tmp" not in err and "Errno" not in err, err


# ----- 9. correct's table and progress --------------------------------------------------------------------------------
def test_the_measure_table_keeps_long_edit_names_whole(dcgan, sefa_one, tmp_path, capsys):
    renamed = tmp_path / "long.safetensors"
    long_name = "brightness (SC²GAN, without left-right, after re-projection)"
    assert main(["-q", "rename", str(sefa_one), "0", long_name, "-o", str(renamed)]) == 0
    argv = ["measure", MODEL, "--edit", f"{renamed}=0", "--target", "brightness", "--attributes", "brightness,warmth"]
    code, out, err = run(capsys, *argv, "--seeds", "4", "--strengths", "1,2", "--device", "cpu")
    assert code == 0, err
    assert f"sefa: {long_name} " in out, out


def test_percent_progress_shows_no_rate(capsys):
    with Console().progress("stages", unit="‰", percent=True) as progress:
        progress(0, 2000)
        time.sleep(1.1)  # the bar appears after a second of work
        progress(1000, 2000)
    err = capsys.readouterr().err
    assert "stages:  50%" in err and "/s" not in err and "‰" not in err, err


# ----- 10. steer --strip ---------------------------------------------------------------------------------------------
def test_through_zero_keeps_the_start_and_both_ends():
    assert through_zero(-10, 9, 7) == [-10.0, -6.666667, -3.333333, 0.0, 3.0, 6.0, 9.0]
    assert through_zero(-7, 7, 5) == [-7.0, -3.5, 0.0, 3.5, 7.0]
    assert 0.0 in through_zero(-1, 30, 3) and 0.0 in through_zero(-30, 1, 3)
    assert through_zero(0.5, 2, 4) == [0.5, 1.0, 1.5, 2.0]


def test_steer_strip_has_a_strength_0_column_and_says_which_range_each_row_uses(dcgan, tmp_path, capsys):
    controls, strip = tmp_path / "steer.safetensors", tmp_path / "strip.png"
    argv = ["steer", MODEL, "--transformations", "shift-x+,zoom-in", "--device", "cpu", "--steps", "6"]
    code, out, err = run(capsys, *argv, "-o", controls, "--strip", strip)
    assert code == 0, err
    strengths = read_recipe(strip).layout["strengths"]
    assert 0.0 in strengths and len(strengths) == 6
    lines = out.splitlines()
    shift = next(line for line in lines if "shift x" in line and "strengths" in line)
    zoom = next(line for line in lines if "zoom in" in line and "strengths" in line)
    ranges = [tuple(float(v) for v in line.split("strengths ")[1].split(",")[0].split(" … ")) for line in (shift, zoom)]
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    assert (strengths[0], strengths[-1]) == (low, high)
    summary = next(line for line in lines if line.startswith(str(strip)))
    assert f"({low:g} … {high:g}: the controls' ranges together)" in summary
    beyond = [name for name, r in zip(("shift x", "zoom in"), ranges, strict=True) if r != (low, high)]
    assert beyond and all(name in summary.split("beyond")[0] for name in beyond), summary


def _core_error(check) -> str:
    with pytest.raises(InvalidValueError) as caught:
        check()
    return str(caught.value)


@pytest.mark.parametrize(
    ("argv", "core"),
    [
        (("correlations", "--attribute", "brightness", "--top", "0"), None),
        (("train", "--attribute", "brightness", "--samples", "abc"), lambda: Sampling(samples="abc")),
        (("train", "--attribute", "brightness", "--epochs", "-1"), lambda: Training(epochs=-1)),
        (("invert", "in.png", "--steps", "1.5"), lambda: InversionSettings(steps="1.5")),
        (("correct", "--attribute", "brightness", "--correlated", "warmth", "--rare", "0"), None),
        (("train-encoder", "--batch", "1"), None),
    ],
)
def test_bad_numbers_are_refused_at_parse_time_in_the_cores_words(argv, core, tmp_path, capsys):
    out = tmp_path / "out.safetensors"
    wants_output = argv[0] in ("train", "invert", "correct")
    code, stdout, err = run(capsys, *argv, "--model", MODEL, *(("-o", out) if wants_output else ()))
    assert code == 2 and not stdout and not out.exists(), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "invalid" not in err, err
    option = next(a for a in argv if a.startswith("--") and a not in ("--attribute", "--correlated"))
    assert f"error: argument {option}: " in err and "must be" in err, err
    if core is not None:
        assert _core_error(core) in err, err


def test_no_option_takes_a_bare_int_or_float():
    """Every numeric option runs one of the core's checks (steering.cli.arguments), never argparse's int/float."""
    bare = []
    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            elif action.type in (int, float):
                bare.append(f"{parser.prog} {action.option_strings or action.dest}")
    assert not bare, bare


def test_layers_read_as_ranges_from_the_one_shared_helper():
    from steering.text import format_layers

    assert format_layers([6, 0, 1, 2, 3]) == "0-3, 6" and format_layers([2]) == "2"
    assert format_layers(None).startswith("all")
