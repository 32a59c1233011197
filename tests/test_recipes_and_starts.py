"""PNG recipes and replay, starting points and latents files, the method registry, and the Edit tab's restore, on the
real embedded DCGAN: every replay is compared pixel for pixel with the image it replays (CPU)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin
from safetensors.torch import load_file, save_file

import steering.methods
from steering import recipe
from steering.cli import main
from steering.controls import LinearControl, load_control
from steering.errors import DirectionsMismatchError, InvalidValueError, LatentsFileError
from steering.io import read_safetensors_metadata
from steering.methods import METHODS, Method, Parameter
from steering.models.base import Latents, Noise
from steering.recipe import RecipeError, read_recipe
from steering.start import MAX_LATENTS, Seed, latents_sha256, load_latents, save_latents

MODEL = "dcgan-faces"
MODEL_COMMANDS = ("discover", "edit", "sweep", "latents", "replay")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``main(["-q", *argv])`` on the CPU (pixel-exact) and what it printed."""
    args = [str(a) for a in argv]
    code = main(["-q", *args, *(["--device", "cpu"] if args[0] in MODEL_COMMANDS else [])])
    out, err = capsys.readouterr()
    return code, out, err


def pixels(path: str | Path | Image.Image) -> np.ndarray:
    image = path if isinstance(path, Image.Image) else Image.open(path)
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def refused(code: int, err: str, *words: str) -> bool:
    """Exit 2 with one line on stderr that names each of ``words``, and no traceback."""
    lines = err.strip().splitlines()
    return code == 2 and len(lines) == 1 and "Traceback" not in err and all(w in lines[0] for w in words)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, dcgan) -> Path:
    """A folder with a SeFa file, a GANSpace file, a hand-made control file and a latents file (seed 7, ψ 0.7)."""
    folder = tmp_path_factory.mktemp("recipes")
    sefa = ["discover", MODEL, "--method", "sefa", "-k", "4", "-o", folder / "sefa.safetensors"]
    ganspace = ["discover", MODEL, "--method", "ganspace", "-k", "3", "--samples", "200"]
    ganspace += ["-o", folder / "pcs.safetensors"]
    start = ["latents", MODEL, "--seed", "7", "--truncation", "0.7", "-o", folder / "start.safetensors"]
    for argv in (sefa, ganspace, start):
        assert main(["-q", *map(str, argv), "--device", "cpu"]) == 0
    handmade(dcgan).save(folder / "hand.safetensors")
    return folder


def handmade(generator) -> LinearControl:
    """Two directions no registered method computes (so only their file can give them back)."""
    vectors = torch.nn.functional.normalize(torch.randn(2, generator.z_dim, generator=torch.Generator().manual_seed(1)))
    return LinearControl(vectors=vectors, space="z", method="handmade", model=generator.identity, names=["a", "b"])


# ----- 1. PNG recipes and replay ---------------------------------------------------------------------------------
EDITS = {
    name: argv.split()
    for name, argv in {
        "one file": "edit --directions sefa --seed 5 --truncation 0.7 --strength 0=2",
        "two files": "edit --directions sefa --directions pcs --strength 0=2 5=-2.5",
        "great circle": "edit --directions sefa --great-circle --seed 2 --strength 1=3",
        "row of seeds": "edit --directions sefa --seeds 1,2 --row --strength 1=2",
        "sweep grid": "sweep --directions pcs --indices 0,2 --steps 3 --range -4,4 --seed 4",
        "latents file": "edit --directions sefa --latents start --strength 2=-2",
    }.items()
}


def command(files: Path, argv: list[str]) -> list[str]:
    """An ``EDITS`` entry with the model and full file names (``sefa`` -> the fixture's sefa.safetensors)."""
    named = {"sefa", "pcs", "start", "hand"}
    return [argv[0], MODEL, *(str(files / f"{a}.safetensors") if a in named else a for a in argv[1:])]


@pytest.mark.parametrize("case", list(EDITS))
def test_every_png_carries_a_recipe_that_replays_pixel_identical(files, capsys, case):
    made = files / f"{case.replace(' ', '-')}.png"  # beside its control and latents files
    assert run(capsys, *command(files, EDITS[case]), "-o", made)[0] == 0
    with Image.open(made) as image:
        assert "gan-steering" in image.text and image.text["parameters"] == read_recipe(made).summary()
    found = read_recipe(made)
    assert found.model["name"] == MODEL and found.walk == ("great-circle" if case == "great circle" else "linear")
    assert (found.layout or {}).get("type") == {"sweep grid": "sweep", "row of seeds": "seeds"}.get(case)
    assert ("latents_sha256" in found.start) == (case == "latents file")

    again = made.with_name(f"{made.stem}-replayed.png")
    code, out, _ = run(capsys, "replay", made, "-o", again)
    assert code == 0 and f"recipe: {found.summary()}" in out
    np.testing.assert_array_equal(pixels(again), pixels(made))
    assert read_recipe(again) == found  # the replay carries the same recipe


