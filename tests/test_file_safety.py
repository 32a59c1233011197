"""Attacks on the files we read and write: nothing outside our folders is touched, nothing of the user's is lost.

A poisoned model index or basis cache must not make us read, write or delete a file elsewhere; an output that is one
of the command's inputs is refused; a full disk leaves the old file and no temporary; a replaced file keeps its
permissions and its symlink, a read-only one is not replaced; temporaries of dead writers are cleaned, live ones kept.
Everything runs on the real embedded DCGAN and real SeFa direction files.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import save_file

import steering.io
from steering import paths
from steering.cli import main
from steering.directions import Directions
from steering.io import TEMPORARY_NAME, atomic_path, remove_stale_temporaries, save_image
from steering.methods import sefa
from steering.sources import load_generator

MODEL = "dcgan-faces"
ROOT = Path(__file__).resolve().parents[1]
HOUR = 3600.0


# ----- helpers ----------------------------------------------------------------------------------------------------
def cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    """``main(argv)`` on the CPU, quietly: its exit code and its stderr."""
    args = [str(a) for a in argv]
    if args[0] in ("discover", "edit", "sweep", "animate"):
        args += ["--device", "cpu"]
    code = main(["-q", *args])
    return code, capsys.readouterr().err


def one_error_line(err: str, *words: str) -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("gan-steering: error:") and all(w in lines[0] for w in words)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links as where they point) and its bytes: what must not change."""
    return {
        str(p.relative_to(folder)): (os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if TEMPORARY_NAME.fullmatch(p.name)]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(scope="module")
def sefa_file(tmp_path_factory: pytest.TempPathFactory, dcgan) -> Path:
    return sefa(dcgan, 4, use_cache=False).save(tmp_path_factory.mktemp("safety") / "sefa.safetensors")


@pytest.fixture()
def directions_copy(sefa_file: Path, tmp_path: Path) -> Path:
    """A direction file of the user's, in its own folder."""
    folder = tmp_path / "user"
    folder.mkdir()
    return Path(shutil.copy(sefa_file, folder / "mine.safetensors"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, dcgan) -> Path:
    """The DCGAN as a local checkpoint file of the user's (plain safetensors state dict)."""
    path = tmp_path_factory.mktemp("ckpt") / "faces.safetensors"
    save_file({k: v.contiguous() for k, v in dcgan.state_dict().items()}, str(path))
    return path


# ----- a poisoned model index or basis cache ----------------------------------------------------------------------
def _victim_model(victim: Path, converted: Path) -> None:
    """A perfectly loadable converted model with other (zero) weights: loading it would mean the link was followed."""
    tensors, metadata = steering.io.load_safetensors(converted)
    save_file({k: torch.zeros_like(v) for k, v in tensors.items()}, str(victim), metadata=metadata)


@pytest.mark.parametrize("victim_kind", ["junk", "model"])
@pytest.mark.parametrize("poison", ["../../victim", "absolute", "symlink", "sub/../../../victim", "index", 7])
def test_a_poisoned_index_entry_is_dropped_not_followed(isolated_home, tmp_path, dcgan, poison, victim_kind):
    load_generator(MODEL)  # converts into the fresh home and writes one index entry
    models = paths.models_dir()
    (entry_file,) = (models / "index").glob("*.json")
    entry = json.loads(entry_file.read_text())
    real = models / entry["file"]
    victim = tmp_path / "victim"  # outside the home; ../../victim from the models folder
    if victim_kind == "junk":  # the old code deleted a "broken converted file" it was pointed at
        victim.write_bytes(b"the user's precious file")
    else:  # …and loaded a valid one
        _victim_model(victim, real)
    (models / "link.safetensors").symlink_to(victim)
    names = {"absolute": str(victim), "symlink": "link.safetensors"}
    entry_file.write_text(json.dumps({**entry, "file": names.get(poison, poison)}))
    before = victim.read_bytes()

    generator = load_generator(MODEL)

    assert victim.read_bytes() == before
    for key, value in dcgan.state_dict().items():
        assert torch.equal(generator.state_dict()[key], value), key
    assert json.loads(entry_file.read_text())["file"] == real.name  # the entry was rewritten to our own file
    assert (models / "link.safetensors").is_symlink()  # not ours to delete either


def test_a_link_planted_at_the_converted_file_is_replaced_not_written_through(isolated_home, tmp_path):
    load_generator(MODEL)
    converted = next(paths.models_dir().glob("*.safetensors"))
    converted.unlink()
    for entry in (paths.models_dir() / "index").glob("*.json"):
        entry.unlink()
    outside = tmp_path / "outside" / "created-by-us.safetensors"
    outside.parent.mkdir()
    converted.symlink_to(outside)  # dangling: a write through it would create a file outside our folder

    load_generator(MODEL)

    assert not outside.exists() and converted.is_file() and not converted.is_symlink()


@pytest.mark.parametrize("victim_kind", ["junk", "directions", "dangling"])
def test_a_link_planted_in_the_basis_cache_is_neither_read_nor_written_through(
    isolated_home, tmp_path, dcgan, victim_kind
):
    expected = sefa(dcgan, 3)  # computed and cached in the fresh home
    (entry,) = paths.bases_dir().glob("*/*.safetensors")
    victim = tmp_path / "victim.safetensors"
    if victim_kind == "junk":
        victim.write_bytes(b"the user's precious file")
    elif victim_kind == "directions":  # a valid file for this model with other vectors: reading it is following
        dataclasses.replace(expected, vectors=torch.eye(3, 100)).save(victim)
    entry.unlink()
    entry.symlink_to(victim)
    before = victim.read_bytes() if victim.exists() else None

    again = sefa(dcgan, 3)

    assert torch.equal(again.vectors, expected.vectors)
    assert (victim.read_bytes() if victim.exists() else None) == before
    assert entry.is_file() and not entry.is_symlink()


@pytest.mark.parametrize(
    "name", ["../x", "/etc/passwd", "a/b", ".", "..", "", "link-out", "a\\b", None, 3, ["x"], "missing"]
)
def test_confined_accepts_only_plain_names_inside_the_folder(tmp_path, name):
    (tmp_path / "inside").write_text("x")
    (tmp_path / "link-out").symlink_to("/etc/passwd")
    (tmp_path / "link-in").symlink_to("inside")
    assert paths.confined(tmp_path, name) is None
    assert paths.confined(tmp_path, "inside") == tmp_path / "inside"
    assert paths.confined(tmp_path, "link-in") == tmp_path / "link-in"


# ----- an output must never overwrite an input --------------------------------------------------------------------
def _same_file_aliases(target: Path, kind: str) -> Path:
    """Another name for ``target``: itself, a symlink to it, a hard link, or a path through ``..``."""
    alias = target.with_name(f"{kind}-{target.name}")
    if kind == "same":
        return target
    if kind == "symlink":
        alias.symlink_to(target)
    elif kind == "hardlink":
        os.link(target, alias)
    else:  # dotted
        return target.parent / ".." / target.parent.name / target.name
    return alias


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink", "dotted"])
@pytest.mark.parametrize(
    "argv",
    [
        ["discover", "{model}", "--method", "sefa", "-k", "2", "-o", "{out}"],
        ["edit", "{model}", "--directions", "{dirs}", "--strength", "0=1", "-o", "{out}"],
        ["sweep", "{model}", "--directions", "{dirs}", "--steps", "2", "-o", "{out}"],
        ["animate", "{model}", "--directions", "{dirs}", "--index", "0", "--frames", "2", "-o", "{out}"],
        ["pull", "someone/directions", "--model", "{model}", "-o", "{out}"],
    ],
    ids=["discover", "edit", "sweep", "animate", "pull"],
)
def test_an_output_onto_the_local_model_is_refused(checkpoint, sefa_file, tmp_path, capsys, argv, alias):
    """MODEL is the user's checkpoint; -o names it (the output suffix is the checkpoint's for the test's sake)."""
    suffix = {"edit": ".png", "sweep": ".png", "animate": ".gif"}.get(argv[0], ".safetensors")
    model = Path(shutil.copy(checkpoint, tmp_path / f"ckpt{suffix}"))
    out = _same_file_aliases(model, alias)
    before = snapshot(tmp_path)
    code, err = cli(capsys, *(a.format(model=model, dirs=sefa_file, out=out) for a in argv))
    assert code == 2 and one_error_line(err, "reads", "choose another output file"), err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink", "dotted"])
@pytest.mark.parametrize(
    "argv",
    [
        ["edit", MODEL, "--directions", "{dirs}", "--strength", "0=1", "-o", "{out}"],
        ["edit", MODEL, "--directions", "{dirs}", "--seeds", "1,2", "-o", "{stem}"],  # writes mine-seed2.png
        ["sweep", MODEL, "--directions", "{dirs}", "--steps", "2", "-o", "{out}"],
        ["animate", MODEL, "--directions", "{dirs}", "--index", "0", "--frames", "2", "-o", "{out}"],
        ["rename", "{dirs}", "0", "smile", "-o", "{out}"],
    ],
    ids=["edit", "edit-seeds", "sweep", "animate", "rename"],
)
def test_an_output_onto_the_direction_file_is_refused(sefa_file, tmp_path, capsys, argv, alias):
    """The direction file is named like an image so that image commands could write over it."""
    suffix = {"rename": ".safetensors", "animate": ".gif"}.get(argv[0], ".png")
    name = "mine-seed2.png" if "{stem}" in argv else f"mine{suffix}"
    dirs = Path(shutil.copy(sefa_file, tmp_path / name))
    out = _same_file_aliases(dirs, alias)
    stem = out.with_name(out.name.replace("-seed2", ""))
    before = snapshot(tmp_path)
    code, err = cli(capsys, *(a.format(dirs=dirs, out=out, stem=stem) for a in argv))
    assert code == 2 and one_error_line(err, "reads"), err
    assert snapshot(tmp_path) == before


def test_rename_without_output_still_edits_in_place(directions_copy, capsys):
    assert cli(capsys, "rename", directions_copy, 1, "smile")[0] == 0
    assert Directions.load(directions_copy).names[1] == "smile"


@pytest.mark.hub
def test_pull_never_writes_over_the_file_in_the_hugging_face_cache(hub, sefa_file, tmp_path, capsys):
    repo_id = hub.new_repo_id("safety")
    hub.commit(repo_id, {"directions.safetensors": sefa_file})
    assert cli(capsys, "pull", repo_id, "-o", tmp_path / "first.safetensors")[0] == 0
    cache = tmp_path / "hf-cache"
    (snapshot_file,) = cache.glob("models--*/snapshots/*/directions.safetensors")
    alias = tmp_path / "alias.safetensors"
    alias.symlink_to(snapshot_file.resolve())  # the blob itself, under a name with the right suffix
    before = snapshot(cache)
    for out in (snapshot_file, alias):
        code, err = cli(capsys, "pull", repo_id, "-o", out)
        assert code == 2 and one_error_line(err, "reads"), err
    assert snapshot(cache) == before and temporaries(cache) == []


# ----- a full disk ------------------------------------------------------------------------------------------------
def _enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _inject_write_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writers fill half the file, then the disk is full (safetensors reports it its own way)."""
    real_save_file, real_image_save = steering.io.save_file, Image.Image.save

    def half(path: object) -> None:
        path = Path(str(path))
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    def save_file_full(tensors, filename, metadata=None):
        real_save_file(tensors, filename, metadata=metadata)
        half(filename)
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    def image_save_full(self, fp, *args, **kwargs):
        real_image_save(self, fp, *args, **kwargs)
        half(fp)
        raise _enospc()

    monkeypatch.setattr(steering.io, "save_file", save_file_full)
    monkeypatch.setattr(Image.Image, "save", image_save_full)


def _inject_fsync_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise _enospc()

    monkeypatch.setattr(os, "fsync", fsync)


def _inject_replace_failure(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    real = os.replace

    def replace(src, dst, **kwargs):
        if Path(dst).resolve() == target.resolve():
            raise _enospc()
        return real(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def _old_output(folder: Path, suffix: str, sefa_file: Path) -> Path:
    """The user's existing file that the command is about to replace."""
    path = folder / f"old{suffix}"
    if suffix == ".safetensors":
        shutil.copy(sefa_file, path)
    else:
        Image.new("RGB", (8, 8), "red").save(path)
    return path


@pytest.mark.parametrize("fault", ["write", "fsync", "replace"])
@pytest.mark.parametrize(
    "argv",
    [
        ["discover", MODEL, "--method", "sefa", "-k", "3", "--no-cache", "-o", "{out}"],
        ["rename", "{out}", "0", "smile"],
        ["edit", MODEL, "--directions", "{dirs}", "--strength", "0=1", "-o", "{out}"],
        ["sweep", MODEL, "--directions", "{dirs}", "--steps", "2", "-o", "{out}"],
        ["animate", MODEL, "--directions", "{dirs}", "--index", "0", "--frames", "3", "-o", "{out}"],
    ],
    ids=["discover", "rename", "edit", "sweep", "animate"],
)
def test_a_full_disk_keeps_the_old_file_and_leaves_no_temporary(
    dcgan, sefa_file, tmp_path, capsys, monkeypatch, argv, fault
):
    suffix = {"edit": ".png", "sweep": ".png", "animate": ".gif"}.get(argv[0], ".safetensors")
    out = _old_output(tmp_path, suffix, sefa_file)
    before = snapshot(tmp_path)
    if fault == "write":
        _inject_write_failure(monkeypatch)
    elif fault == "fsync":
        _inject_fsync_failure(monkeypatch)
    else:
        _inject_replace_failure(monkeypatch, out)
    code, err = cli(capsys, *(a.format(out=out, dirs=sefa_file) for a in argv))
    monkeypatch.undo()
    assert code == 1 and one_error_line(err, "No space left on device"), err
    assert snapshot(tmp_path) == before and temporaries(tmp_path) == []


def test_real_writers_failing_on_a_file_size_limit_keep_the_old_files(dcgan, sefa_file, tmp_path):
    """No injection: the real safetensors, PNG and GIF writers hit RLIMIT_FSIZE (EFBIG) in a child process."""
    outs = {suffix: _old_output(tmp_path, suffix, sefa_file) for suffix in (".safetensors", ".png", ".gif")}
    runs = [
        ["discover", MODEL, "--method", "sefa", "-k", "3", "--no-cache", "-o", outs[".safetensors"]],
        ["rename", outs[".safetensors"], "0", "smile"],
        ["edit", MODEL, "--directions", sefa_file, "--strength", "0=1", "-o", outs[".png"]],
        ["animate", MODEL, "--directions", sefa_file, "--index", "0", "--frames", "3", "-o", outs[".gif"]],
    ]
    runs = [[str(a) for a in argv] + (["--device", "cpu"] if argv[0] != "rename" else []) for argv in runs]
    script = textwrap.dedent(
        f"""
        import resource
        from steering import edit, methods, render, sources
        from steering.cli import main
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))  # Python ignores SIGXFSZ: writes fail with EFBIG
        print([main(["-q", *argv]) for argv in {runs!r}])
        """
    )
    before = snapshot(tmp_path)
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert child.stdout.strip() == str([1] * len(runs)), child.stderr
    lines = child.stderr.strip().splitlines()
    assert len(lines) == len(runs) and all(line.startswith("gan-steering: error:") for line in lines), lines
    assert all("File too large" in line for line in lines), lines
    assert snapshot(tmp_path) == before and temporaries(tmp_path) == []


# ----- permissions, links, read-only files ------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [0o644, 0o640, 0o664, 0o604])
def test_a_replaced_file_keeps_its_permissions(directions_copy, capsys, bits):
    directions_copy.chmod(bits)
    with umask(0o077):  # the umask is for new files only
        assert cli(capsys, "rename", directions_copy, 0, "smile")[0] == 0
    assert mode(directions_copy) == bits and Directions.load(directions_copy).names[0] == "smile"


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o027])
def test_new_files_follow_the_umask(sefa_file, tmp_path, capsys, mask):
    with umask(mask):
        assert cli(capsys, "rename", sefa_file, 0, "smile", "-o", tmp_path / "renamed.safetensors")[0] == 0
        save_image(Image.new("RGB", (4, 4)), tmp_path / "new.png")
        with atomic_path(tmp_path / "sub" / "new.txt") as tmp:
            tmp.write_text("x")
    for name in ("renamed.safetensors", "new.png", "sub/new.txt"):
        assert mode(tmp_path / name) == 0o666 & ~mask, name


