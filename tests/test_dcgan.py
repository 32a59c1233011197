"""The embedded DCGAN: loading, conversion cache, the folded first layer, functional synthesis."""

from __future__ import annotations

import pytest
import torch
from torch.func import jacrev

from steering.models import Latents
from steering.sources import load_generator, resolve, store


def test_embedded_model_loads_with_identity(dcgan):
    info = dcgan.describe()
    assert info["architecture"] == "dcgan" and info["resolution"] == 64 and info["z_dim"] == 100
    assert len(dcgan.identity.sha256) == 64
    assert dcgan.identity.source.startswith("pypi:gan-face-generate")


def test_seeded_sampling_is_reproducible_and_images_in_range(dcgan):
    a, b = dcgan.sample(3, seed=7), dcgan.sample(3, seed=7)
    assert torch.equal(a.codes, b.codes)
    assert not torch.equal(a.codes, dcgan.sample(3, seed=8).codes)
    with torch.no_grad():
        images = dcgan.synthesize(a)
    assert images.shape == (3, 3, 64, 64)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0.1


def test_truncation_scales_z(dcgan):
    full, half = dcgan.sample(2, seed=1), dcgan.sample(2, seed=1, truncation=0.5)
    torch.testing.assert_close(half.codes, full.codes * 0.5)


def test_folded_first_layer_equals_convtranspose_plus_batchnorm(dcgan):
    (projection,) = dcgan.latent_projections()
    assert projection.shape == (512, 4, 4) and projection.weight.shape == (512 * 16, 100)
    latents = dcgan.sample(5, seed=3)
    with torch.no_grad():
        expected = dcgan.features(latents, ["fc"])["fc"].flatten(1)
    folded = latents.codes @ projection.weight.T + projection.bias
    torch.testing.assert_close(folded, expected, atol=1e-4, rtol=1e-4)


def test_synthesis_is_functional_for_torch_func(dcgan):
    z = dcgan.sample(1, seed=0).codes
    jac = jacrev(lambda c: dcgan.features(Latents(c), ["fc"])["fc"].flatten())(z)
    (projection,) = dcgan.latent_projections()
    torch.testing.assert_close(jac[:, 0, :], projection.weight, atol=1e-5, rtol=1e-4)
    batched = torch.func.vmap(lambda c: dcgan.synthesize(Latents(c[None]))[0])(dcgan.sample(2, seed=1).codes)
    assert batched.shape == (2, 3, 64, 64)


def test_second_load_reads_only_the_converted_file(isolated_home, monkeypatch):
    first = load_generator("dcgan-faces")
    resolved, _ = resolve("dcgan-faces")
    converted = store.lookup(resolved.source_key)
    assert converted is not None and converted.suffix == ".safetensors"
    import steering.sources.load as load_module

    def no_original(*_args, **_kwargs):
        raise AssertionError("the original checkpoint was read again")

    monkeypatch.setattr(load_module, "read_checkpoint", no_original)
    second = load_generator("dcgan-faces")
    latents = first.sample(2, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(first.synthesize(latents), second.synthesize(latents))
    assert second.identity == first.identity


def test_broken_converted_file_is_rebuilt(isolated_home):
    load_generator("dcgan-faces")
    resolved, _ = resolve("dcgan-faces")
    converted = store.lookup(resolved.source_key)
    converted.write_bytes(converted.read_bytes()[:1000])  # truncate the cache entry
    generator = load_generator("dcgan-faces")
    assert generator.synthesize(generator.sample(1, seed=0)).shape == (1, 3, 64, 64)
    assert store.lookup(resolved.source_key).stat().st_size > 1_000_000


def test_converted_file_with_wrong_shapes_is_rebuilt(isolated_home):
    """A cache entry that reads fine but whose tensors fit no model is dropped and converted again."""
    from steering.io import load_safetensors, save_safetensors

    load_generator("dcgan-faces")
    resolved, _ = resolve("dcgan-faces")
    converted = store.lookup(resolved.source_key)
    tensors, metadata = load_safetensors(converted)
    tensors["main.0.weight"] = tensors["main.0.weight"][:, :8]
    save_safetensors(tensors, metadata, converted)
    generator = load_generator("dcgan-faces")
    assert generator.main[0].weight.shape == (100, 512, 4, 4)


def test_a_file_that_fits_no_layout_names_what_it_holds(tmp_path, isolated_home):
    from steering.errors import CheckpointFormatError
    from steering.sources.embedded import embedded_weights_path

    path = tmp_path / "mystery.pt"
    torch.save({"encoder": {"proj.weight": torch.zeros(8, 4), "proj.bias": torch.zeros(8)}}, path)
    with pytest.raises(CheckpointFormatError, match=r"does not fit any known layout \(dcgan, stylegan2") as info:
        load_generator(str(path))
    assert "encoder.proj.weight [8, 4]" in str(info.value)
    with pytest.raises(CheckpointFormatError, match="does not fit the stylegan2 layout"):
        load_generator(str(embedded_weights_path()), architecture="stylegan2")
    assert not list((isolated_home / "models").glob("*.safetensors"))


@pytest.mark.parametrize("seed", [-1, 2**63, 2**70, 1.5, "x", float("nan")])
def test_bad_seeds_are_refused(dcgan, seed):
    from steering.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="seed"):
        dcgan.sample(1, seed=seed)


def test_concurrent_users_share_one_load(isolated_home, monkeypatch):
    """Many threads asking for the same model at once: one load, one shared generator."""
    import threading

    import steering.sources.load as load_module

    calls = []
    real = load_module.load_generator

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(load_module, "load_generator", counting)
    cache = load_module.GeneratorCache()
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("dcgan-faces"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 6 and all(r is results[0] for r in results)


def test_unknown_config_keys_are_refused():
    from steering.errors import CheckpointFormatError
    from steering.models.dcgan import DCGAN

    assert DCGAN.from_config({"nz": 16, "ngf": 8}).z_dim == 16
    with pytest.raises(CheckpointFormatError, match="unknown dcgan config keys \\['depth'\\]"):
        DCGAN.from_config({"nz": 16, "depth": 3})


def test_features_stop_early_but_match_the_full_forward(dcgan):
    latents = dcgan.sample(2, seed=4)
    with torch.no_grad():
        every = dcgan.features(latents, dcgan.feature_names())
        some = dcgan.features(latents, ["block2", "fc"])
    assert list(some) == ["block2", "fc"]
    for name, tensor in some.items():
        assert torch.equal(tensor, every[name])
    torch.testing.assert_close(every["image"], dcgan.synthesize(latents))


def test_one_converted_file_serves_every_spec_under_its_own_name(dcgan):
    """The catalog name and a local path of the same weights share one converted file; each keeps its name."""
    from steering.sources import load_generator
    from steering.sources.embedded import embedded_weights_path

    by_path = load_generator(str(embedded_weights_path()))
    by_name = load_generator("dcgan-faces")
    assert by_path.identity.sha256 == by_name.identity.sha256 == dcgan.identity.sha256
    assert by_path.identity.source == "file" and by_path.identity.name == "weights"
    assert by_name.identity.name == "dcgan-faces" and by_name.identity.source.startswith("pypi:")