def test_recipes_record_the_layouts_and_strengths_asked_for(files, capsys, tmp_path):
    grid, row = tmp_path / "grid.png", tmp_path / "row.png"
    assert run(capsys, *command(files, EDITS["sweep grid"]), "-o", grid)[0] == 0
    assert run(capsys, *command(files, EDITS["row of seeds"]), "-o", row)[0] == 0
    names = load_control(files / "pcs.safetensors").names
    assert read_recipe(grid).layout == {
        "type": "sweep",
        "control": 0,
        "indices": [0, 2],
        "strengths": [-4, 0, 4],
        "labels": [names[0], names[2]],
    }
    assert read_recipe(row).layout == {"type": "seeds", "seeds": [1, 2]}
    two = tmp_path / "two.png"
    assert run(capsys, *command(files, EDITS["two files"]), "-o", two)[0] == 0
    entries = read_recipe(two).controls
    assert [e["method"] for e in entries] == ["sefa", "ganspace"]
    assert [e["strengths"] for e in entries] == [[2, 0, 0, 0], [0, -2.5, 0]]  # index 5 is the second file's 1


def test_an_edit_from_a_latents_file_replays_with_the_file_given_or_beside_the_png(files, capsys, tmp_path):
    made = files / "from-start.png"
    assert run(capsys, *command(files, EDITS["latents file"]), "-o", made)[0] == 0
    moved = tmp_path / "moved.png"
    shutil.copy(made, moved)  # the latents file is not beside it any more
    code, _, err = run(capsys, "replay", moved, "-o", tmp_path / "out.png")
    assert refused(code, err, "latents file", "--latents") and not (tmp_path / "out.png").exists()
    code, _, _ = run(capsys, "replay", moved, "--latents", files / "start.safetensors", "-o", tmp_path / "out.png")
    assert code == 0
    np.testing.assert_array_equal(pixels(tmp_path / "out.png"), pixels(made))
    assert run(capsys, "replay", made, "-o", tmp_path / "beside.png")[0] == 0  # found beside the PNG
    np.testing.assert_array_equal(pixels(tmp_path / "beside.png"), pixels(made))


def test_a_recipe_finds_its_latents_file_only_beside_the_png(files, capsys, tmp_path):
    """A recipe names a file, not a path: ``../start.safetensors`` is looked for beside the PNG, never above it."""
    made = files / "from-start.png"
    assert run(capsys, *command(files, EDITS["latents file"]), "-o", made)[0] == 0
    forged = json.loads(Image.open(made).text["gan-steering"])
    forged["start"]["file"] = "../start.safetensors"
    shutil.copy(files / "start.safetensors", tmp_path / "start.safetensors")
    (tmp_path / "sub").mkdir()
    png = png_with_chunk(tmp_path / "sub" / "forged.png", json.dumps(forged))
    code, _, err = run(capsys, "replay", png, "-o", tmp_path / "out.png")
    assert refused(code, err, "--latents") and not (tmp_path / "out.png").exists()
    shutil.copy(files / "start.safetensors", tmp_path / "sub" / "start.safetensors")
    assert run(capsys, "replay", png, "-o", tmp_path / "out.png")[0] == 0


def test_a_renamed_control_file_still_replays(files, capsys, tmp_path, dcgan):
    made = files / "hand.png"
    assert run(capsys, *command(files, ["edit", "--directions", "hand", "--strength", "0=2.5"]), "-o", made)[0] == 0
    moved = tmp_path / "hand.png"
    shutil.copy(made, moved)
    renamed = tmp_path / "smile.safetensors"  # another file name, and another name inside
    assert run(capsys, "rename", files / "hand.safetensors", "0", "smile", "-o", renamed)[0] == 0
    assert load_control(renamed).names == ["smile", "b"]
    assert run(capsys, "replay", moved, "--directions", renamed, "-o", tmp_path / "out.png")[0] == 0
    np.testing.assert_array_equal(pixels(tmp_path / "out.png"), pixels(made))
    unedited = tmp_path / "plain.png"
    assert run(capsys, "edit", MODEL, "--directions", renamed, "-o", unedited)[0] == 0
    assert np.abs(pixels(unedited) - pixels(made)).mean() > 1.0  # the replay did apply the renamed file


def test_a_sweep_of_a_renamed_file_replays_the_same_picture(files, capsys, tmp_path):
    """A grid draws its rows' names: the recipe keeps the names as drawn, so renaming the file changes nothing."""
    made = files / "named-sweep.png"
    assert run(capsys, *command(files, EDITS["sweep grid"]), "-o", made)[0] == 0
    moved = tmp_path / "named-sweep.png"
    shutil.copy(made, moved)
    renamed = tmp_path / "renamed.safetensors"
    assert run(capsys, "rename", files / "pcs.safetensors", "0", "a much longer name", "-o", renamed)[0] == 0
    assert run(capsys, "replay", moved, "--directions", renamed, "-o", tmp_path / "out.png")[0] == 0
    np.testing.assert_array_equal(pixels(tmp_path / "out.png"), pixels(made))


def test_recomputing_a_missing_control_shows_progress_and_can_be_cancelled(files, capsys, tmp_path, dcgan, monkeypatch):
    """A recipe whose control file is gone recomputes it with the method's progress; a cancel stops it (never
    reported as "cannot be recomputed")."""
    from steering.errors import CancelledError
    from steering.recipe import replay

    made = files / "pcs-only.png"
    assert run(capsys, *command(files, ["edit", "--directions", "pcs", "--strength", "0=3"]), "-o", made)[0] == 0
    moved = tmp_path / "moved.png"  # no control file beside it
    shutil.copy(made, moved)
    monkeypatch.setenv("GAN_STEERING_HOME", str(tmp_path / "home"))  # an empty basis cache: computed again
    calls = []

    def follow(done: int, total: int) -> None:
        calls.append((done, total))

    again, _ = replay(moved, dcgan, progress=follow)
    assert calls and calls[-1][0] == calls[-1][1]
    np.testing.assert_array_equal(np.asarray(again), pixels(made))

    def cancel(done: int, total: int) -> None:
        raise CancelledError("cancelled")

    monkeypatch.setenv("GAN_STEERING_HOME", str(tmp_path / "other"))
    with pytest.raises(CancelledError):
        replay(moved, dcgan, progress=cancel)