@pytest.mark.parametrize("how", ["absolute", "relative", "chain"])
def test_a_symlinked_target_is_updated_through_the_link(directions_copy, tmp_path, capsys, how):
    elsewhere = tmp_path / "links"
    elsewhere.mkdir()
    link = elsewhere / "link.safetensors"
    if how == "absolute":
        link.symlink_to(directions_copy)
    elif how == "relative":
        link.symlink_to(Path("..") / "user" / directions_copy.name)
    else:
        (elsewhere / "middle.safetensors").symlink_to(directions_copy)
        link.symlink_to("middle.safetensors")
    pointed = os.readlink(link)
    directions_copy.chmod(0o640)

    assert cli(capsys, "rename", link, 0, "smile")[0] == 0

    assert link.is_symlink() and os.readlink(link) == pointed
    assert Directions.load(directions_copy).names[0] == "smile" and mode(directions_copy) == 0o640
    assert temporaries(tmp_path) == []


def test_an_image_output_that_is_a_symlink_stays_one(sefa_file, tmp_path, capsys):
    real = tmp_path / "real.png"
    Image.new("RGB", (8, 8), "red").save(real)
    link = tmp_path / "link.png"
    link.symlink_to(real)
    assert cli(capsys, "edit", MODEL, "--directions", sefa_file, "-o", link)[0] == 0
    assert link.is_symlink() and Image.open(real).size == (64, 64)


