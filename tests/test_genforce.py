"""genforce PGGAN and StyleGAN (v1): checkpoint detection, forward math, truncation, latent projections.

There is no PyPI oracle for genforce's models. The state dicts below are written from genforce's own code, not from
our modules: key names and shapes as ``PGGANGenerator.__init__`` and ``StyleGANGenerator.__init__`` (and their
``ConvBlock``, ``NoiseApplyingLayer``, ``StyleModLayer``, ``BlurLayer``, ``TruncationModule``, ``MappingModule``)
register them in genforce/sefa ``models/pggan_generator.py`` and ``models/stylegan_generator.py`` (commit 0d16060;
genforce/genforce registers the same names). The forward math was compared once, by hand, with that official code
on CPU with random weights (see the module docstrings); these tests check what can be derived independently.
"""

from __future__ import annotations

import math

import pytest
import torch

from steering.errors import CheckpointFormatError
from steering.models.base import Latents, Noise
from steering.models.checkpoint import Checkpoint
from steering.models.pggan import PGGAN
from steering.models.stylegan import StyleGAN
from steering.sources.catalog import CATALOG
from steering.sources.load import detect


def nf(res: int, fmaps_base: int, fmaps_max: int) -> int:
    return min(fmaps_base // res, fmaps_max)


def genforce_pggan_state(resolution=32, z_dim=16, fmaps_base=256, fmaps_max=32, seed=0) -> dict[str, torch.Tensor]:
    """``PGGANGenerator(resolution, z_space_dim=z_dim, fmaps_base=…, fmaps_max=…).state_dict()`` layout:
    ``lod``; per block b at r px: ``layer{2b}`` (4×4 "Dense" from z for b = 0, else 3×3 ``Conv0`` [out, in]),
    ``layer{2b+1}`` (3×3 ``Conv``/``Conv1``), ``output{b}`` (1×1 ToRGB); each with ``weight`` and ``bias``."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {"lod": torch.zeros(())}
    for b in range(int(math.log2(resolution)) - 1):
        res = 4 * 2**b
        c = nf(res, fmaps_base, fmaps_max)
        c_in = z_dim if b == 0 else nf(res // 2, fmaps_base, fmaps_max)
        k = 4 if b == 0 else 3
        state[f"layer{2 * b}.weight"] = torch.randn(c, c_in, k, k, generator=gen)
        state[f"layer{2 * b + 1}.weight"] = torch.randn(c, c, 3, 3, generator=gen)
        state[f"output{b}.weight"] = torch.randn(3, c, 1, 1, generator=gen)
        for name in (f"layer{2 * b}", f"layer{2 * b + 1}"):
            state[f"{name}.bias"] = 0.1 * torch.randn(c, generator=gen)
        state[f"output{b}.bias"] = 0.1 * torch.randn(3, generator=gen)
    return state


def genforce_stylegan_state(
    resolution=16, z_dim=12, w_dim=10, mapping_fmaps=14, fmaps_base=128, fmaps_max=16, seed=0
) -> dict[str, torch.Tensor]:
    """``StyleGANGenerator(resolution, z_space_dim, w_space_dim, mapping_fmaps=…, …).state_dict()`` layout:
    ``mapping.dense{0..7}``, ``truncation.w_avg``, ``synthesis.lod``; per block b at r px ``synthesis.layer{2b}``
    (``const`` for b = 0, else an upsampling conv with ``blur.kernel``) and ``synthesis.layer{2b+1}`` (3×3 conv),
    each with ``bias``, ``apply_noise.{noise, weight}``, ``style.{weight, bias}``; ``synthesis.output{b}``."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    dims = [z_dim] + [mapping_fmaps] * 7 + [w_dim]
    for i in range(8):
        state[f"mapping.dense{i}.weight"] = 100.0 * torch.randn(dims[i + 1], dims[i], generator=gen)  # ÷ lr_mul
        state[f"mapping.dense{i}.bias"] = 10.0 * torch.randn(dims[i + 1], generator=gen)
    state["truncation.w_avg"] = torch.randn(w_dim, generator=gen)
    state["synthesis.lod"] = torch.zeros(())
    taps = torch.tensor([1.0, 2.0, 1.0])
    blur = (taps[:, None] * taps[None, :] / 16)[None, None]
    for b in range(int(math.log2(resolution)) - 1):
        res = 4 * 2**b
        c = nf(res, fmaps_base, fmaps_max)
        for layer in (2 * b, 2 * b + 1):
            key = f"synthesis.layer{layer}"
            if layer == 0:
                state[f"{key}.const"] = torch.randn(1, c, 4, 4, generator=gen)
            else:
                c_in = c if layer % 2 else nf(res // 2, fmaps_base, fmaps_max)
                state[f"{key}.weight"] = torch.randn(c, c_in, 3, 3, generator=gen)
            if layer % 2 == 0 and layer > 0:
                state[f"{key}.blur.kernel"] = blur.repeat(c, 1, 1, 1)
            state[f"{key}.bias"] = 0.1 * torch.randn(c, generator=gen)
            state[f"{key}.apply_noise.noise"] = torch.randn(1, 1, res, res, generator=gen)
            state[f"{key}.apply_noise.weight"] = 0.1 * torch.randn(c, generator=gen)
            state[f"{key}.style.weight"] = torch.randn(2 * c, w_dim, generator=gen)
            state[f"{key}.style.bias"] = 0.1 * torch.randn(2 * c, generator=gen)
        state[f"synthesis.output{b}.weight"] = torch.randn(3, c, 1, 1, generator=gen)
        state[f"synthesis.output{b}.bias"] = 0.1 * torch.randn(3, generator=gen)
    return state


def build(state: dict[str, torch.Tensor]):
    name, config, converted = detect(Checkpoint(state))
    cls = {"pggan": PGGAN, "stylegan": StyleGAN}[name]
    model = cls.from_config(config)
    model.load_state_dict(converted, strict=True)
    return name, config, model.eval()


# ----- detection -----------------------------------------------------------------------------------
def test_pggan_state_dict_detected_with_its_config():
    name, config, model = build(genforce_pggan_state())
    assert name == "pggan"
    assert config["resolution"] == 32 and config["z_dim"] == 16 and config["image_channels"] == 3
    assert config["channels"] == [nf(r, 256, 32) for r in (4, 8, 16, 32)] == [32, 32, 16, 8]
    assert config["fused_scale"] is False
    assert PGGAN.from_config(config).config == config  # config round-trips
    assert model.layer_names == ["z → 4×4"] and model.latent_spaces == ("z",)


def test_stylegan_state_dict_detected_with_its_config():
    name, config, model = build(genforce_stylegan_state())
    assert name == "stylegan"
    assert (config["resolution"], config["z_dim"], config["w_dim"], config["mapping_fmaps"]) == (16, 12, 10, 14)
    assert config["mapping_layers"] == 8 and config["channels"] == [16, 16, 8]
    assert StyleGAN.from_config(config).config == config
    assert model.num_layers == 6 and model.layer_resolutions == [4, 4, 8, 8, 16, 16]
    assert model.latent_spaces == ("z", "w", "w+") and model.default_space == "w"


def test_training_checkpoint_prefers_the_smoothed_generator():
    """genforce training checkpoints hold ``generator``, ``generator_smooth`` (EMA) and ``discriminator``."""
    smooth, plain = genforce_stylegan_state(seed=1), genforce_stylegan_state(seed=2)
    state = {f"generator_smooth.{k}": v for k, v in smooth.items()}
    state.update({f"generator.{k}": v for k, v in plain.items()})
    state["discriminator.layer0.weight"] = torch.randn(4, 3, 1, 1)
    _, _, model = build(state)
    assert torch.equal(model.synthesis.layer1.style.weight, smooth["synthesis.layer1.style.weight"])
    pg = {f"generator.{k}": v for k, v in genforce_pggan_state().items()}
    assert detect(Checkpoint(pg))[0] == "pggan"


def test_pggan_fused_upsampling_is_read_from_the_weight_layout():
    """With ``fused_scale`` genforce stores upsampling weights ``[in, out, 3, 3]``: visible where widths change."""
    state = genforce_pggan_state()
    for key in ("layer2.weight", "layer4.weight", "layer6.weight"):
        state[key] = state[key].transpose(0, 1).contiguous()
    _, config, model = build(state)
    assert config["fused_scale"] is True and model.layer4.mode == "up-fused"
    assert model.synthesize(model.sample(1, seed=0)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("layer3.weight"), "layer3.weight"),
        (lambda s: s.__setitem__("layer5.weight", torch.randn(16, 8, 3, 3)), "layer5.weight"),
        (lambda s: s.__setitem__("lod", torch.tensor(1.0)), "lod"),
        (lambda s: s.pop("output3.bias"), "output3.bias"),
    ],
)
def test_pggan_half_match_raises_naming_what_was_found(edit, message):
    state = genforce_pggan_state()
    edit(state)
    with pytest.raises(CheckpointFormatError, match="genforce PGGAN") as info:
        detect(Checkpoint(state))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("synthesis.layer3.style.weight"), "synthesis.layer3.style.weight"),
        (lambda s: s.__setitem__("synthesis.layer2.weight", torch.randn(8, 8, 3, 3)), "synthesis.layer2.weight"),
        (lambda s: s.__setitem__("mapping.label_weight", torch.randn(5, 12)), "class-conditional"),
        (lambda s: s.__setitem__("truncation.w_avg", torch.zeros(60)), "repeat_w"),
        (lambda s: s.__setitem__("synthesis.lod", torch.tensor(2.0)), "lod"),
        (lambda s: s.__setitem__("synthesis.layer4.blur.kernel", torch.ones(8, 1, 3, 3)), "blur"),
    ],
)
def test_stylegan_half_match_raises_naming_what_was_found(edit, message):
    state = genforce_stylegan_state()
    edit(state)
    with pytest.raises(CheckpointFormatError, match="genforce StyleGAN") as info:
        detect(Checkpoint(state))
    assert message in str(info.value)