def test_a_missing_control_file_is_recomputed_when_its_method_is_registered(files, capsys, tmp_path):
    made = files / "sefa-only.png"
    assert run(capsys, *command(files, ["edit", "--directions", "sefa", "--strength", "0=3"]), "-o", made)[0] == 0
    moved = tmp_path / "moved.png"  # no control file beside it
    shutil.copy(made, moved)
    assert run(capsys, "replay", moved, "-o", tmp_path / "out.png")[0] == 0
    np.testing.assert_array_equal(pixels(tmp_path / "out.png"), pixels(made))


def test_a_missing_hand_made_control_file_is_one_clear_line(files, capsys, tmp_path, dcgan):
    control = tmp_path / "mine.safetensors"
    handmade(dcgan).save(control)
    made = tmp_path / "mine.png"
    assert run(capsys, "edit", MODEL, "--directions", control, "--strength", "1=2", "-o", made)[0] == 0
    control.unlink()
    code, _, err = run(capsys, "replay", made, "-o", tmp_path / "out.png")
    assert refused(code, err, "handmade", "mine.safetensors", "--directions")
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(RecipeError, match="--directions"):
        recipe.replay(made, dcgan)


@pytest.fixture(scope="module")
def good(files) -> dict:
    """A real recipe (sefa file, seed 5), as JSON data to forge from."""
    made = files / "good.png"
    assert main(["-q", *command(files, EDITS["one file"]), "-o", str(made), "--device", "cpu"]) == 0
    return json.loads(Image.open(made).text["gan-steering"])


def changed(data: dict, path: str, value: object) -> dict:
    """A deep copy of ``data`` with ``path`` ("start.seed", "controls.0.strengths") set to ``value``."""
    copy = json.loads(json.dumps(data))
    *parents, last = path.split(".")
    target = copy
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return copy


FORGED = {
    "bad JSON": lambda good: "{not json",
    "deeply nested": lambda good: "[" * 50_000 + "]" * 50_000,
    "not an object": lambda good: "[1, 2]",
    "another version": lambda good: json.dumps(changed(good, "version", 99)),
    "non-finite": lambda good: json.dumps(good).replace('"scale": 1', '"scale": 1e999'),
    "NaN strength": lambda good: json.dumps(changed(good, "controls.0.strengths", [1.0])).replace("1.0]", "NaN]"),
    "strengths as text": lambda good: json.dumps(changed(good, "controls.0.strengths", "abc")),
    "huge strength": lambda good: json.dumps(changed(good, "controls.0.strengths", [1e300, 0, 0, 0])),
    "params a list": lambda good: json.dumps(changed(good, "controls.0.params", [1])),
    "controls not a list": lambda good: json.dumps(changed(good, "controls", {"a": 1})),
    "too many controls": lambda good: json.dumps(changed(good, "controls", good["controls"] * 10_000)),
    "control sha256 short": lambda good: json.dumps(changed(good, "controls.0.sha256", "abc")),
    "seed as text": lambda good: json.dumps(changed(good, "start.seed", "five")),
    "seed a boolean": lambda good: json.dumps(changed(good, "start.seed", True)),
    "negative seed": lambda good: json.dumps(changed(good, "start.seed", -1)),
    "truncation as text": lambda good: json.dumps(changed(good, "start.truncation", "x")),
    "truncation 5": lambda good: json.dumps(changed(good, "start.truncation", 5)),
    "noise as text": lambda good: json.dumps(changed(good, "start.noise", "loud")),
    "noise mode unknown": lambda good: json.dumps(changed(good, "start.noise", {"mode": "loud"})),
    "class index negative": lambda good: json.dumps(changed(good, "start.class_index", -3)),
    "latents sha256 a number": lambda good: json.dumps(changed(good, "start", {"latents_sha256": 5})),
    "no model": lambda good: json.dumps(changed(good, "model", None)),
    "model sha256 missing": lambda good: json.dumps(changed(good, "model", {"name": MODEL})),
    "walk unknown": lambda good: json.dumps(changed(good, "walk", "sideways")),
    "scale 0": lambda good: json.dumps(changed(good, "scale", 0)),
    "layout unknown": lambda good: json.dumps(changed(good, "layout", {"type": "mosaic"})),
    "sweep without indices": lambda good: json.dumps(changed(good, "layout", {"type": "sweep", "control": 0})),
    "sweep of a missing file": lambda good: json.dumps(
        changed(good, "layout", {"type": "sweep", "control": 3, "indices": [0], "strengths": [0]})
    ),
    "sweep index negative": lambda good: json.dumps(
        changed(good, "layout", {"type": "sweep", "control": 0, "indices": [-1], "strengths": [0]})
    ),
    "sweep labels too few": lambda good: json.dumps(
        changed(good, "layout", {"type": "sweep", "control": 0, "indices": [0], "strengths": [0], "labels": []})
    ),
    "sweep label blank": lambda good: json.dumps(
        changed(good, "layout", {"type": "sweep", "control": 0, "indices": [0], "strengths": [0], "labels": [" "]})
    ),
    "seeds as text": lambda good: json.dumps(changed(good, "layout", {"type": "seeds", "seeds": ["a"]})),
    "no seeds": lambda good: json.dumps(changed(good, "layout", {"type": "seeds", "seeds": []})),
}


