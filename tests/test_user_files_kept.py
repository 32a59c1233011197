"""Nothing of the user's is lost: no output overwrites one of the command's inputs or another of its outputs (existing
or not), outputs are written atomically, and the encoder, the basis cache, the model cache and job folders never
delete, serve or mix what they cannot be sure of."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import steering.io
from steering import cache, paths
from steering.batch.store import JOB_FILE, JobFolderError, ShardStore
from steering.cli import build_parser, main
from steering.cli.arguments import FileArgument, Reads, Updates
from steering.inversion import default_path, find_encoder, train_encoder
from steering.io import TEMPORARY_NAME
from steering.methods import sefa
from steering.sources import load_generator
from steering.sources.load import GeneratorCache

MODEL = "dcgan-faces"


def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    code = main(["-q", *(str(a) for a in argv)])
    return code, capsys.readouterr().err


def one_error_line(err: str, *words: str) -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("gan-steering: error:") and all(w in lines[0] for w in words)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sefa_file(tmp_path_factory: pytest.TempPathFactory, dcgan) -> Path:
    return sefa(dcgan, 2, use_cache=False).save(tmp_path_factory.mktemp("kept") / "sefa.safetensors")


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory: pytest.TempPathFactory, dcgan) -> Path:
    from steering.attributes import LabelledSet

    labelled = LabelledSet.empty(dcgan, "smile", ["no", "yes"], 1.0).with_seeds(dcgan, [0, 1, 2, 3], [0, 1, 0, 1])
    return labelled.save(tmp_path_factory.mktemp("kept") / "smile.safetensors")


# ----- 1. every file a command reads is an input no output may name -----------------------------------------------
def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subs.choices)


FILE_METAVAR = re.compile(r"FILE|IMAGE|OUT|[A-Z_]+\.[a-z0-9]+")


def test_every_file_argument_of_every_command_is_declared_read_or_written():
    """A file argument (its metavar names a file) is a ``Reads`` or ``Writes``: the guard knows it without a list."""
    undeclared, reads = [], set()
    for name, parser in _commands().items():
        for action in parser._actions:
            if any(FILE_METAVAR.fullmatch(part) for part in re.split(r"[|=]", str(action.metavar or ""))):
                if not isinstance(action, FileArgument):
                    undeclared.append(f"{name} {action.dest}")
            if isinstance(action, Reads):
                reads.add(f"{name} {action.dest}")
    assert not undeclared
    assert {f"{n} {a.dest}" for n, p in _commands().items() for a in p._actions if isinstance(a, Updates)} == {
        "label extend"
    }
    wanted = {"train labels", "correct parent", "measure edit", "invert encoder", "invert image"}
    wanted |= {"replay latents", "edit directions", "sweep latents", "rename file"}
    assert wanted <= reads


@pytest.mark.parametrize(
    "argv, name",
    [
        (["train", MODEL, "--labels", "{f}", "--samples", "32", "--epochs", "1", "-o", "{f}"], "labels"),
        (
            "correct {m} --attribute brightness --correlated warmth --parent {f} --parent-index 0 --samples 64 "
            "--rare 1 --inversion-steps 1 --seeds 2 -o {f}".split(),
            "sefa",
        ),
        (
            "measure {m} --edit {f}=0 --target brightness --attributes brightness --seeds 2 --strengths 1 "
            "--plot {f}".split(),
            "sefa.png",
        ),
        (["train", MODEL, "--labels", "{f}", "--samples", "32", "--epochs", "1", "-o", "x.safetensors"], "strip"),
    ],
    ids=["train-labels", "correct-parent", "measure-edit", "train-strip"],
)
def test_an_output_onto_an_input_file_is_refused(sefa_file, labels_file, tmp_path, capsys, argv, name):
    source = {"labels": labels_file, "sefa": sefa_file, "sefa.png": sefa_file, "strip": labels_file}[name]
    file = Path(shutil.copy(source, tmp_path / (name if "." in name else f"{name}.safetensors")))
    if name == "strip":  # an optional output onto the input: --strip over a labelled set named like an image
        file = file.rename(tmp_path / "labels.png")
        argv = [a.replace("x.safetensors", str(tmp_path / "x.safetensors")) for a in argv] + ["--strip", "{f}"]
    before = snapshot(tmp_path)
    code, err = cli(capsys, *(a.format(f=file, m=MODEL) for a in argv))
    assert code == 2 and one_error_line(err, "which this command reads", "choose another output file"), err
    assert snapshot(tmp_path) == before


def test_label_extend_adds_to_its_set_in_place(labels_file, tmp_path, capsys):
    """``label --extend L -o L`` is how a set grows: the set is read whole, then written back atomically."""
    from steering.attributes import LabelledSet

    file = Path(shutil.copy(labels_file, tmp_path / "labels.safetensors"))
    before = LabelledSet.load(file).counts()
    argv = ["label", MODEL, "--attribute", "smile", "--extend", str(file), "--set", "4321=yes", "-o", str(file)]
    code, err = cli(capsys, *argv)
    after = LabelledSet.load(file).counts()
    assert code == 0, err
    assert sum(after.values()) == sum(before.values()) + 1


# ----- 2. two outputs never name one file, existing or not --------------------------------------------------------
@pytest.mark.parametrize(
    "outputs, exists",
    [
        (["-o", "{x}", "--linear", "{x}"], False),
        (["-o", "{x}", "--linear", "{x}"], True),
        (["-o", "{x}", "--conditional", "{x}"], False),
        (["-o", "{y}", "--linear", "{x}", "--conditional", "{x}"], False),
        (["-o", "{link}", "--linear", "{x}"], False),  # a dangling link to where --linear writes
        (["-o", "{y}", "--linear", "{dotted}", "--conditional", "{x}"], False),
    ],
    ids=["output-linear", "output-linear-existing", "output-conditional", "linear-conditional", "link", "dotted"],
)
def test_two_outputs_naming_one_file_are_refused(tmp_path, capsys, outputs, exists):
    x, y = tmp_path / "ctl.safetensors", tmp_path / "other.safetensors"
    (tmp_path / "link.safetensors").symlink_to(x)
    if exists:
        x.write_bytes(b"the user's file")
    names = {"x": x, "y": y, "link": tmp_path / "link.safetensors", "dotted": tmp_path / ".." / tmp_path.name / x.name}
    before = snapshot(tmp_path)
    argv = ["train", MODEL, "--attribute", "brightness", "--samples", "32", "--epochs", "1"]
    code, err = cli(capsys, *argv, *(a.format(**names) for a in outputs))
    assert code == 2 and one_error_line(err, "are the same file", "give each its own file"), err
    assert "reads" not in err  # not told that the command reads a file it only writes
    assert snapshot(tmp_path) == before and not y.exists()


# ----- 3. outputs are written atomically --------------------------------------------------------------------------
def _interrupted_save(self, fp, format=None, **options):
    """PIL's save cut short after part of the file (Ctrl-C, a kill, a full disk)."""
    Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n half a file")
    raise KeyboardInterrupt


