"""Sharing directions on the Hub: the folder/commit that is uploaded, pulling through a real local Hub server (olah).

olah serves git repos read-only (no upload routes), so push is tested up to the built folder and the real ``HfApi``
calls reaching the server; pulls go the whole way.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import save_file

from steering import edit, share
from steering.directions import Directions
from steering.errors import (
    DirectionsFileError,
    DirectionsMismatchError,
    HubError,
    InvalidValueError,
    ModelNotFoundError,
)
from steering.glyphs import line_height
from steering.methods import sefa
from steering.sources import hub as hub_module
from steering.sources import load_generator
from steering.sources.embedded import embedded_weights_path
from steering.sources.spec import HubFile

ROOT = Path(__file__).resolve().parent.parent
UPLOAD_FILES = {"README.md", "directions.safetensors", "preview.png"}


@pytest.fixture(scope="module")
def directions(dcgan) -> Directions:
    return sefa(dcgan, num_directions=6, use_cache=False)


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """Another real DCGAN: the embedded checkpoint with its first layer halved, loaded from a local file."""
    checkpoint = torch.load(embedded_weights_path(), map_location="cpu", weights_only=True)
    checkpoint["netG_state_dict"]["main.0.weight"] = checkpoint["netG_state_dict"]["main.0.weight"] * 0.5
    path = tmp_path_factory.mktemp("other-model") / "halved.tar"
    torch.save(checkpoint, path)
    return load_generator(str(path))


def front_matter(card: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", card, flags=re.S)
    assert match, "the card has no YAML front matter"
    return yaml.safe_load(match[1])


def assert_same(a: Directions, b: Directions) -> None:
    torch.testing.assert_close(a.vectors, b.vectors, rtol=0, atol=0)
    torch.testing.assert_close(a.values, b.values, rtol=0, atol=0)
    assert (a.names, a.method, a.params, a.space, a.layers) == (b.names, b.method, b.params, b.space, b.layers)
    assert a.strength_range == b.strength_range
    assert a.model == b.model


# ----- the folder that would be uploaded -----------------------------------------------------------------------------
def test_upload_folder_holds_file_card_and_preview(dcgan, directions, tmp_path):
    folder = share.build_upload_folder(directions, tmp_path / "upload", dcgan, repo_id="someone/dcgan-sefa")
    assert {p.name for p in folder.iterdir()} == UPLOAD_FILES

    assert_same(Directions.load(folder / "directions.safetensors", dcgan), directions)

    card = huggingface_hub.ModelCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert data["library_name"] == "gan-steering"
    assert data["tags"] == ["gan", "latent-directions", "sefa", "linear-controls"]  # the card names the kind
    assert "base_model" not in data  # the embedded model does not come from the Hub
    text = card.text
    assert dcgan.identity.sha256 in text and "dcgan-faces" in text and "pypi:gan-face-generate" in text
    for i, name in enumerate(directions.names):  # one table row per direction, with its eigenvalue
        assert f"| {i} | {name} | {float(directions.values[i]):.4g} |" in text
    assert "![sefa directions](preview.png)" in text and "linear: a unit of strength is" in text
    assert 'pull_directions("someone/dcgan-sefa", G)' in text and "hf download someone/dcgan-sefa" in text
    assert "non-commercial" in text  # the embedded weights' licence travels with the directions

    preview = Image.open(folder / "preview.png")
    preview.load()
    cell, pad, steps, rows = 64, 2, share.PREVIEW_STEPS, share.PREVIEW_DIRECTIONS
    left = preview.width - steps * (cell + pad)  # the row labels' band
    top = preview.height - rows * (cell + pad)  # the strengths' band: one line of the charts' font
    assert left > 0 and line_height() < top < 2 * line_height()
    # The middle column is strength 0: each row's cell there is the unedited seed-0 sample, pixel for pixel.
    unedited = edit.render(dcgan, dcgan.sample(1, seed=0))[0]
    lo, hi = directions.strength_range
    assert edit.strengths_between(lo, hi, steps)[steps // 2] == 0.0
    for row in range(rows):
        x, y = left + (steps // 2) * (cell + pad), top + row * (cell + pad)
        assert np.array_equal(np.asarray(preview.crop((x, y, x + cell, y + cell))), np.asarray(unedited))
    x = left + (steps - 1) * (cell + pad)
    assert not np.array_equal(np.asarray(preview.crop((x, top, x + cell, top + cell))), np.asarray(unedited))


def test_upload_folder_without_generator_has_no_preview(directions, tmp_path):
    folder = share.build_upload_folder(directions, tmp_path / "upload", filename="bases/sefa.safetensors")
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {
        "README.md",
        "bases/sefa.safetensors",
    }
    card = (folder / "README.md").read_text()
    assert "preview" not in card.lower()
    assert "<owner>/<repo>:bases/sefa.safetensors" in card


def test_upload_folder_refuses_bad_names_and_wrong_model(directions, other_model, tmp_path):
    for name in ("../escape.safetensors", "/abs.safetensors", "directions.pt"):
        with pytest.raises(InvalidValueError, match=r"relative path ending in \.safetensors"):
            share.build_upload_folder(directions, tmp_path / "a", filename=name)
    with pytest.raises(DirectionsMismatchError, match="made for model 'dcgan-faces'"):
        share.build_upload_folder(directions, tmp_path / "b", other_model)
    assert not (tmp_path / "b").exists()


def test_card_names_the_base_model_of_a_hub_model(directions):
    identity = dataclasses.replace(
        directions.model, name="acme/gan:G.pt", source="hub:acme/gan", revision="a" * 40, filename="G.pt"
    )
    from_hub = dataclasses.replace(directions, model=identity)
    card = share.model_card(from_hub, repo_id="me/dirs")
    meta = front_matter(card)
    assert meta["base_model"] == "acme/gan"
    assert meta["library_name"] == "gan-steering" and "sefa" in meta["tags"]
    assert f'load_generator("acme/gan@{"a" * 40}:G.pt")' in card
    assert front_matter(share.model_card(directions, base_model="other/base"))["base_model"] == "other/base"
    with pytest.raises(InvalidValueError, match="base_model"):
        share.model_card(directions, base_model="not a repo")


# ----- through the local Hub server ----------------------------------------------------------------------------------
pytest_hub = pytest.mark.hub


def publish(hub, folder: Path, repo_id: str | None = None) -> tuple[str, str]:
    """Commit a built upload folder into a repo of the local Hub: what ``push_directions`` would upload."""
    repo_id = repo_id or hub.new_repo_id("directions")
    files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    return repo_id, hub.commit(repo_id, files, "Upload directions")


@pytest_hub
def test_pull_round_trip(hub, dcgan, directions, tmp_path):
    repo_id, commit = publish(hub, share.build_upload_folder(directions, tmp_path / "up", dcgan, repo_id="x/y"))
    assert_same(share.pull_directions(repo_id, dcgan), directions)
    assert_same(share.pull_directions(f"{repo_id}@{commit}:directions.safetensors", dcgan), directions)
    assert ("GET", f"/{repo_id}/resolve/main/directions.safetensors", 200) in hub.requests(repo_id)

    hub.stop()  # cached: a pull works without the server, and with local_files_only
    assert_same(share.pull_directions(repo_id, dcgan), directions)
    assert_same(share.pull_directions(f"{repo_id}@{commit}", dcgan, local_files_only=True), directions)


@pytest_hub
def test_pull_custom_filename_and_card_snippet_runs(hub, dcgan, directions, tmp_path):
    folder = share.build_upload_folder(directions.select([0, 2]), tmp_path / "up", filename="bases/two.safetensors")
    repo_id, _ = publish(hub, folder)
    folder = share.build_upload_folder(directions, tmp_path / "up2", dcgan, repo_id=repo_id)
    publish(hub, folder, repo_id)  # a second commit: the default file, README and preview

    assert share.pull_directions(f"{repo_id}:bases/two.safetensors", dcgan).names == ["sefa 0", "sefa 2"]
    snippet = re.search(r"```python\n(.*?)```", (folder / "README.md").read_text(), flags=re.S)[1]
    namespace: dict = {}
    exec(snippet, namespace)  # the card's usage code, as a user would paste it
    assert isinstance(namespace["image"], Image.Image) and namespace["image"].size == (64, 64)
    assert_same(namespace["directions"], directions)

    # The card's command lines, run as written: `hf download` (a fresh process reads HF_ENDPOINT), then our CLI.
    hf = [str(Path(sys.executable).with_name("hf"))]
    if int(huggingface_hub.__version__.split(".")[0]) < 1:  # the card's alternative: `huggingface-cli download`
        hf = [sys.executable, "-m", "huggingface_hub.commands.huggingface_cli"]
    commands = re.search(r"```bash\n(.*?)```", (folder / "README.md").read_text(), flags=re.S)[1].splitlines()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for line in commands:
        argv = shlex.split(line)
        argv = [*hf, *argv[1:]] if argv[0] == "hf" else [sys.executable, "-m", "steering", *argv[1:]]
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
    edited = Image.open(tmp_path / "edited.png")
    expected = edit.render(dcgan, edit.apply(dcgan, dcgan.sample(1, seed=0), directions, {0: 2.0}))[0]
    # Another process may round a few pixels the other way (threaded float reductions): allow ±2 on <1% of them.
    diff = np.abs(np.asarray(edited.convert("RGB"), dtype=int) - np.asarray(expected, dtype=int))
    assert diff.max() <= 2 and (diff > 0).mean() < 0.01, (diff.max(), (diff > 0).mean())


@pytest_hub
def test_pull_for_another_model_is_refused(hub, directions, other_model, tmp_path):
    repo_id, _ = publish(hub, share.build_upload_folder(directions, tmp_path / "up"))
    with pytest.raises(DirectionsMismatchError, match=r"made for model 'dcgan-faces'.*recompute"):
        share.pull_directions(repo_id, other_model)
    assert len(share.pull_directions(repo_id)) == len(directions)  # without a model: no check


@pytest_hub
def test_card_of_directions_for_a_hub_model_names_it_as_base(hub, tmp_path):
    model_repo = hub.new_repo_id("dcgan")
    hub.commit(model_repo, {"weights.tar": embedded_weights_path()})
    generator = load_generator(f"{model_repo}:weights.tar")
    found = sefa(generator, num_directions=3, use_cache=False)
    folder = share.build_upload_folder(found, tmp_path / "up", generator)
    card = huggingface_hub.ModelCard.load(folder / "README.md")
    assert card.data.base_model == model_repo
    repo_id, _ = publish(hub, folder)
    assert_same(share.pull_directions(repo_id, generator), found)


@pytest_hub
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda d: d[: len(d) // 2], "corrupt or truncated|not a readable safetensors"),
        (lambda d: b"not a safetensors file at all", "not a readable safetensors"),
    ],
    ids=["truncated", "garbage"],
)
def test_corrupt_directions_file_on_the_hub(hub, dcgan, directions, tmp_path, content, message):
    path = directions.save(tmp_path / "d.safetensors")
    repo_id = hub.new_repo_id("broken")
    commit = hub.commit(repo_id, {"directions.safetensors": content(path.read_bytes())})
    with pytest.raises(DirectionsFileError, match=message) as info:
        share.pull_directions(repo_id, dcgan)
    assert f"{repo_id}@{commit}" in str(info.value)


@pytest_hub
def test_a_model_file_is_not_a_direction_file(hub, dcgan, tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"main.0.weight": torch.zeros(4, 4)}, str(path), metadata={"format": "gan-steering.model"})
    repo_id = hub.new_repo_id("model-not-directions")
    hub.commit(repo_id, {"directions.safetensors": path})
    with pytest.raises(DirectionsFileError, match="not a gan-steering direction file"):
        share.pull_directions(repo_id, dcgan)


@pytest_hub
def test_pull_errors(hub):
    with pytest.raises(ModelNotFoundError, match="'tests/nothing-here' was not found"):
        share.pull_directions("tests/nothing-here")
    for spec in ("not-a-repo", "a/b:directions.pt", "owner/name:../x.safetensors"):
        with pytest.raises(InvalidValueError):
            share.pull_directions(spec)
    with pytest.raises(HubError, match="offline mode"):
        share.pull_directions("tests/never-pulled", local_files_only=True)


@pytest_hub
def test_push_builds_the_commit_and_calls_the_hub_api(hub, dcgan, directions, monkeypatch):
    before = len(hub.requests())
    with pytest.raises(InvalidValueError, match="not a valid Hub repo id"):
        share.push_directions(directions, "no-namespace", generator=dcgan)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="offline mode"):
        share.push_directions(directions, "me/dirs", generator=dcgan)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert len(hub.requests()) == before  # refused before any request

    # The real HfApi goes to HF_ENDPOINT; olah is read-only, which must come back as a clear HubError.
    with pytest.raises(HubError, match=r"does not accept uploads .*HF_ENDPOINT"):
        share.push_directions(directions, "me/dirs", generator=dcgan, token="hf_test")
    assert ("POST", "/api/repos/create", 405) in hub.requests()[before:]

    hub.stop()
    with pytest.raises(HubError, match=r"could not reach the Hub at .* for me/dirs: check your network"):
        share.push_directions(directions, "me/dirs", token="hf_test")


@pytest_hub
def test_auth_failures_on_push_say_how_to_log_in(hub, tmp_path):
    """A real 401 answer from the server, mapped as ``push_directions`` maps it."""
    with pytest.raises(OSError) as info:  # HfHubHTTPError is an OSError in every huggingface_hub release
        huggingface_hub.hf_hub_download("tests/private-repo", "x.safetensors", endpoint=hub.url, cache_dir=tmp_path)
    mapped = hub_module.map_error(info.value, repo_id="tests/private-repo", endpoint=hub.url, write=True)
    assert isinstance(mapped, HubError)
    assert "hf auth login" in str(mapped) and "write access" in str(mapped) and "'tests' namespace" in str(mapped)
    read = hub_module.map_error(info.value, source=HubFile("tests/private-repo", "x.safetensors"), endpoint=hub.url)
    assert isinstance(read, ModelNotFoundError) and "private or gated" in str(read)