def png_with_chunk(path: Path, text: str) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("gan-steering", text)
    Image.new("RGB", (64, 64), (90, 40, 10)).save(path, pnginfo=info)
    return path


@pytest.mark.parametrize("forgery", list(FORGED))
def test_a_forged_recipe_is_one_clear_line_never_a_traceback(good, capsys, tmp_path, forgery):
    made = png_with_chunk(tmp_path / "forged.png", FORGED[forgery](good))
    with pytest.raises(RecipeError, match=r"forged\.png"):
        read_recipe(made)
    code, _, err = run(capsys, "replay", made, "-o", tmp_path / "out.png")
    assert refused(code, err, "forged.png") and not (tmp_path / "out.png").exists()


def test_images_without_a_readable_recipe_are_one_clear_line(files, good, capsys, tmp_path):
    plain = tmp_path / "plain.png"
    Image.open(files / "good.png").save(plain)  # the pixels, without the chunk
    jpeg = tmp_path / "photo.jpg"
    Image.open(files / "good.png").convert("RGB").save(jpeg)
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((files / "good.png").read_bytes()[:40])
    expected = {plain: "carries no gan-steering recipe", jpeg: "carries no gan-steering recipe"}
    expected |= {text: "not a readable image", truncated: "not a readable image"}
    for image, words in expected.items():
        with pytest.raises(RecipeError, match=words):
            read_recipe(image)
        code, _, err = run(capsys, "replay", image, "-o", tmp_path / "out.png")
        assert refused(code, err, image.name, words)
    assert not (tmp_path / "out.png").exists()


# ----- 2. starting points and latents files ----------------------------------------------------------------------
def test_a_latents_file_round_trips_exactly(dcgan, tmp_path):
    start = Seed(7, 0.7, None, Noise("random", 3))
    latents = start.latents(dcgan)
    path = save_latents(latents, dcgan, tmp_path / "start.safetensors", source=start.describe())
    found = load_latents(path, dcgan)
    assert torch.equal(found.stored.codes, latents.codes) and found.stored.classes is None
    assert found.stored.space == "z" and found.stored.truncation == 0.7 and found.stored.noise == Noise("random", 3)
    assert found.model == dcgan.identity and found.source == start.describe() and found.path == path
    assert found.describe()["latents_sha256"] == latents_sha256(latents)
    # classes (for class-conditional models) come back too; read without a model to check against
    soft = Latents(torch.randn(3, 100), "z", torch.softmax(torch.randn(3, 10), dim=1), 0.5, Noise("none"))
    back = load_latents(save_latents(soft, dcgan, tmp_path / "classes.safetensors", source={"from": "test"}))
    assert torch.equal(back.stored.codes, soft.codes) and torch.equal(back.stored.classes, soft.classes)
    assert back.stored.truncation == 0.5 and back.stored.noise == Noise("none") and back.source == {"from": "test"}


def test_a_latents_file_for_another_model_is_refused(dcgan, files, capsys, tmp_path):
    other = types.SimpleNamespace(identity=dataclasses.replace(dcgan.identity, name="other-gan", sha256="ab" * 32))
    path = save_latents(dcgan.sample(1, seed=1), other, tmp_path / "other.safetensors")
    with pytest.raises(DirectionsMismatchError, match="other-gan"):
        load_latents(path, dcgan)
    assert load_latents(path).model.sha256 == "ab" * 32  # without a model to check against it reads
    code, _, err = run(
        capsys, *command(files, ["edit", "--directions", "sefa"]), "--latents", path, "-o", tmp_path / "x.png"
    )
    assert refused(code, err, "other-gan") and not (tmp_path / "x.png").exists()


