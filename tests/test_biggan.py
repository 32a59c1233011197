"""BigGAN-deep: numerical equivalence with pytorch-pretrained-biggan, checkpoint detection, projections, autograd."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from oracles import TINY, random_biggan_deep

from steering.errors import CheckpointFormatError, InvalidValueError
from steering.models import Latents
from steering.models.biggan import BigGANDeep, stats_position
from steering.models.checkpoint import Checkpoint
from steering.sources import load_generator
from steering.sources.load import ResolvedFile, convert, detect
from steering.sources.store import build_generator

# 0.333 falls between two statistics rows with coef ≈ 0.65 (≠ 0.5, so the reversed weighting matters).
TRUNCATIONS = (0.333, 0.4, 0.7, 1.0)


@pytest.fixture(scope="module")
def oracle():
    return random_biggan_deep()


@pytest.fixture(scope="module")
def state(oracle):
    return {k: v.clone() for k, v in oracle.state_dict().items()}


@pytest.fixture(scope="module")
def ours(state):
    config, weights = BigGANDeep.match_checkpoint(Checkpoint(dict(state), {"config.json": copy.deepcopy(TINY)}))
    model = BigGANDeep.from_config(config)
    model.load_state_dict(weights, strict=True)
    return model.eval()


def _inputs(truncation: float, n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(n, TINY["z_dim"], generator=gen).clamp(-2, 2) * truncation
    classes = F.one_hot(torch.tensor([1, 3, 9, 0])[:n], TINY["num_classes"]).float()
    classes[-1] = torch.softmax(torch.randn(TINY["num_classes"], generator=gen), 0)  # a soft class mixture
    return z, classes


def _assert_matches_oracle(model, oracle, truncations=TRUNCATIONS) -> None:
    for truncation in truncations:
        z, classes = _inputs(truncation)
        with torch.no_grad():
            expected = oracle(z, classes, truncation)
            got = model.synthesize(Latents(z, "z", classes, truncation))
        assert got.shape == expected.shape == (4, 3, 64, 64)
        assert 0.2 < float(expected.std()) and float((expected.abs() > 0.99).float().mean()) < 0.05  # not saturated
        assert (got - expected).abs().max() < 1e-4, truncation


def test_images_match_reference_package(ours, oracle):
    index, coef = stats_position(TRUNCATIONS[0], TINY["n_stats"])
    assert (index, round(coef, 6)) == (16, 0.65)
    _assert_matches_oracle(ours, oracle)


def test_truncation_selects_batch_norm_statistics(ours):
    z, classes = _inputs(1.0, n=2)
    images = [ours.synthesize(Latents(z, "z", classes, t)) for t in (0.32, 0.333, 0.34)]
    assert (images[0] - images[1]).abs().max() > 1e-3 and (images[1] - images[2]).abs().max() > 1e-3


def test_config_inferred_from_shapes_equals_config_json(state):
    with_json = BigGANDeep.match_checkpoint(Checkpoint(dict(state), {"config.json": copy.deepcopy(TINY)}))
    inferred = BigGANDeep.match_checkpoint(Checkpoint(dict(state)))
    assert inferred[0] == with_json[0] == TINY
    assert sorted(inferred[1]) == sorted(with_json[1]) == sorted(state)


def test_unpaired_layouts_need_config_json():
    config = {
        **TINY,
        "attention_layer_position": 2,
        "layers": [[False, 16, 16], [True, 16, 8], [True, 8, 4], [True, 4, 2], [True, 2, 1]],
    }
    weights = BigGANDeep.from_config(config).state_dict()
    with pytest.raises(CheckpointFormatError, match=r"config\.json"):
        BigGANDeep.match_checkpoint(Checkpoint(dict(weights)))
    matched_config, _ = BigGANDeep.match_checkpoint(Checkpoint(dict(weights), {"config.json": config}))
    assert matched_config == config


def test_config_json_that_does_not_fit_the_weights_is_rejected(state):
    wrong = {**TINY, "channel_width": 16, "attention_layer_position": 8}
    with pytest.raises(CheckpointFormatError, match="do not fit"):
        BigGANDeep.match_checkpoint(Checkpoint(dict(state), {"config.json": wrong}))
    bad_output = {**TINY, "output_dim": 128}
    with pytest.raises(CheckpointFormatError, match="output_dim"):
        BigGANDeep.match_checkpoint(Checkpoint(dict(state), {"config.json": bad_output}))


def test_other_layouts_are_not_claimed(state, dcgan):
    assert BigGANDeep.match_checkpoint(Checkpoint(dcgan.state_dict())) is None
    partial = {k: v for k, v in state.items() if k != "embeddings.weight"}
    with pytest.raises(CheckpointFormatError, match="embeddings"):
        BigGANDeep.match_checkpoint(Checkpoint(partial))
    missing_block = {k: v for k, v in state.items() if not k.startswith("generator.layers.2.bn_1.")}
    with pytest.raises(CheckpointFormatError, match="lacks 8 tensors"):
        BigGANDeep.match_checkpoint(Checkpoint(missing_block, {"config.json": TINY}))


def test_latent_projection_reproduces_first_layer(ours):
    (projection,) = ours.latent_projections()
    ch = TINY["channel_width"]
    assert projection.weight.shape == (16 * ch * 16, TINY["z_dim"])
    assert projection.shape == (16 * ch, 4, 4) and projection.space == "z"
    z, classes = _inputs(0.7)
    feature = ours.features(Latents(z, "z", classes, 0.7), ["gen_z"])["gen_z"]
    flat = z @ projection.weight.T + ours.class_bias(classes)
    assert torch.allclose(flat.reshape(-1, *projection.shape), feature, atol=1e-5)
    assert torch.allclose(ours.class_bias(torch.zeros(1, TINY["num_classes"]))[0], projection.bias)
    assert torch.allclose(ours.class_bias(torch.tensor([1, 3])), ours.class_bias(classes[:2]))
    assert torch.equal(ours.first_layer_bias(classes), ours.class_bias(classes))
    assert torch.equal(ours.first_layer_bias(), projection.bias[None])


def test_features_have_block_resolutions(ours):
    z, classes = _inputs(0.5, n=2)
    names = ours.feature_names()
    assert names == ["gen_z", *(f"block{i}" for i in range(8)), "image"]
    feats = ours.features(Latents(z, "z", classes, 0.5), names)
    ch = TINY["channel_width"]
    for i, (up, _, m_out) in enumerate(TINY["layers"]):
        size = 4 * 2 ** sum(u for u, _, _ in TINY["layers"][: i + 1])
        assert feats[f"block{i}"].shape == (2, ch * m_out, size, size), (i, up)
    assert torch.equal(feats["image"], ours.synthesize(Latents(z, "z", classes, 0.5)))
    with pytest.raises(InvalidValueError):
        ours.features(Latents(z, "z", classes, 0.5), ["block8"])


def test_jacobian_with_respect_to_z(ours):
    model = copy.deepcopy(ours).double()
    z, classes = _inputs(0.6, n=1)
    z, classes = z[0].double(), classes[:1].double()

    def pooled(code: torch.Tensor) -> torch.Tensor:
        image = model.synthesize(Latents(code[None], "z", classes, 0.6))
        return image.mean(dim=(0, 2, 3))  # mean colour: keeps the reverse pass cheap

    jac = torch.func.jacrev(pooled)(z)
    assert jac.shape == (3, TINY["z_dim"]) and jac.abs().max() > 1e-3
    directions = torch.randn(2, TINY["z_dim"], generator=torch.Generator().manual_seed(1), dtype=z.dtype)
    for v in directions:  # central differences along a few directions
        numeric = (pooled(z + 1e-6 * v) - pooled(z - 1e-6 * v)) / 2e-6
        assert torch.allclose(jac @ v, numeric, atol=1e-7, rtol=1e-5)
    # gen_z is affine in z: its Jacobian is the projection weight.
    gen_z = torch.func.jacrev(lambda c: model.features(Latents(c[None], "z", classes, 0.6), ["gen_z"])["gen_z"])(z)
    assert torch.allclose(gen_z.reshape(-1, TINY["z_dim"]), model.latent_projections()[0].weight, atol=1e-10)


def test_sampling_truncated_normal(ours):
    a, b = ours.sample(64, seed=3, truncation=0.5), ours.sample(64, seed=3, truncation=0.5)
    assert torch.equal(a.codes, b.codes) and torch.equal(a.classes, b.classes)
    assert a.truncation == 0.5 and a.codes.abs().max() <= 1.0
    full = ours.sample(2000, seed=1).codes
    assert full.abs().max() <= 2.0 and 0.85 < float(full.std()) < 0.9  # std of N(0,1) truncated to ±2: 0.880
    assert torch.equal(ours.sample(2, seed=0, class_index=4).classes.argmax(1), torch.tensor([4, 4]))
    for bad in (0.0, 1.5):
        with pytest.raises(InvalidValueError):
            ours.sample(1, truncation=bad)
    latents = ours.sample(1)
    with pytest.raises(InvalidValueError):
        ours.synthesize(latents.replace(truncation=1.2))
    with pytest.raises(InvalidValueError, match="class"):
        ours.synthesize(latents.replace(classes=None))


def test_detect_and_convert_with_config_json(state, oracle, tmp_path):
    name, config, weights = detect(Checkpoint(dict(state), {"config.json": copy.deepcopy(TINY)}))
    assert (name, config) == ("biggan-deep", TINY) and sorted(weights) == sorted(state)
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path)
    resolved = ResolvedFile(path, "tiny", "file", f"test:{path}", filename=path.name, extras={"config.json": TINY})
    converted = convert(resolved)
    assert converted.architecture == "biggan-deep" and converted.config == TINY
    _assert_matches_oracle(build_generator(converted), oracle, TRUNCATIONS[:2])


def test_load_generator_from_bare_state_dict_file(state, oracle, tmp_path, isolated_home):
    path = tmp_path / "biggan_tiny.bin"
    torch.save(state, path)
    model = load_generator(str(path))
    assert isinstance(model, BigGANDeep) and model.config == TINY and model.identity.architecture == "biggan-deep"
    _assert_matches_oracle(model, oracle, TRUNCATIONS[:2])
    again = load_generator(str(path))  # the converted copy
    z, classes = _inputs(0.4)
    assert torch.equal(again.synthesize(Latents(z, "z", classes, 0.4)), model.synthesize(Latents(z, "z", classes, 0.4)))
