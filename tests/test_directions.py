"""Direction files: exact round trip, refusal of files for other models, corrupt files, the basis cache."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors.torch import save_file

from steering import cache
from steering.directions import Directions
from steering.errors import DirectionsFileError, DirectionsMismatchError, InvalidValueError
from steering.methods import ganspace, sefa


@pytest.fixture()
def directions(dcgan):
    return sefa(dcgan, num_directions=6, use_cache=False).renamed(0, "smile?")


def test_round_trip_is_exact(directions, dcgan, tmp_path):
    path = directions.save(tmp_path / "d.safetensors")
    loaded = Directions.load(path, dcgan)
    assert torch.equal(loaded.vectors, directions.vectors)
    assert torch.equal(loaded.values, directions.values)
    for field in ("space", "method", "model", "names", "params", "layers", "strength_range"):
        assert getattr(loaded, field) == getattr(directions, field), field
    assert loaded.names[0] == "smile?"


def test_file_for_another_model_is_refused(directions, dcgan, tmp_path):
    other = dataclasses.replace(directions.model, name="stylegan2-ffhq", sha256="f" * 64)
    path = dataclasses.replace(directions, model=other).save(tmp_path / "other.safetensors")
    with pytest.raises(DirectionsMismatchError, match="made for model 'stylegan2-ffhq'"):
        Directions.load(path, dcgan)
    Directions.load(path)  # without a model to check against, the file itself is fine


def test_wrong_dimension_is_refused(directions, dcgan, tmp_path):
    wider = dataclasses.replace(directions, vectors=torch.nn.functional.normalize(torch.randn(6, 64), dim=1))
    with pytest.raises(DirectionsMismatchError, match="dimension 64"):
        wider.check_compatible(dcgan)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_file_is_refused(directions, tmp_path, damage):
    path = directions.save(tmp_path / "d.safetensors")
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 64 + data[64:], "empty": b""}[damage])
    with pytest.raises(DirectionsFileError):
        Directions.load(path)


def test_other_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(DirectionsFileError, match="not a gan-steering direction file"):
        Directions.load(path)


def test_newer_format_version_is_refused(directions, tmp_path):
    tensors, metadata = directions.to_tensors_and_metadata()
    save_file(tensors, str(tmp_path / "new.safetensors"), metadata={**metadata, "format_version": "99"})
    with pytest.raises(DirectionsFileError, match="upgrade"):
        Directions.load(tmp_path / "new.safetensors")


def test_nan_directions_and_bad_ranges_are_rejected(directions):
    bad = directions.vectors.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InvalidValueError, match="NaN"):
        dataclasses.replace(directions, vectors=bad)
    with pytest.raises(InvalidValueError, match="strength range"):
        dataclasses.replace(directions, strength_range=(3.0, -3.0))
    with pytest.raises(InvalidValueError, match="empty"):
        directions.renamed(0, "  ")


def test_metadata_is_documented_schema(directions, tmp_path):
    _, metadata = directions.to_tensors_and_metadata()
    assert metadata["format"] == "gan-steering.directions" and metadata["format_version"] == "1"
    model = json.loads(metadata["model"])
    assert {"architecture", "name", "sha256", "source", "revision", "config"} <= set(model)
    assert json.loads(metadata["names"])[0] == "smile?"


def test_cache_computes_once_and_keys_by_content(dcgan, isolated_home):
    calls = []

    def compute():
        calls.append(1)
        return sefa(dcgan, num_directions=3, use_cache=False)

    first = cache.cached(dcgan, "sefa", {"num_directions": 3}, compute)
    second = cache.cached(dcgan, "sefa", {"num_directions": 3}, compute)
    assert len(calls) == 1 and torch.equal(first.vectors, second.vectors)
    cache.cached(dcgan, "sefa", {"num_directions": 4}, compute)
    assert len(calls) == 2


def test_ganspace_samples_drawn_in_other_blocks_are_cached_apart(dcgan, isolated_home):
    """Each block of GANSpace samples has its own seed, so the batch size changes the samples: it is in the key."""
    options = {"num_directions": 2, "num_samples": 200}
    cached = [ganspace(dcgan, batch_size=b, **options) for b in (100, 50)]
    fresh = [ganspace(dcgan, batch_size=b, use_cache=False, **options) for b in (100, 50)]
    assert not torch.allclose(fresh[0].vectors, fresh[1].vectors, atol=1e-3)
    for got, expected in zip(cached, fresh, strict=True):
        assert torch.equal(got.vectors, expected.vectors)


def test_corrupt_cache_entry_is_dropped_and_recomputed(dcgan, isolated_home):
    params = {"num_directions": 3}
    cache.cached(dcgan, "sefa", params, lambda: sefa(dcgan, 3, use_cache=False))
    path = cache.entry_path(cache.cache_key(dcgan, "sefa", params))
    path.write_bytes(path.read_bytes()[:50])
    again = cache.cached(dcgan, "sefa", params, lambda: sefa(dcgan, 3, use_cache=False))
    assert len(again) == 3 and Directions.load(path, dcgan).names == again.names


def test_failed_compute_leaves_no_cache_entry(dcgan, isolated_home):
    def boom():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.cached(dcgan, "sefa", {"x": 1}, boom)
    assert not cache.entry_path(cache.cache_key(dcgan, "sefa", {"x": 1})).exists()
    assert not list(isolated_home.rglob("*.tmp"))