def good_parts(dcgan) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a real latents file (seed 1), to damage."""
    latents = dcgan.sample(1, seed=1)
    metadata = {
        "format": "gan-steering.latents",
        "format_version": "1",
        "space": "z",
        "truncation": "1.0",
        "noise": json.dumps({"mode": "const", "seed": 0}),
        "model": dcgan.identity.to_json(),
        "source": json.dumps({"seed": 1}),
    }
    return {"codes": latents.codes.cpu()}, metadata


DAMAGES = {
    "NaN codes": ({"codes": torch.full((1, 100), float("nan"))}, {}),
    "infinite codes": ({"codes": torch.full((1, 100), float("inf"))}, {}),
    "codes 1-D": ({"codes": torch.zeros(100)}, {}),
    "codes too short": ({"codes": torch.zeros(1, 50)}, {}),
    "codes too long": ({"codes": torch.zeros(1, 512)}, {}),
    "no codes": ({"codes": None, "other": torch.zeros(1, 100)}, {}),
    "no latents": ({"codes": torch.zeros(0, 100)}, {}),
    "too many latents": ({"codes": torch.zeros(MAX_LATENTS + 1, 1)}, {}),
    "w+ codes in z": ({"codes": torch.zeros(1, 4, 100)}, {}),
    "a space the model lacks": ({}, {"space": "w"}),
    "w+ on a model without it": ({"codes": torch.zeros(1, 1, 100)}, {"space": "w+"}),
    "an unknown space": ({}, {"space": "q"}),
    "classes for an unconditional model": ({"classes": torch.ones(1, 10)}, {}),
    "classes of another N": ({"classes": torch.ones(3, 10)}, {}),
    "NaN classes": ({"classes": torch.full((1, 10), float("nan"))}, {}),
    "another format": ({}, {"format": "gan-steering.directions"}),
    "format version text": ({}, {"format_version": "one"}),
    "a newer format": ({}, {"format_version": "99"}),
    "truncation text": ({}, {"truncation": '"x"'}),
    "truncation 5": ({}, {"truncation": "5"}),
    "truncation NaN": ({}, {"truncation": "NaN"}),
    "noise text": ({}, {"noise": '"loud"'}),
    "noise mode unknown": ({}, {"noise": '{"mode": "loud"}'}),
    "noise seed negative": ({}, {"noise": '{"mode": "random", "seed": -4}'}),
    "noise nested deeply": ({}, {"noise": '{"a": ' * 40 + "1" + "}" * 40}),
    "model not JSON": ({}, {"model": "{"}),
    "model without sha256": ({}, {"model": json.dumps({"architecture": "dcgan", "name": "x"})}),
    "source a list": ({}, {"source": "[1]"}),
    "no space": ({}, {"space": None}),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_latents_file_is_refused(dcgan, tmp_path, capsys, files, damage):
    tensors, metadata = good_parts(dcgan)
    more_tensors, more_metadata = DAMAGES[damage]
    tensors = {k: v for k, v in {**tensors, **more_tensors}.items() if v is not None}
    metadata = {k: v for k, v in {**metadata, **more_metadata}.items() if v is not None}
    path = tmp_path / "bad.safetensors"
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    with pytest.raises(LatentsFileError):
        load_latents(path, dcgan)
    code, _, err = run(
        capsys, *command(files, ["edit", "--directions", "sefa"]), "--latents", path, "-o", tmp_path / "x.png"
    )
    assert refused(code, err, "bad.safetensors") and not (tmp_path / "x.png").exists()


def test_a_truncated_or_forged_latents_file_is_refused(dcgan, tmp_path):
    good = save_latents(dcgan.sample(1, seed=1), dcgan, tmp_path / "good.safetensors")
    data = good.read_bytes()
    header = json.dumps({"codes": {"dtype": "F32", "shape": [10**12, 100], "data_offsets": [0, 400]}}).encode()
    forged = {
        "truncated": data[: len(data) // 2],
        "garbage": b"\x00" * 64,
        "empty": b"",
        "a huge N in the header": struct.pack("<Q", len(header)) + header + b"\x00" * 400,
    }
    for name, content in forged.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(content)
        with pytest.raises(LatentsFileError):
            load_latents(path, dcgan)
    assert load_file(str(good))["codes"].shape == (1, 100) and read_safetensors_metadata(good)["space"] == "z"


def test_an_edit_from_a_latents_file_is_the_edit_from_its_seed(files, capsys, tmp_path):
    from_seed, from_file = tmp_path / "seed.png", tmp_path / "file.png"
    edit = command(files, ["edit", "--directions", "sefa", "--strength", "0=2"])
    assert run(capsys, *edit, "--seed", "7", "--truncation", "0.7", "-o", from_seed)[0] == 0
    assert run(capsys, *edit, "--latents", files / "start.safetensors", "-o", from_file)[0] == 0
    np.testing.assert_array_equal(pixels(from_file), pixels(from_seed))
    other = tmp_path / "other.png"
    assert run(capsys, *edit, "--seed", "7", "--truncation", "0.6", "-o", other)[0] == 0
    assert not np.array_equal(pixels(other), pixels(from_seed))  # ψ is part of the starting point
    code, _, err = run(capsys, *edit, "--latents", files / "start.safetensors", "--seed", "7", "-o", other)
    assert refused(code, err, "--latents")


# ----- 3. the method registry ------------------------------------------------------------------------------------
def shift(generator, spread: float = 2.0) -> LinearControl:
    """A new method for the tests: the first two axes of z, with a strength range of ±spread."""
    vectors = torch.eye(generator.z_dim)[:2]
    return LinearControl(
        vectors=vectors,
        space="z",
        method="shift",
        model=generator.identity,
        params={"spread": spread},
        strength_range=(-spread, spread),
    )


SHIFT = Method(
    name="shift",
    title="Shift along the axes",
    function=shift,
    kind="linear",
    parameters=(Parameter("spread", "float", 2.0, "Half-width of the strength range", minimum=0.5, maximum=8.0),),
)


@pytest.fixture()
def registered(monkeypatch):
    """``shift`` added to the method table (the table only: nothing in the CLI or the UI is told)."""
    monkeypatch.setattr(steering.methods, "METHODS", {**METHODS, "shift": SHIFT})


def test_a_registered_method_works_through_the_cli(registered, capsys, tmp_path, dcgan):
    out = tmp_path / "shift.safetensors"
    code, printed, _ = run(capsys, "discover", MODEL, "--method", "shift", "--spread", "1.5", "-o", out)
    assert code == 0 and "shift: 2 directions" in printed and "-1.5 … 1.5" in printed
    found = load_control(out, dcgan)
    assert found.method == "shift" and found.params == {"spread": 1.5} and found.strength_range == (-1.5, 1.5)
    assert torch.equal(found.vectors, torch.eye(100)[:2])
    code, _, err = run(capsys, "discover", MODEL, "--method", "shift", "--spread", "9", "-o", out)
    assert refused(code, err, "8")  # its own limits are checked
    code, _, err = run(
        capsys, "discover", MODEL, "--method", "sefa", "--spread", "1.5", "-o", tmp_path / "x.safetensors"
    )
    assert refused(code, err, "--spread", "shift")
    code, _, err = run(
        capsys, "discover", MODEL, "--method", "sefa", "--samples", "100", "-o", tmp_path / "x.safetensors"
    )
    assert refused(code, err, "--samples", "ganspace") and not (tmp_path / "x.safetensors").exists()
    code, _, err = run(capsys, "discover", MODEL, "--method", "shift", "-k", "3", "-o", tmp_path / "x.safetensors")
    assert refused(code, err, "--num-directions", "sefa", "ganspace")

    made = tmp_path / "shifted.png"
    assert run(capsys, "edit", MODEL, "--directions", out, "--strength", "1=1.5", "-o", made)[0] == 0
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(made, moved / "shifted.png")  # its file is not beside it: replay recomputes it from the table
    assert run(capsys, "replay", moved / "shifted.png", "-o", moved / "out.png")[0] == 0
    np.testing.assert_array_equal(pixels(moved / "out.png"), pixels(made))


# ----- 4. the Edit tab: restore, starting points, Reset ---------------------------------------------------------
MAX = 6  # sliders


@pytest.fixture(scope="module")
def ui() -> types.SimpleNamespace:
    """The UI's modules (gradio is optional: without it these tests are skipped, the ones above still run)."""
    gr = pytest.importorskip("gradio")
    from extension import compat
    from extension.feedback import bind
    from extension.session import directions_store
    from extension.tabs import discover, edit

    return types.SimpleNamespace(gr=gr, compat=compat, bind=bind, store=directions_store, discover=discover, edit=edit)


