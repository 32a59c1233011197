"""Loading generators from a Hub repo served by a real local Hub-protocol server (olah, see ``hubserver.py``).

The repos hold the real embedded DCGAN checkpoint (``weights.tar``, 14 MB) committed with git; the client is the
real ``huggingface_hub``; the HF cache and gan-steering home are fresh per test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from steering import paths
from steering.errors import CheckpointFormatError, HubError, ModelNotFoundError
from steering.io import sha256_file
from steering.sources import load_generator, resolve, store
from steering.sources.embedded import embedded_weights_path

pytestmark = pytest.mark.hub
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def altered_weights(tmp_path_factory) -> Path:
    """The embedded checkpoint with its first layer halved: another model in the same format."""
    checkpoint = torch.load(embedded_weights_path(), map_location="cpu", weights_only=True)
    checkpoint["netG_state_dict"]["main.0.weight"] = checkpoint["netG_state_dict"]["main.0.weight"] * 0.5
    path = tmp_path_factory.mktemp("altered") / "weights.tar"
    torch.save(checkpoint, path)
    return path


@pytest.fixture()
def weights_repo(hub) -> tuple[str, str]:
    """A repo whose ``main`` holds the real DCGAN ``weights.tar``: ``(repo_id, commit)``."""
    repo_id = hub.new_repo_id("dcgan")
    commit = hub.commit(repo_id, {"weights.tar": embedded_weights_path(), "README.md": "# DCGAN faces\n"})
    return repo_id, commit


def images(generator, seed: int = 3) -> torch.Tensor:
    with torch.no_grad():
        return generator.synthesize(generator.sample(2, seed=seed))


def assert_store_empty() -> None:
    """No converted model, no index entry, no half-written temporary file."""
    models = paths.models_dir()
    leftovers = sorted(p.relative_to(models).as_posix() for p in models.rglob("*") if p.is_file())
    assert leftovers == [], f"the failed load left files behind: {leftovers}"


def test_load_downloads_converts_and_records_provenance(hub, weights_repo, dcgan):
    repo_id, commit = weights_repo
    generator = load_generator(f"{repo_id}:weights.tar")

    identity = generator.identity
    assert identity.source == f"hub:{repo_id}"
    assert identity.revision == commit
    assert identity.filename == "weights.tar"
    assert identity.sha256 == sha256_file(embedded_weights_path())
    converted = store.converted_path(identity)
    assert converted.is_file() and converted.suffix == ".safetensors"
    resolved, _ = resolve(f"{repo_id}:weights.tar")
    assert store.lookup(resolved.source_key) == converted
    cached = Path(os.environ["HF_HUB_CACHE"]) / f"models--{repo_id.replace('/', '--')}" / "snapshots" / commit
    assert (cached / "weights.tar").is_file()  # the isolated HF cache, not the user's
    assert ("GET", f"/{repo_id}/resolve/main/weights.tar", 200) in hub.requests(repo_id)
    torch.testing.assert_close(images(generator), images(dcgan), rtol=0, atol=0)  # the same weights


def test_revision_pinning(hub, weights_repo, altered_weights, dcgan):
    repo_id, first = weights_repo
    second = hub.commit(repo_id, {"weights.tar": altered_weights}, "halve the first layer")

    latest = load_generator(f"{repo_id}@main:weights.tar")
    default = load_generator(f"{repo_id}:weights.tar")
    pinned = load_generator(f"{repo_id}@{first}:weights.tar")

    assert latest.identity.revision == default.identity.revision == second
    assert latest.identity.sha256 == sha256_file(altered_weights)
    assert pinned.identity.revision == first
    assert pinned.identity.sha256 == sha256_file(embedded_weights_path())
    torch.testing.assert_close(images(pinned), images(dcgan), rtol=0, atol=0)
    assert not torch.allclose(images(latest), images(pinned))
    assert store.converted_path(latest.identity) != store.converted_path(pinned.identity)


def test_second_load_with_server_stopped_is_served_from_cache(hub, weights_repo, monkeypatch, tmp_path):
    repo_id, commit = weights_repo
    first = load_generator(f"{repo_id}:weights.tar")
    hub.stop()

    again = load_generator(f"{repo_id}:weights.tar")  # converted file via the cached refs/main
    torch.testing.assert_close(images(again), images(first), rtol=0, atol=0)
    assert again.identity == first.identity

    monkeypatch.setenv("GAN_STEERING_HOME", str(tmp_path / "other-home"))  # nothing converted there yet
    for spec in (f"{repo_id}:weights.tar", f"{repo_id}@{commit}:weights.tar"):
        rebuilt = load_generator(spec)  # converted again from the HF cache, no server
        assert rebuilt.identity == first.identity
        torch.testing.assert_close(images(rebuilt), images(first), rtol=0, atol=0)


def _load_in_subprocess(spec: str, env: dict[str, str]) -> dict:
    """Run ``load_generator(spec)`` in a fresh interpreter (huggingface_hub reads HF_* variables at import)."""
    code = (
        "import json, sys\n"
        "from steering.errors import SteeringError\n"
        "from steering.sources import load_generator\n"
        "try:\n"
        "    g = load_generator(sys.argv[1])\n"
        "except SteeringError as exc:\n"
        "    print(json.dumps({'error': type(exc).__name__, 'message': str(exc)}))\n"
        "else:\n"
        "    x = g.synthesize(g.sample(1, seed=3)).detach()\n"
        "    print(json.dumps({'revision': g.identity.revision, 'sha256': g.identity.sha256, 'sum': x.sum().item()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, spec],
        env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_offline_mode_is_honoured(hub, weights_repo, tmp_path):
    repo_id, commit = weights_repo
    online = load_generator(f"{repo_id}:weights.tar")
    before = len(hub.requests())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GAN_STEERING_HOME": str(tmp_path / "offline-home")}

    cached = _load_in_subprocess(f"{repo_id}:weights.tar", env)
    assert cached.get("revision") == commit, cached
    assert cached["sha256"] == online.identity.sha256
    with torch.no_grad():
        expected = online.synthesize(online.sample(1, seed=3)).sum().item()
    assert cached["sum"] == pytest.approx(expected, rel=1e-5)

    hub.commit(repo_id, {"other.tar": embedded_weights_path()})
    missing = _load_in_subprocess(f"{repo_id}:other.tar", env)
    assert missing["error"] == "HubError"
    assert "offline mode" in missing["message"] and "HF_HUB_OFFLINE" in missing["message"]
    assert len(hub.requests()) == before  # offline: not one request reached the server


def test_nonexistent_repo(hub):
    with pytest.raises(ModelNotFoundError, match=r"'tests/no-such-gan' was not found.*hf auth login"):
        load_generator("tests/no-such-gan:weights.tar")
    assert_store_empty()


@pytest.mark.parametrize("spec", ["bad--name/gan:weights.tar", "a/b/c:weights.tar", "-owner/gan:weights.tar"])
def test_invalid_repo_id_is_refused_before_any_request(hub, spec):
    before = len(hub.requests())
    with pytest.raises(ModelNotFoundError, match="not a valid Hub repo id"):
        load_generator(spec)
    assert len(hub.requests()) == before
    assert_store_empty()


def test_missing_file_names_what_the_repo_has(hub, weights_repo):
    repo_id, _ = weights_repo
    with pytest.raises(ModelNotFoundError, match=r"file 'G\.pt' does not exist in .* it has: .*weights\.tar"):
        load_generator(f"{repo_id}:G.pt")
    assert_store_empty()


def test_missing_revision_names_the_branches(hub, weights_repo):
    repo_id, _ = weights_repo
    with pytest.raises(ModelNotFoundError, match=r"revision 'v9' does not exist .*branches and tags: main"):
        load_generator(f"{repo_id}@v9:weights.tar")
    assert_store_empty()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda: embedded_weights_path().read_bytes()[:1_000_000], "corrupt or truncated"),
        (lambda: b"# just a README\n" * 20, "neither safetensors, a torch file nor a pickle"),
    ],
    ids=["truncated", "not-a-checkpoint"],
)
def test_corrupt_file_gives_format_error_and_caches_nothing(hub, content, message, dcgan):
    repo_id = hub.new_repo_id("broken")
    hub.commit(repo_id, {"weights.tar": content()})
    with pytest.raises(CheckpointFormatError, match=message):
        load_generator(f"{repo_id}:weights.tar")
    assert_store_empty()

    fixed = hub.commit(repo_id, {"weights.tar": embedded_weights_path()}, "upload the whole file")
    generator = load_generator(f"{repo_id}:weights.tar")  # nothing stale stands in the way
    assert generator.identity.revision == fixed
    torch.testing.assert_close(images(generator), images(dcgan), rtol=0, atol=0)


def test_a_file_larger_than_the_request_budget_is_refused_before_download(hub, weights_repo, monkeypatch):
    """A public Space must not fetch whatever a visitor names: the file's size (one metadata request) is checked
    against the memory budget first; nothing lands in the HF cache or the store. Within budget it loads."""
    from huggingface_hub import try_to_load_from_cache

    from steering.errors import ResourceLimitError

    repo_id, _ = weights_repo
    monkeypatch.setenv("GAN_STEERING_MAX_REQUEST_MB", "5")  # the checkpoint is 14 MB
    with pytest.raises(
        ResourceLimitError, match=r"loading .*weights\.tar \(1[34]\.\d MiB on the Hub\).*MAX_REQUEST_MB"
    ):
        load_generator(f"{repo_id}:weights.tar")
    assert try_to_load_from_cache(repo_id, "weights.tar") is None
    assert_store_empty()
    monkeypatch.setenv("GAN_STEERING_MAX_REQUEST_MB", "20")
    assert load_generator(f"{repo_id}:weights.tar").identity.name.endswith("weights.tar")
    hub.commit(repo_id, {"weights.tar": b"\0" * (24 * 2**20)}, "a larger file on main")  # a branch moves on
    with pytest.raises(ResourceLimitError, match=r"24\.0 MiB on the Hub"):  # the cached older file is no pass
        load_generator(f"{repo_id}:weights.tar")


@pytest.mark.slow
def test_unreachable_hub_without_cache(hub, monkeypatch):
    """A dead endpoint and an empty cache: a HubError about the connection (after huggingface_hub's retries)."""
    hub.stop()
    with pytest.raises(HubError, match="could not be reached"):
        load_generator("tests/never-downloaded:weights.tar")
    assert_store_empty()