def test_other_layouts_are_not_claimed():
    assert PGGAN.match_checkpoint(Checkpoint(genforce_stylegan_state())) is None
    assert StyleGAN.match_checkpoint(Checkpoint(genforce_pggan_state())) is None
    dcgan_like = {"main.0.weight": torch.randn(100, 512, 4, 4)}
    assert PGGAN.match_checkpoint(Checkpoint(dcgan_like)) is None
    assert StyleGAN.match_checkpoint(Checkpoint(dcgan_like)) is None


def test_missing_w_avg_is_estimated_from_the_mapping():
    state = genforce_stylegan_state()
    del state["truncation.w_avg"]
    _, _, model = build(state)
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        w = model.mapping_network(torch.randn(20_000, model.z_dim, generator=gen))
    tolerance = 5 * w.std(dim=0) / math.sqrt(10_000)
    assert bool(((model.truncation.w_avg - w.mean(dim=0)).abs() < tolerance).all())


def test_local_file_loads_through_load_generator(tmp_path, isolated_home):
    from steering.sources.load import load_generator

    state = genforce_stylegan_state()
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path)
    model = load_generator(str(path))
    assert isinstance(model, StyleGAN) and model.identity.architecture == "stylegan"
    _, _, direct = build(state)
    latents = direct.sample(2, seed=3, truncation=0.7, space="w+")
    with torch.no_grad():
        assert torch.allclose(model.synthesize(latents), direct.synthesize(latents), atol=1e-6)
    assert torch.allclose(load_generator(str(path)).truncation.w_avg, state["truncation.w_avg"])  # cached copy