@pytest.fixture()
def settings(ui, tmp_path, dcgan):
    from extension.settings import UISettings

    return UISettings(output_dir=tmp_path / "outputs", device="cpu", default_model=MODEL, max_sliders=MAX)


@pytest.fixture()
def key(ui, settings):
    """A SeFa set of 4 in the store, as the Discover button leaves it."""
    return ui.discover.discover(settings, MODEL, "sefa", 4, "all", 0)[1]


def ui_state(key, seed=3, truncation=1.0, start_key="", target=1, mode="slerp", klass=None, walk="linear"):
    """The Edit tab's state inputs after the model spec (noise const)."""
    return (key, start_key, seed, truncation, klass, "const", walk, target, mode)


def test_a_registered_method_works_through_the_discover_tab(ui, registered, settings, dcgan):
    names = list(ui.discover.parameters())
    assert "spread" in names and ("Shift along the axes", "shift") in ui.discover.method_choices()
    shown = ui.discover.method_options("shift")
    assert [u["visible"] for u in shown] == [name == "spread" for name in names]
    values = [1.5 if name == "spread" else None for name in names]
    _, key, chart, _, status = ui.discover.discover(settings, MODEL, "shift", *values)
    found = ui.store.get(key)
    assert found.method == "shift" and found.strength_range == (-1.5, 1.5) and chart is None
    assert "2 shift directions" in status
    with pytest.raises(ui.gr.Error, match=r"strength range must be in \[0\.5, 8\]"):
        ui.bind(ui.discover.discover, settings)(MODEL, "shift", *[20 if n == "spread" else None for n in names])
    from extension.ui import build_app

    config = ui.compat.config_of(build_app(settings))
    assert "gan_steering_param_spread" in {c["props"].get("elem_id") for c in config["components"]}


def test_restore_brings_back_a_previews_seed_sliders_and_interpolation(ui, settings, key):
    sliders = [1.5, -2.0, 0.0, 0.5]
    state = ui_state(key, seed=11, truncation=0.8, target=42, mode="linear")
    png = ui.edit.render(settings, MODEL, *state, 0.3, *sliders, 0.0, 0.0)
    for current in (key, ""):  # the set on the page, or none: then it is recomputed from the recipe
        out = ui.edit.restore(settings, MODEL, current, png)
        new_key, start_key, seed, truncation, klass, noise, target, mode, towards = out[:9]
        restored, status = out[9 : 9 + MAX], out[-1]
        assert klass == "from the seed"  # the faces model has no classes: the hidden picker keeps its default
        assert (start_key, seed, truncation, noise, target, mode, towards) == ("", 11, 0.8, "const", 42, "linear", 0.3)
        assert [u["value"] for u in restored] == [*sliders, 0.0, 0.0] and "restored" in status
        if current:
            assert new_key == key
        else:
            assert ui.store.get(new_key).content_hash() == ui.store.get(key).content_hash()
        values = [u["value"] for u in restored]
        again = ui.edit.render(
            settings, MODEL, *ui_state(new_key, seed, truncation, "", target, mode), towards, *values
        )
        np.testing.assert_array_equal(pixels(again), pixels(png))