@pytest.mark.parametrize("command", ["transfer", "invert-compare"])
def test_an_interrupted_image_write_keeps_the_old_image(dcgan, tmp_path, capsys, monkeypatch, command):
    old = tmp_path / "old.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(old)
    kept = old.read_bytes()
    if command == "transfer":
        argv = ["transfer", MODEL, "--device", "cpu", "-o", old]
    else:
        face = tmp_path / "face.png"
        Image.new("RGB", (64, 64), (120, 100, 90)).save(face)
        argv = ["invert", MODEL, face, "-o", tmp_path / "face.safetensors", "--compare", old, "--steps", "1"]
        argv += ["--no-encoder", "--no-perceptual", "--device", "cpu"]
    monkeypatch.setattr(Image.Image, "save", _interrupted_save)
    code, err = cli(capsys, *argv)
    assert code == 130 and "interrupted" in err
    assert old.read_bytes() == kept
    assert not [p.name for p in tmp_path.iterdir() if TEMPORARY_NAME.fullmatch(p.name)]


# ----- 4. the encoder at the default place is removed only when it is damaged ---------------------------------------
@pytest.fixture(scope="module")
def tiny_encoder(dcgan):
    return train_encoder(dcgan, steps=1, batch=2, pool=None)


def _with_version(path: Path, version: str) -> None:
    with safe_open(str(path), "pt") as handle:
        meta = dict(handle.metadata())
    save_file(load_file(str(path)), str(path), metadata={**meta, "format_version": version})