@pytest.mark.parametrize("via", ["file", "symlink"])
@pytest.mark.parametrize(
    "argv",
    [
        ["rename", "{out}", "0", "smile"],
        ["discover", MODEL, "--method", "sefa", "-k", "2", "--no-cache", "-o", "{out}"],
        ["edit", MODEL, "--directions", "{dirs}", "-o", "{out}"],
        ["animate", MODEL, "--directions", "{dirs}", "--index", "0", "--frames", "2", "-o", "{out}"],
    ],
    ids=["rename", "discover", "edit", "animate"],
)
def test_a_read_only_file_is_not_replaced(dcgan, sefa_file, tmp_path, capsys, argv, via):
    """Even though the folder is writable (and even for root, who could write anything)."""
    suffix = {"edit": ".png", "animate": ".gif"}.get(argv[0], ".safetensors")
    target = _old_output(tmp_path, suffix, sefa_file)
    target.chmod(0o444)
    out = target
    if via == "symlink":
        out = tmp_path / f"link{suffix}"
        out.symlink_to(target)
    before = snapshot(tmp_path)
    code, err = cli(capsys, *(a.format(out=out, dirs=sefa_file) for a in argv))
    assert code == 1 and one_error_line(err, "read-only"), err
    assert snapshot(tmp_path) == before and mode(target) == 0o444


