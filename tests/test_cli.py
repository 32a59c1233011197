"""The command line on the real embedded DCGAN: files it writes are compared with what the library makes."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from steering import edit
from steering.cli import main
from steering.directions import Directions
from steering.methods import ganspace, sefa

MODEL = "dcgan-faces"
MODEL_COMMANDS = ("info", "discover", "edit", "sweep", "animate")
ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: object, device: str = "cpu") -> tuple[int, str, str]:
    """``main(argv)`` and its output; model commands run on ``device`` (CPU: pixel-exact against the library)."""
    args = [str(a) for a in argv]
    if args[0] in MODEL_COMMANDS:
        args += ["--device", device]
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def pixels(image: Image.Image | str | Path) -> np.ndarray:
    return np.asarray(image if isinstance(image, Image.Image) else Image.open(image).convert("RGB"))


@pytest.fixture(scope="module")
def sefa_file(tmp_path_factory: pytest.TempPathFactory, dcgan) -> Path:
    path = tmp_path_factory.mktemp("cli") / "sefa.safetensors"
    assert main(["-q", "discover", MODEL, "--method", "sefa", "-k", "4", "--device", "cpu", "-o", str(path)]) == 0
    return path


def test_discover_writes_the_library_basis_and_prints_the_spectrum(dcgan, tmp_path, capsys):
    path = tmp_path / "dirs.safetensors"
    code, out, _ = run(capsys, "discover", MODEL, "--method", "sefa", "-k", "4", "-o", path, "--no-cache")
    assert code == 0 and path.is_file()
    saved, reference = Directions.load(path, dcgan), sefa(dcgan, 4, use_cache=False)
    torch.testing.assert_close(saved.vectors, reference.vectors)
    spectrum = next(line for line in out.splitlines() if line.startswith("eigenvalues:"))
    printed = [float(x) for x in spectrum.split(":")[1].split()]
    np.testing.assert_allclose(printed, reference.values.tolist(), rtol=1e-3)


def test_discover_ganspace_matches_the_library_and_reports_progress(dcgan, tmp_path, capsys):
    path = tmp_path / "pcs.safetensors"
    argv = ["discover", MODEL, "--method", "ganspace", "-k", "3", "--samples", "120", "--seed", "5", "-o", path]
    code, out, _ = run(capsys, *argv, "--no-cache")
    assert code == 0, out
    reference = ganspace(dcgan, 3, num_samples=120, seed=5, use_cache=False)
    torch.testing.assert_close(Directions.load(path).vectors, reference.vectors, atol=1e-4, rtol=1e-4)
    assert "variances:" in out
    calls: list[tuple[int, int]] = []
    ganspace(dcgan, 2, num_samples=110, batch_size=50, use_cache=False, progress=lambda *a: calls.append(a))
    # one bar of two stages (each 1000 wide): the start and each batch of samples, then each pass of the PCA
    assert calls[:4] == [(0, 2000), (455, 2000), (909, 2000), (1000, 2000)]
    passes = calls[4:]
    from steering.methods.ganspace import NITER

    # fc holds 8,192 values: the randomized solver's passes (the mean's is done with the samples), then the end
    assert len(passes) == 2 * NITER + 3 and passes[-1] == (2000, 2000) and calls == sorted(calls)


def test_discover_refuses_options_of_the_other_method(tmp_path, capsys):
    code, _, err = run(
        capsys, "discover", MODEL, "--method", "sefa", "--samples", "100", "-o", tmp_path / "x.safetensors"
    )
    assert code == 2 and "--samples" in err and "ganspace" in err
    assert not (tmp_path / "x.safetensors").exists()


def test_inspect_shows_metadata_without_a_model(sefa_file, dcgan, capsys):
    code, out, _ = run(capsys, "inspect", sefa_file)
    assert code == 0
    assert "sefa" in out and dcgan.identity.sha256 in out and "sefa 3" in out and "v1" in out
    code, out, _ = run(capsys, "inspect", sefa_file, "--json")
    info = json.loads(out)
    directions = Directions.load(sefa_file)
    assert info["format_version"] == 1 and info["method"] == "sefa" and info["space"] == "z"
    assert info["model"]["sha256"] == dcgan.identity.sha256 and info["count"] == 4 and info["dimension"] == 100
    assert info["names"] == directions.names
    np.testing.assert_allclose(info["values"], directions.values.tolist())
    assert info["strength_range"] == list(directions.strength_range)


def test_edit_renders_the_library_edit(sefa_file, dcgan, tmp_path, capsys):
    plain, edited = tmp_path / "plain.png", tmp_path / "edited.png"
    assert run(capsys, "edit", MODEL, "--directions", sefa_file, "--seed", 3, "-o", plain)[0] == 0
    code, out, _ = run(capsys, "edit", MODEL, "--directions", sefa_file, "--seed", 3, "--strength", "0=3", "-o", edited)
    assert code == 0 and str(edited) in out
    directions, latents = Directions.load(sefa_file), dcgan.sample(1, seed=3)
    np.testing.assert_array_equal(pixels(plain), pixels(edit.render(dcgan, latents)[0]))
    expected = edit.render(dcgan, edit.apply(dcgan, latents, directions, {0: 3.0}))[0]
    np.testing.assert_array_equal(pixels(edited), pixels(expected))
    assert np.abs(pixels(edited).astype(int) - pixels(plain).astype(int)).mean() > 1.0


def test_edit_several_seeds(sefa_file, tmp_path, capsys):
    base = tmp_path / "many.png"
    code, out, _ = run(
        capsys, "edit", MODEL, "--directions", sefa_file, "--seeds", "1,2", "--strength", "1=-2", "-o", base
    )
    assert code == 0 and out.split() == [str(tmp_path / "many-seed1.png"), str(tmp_path / "many-seed2.png")]
    single = tmp_path / "single.png"
    assert (
        run(capsys, "edit", MODEL, "--directions", sefa_file, "--seed", 2, "--strength", "1=-2", "-o", single)[0] == 0
    )
    np.testing.assert_array_equal(pixels(tmp_path / "many-seed2.png"), pixels(single))
    row = tmp_path / "row.png"
    assert run(capsys, "edit", MODEL, "--directions", sefa_file, "--seeds", "1,2,3", "--row", "-o", row)[0] == 0
    assert Image.open(row).width > 3 * 64 and Image.open(row).height < 2 * 64


def test_sweep_grid_is_indices_by_steps(sefa_file, dcgan, tmp_path, capsys):
    sizes = {}
    for indices, steps in (("0,2", 3), ("0", 3), ("0,2", 4)):
        out = tmp_path / f"grid-{indices}-{steps}.png"
        code, _, err = run(
            capsys,
            "sweep",
            MODEL,
            "--directions",
            sefa_file,
            "--indices",
            indices,
            "--range",
            "-2,2",
            "--steps",
            steps,
            "--seed",
            1,
            "-o",
            out,
        )
        assert code == 0, err
        sizes[indices, steps] = Image.open(out).size
    tile = sizes["0,2", 4][0] - sizes["0,2", 3][0]  # one more column
    assert tile == sizes["0,2", 3][1] - sizes["0", 3][1] >= dcgan.resolution  # one more row: same tile size
    expected = edit.sweep(dcgan, dcgan.sample(1, seed=1), Directions.load(sefa_file), [0, 2], [-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(pixels(tmp_path / "grid-0,2-3.png"), pixels(expected))


def test_animate_writes_the_frames(sefa_file, tmp_path, capsys):
    gif = tmp_path / "walk.gif"
    code, _, _ = run(
        capsys, "animate", MODEL, "--directions", sefa_file, "--index", 1, "--frames", 5, "--fps", 10, "-o", gif
    )
    assert code == 0
    with Image.open(gif) as image:
        assert image.n_frames == 5 + 3  # forward, then back without repeating the ends
        assert image.info["duration"] == 100
    once = tmp_path / "once.gif"
    assert (
        run(
            capsys,
            "animate",
            MODEL,
            "--directions",
            sefa_file,
            "--index",
            1,
            "--frames",
            5,
            "--no-bounce",
            "--range",
            "-3,3",
            "-o",
            once,
        )[0]
        == 0
    )
    with Image.open(once) as image:
        assert image.n_frames == 5


def test_rename_persists(sefa_file, tmp_path, capsys):
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(sefa_file.read_bytes())
    before = Directions.load(copy)
    assert run(capsys, "rename", copy, 2, "smile")[0] == 0
    after = Directions.load(copy)
    assert after.names == [*before.names[:2], "smile", *before.names[3:]]
    torch.testing.assert_close(after.vectors, before.vectors)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.safetensors"]  # no temporary file left behind
    other = tmp_path / "other.safetensors"
    assert run(capsys, "rename", copy, "smile", "grin", "-o", other)[0] == 0
    assert Directions.load(other).names[2] == "grin" and Directions.load(copy).names[2] == "smile"
    # the new name works wherever a direction is picked
    assert run(capsys, "edit", MODEL, "--directions", copy, "--strength", "smile=1", "-o", tmp_path / "e.png")[0] == 0


def test_directions_of_another_model_are_refused(sefa_file, tmp_path, capsys):
    directions = Directions.load(sefa_file)
    foreign = dataclasses.replace(directions, model=dataclasses.replace(directions.model, sha256="f" * 64))
    path = foreign.save(tmp_path / "foreign.safetensors")
    for command in (
        ["edit", "-o", tmp_path / "x.png"],
        ["sweep", "-o", tmp_path / "x.png"],
        ["animate", "--index", "0", "-o", tmp_path / "x.gif"],
    ):
        code, _, err = run(capsys, command[0], MODEL, "--directions", path, *command[1:])
        assert code == 2
        assert "made for model" in err and "ffffffffffff" in err and "Traceback" not in err
    assert not list(tmp_path.glob("x.*"))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_direction_file(sefa_file, tmp_path, capsys, damage):
    path = tmp_path / "bad.safetensors"
    data = sefa_file.read_bytes()
    damaged = b"this is not a safetensors file" if damage == "garbage" else data[: len(data) // 2]
    path.write_bytes(damaged)
    for argv in (
        ["inspect", path],
        ["edit", MODEL, "--directions", path, "-o", tmp_path / "x.png"],
        ["rename", path, 0, "x"],
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and str(path) in err and "Traceback" not in err
    assert path.read_bytes() == damaged  # rename left the broken file alone


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strength", "0=nan"], "finite"),
        (["--strength", "0"], "INDEX=VALUE"),
        (["--strength", "9=1"], "outside [0, 4)"),
        (["--strength", "nose=1"], "no direction is named 'nose'"),
        (["--truncation", "0"], "(0, 1]"),
        (["-o", "out.txt"], ".png"),
    ],
)
def test_bad_edit_values(sefa_file, tmp_path, capsys, argv, message):
    if "-o" not in argv:
        argv = [*argv, "-o", tmp_path / "x.png"]
    code, _, err = run(capsys, "edit", MODEL, "--directions", sefa_file, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_sweep_values(sefa_file, tmp_path, capsys):
    base = ["sweep", MODEL, "--directions", sefa_file, "-o", tmp_path / "g.png"]
    assert run(capsys, *base, "--steps", 1)[0] == 2
    code, _, err = run(capsys, *base, "--indices", "0,7")
    assert code == 2 and "outside [0, 4)" in err
    code, _, err = run(capsys, *base, "--range", "-inf,3")
    assert code == 2 and "finite" in err
    code, _, err = run(capsys, "sweep", "no-such-model", "--directions", sefa_file, "-o", tmp_path / "g.png")
    assert code == 2 and "not a catalog model" in err
    assert not (tmp_path / "g.png").exists()


def test_info_and_models(dcgan, capsys):
    code, out, _ = run(capsys, "info", MODEL, "--json")
    info = json.loads(out)
    assert code == 0 and info["layer_names"] == dcgan.layer_names and info["sha256"] == dcgan.identity.sha256
    assert info["feature_names"] == dcgan.feature_names() and info["z_dim"] == 100
    code, out, _ = run(capsys, "models", "--json")
    listing = json.loads(out)
    entry = next(e for e in listing["catalog"] if e["name"] == MODEL)
    assert entry["architecture"] == "dcgan" and "non-commercial" in entry["license"]
    assert any(row.get("sha256") == dcgan.identity.sha256 for row in listing["converted"])


def test_python_dash_m_models():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "steering", "models"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert MODEL in result.stdout and "licence:" in result.stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(sefa_file, tmp_path, capsys):
    images = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.png"
        code, _, err = run(
            capsys, "edit", MODEL, "--directions", sefa_file, "--strength", "0=2", "-o", out, device=device
        )
        assert code == 0, err
        images[device] = pixels(out).astype(int)
        grid = tmp_path / f"grid-{device}.png"
        assert run(capsys, "sweep", MODEL, "--directions", sefa_file, "--steps", 3, "-o", grid, device=device)[0] == 0
        images[f"grid-{device}"] = pixels(grid).astype(int)
        gif = tmp_path / f"{device}.gif"
        assert (
            run(
                capsys,
                "animate",
                MODEL,
                "--directions",
                sefa_file,
                "--index",
                0,
                "--frames",
                3,
                "-o",
                gif,
                device=device,
            )[0]
            == 0
        )
        pcs = tmp_path / f"pcs-{device}.safetensors"
        code, _, err = run(
            capsys,
            "discover",
            MODEL,
            "--method",
            "ganspace",
            "-k",
            "2",
            "--samples",
            "200",
            "--no-cache",
            "-o",
            pcs,
            device=device,
        )
        assert code == 0, err
    assert np.abs(images["cuda"] - images["cpu"]).mean() < 1.0
    assert np.abs(images["grid-cuda"] - images["grid-cpu"]).mean() < 1.0
    top = [Directions.load(tmp_path / f"pcs-{device}.safetensors").vectors[0] for device in ("cpu", "cuda")]
    assert float(torch.dot(*top).abs()) > 0.99


@pytest.mark.hub
def test_pull_checks_against_the_model_and_push_reports_a_server_that_refuses(hub, sefa_file, tmp_path, capsys):
    repo_id = hub.new_repo_id("cli")
    hub.commit(repo_id, {"directions.safetensors": sefa_file})
    out = tmp_path / "pulled.safetensors"
    code, stdout, _ = run(capsys, "pull", repo_id, "-o", out, "--model", "dcgan-faces")
    assert code == 0 and "checked against dcgan-faces" in stdout
    assert torch.equal(Directions.load(out).vectors, Directions.load(sefa_file).vectors)
    # olah, like a read-only mirror, accepts no uploads: the push fails with one clear line, exit 2
    code, _, stderr = run(capsys, "push", sefa_file, repo_id)
    assert code == 2 and "error:" in stderr and "Traceback" not in stderr
    code, _, stderr = run(capsys, "pull", "not a repo", "-o", out)
    assert code == 2 and "owner/name" in stderr