def test_a_newer_or_foreign_or_unreadable_encoder_file_is_kept(dcgan, tiny_encoder, sefa_file, isolated_home, caplog):
    path = default_path(dcgan)
    tiny_encoder.save(path)
    assert find_encoder(dcgan) is not None
    _with_version(path, "2")  # what a newer release writes
    newer = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="gan_steering"):
        assert find_encoder(dcgan) is None
    assert path.read_bytes() == newer and "newer gan-steering" in caplog.text

    shutil.copy(sefa_file, path)  # a readable file of another kind: not ours to delete
    assert find_encoder(dcgan) is None and path.read_bytes() == sefa_file.read_bytes()

    tiny_encoder.save(path)
    real_open = open

    def failing_open(file, *args, **kwargs):
        if Path(file) == path:
            raise OSError(errno.EIO, "Input/output error", str(file))
        return real_open(file, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:  # the disk fails for a moment
        patch.setattr(steering.io, "open", failing_open, raising=False)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gan_steering"):
            assert find_encoder(dcgan) is None
    assert "cannot read the encoder" in caplog.text
    assert find_encoder(dcgan) is not None  # still there, and read once the disk is back


def test_a_damaged_encoder_file_is_removed_and_said_so(dcgan, tiny_encoder, isolated_home, caplog):
    path = tiny_encoder.save(default_path(dcgan))
    path.write_bytes(path.read_bytes()[:-100])
    with caplog.at_level(logging.WARNING, logger="gan_steering"):
        assert find_encoder(dcgan) is None
    assert not path.exists() and "removed the damaged encoder" in caplog.text


# ----- 5. a local model file replaced at the same path is loaded again -----------------------------------------------
def test_the_generator_cache_loads_a_replaced_local_file_again(dcgan, tmp_path, isolated_home):
    path = tmp_path / "mine.safetensors"
    state = {k: v.contiguous() for k, v in dcgan.state_dict().items()}
    save_file(state, str(path))
    models = GeneratorCache()
    first = models.get(str(path))
    assert models.get(str(path)) is first
    key = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    save_file({**state, key: state[key] * 0.5}, str(path))  # retrained, same path
    stamp = path.stat()
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))  # whatever the clock's resolution
    second = models.get(str(path))
    assert second is not first and second.identity.sha256 != first.identity.sha256
    fresh = load_generator(str(path))  # what the CLI loads
    weights = [(a, b, c) for a, b, c in zip(*(g.state_dict().values() for g in (first, second, fresh)), strict=True)]
    assert all(torch.equal(b, c) for _, b, c in weights) and not all(torch.equal(a, b) for a, b, _ in weights)
    assert models.get(str(path)) is second


# ----- 6. a cache folder that cannot be written only costs the caching ----------------------------------------------
def _read_only_under(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """``unlink`` under ``folder`` fails as on a read-only mount (root may delete anything, so it is simulated)."""
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if folder in self.parents:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)


def test_a_bad_cache_entry_that_cannot_be_removed_is_computed_without_the_cache(
    dcgan, isolated_home, monkeypatch, caplog
):
    root = isolated_home / "bases"
    computed = sefa(dcgan, 2, use_cache=False)
    entry = cache.entry_path(cache.cache_key(dcgan, "sefa", {"k": 2}), root)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"not a basis")
    _read_only_under(monkeypatch, root)
    with caplog.at_level(logging.WARNING, logger="gan_steering"):
        found = cache.cached(dcgan, "sefa", {"k": 2}, lambda: computed, root=root)
    assert found is computed and "cannot remove the bad cached basis" in caplog.text


def test_a_damaged_converted_model_that_cannot_be_removed_is_rebuilt_in_memory(dcgan, tmp_path, isolated_home):
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in dcgan.state_dict().items()}, str(path))
    first = load_generator(str(path))  # converted once and kept
    (converted,) = paths.models_dir().glob("*.safetensors")
    converted.write_bytes(converted.read_bytes()[:-100])
    with pytest.MonkeyPatch.context() as patch:
        _read_only_under(patch, paths.models_dir())
        said: list[str] = []
        again = load_generator(str(path), log=said.append)
    assert again.identity.sha256 == first.identity.sha256 and any("cannot remove" in s for s in said)


def test_a_stale_index_entry_on_a_read_only_models_folder_is_passed_over(dcgan, tmp_path, isolated_home):
    """The index names a converted file that is gone, and the folder cannot drop the entry: the model loads anyway."""
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in dcgan.state_dict().items()}, str(path))
    first = load_generator(str(path))
    (converted,) = paths.models_dir().glob("*.safetensors")
    converted.unlink()
    with pytest.MonkeyPatch.context() as patch:
        _read_only_under(patch, paths.models_dir())
        again = load_generator(str(path), log=lambda _: None)
    assert again.identity.sha256 == first.identity.sha256


# ----- 7. two jobs started together on one folder: one is refused ---------------------------------------------------
def _claim(folder: Path, fingerprint: str, gate: threading.Barrier, claimed: list, refused: list) -> None:
    gate.wait()  # both start at the same moment, as two processes started together
    try:
        ShardStore(folder, fingerprint, {"job": fingerprint})
        claimed.append(fingerprint)
    except JobFolderError:
        refused.append(fingerprint)


def test_two_jobs_claiming_one_folder_at_once_one_is_refused(tmp_path):
    for trial in range(40):
        folder = tmp_path / str(trial)
        gate, claimed, refused = threading.Barrier(2), [], []
        threads = [
            threading.Thread(target=_claim, args=(folder, f, gate, claimed, refused)) for f in ("job-a", "job-b")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(claimed) == 1 and len(refused) == 1, trial
        assert json.loads((folder / JOB_FILE).read_text())["fingerprint"] == claimed[0]
        assert sorted(p.name for p in folder.iterdir()) == [JOB_FILE]  # no temporary left behind
    ShardStore(folder, claimed[0], {})  # the same job again takes its folder back
    (folder / JOB_FILE).write_text("{damaged")
    ShardStore(folder, "job-c", {})  # a damaged job.json is replaced, as before
    with pytest.raises(JobFolderError):
        ShardStore(folder, "job-d", {})