# ----- temporaries of interrupted writes --------------------------------------------------------------------------
def _plant(path: Path, age: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a file")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_stale_temporaries_are_removed_and_live_ones_kept_when_our_folders_are_used(isolated_home, tmp_path, dcgan):
    models, bases = paths.models_dir(), paths.bases_dir()
    stale = [
        _plant(models / ".dcgan-0123456789abcdef.safetensors.k3j_9x2a.tmp", 2 * HOUR),  # an interrupted conversion
        _plant(models / ".tmpAb3dE9", 2 * HOUR),  # safetensors' own temporary
        _plant(models / "index" / ".0f0f.json.abcdefgh.tmp", 2 * HOUR),
        _plant(bases / "ab" / ".abcd.safetensors.q1w2e3r4.tmp", 2 * HOUR),
    ]
    kept = [
        _plant(models / ".dcgan-fedcba9876543210.safetensors.zz9_8y7x.tmp", 60),  # another writer, in progress
        _plant(bases / "cd" / ".cdef.safetensors.a1b2c3d4.tmp", 60),
        _plant(models / "notes.tmp", 2 * HOUR),  # not named as ours
        _plant(models / ".hidden.tmp", 2 * HOUR),
        _plant(models / ".tmp-backup", 2 * HOUR),
    ]
    victim = _plant(tmp_path / "victim.txt", 0)
    link = models / ".evil.safetensors.abcdefgh.tmp"
    link.symlink_to(victim)  # named as ours, but a link: neither followed nor removed
    os.utime(link, (0, 0), follow_symlinks=False)

    generator = load_generator(MODEL)
    sefa(generator, 2)

    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept) and link.is_symlink() and victim.read_bytes() == b"half a file"


def test_remove_stale_temporaries_reports_what_it_removed(tmp_path):
    old = _plant(tmp_path / "a" / ".x.safetensors.abcdefgh.tmp", 2 * HOUR)
    _plant(tmp_path / ".y.png.abcdefgh.tmp", 10)
    assert remove_stale_temporaries(tmp_path) == [old]
    assert remove_stale_temporaries(tmp_path, older_than=0) == [tmp_path / ".y.png.abcdefgh.tmp"]


def test_an_interrupted_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "kept.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("new, half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]


def test_a_symlink_loop_as_output_is_one_error_line(sefa_file, tmp_path, capsys):
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    code, err = cli(capsys, "edit", MODEL, "--directions", sefa_file, "-o", tmp_path / "a.png")
    assert code == 1 and one_error_line(err, "symlink loop"), err
    assert temporaries(tmp_path) == []