def test_restore_brings_back_the_walk(ui, settings, key):
    png = ui.edit.render(settings, MODEL, *ui_state(key, seed=4, walk="great-circle"), 0.0, 0.0, 3.0)
    out = ui.edit.restore(settings, MODEL, key, png)  # the page's walk is back at linear
    walk = out[-2]
    assert walk["value"] == "great-circle" and "great-circle" in walk["choices"]
    values = [u["value"] for u in out[9 : 9 + MAX]]
    again = ui.edit.render(settings, MODEL, *ui_state(out[0], seed=4, walk=walk["value"]), 0.0, *values)
    np.testing.assert_array_equal(pixels(again), pixels(png))


def shown_at_scale_one(image: str, like: Path) -> np.ndarray:
    """A UI preview (enlarged by an integer factor, nearest) brought back to the size of ``like``."""
    step = Image.open(image).width // Image.open(like).width
    return pixels(image)[::step, ::step]


def test_restore_of_cli_images_with_a_path_file_or_several_sets(ui, settings, files, capsys, tmp_path):
    """A path file that does not start at the image's seed is a set of its own (not the tab's interpolation); a
    recipe with two sets restores the first and says the image will differ."""
    path_file = tmp_path / "path.safetensors"
    assert run(capsys, "discover", MODEL, "--method", "interpolation", "--seeds", "3,7", "-o", path_file)[0] == 0
    along = tmp_path / "along.png"
    edited = ["edit", MODEL, "--directions", path_file, "--seed", "0", "--strength", "0=0.5", "-o", along]
    assert run(capsys, *edited)[0] == 0
    out = ui.edit.restore(settings, MODEL, "", str(along))
    assert "restored" in out[-1] and out[2] == 0 and out[8] == 0.0  # seed 0; the tab's interpolation unused
    assert ui.store.get(out[0]).method == "interpolation" and out[9]["value"] == 0.5
    again = ui.edit.render(settings, MODEL, *ui_state(out[0], seed=0, target=out[6]), 0.0, 0.5)
    np.testing.assert_array_equal(shown_at_scale_one(again, along), pixels(along))

    two = tmp_path / "two.png"
    assert run(capsys, *command(files, EDITS["two files"]), "-o", two)[0] == 0
    out = ui.edit.restore(settings, MODEL, "", str(two))
    assert "only its first set" in out[-1] and "replay" in out[-1] and "⚠️" in out[-1]
    assert ui.store.get(out[0]).method == "sefa" and [u["value"] for u in out[9:13]] == [2.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "forged, words",
    [(("start", "class_index", 3), "not class-conditional"), (("controls", 0, "strengths", [1.0]), "1 strengths")],
)
def test_restore_of_a_forged_recipe_is_a_clear_error(ui, settings, key, tmp_path, forged, words):
    png = ui.edit.render(settings, MODEL, *ui_state(key), 0.0, 1.0)
    made = json.loads(Image.open(png).text["gan-steering"])
    *where, last = forged[:-1]
    target = made
    for part in where:
        target = target[part]
    target[last] = forged[-1]
    bad = png_with_chunk(tmp_path / "forged.png", json.dumps(made))
    with pytest.raises(ui.gr.Error, match=words):
        ui.bind(ui.edit.restore, settings)(MODEL, key, str(bad))


def test_restore_refuses_images_for_another_model_or_without_a_recipe(ui, settings, key, tmp_path):
    png = ui.edit.render(settings, MODEL, *ui_state(key), 0.0, 1.0)
    made = json.loads(Image.open(png).text["gan-steering"])
    made["model"] = {"name": "other-gan", "sha256": "cd" * 32, "spec": "someone/other-gan"}
    foreign = png_with_chunk(tmp_path / "foreign.png", json.dumps(made))
    with pytest.raises(DirectionsMismatchError, match="other-gan"):
        ui.edit.restore(settings, MODEL, key, str(foreign))
    plain = tmp_path / "plain.png"
    Image.open(png).save(plain)
    with pytest.raises(ui.gr.Error, match="carries no gan-steering recipe"):
        ui.bind(ui.edit.restore, settings)(MODEL, key, str(plain))
    with pytest.raises(ui.gr.Error, match="drop a PNG"):
        ui.bind(ui.edit.restore, settings)(MODEL, key, None)


def test_restore_of_an_image_made_without_a_set_keeps_the_current_set_at_neutral(ui, settings, key):
    png = ui.edit.render(settings, MODEL, *ui_state("", seed=5, target=9), 0.4)  # only the interpolation
    out = ui.edit.restore(settings, MODEL, key, png)
    assert out[0] == key and out[2] == 5 and out[6] == 9 and out[8] == 0.4
    assert [u["value"] for u in out[9 : 9 + MAX]] == [0.0] * MAX
    again = ui.edit.render(settings, MODEL, *ui_state(key, seed=5, target=9), 0.4, *([0.0] * MAX))
    np.testing.assert_array_equal(pixels(again), pixels(png))