# ----- PGGAN forward -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pggan() -> PGGAN:
    return build(genforce_pggan_state())[2]


def test_pggan_projection_is_layer0_before_its_activation(pggan):
    latents = pggan.sample(3, seed=1)
    (proj,) = pggan.latent_projections()
    assert proj.shape == (32, 4, 4) and proj.space == "z" and proj.weight.shape == (32 * 16, 16)
    with torch.no_grad():
        pre = pggan.features(latents, ["layer0"])["layer0"]
        y = pggan.normalize_z(latents.codes) @ proj.weight.T + proj.bias
    assert torch.allclose(y.reshape(3, 32, 4, 4), pre, atol=1e-5)
    # Independently: a 4×4 conv with padding 3 on a 1×1 input puts tap (3 − i, 3 − j) at pixel (i, j), channel-major.
    raw = genforce_pggan_state()["layer0.weight"] * math.sqrt(2.0) / math.sqrt(16 * 16)
    for c, i, j in [(0, 0, 0), (5, 1, 3), (31, 3, 2)]:
        assert torch.allclose(proj.weight[c * 16 + 4 * i + j], raw[c, :, 3 - i, 3 - j], atol=1e-6)


def test_pggan_normalises_z_and_ignores_truncation(pggan):
    z = pggan.sample(4, seed=2).codes
    assert torch.allclose(z.square().mean(dim=1), torch.ones(4), atol=1e-5)  # pixel-normalised, as in SeFa
    with torch.no_grad():
        a = pggan.synthesize(Latents(z))
        b = pggan.synthesize(Latents(3.0 * z))  # the generator normalises z itself
        c = pggan.synthesize(pggan.sample(4, seed=2, truncation=0.5))
    assert a.shape == (4, 3, 32, 32) and torch.isfinite(a).all()
    assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-6)
    feats = pggan.features(Latents(z), ["b4", "b16", "image"])
    assert feats["b4"].shape == (4, 32, 4, 4) and feats["b16"].shape == (4, 16, 16, 16)
    assert torch.allclose(feats["image"], a, atol=1e-6)