def test_a_latents_file_is_a_starting_point_in_the_edit_tab(ui, settings, key, files, dcgan, tmp_path):
    start_key, status = ui.edit.upload_latents(settings, MODEL, str(files / "start.safetensors"))
    assert "latents file" in status
    from_file = ui.edit.view(settings, MODEL, *ui_state(key, seed=3, start_key=start_key))
    from_seed = ui.edit.view(settings, MODEL, *ui_state(key, seed=7, truncation=0.7))
    image = MAX + 1  # view's outputs: sliders, towards, image
    np.testing.assert_array_equal(pixels(from_file[image]), pixels(from_seed[image]))
    moved_file = ui.edit.render(settings, MODEL, *ui_state(key, seed=3, start_key=start_key), 0.0, 2.0)
    moved_seed = ui.edit.render(settings, MODEL, *ui_state(key, seed=7, truncation=0.7), 0.0, 2.0)
    np.testing.assert_array_equal(pixels(moved_file), pixels(moved_seed))
    assert not np.array_equal(pixels(moved_file), pixels(from_file[image]))

    other = types.SimpleNamespace(identity=dataclasses.replace(dcgan.identity, name="other-gan", sha256="ab" * 32))
    foreign = save_latents(dcgan.sample(1, seed=1), other, tmp_path / "foreign.safetensors")
    with pytest.raises(DirectionsMismatchError, match="other-gan"):
        ui.edit.upload_latents(settings, MODEL, str(foreign))
    many = save_latents(dcgan.sample(2, seed=1), dcgan, tmp_path / "two.safetensors")
    with pytest.raises(InvalidValueError, match="holds 2 latents"):
        ui.edit.upload_latents(settings, MODEL, str(many))


def test_restore_of_an_image_that_started_from_a_latents_file(ui, settings, key, files):
    """Its sliders come back while that file is the starting point (the start stays the file); without it, the
    message says where to load the file, and nothing changes."""
    start_key, _ = ui.edit.upload_latents(settings, MODEL, str(files / "start.safetensors"))
    sliders = [1.0, -1.5, 0.0, 0.0]
    png = ui.edit.render(settings, MODEL, *ui_state(key, seed=3, start_key=start_key), 0.0, *sliders, 0.0, 0.0)
    with pytest.raises(InvalidValueError, match=r"Starting point \(latents file\)"):
        ui.edit.restore(settings, MODEL, key, png, "")
    out = ui.edit.restore(settings, MODEL, "", png, start_key)  # the set recomputed, the file kept as the start
    assert out[1] == start_key and "restored" in out[-1]
    values = [u["value"] for u in out[9 : 9 + MAX]]
    assert values == [*sliders, 0.0, 0.0]
    again = ui.edit.render(settings, MODEL, *ui_state(out[0], seed=99, start_key=start_key), 0.0, *values)
    np.testing.assert_array_equal(pixels(again), pixels(png))


def test_save_start_writes_a_latents_file_that_loads_back(ui, settings, key, dcgan):
    path, status = ui.edit.save_start(settings, MODEL, "", 9, 0.6, None, "const")
    assert path.startswith(str(settings.output_dir)) and "saved" in status
    found = load_latents(path, dcgan)
    assert torch.equal(found.stored.codes, dcgan.sample(1, seed=9, truncation=0.6).codes)
    assert found.source == Seed(9, 0.6).describe() and found.stored.truncation == 0.6
    start_key, _ = ui.edit.upload_latents(settings, MODEL, path)
    image = MAX + 1
    from_file = ui.edit.view(settings, MODEL, *ui_state(key, start_key=start_key))[image]
    from_seed = ui.edit.view(settings, MODEL, *ui_state(key, seed=9, truncation=0.6))[image]
    np.testing.assert_array_equal(pixels(from_file), pixels(from_seed))
    again, _ = ui.edit.save_start(settings, MODEL, start_key, 0, 1.0, None, "const")  # saving a loaded file keeps it
    assert torch.equal(load_latents(again, dcgan).stored.codes, found.stored.codes)


def test_reset_and_the_first_slider_values_agree_when_the_range_excludes_zero(ui, settings, key):
    shifted = dataclasses.replace(ui.store.get(key), strength_range=(1.0, 3.0))
    k = ui.store.put(shifted, "local")
    first = ui.edit.view(settings, MODEL, *ui_state(k))
    reset = ui.edit.reset(settings, MODEL, *ui_state(k))
    assert [u["value"] for u in first[:MAX]] == [1.0] * 4 + [0.0] * (MAX - 4)  # hidden sliders stay at 0
    assert [u["value"] for u in reset[:MAX]] == [1.0] * 4 + [0.0] * (MAX - 4)
    assert first[MAX]["value"] == reset[MAX]["value"] == 0.0  # the interpolation
    np.testing.assert_array_equal(pixels(first[MAX + 1]), pixels(reset[MAX + 1]))
    at_one = ui.edit.render(settings, MODEL, *ui_state(k), 0.0, 1.0, 1.0, 1.0, 1.0)
    np.testing.assert_array_equal(pixels(at_one), pixels(first[MAX + 1]))
    at_zero = ui.edit.render(settings, MODEL, *ui_state(key), 0.0)
    assert not np.array_equal(pixels(at_zero), pixels(first[MAX + 1]))  # 1.0 was applied, not 0


def test_class_weights_far_beyond_a_mixture_are_refused(eyes, tmp_path):
    """A latents file whose class weights are huge (finite) made BigGAN-deep draw NaN, saved as black: refused."""
    from steering.start import save_latents

    latents = eyes.sample(1, seed=3, class_index=2)
    path = save_latents(latents, eyes, tmp_path / "ok.safetensors", source={"seed": 3})
    assert torch.equal(load_latents(path, eyes).latents(eyes).classes, latents.classes)
    huge = save_latents(latents.replace(classes=latents.classes * 1e30), eyes, tmp_path / "huge.safetensors")
    with pytest.raises(LatentsFileError, match="within ±100"):
        load_latents(huge, eyes)