def test_pggan_final_tanh_bounds_the_image():
    model = PGGAN(resolution=8, z_dim=4, channels=[8, 4], final_tanh=True)
    image = model.synthesize(model.sample(3, seed=0))
    assert image.abs().max() <= 1.0


# ----- StyleGAN forward ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stylegan() -> StyleGAN:
    return build(genforce_stylegan_state())[2]


def test_stylegan_projections_are_the_styles_used(stylegan):
    codes = torch.randn(2, stylegan.num_layers, stylegan.w_dim)  # a different w per layer
    latents = Latents(codes, "w+")
    with torch.no_grad():
        styles = stylegan.styles(latents)
    projections = stylegan.latent_projections()
    assert [p.layers for p in projections] == [(i,) for i in range(6)]
    for i, (p, style) in enumerate(zip(projections, styles, strict=True)):
        c = stylegan.channels[i // 2]
        assert p.weight.shape == (2 * c, 10) and p.space == "w"
        assert torch.allclose(codes[:, i] @ p.weight.T + p.bias, style, atol=1e-5)
    raw = genforce_stylegan_state()["synthesis.layer3.style.weight"]
    assert torch.allclose(projections[3].weight, raw / math.sqrt(10), atol=1e-6)  # StyleMod gain 1/√w_dim
    # Moving one layer's w changes that layer's style only.
    moved = codes.clone()
    moved[:, 2] += 1.0
    with torch.no_grad():
        after = stylegan.styles(Latents(moved, "w+"))
    assert [not torch.equal(a, b) for a, b in zip(after, styles, strict=True)] == [i == 2 for i in range(6)]


def test_stylegan_layers_follow_genforce_math(stylegan):
    """Layers 0 (constant) and 2 (upsampling) recomputed from the raw genforce tensors: conv (×√2/√fan_in), blur,
    noise × weight, + bias, leaky ReLU, instance norm, then AdaIN ``x·(1 + s[:C]) + s[C:]``."""
    import torch.nn.functional as F

    raw = genforce_stylegan_state()
    w = torch.randn(2, stylegan.w_dim)

    def epilogue(x, key):
        x = x + raw[f"{key}.apply_noise.noise"] * raw[f"{key}.apply_noise.weight"][None, :, None, None]
        x = F.leaky_relu(x + raw[f"{key}.bias"][None, :, None, None], 0.2)
        x = x - x.mean((2, 3), keepdim=True)
        x = x / torch.sqrt(x.pow(2).mean((2, 3), keepdim=True) + 1e-8)
        s = w @ (raw[f"{key}.style.weight"] / math.sqrt(stylegan.w_dim)).T + raw[f"{key}.style.bias"]
        c = x.shape[1]
        return x * (s[:, :c, None, None] + 1) + s[:, c:, None, None]

    noise = stylegan.noise_inputs(Noise())
    with torch.no_grad():
        x0, _ = stylegan.layer(0)(None, w, noise[0])
        x1, _ = stylegan.layer(1)(x0, w, noise[1])
        x2, _ = stylegan.layer(2)(x1, w, noise[2])
        want0 = epilogue(raw["synthesis.layer0.const"].expand(2, -1, -1, -1), "synthesis.layer0")
        up = x1.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        weight = raw["synthesis.layer2.weight"]
        y = F.conv2d(up, weight * math.sqrt(2) / math.sqrt(9 * weight.shape[1]), padding=1)
        y = F.conv2d(y, raw["synthesis.layer2.blur.kernel"], padding=1, groups=y.shape[1])
        want2 = epilogue(y, "synthesis.layer2")
    assert torch.allclose(x0, want0, atol=1e-5)
    assert torch.allclose(x2, want2, atol=1e-4)


def test_stylegan_truncation_only_on_the_truncation_layers():
    model = build(genforce_stylegan_state(resolution=64, fmaps_base=256, fmaps_max=8))[2]
    assert model.num_layers == 10 and model.truncation_layers == 8
    z = torch.randn(3, model.z_dim)
    psi = 0.6
    with torch.no_grad():
        w = model.mapping_network(z)
        wplus = model.to_space(Latents(z, truncation=psi), "w+").codes
        w_single = model.to_space(Latents(z, truncation=psi), "w").codes
    w_avg = model.truncation.w_avg
    expected = w_avg + psi * (w - w_avg)
    assert torch.allclose(wplus[:, :8], expected[:, None].expand(-1, 8, -1), atol=1e-5)
    assert torch.allclose(wplus[:, 8:], w[:, None].expand(-1, 2, -1), atol=1e-5)
    assert torch.allclose(w_single, expected, atol=1e-5)  # one w: truncated as a whole
    assert (wplus[:, :8] - w_avg).norm() < (w[:, None] - w_avg).expand(-1, 8, -1).norm()
    with torch.no_grad():
        untruncated = model.to_space(Latents(z), "w+").codes
    assert torch.allclose(untruncated, w[:, None].expand(-1, 10, -1), atol=1e-6)


def test_stylegan_synthesis_spaces_agree(stylegan):
    latents = stylegan.sample(2, seed=5, truncation=0.8)
    assert latents.space == "w"
    with torch.no_grad():
        from_w = stylegan.synthesize(latents)
        from_wplus = stylegan.synthesize(stylegan.to_space(latents, "w+"))
        from_z = stylegan.synthesize(Latents(stylegan.sample_z(2, 5), "z", truncation=0.8))
    assert from_w.shape == (2, 3, 16, 16) and torch.isfinite(from_w).all()
    assert torch.equal(from_w, from_wplus)
    # z → w+ truncates only layers < 8; this 6-layer model truncates all of them, like z → w.
    assert torch.allclose(from_z, from_w, atol=1e-5)
    feats = stylegan.features(latents, ["w", "b8", "image"])
    assert feats["w"].shape == (2, 10) and feats["b8"].shape == (2, 16, 8, 8)
    assert torch.allclose(feats["image"], from_w, atol=1e-6)


def test_stylegan_noise_modes(stylegan):
    latents = stylegan.sample(1, seed=0)
    with torch.no_grad():
        const = stylegan.synthesize(latents)
        none = stylegan.synthesize(latents.replace(noise=Noise("none")))
        rand = stylegan.synthesize(latents.replace(noise=Noise("random", 3)))
        again = stylegan.synthesize(latents.replace(noise=Noise("random", 3)))
    assert not torch.allclose(const, none) and not torch.allclose(const, rand)
    assert torch.equal(rand, again)  # one fixed realisation: synthesis stays a function of the latents


def test_fused_upsampling_layer_matches_flipped_nearest_conv():
    """genforce's fused (transposed-conv) upsampling equals nearest ×2 then conv with the flipped kernel."""
    fused = StyleGAN(resolution=16, z_dim=4, w_dim=4, mapping_fmaps=4, channels=[4, 6, 5], fused_scale=True)
    plain = StyleGAN(resolution=16, z_dim=4, w_dim=4, mapping_fmaps=4, channels=[4, 6, 5], fused_scale=False)
    state = fused.state_dict()
    flipped = {
        k: (v.flip(2, 3) if k in ("synthesis.layer2.weight", "synthesis.layer4.weight") else v)
        for k, v in state.items()
    }
    plain.load_state_dict(flipped)
    latents = fused.sample(2, seed=1)
    with torch.no_grad():
        assert torch.allclose(fused.synthesize(latents), plain.synthesize(latents), atol=1e-5)


@pytest.mark.parametrize("kind", ["pggan", "stylegan"])
def test_synthesis_is_functional(kind):
    """No in-place updates or hidden state: torch.func.jacrev through synthesis matches finite differences."""
    torch.manual_seed(0)
    if kind == "pggan":
        model = PGGAN(resolution=8, z_dim=4, channels=[6, 4]).double()
    else:
        model = StyleGAN(resolution=8, z_dim=4, w_dim=4, mapping_fmaps=4, channels=[6, 4]).double()
    latents = Latents(model.sample_z(1, seed=0).double(), truncation=0.7)
    if kind == "stylegan":
        latents = model.to_space(latents, "w")

    def render(codes):
        return model.synthesize(latents.replace(codes=codes)).sum()

    jac = torch.func.jacrev(render)(latents.codes)
    eps = 1e-6
    for k in range(4):
        step = torch.zeros_like(latents.codes)
        step[0, k] = eps
        with torch.no_grad():
            numeric = (render(latents.codes + step) - render(latents.codes - step)) / (2 * eps)
        assert torch.allclose(jac[0, k], numeric, rtol=1e-5, atol=1e-7)


def test_catalog_lists_the_huggan_checkpoints():
    expected = {
        "pggan-celebahq-1024": ("pggan", "huggan/pggan-celebahq-1024"),
        "stylegan-animeface-512": ("stylegan", "huggan/stylegan_animeface512"),
        "stylegan-car-512": ("stylegan", "huggan/stylegan_car512"),
        "stylegan-cat-256": ("stylegan", "huggan/stylegan_cat256"),
    }
    for name, (architecture, repo_id) in expected.items():
        entry = CATALOG[name]
        assert (entry.architecture, entry.repo_id, entry.filename) == (architecture, repo_id, "pytorch_model.bin")
