"""StyleGAN2: equivalence with basicsr's port of rosinality's generator, NVlabs layout, projections, autograd."""

from __future__ import annotations

import importlib.util
import json
import math
import re

import pytest
import torch
from oracles import load_basicsr_stylegan2
from torch.func import jacrev, vmap

from steering.errors import CheckpointFormatError, InvalidValueError
from steering.models import Latents, layer_range
from steering.models.base import Noise
from steering.models.checkpoint import Checkpoint
from steering.models.stylegan2 import StyleGAN2
from steering.sources import load_generator

SIZE, STYLE_DIM, N_MLP = 64, 64, 4
TOL = 1e-4

requires_basicsr = pytest.mark.skipif(
    importlib.util.find_spec("basicsr") is None,
    reason="oracle basicsr not installed: pip install --no-deps --no-build-isolation basicsr==1.4.2",
)


def basicsr_to_rosinality(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename basicsr's StyleGAN2Generator keys to rosinality's (reverse of checkpoints.md §1.8)."""
    out = {}
    for key, value in state.items():
        noise = re.fullmatch(r"noises\.noise(\d+)", key)
        if noise:
            out[f"noises.noise_{noise[1]}"] = value
            continue
        key = key.replace("style_mlp.", "style.").replace("constant_input.weight", "input.input")
        key = key.replace("style_conv1.", "conv1.").replace("style_convs.", "convs.")
        key = key.replace(".modulated_conv.", ".conv.")
        key = re.sub(r"^(conv1|convs\.\d+)\.weight$", r"\1.noise.weight", key)
        out[key] = value
    return out


def rosinality_to_nvlabs(state: dict[str, torch.Tensor], latent_avg: torch.Tensor) -> dict[str, torch.Tensor]:
    """An NVlabs stylegan2-ada-pytorch ``G_ema`` state dict holding the same weights (inverse of §2.2)."""
    filt = torch.tensor([1.0, 3.0, 3.0, 1.0])
    filt = torch.outer(filt, filt) / 64
    out = {"mapping.w_avg": latent_avg.clone()}
    for i in range(N_MLP):
        out[f"mapping.fc{i}.weight"] = state[f"style.{i + 1}.weight"]
        out[f"mapping.fc{i}.bias"] = state[f"style.{i + 1}.bias"]
    out["synthesis.b4.const"] = state["input.input"][0]
    out["synthesis.b4.resample_filter"] = filt

    def layer(dst: str, src: str, noise: int) -> None:
        out[f"{dst}.weight"] = state[f"{src}.conv.weight"][0]
        out[f"{dst}.noise_strength"] = state[f"{src}.noise.weight"].reshape(())
        out[f"{dst}.bias"] = state[f"{src}.activate.bias"]
        out[f"{dst}.resample_filter"] = filt
        out[f"{dst}.noise_const"] = state[f"noises.noise_{noise}"][0, 0]
        out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]

    def torgb(dst: str, src: str) -> None:
        out[f"{dst}.weight"] = state[f"{src}.conv.weight"][0]
        out[f"{dst}.bias"] = state[f"{src}.bias"].reshape(-1)
        out[f"{dst}.affine.weight"] = state[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = state[f"{src}.conv.modulation.bias"]

    layer("synthesis.b4.conv1", "conv1", 0)
    torgb("synthesis.b4.torgb", "to_rgb1")
    for k in range(int(math.log2(SIZE)) - 2):
        r = 2 ** (k + 3)
        out[f"synthesis.b{r}.resample_filter"] = filt
        layer(f"synthesis.b{r}.conv0", f"convs.{2 * k}", 2 * k + 1)
        layer(f"synthesis.b{r}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        torgb(f"synthesis.b{r}.torgb", f"to_rgbs.{k}")
    return out


NVLABS_KWARGS = {
    "z_dim": STYLE_DIM,
    "c_dim": 0,
    "w_dim": STYLE_DIM,
    "img_resolution": SIZE,
    "img_channels": 3,
    "mapping_kwargs": {"num_layers": N_MLP},
    "synthesis_kwargs": {"channel_base": 2048, "channel_max": 32, "num_fp16_res": 0, "conv_clamp": None},
}


# ----- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oracle():
    """basicsr's generator with random weights; biases and noise strengths perturbed so none is trivially 0/1."""
    arch = load_basicsr_stylegan2()
    torch.manual_seed(0)
    model = arch.StyleGAN2Generator(SIZE, STYLE_DIM, N_MLP, channel_multiplier=2, narrow=1 / 16)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias") or param.numel() == 1:  # biases, modulation biases (init 1), noise strengths
                param.add_(0.3 * torch.randn_like(param))
    return model.eval()


@pytest.fixture(scope="module")
def latent_avg():
    return 0.5 * torch.randn(STYLE_DIM, generator=torch.Generator().manual_seed(5))


@pytest.fixture(scope="module")
def ros_state(oracle):
    return {k: v.clone() for k, v in basicsr_to_rosinality(oracle.state_dict()).items()}


@pytest.fixture(scope="module")
def ours(ros_state, latent_avg):
    tensors = {f"g_ema.{k}": v for k, v in ros_state.items()} | {"latent_avg": latent_avg}
    config, state = StyleGAN2.match_checkpoint(Checkpoint(tensors))
    model = StyleGAN2.from_config(config)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _z(n: int = 4, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, STYLE_DIM, generator=torch.Generator().manual_seed(seed))


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert float(b.std()) > 0.1  # a real image, not a constant
    assert float((a - b).abs().max()) < TOL


# ----- equivalence with the oracle -------------------------------------------------------------------------
@requires_basicsr
def test_rename_covers_every_tensor(ours, ros_state):
    ignored = {k for k in ours.state_dict() if k.endswith(".kernel")} | {"latent_avg"}  # basicsr stores none
    assert set(ros_state) == set(ours.state_dict()) - ignored
    assert ours.config["channels"] == [32] * 5  # narrow=1/16 fits no channel multiplier


@requires_basicsr
@torch.no_grad()
def test_images_match_basicsr_from_z(oracle, ours):
    z = _z()
    reference, _ = oracle([z], randomize_noise=False)
    _close(ours.synthesize(Latents(z)), reference)


@requires_basicsr
@torch.no_grad()
def test_truncation_matches_basicsr(oracle, ours, latent_avg):
    z = _z(seed=2)
    reference, _ = oracle([z], randomize_noise=False, truncation=0.6, truncation_latent=latent_avg[None])
    _close(ours.synthesize(Latents(z, truncation=0.6)), reference)
    # sample() draws z from the seed and truncates in W
    w = ours.sample(3, seed=11, truncation=0.6, space="w")
    w_ref = oracle.get_latent(ours.sample_z(3, 11))
    assert float((w.codes - (latent_avg + 0.6 * (w_ref - latent_avg))).abs().max()) < 1e-5
    assert w.truncation == 0.6


@requires_basicsr
@torch.no_grad()
def test_wplus_mixing_matches_basicsr(oracle, ours):
    w1, w2 = oracle.get_latent(_z(seed=3)), oracle.get_latent(_z(seed=4))
    reference, _ = oracle([w1, w2], input_is_latent=True, inject_index=4, randomize_noise=False)
    wplus = torch.cat([w1[:, None].repeat(1, 4, 1), w2[:, None].repeat(1, ours.num_layers - 4, 1)], dim=1)
    _close(ours.synthesize(Latents(wplus, "w+")), reference)
    # every layer its own w
    wplus = oracle.get_latent(_z(4 * ours.num_layers, seed=5)).reshape(4, ours.num_layers, STYLE_DIM)
    reference, _ = oracle([wplus], input_is_latent=True, randomize_noise=False)
    _close(ours.synthesize(Latents(wplus, "w+")), reference)


@requires_basicsr
@torch.no_grad()
def test_block_features_match_basicsr(oracle, ours):
    seen = {}
    convs = [oracle.style_conv1, *oracle.style_convs[1::2]]  # the last conv of each resolution
    hooks = [
        m.register_forward_hook(lambda m, i, o, r=4 * 2**k: seen.__setitem__(f"b{r}", o)) for k, m in enumerate(convs)
    ]
    try:
        z = _z(2, seed=6)
        reference, _ = oracle([z], randomize_noise=False)
    finally:
        for hook in hooks:
            hook.remove()
    names = ours.feature_names()
    assert names == ["w", "b4", "b8", "b16", "b32", "b64", "image"]
    feats = ours.features(Latents(z), names)
    for name in ("b4", "b8", "b16", "b32", "b64"):
        assert float((feats[name] - seen[name]).abs().max()) < TOL, name
    _close(feats["image"], reference)
    assert float((feats["w"] - oracle.get_latent(z)).abs().max()) < 1e-5
    only_b8 = ours.features(Latents(z), ["b8"])  # stops early, same values
    assert list(only_b8) == ["b8"] and torch.equal(only_b8["b8"], feats["b8"])
    with pytest.raises(InvalidValueError):
        ours.features(Latents(ours.to_space(Latents(z), "w+").codes, "w+"), ["w"])


@requires_basicsr
@torch.no_grad()
def test_latent_projections_equal_the_styles_used(oracle, ours):
    """Each projection applied to its W+ vector gives the modulation outputs of the layers that read that index."""
    wplus = torch.randn(2, ours.num_layers, STYLE_DIM, generator=torch.Generator().manual_seed(7))
    modulations = {
        "conv": [oracle.style_conv1.modulated_conv.modulation]
        + [c.modulated_conv.modulation for c in oracle.style_convs],
        "rgb": [oracle.to_rgb1.modulated_conv.modulation] + [t.modulated_conv.modulation for t in oracle.to_rgbs],
    }
    records: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o, kind=kind: records.append((kind, i[0], o)))
        for kind, modules in modulations.items()
        for m in modules
    ]
    try:
        oracle([wplus], input_is_latent=True, randomize_noise=False)
    finally:
        for hook in hooks:
            hook.remove()
    # which W+ index each modulation read, found from its input (every index holds a different vector)
    styles: dict[int, dict[str, torch.Tensor]] = {}
    for kind, inputs, outputs in records:
        (index,) = [i for i in range(ours.num_layers) if torch.equal(inputs, wplus[:, i])]
        styles.setdefault(index, {})[kind] = outputs
    projections = ours.latent_projections()
    assert [p.layers for p in projections] == [(i,) for i in range(ours.num_layers)]
    assert [p.resolution for p in projections] == ours.layer_resolutions
    for index, projection in enumerate(projections):
        assert projection.space == "w" and projection.weight.shape[1] == STYLE_DIM
        used = torch.cat([styles[index][k] for k in ("conv", "rgb") if k in styles[index]], dim=1)
        mine = wplus[:, index] @ projection.weight.T + projection.bias
        assert float((mine - used).abs().max()) < 1e-5, index
    # genforce SeFa convention: conv affines only, the final ToRGB at the last index
    sefa = ours.latent_projections(include_torgb=False)
    for index, projection in enumerate(sefa):
        kind = "rgb" if index == ours.num_layers - 1 else "conv"
        used = styles[index][kind]
        assert float((wplus[:, index] @ projection.weight.T + projection.bias - used).abs().max()) < 1e-5


# ----- checkpoint layouts ------------------------------------------------------------------------------------
@requires_basicsr
@torch.no_grad()
def test_nvlabs_layout_loads_the_same_model(ours, ros_state, latent_avg):
    nv = rosinality_to_nvlabs(ros_state, latent_avg)
    tensors = {f"G_ema.{k}": v for k, v in nv.items()}
    tensors |= {f"G.{k}": v + 1 for k, v in nv.items()}  # the training generator must not be picked
    tensors["D.b64.fromrgb.weight"] = torch.zeros(1)
    config, state = StyleGAN2.match_checkpoint(Checkpoint(tensors, {"G_ema.init_kwargs": NVLABS_KWARGS}))
    assert config == ours.config
    model = StyleGAN2.from_config(config)
    model.load_state_dict(state, strict=True)
    for key, value in ours.state_dict().items():
        assert torch.allclose(state[key], value), key
    z = _z(seed=8)
    _close(model.synthesize(Latents(z, truncation=0.7)), ours.synthesize(Latents(z, truncation=0.7)))
    # a bare G_ema state dict without init_kwargs works too; conv_clamp from init_kwargs reaches the config
    assert StyleGAN2.match_checkpoint(Checkpoint(dict(nv)))[0] == ours.config
    clamped = json.loads(json.dumps(NVLABS_KWARGS))
    clamped["synthesis_kwargs"]["conv_clamp"] = 256
    nested = Checkpoint({f"G_ema.{k}": v for k, v in nv.items()}, {"G_ema": {"init_kwargs": clamped}})
    assert StyleGAN2.match_checkpoint(nested)[0]["conv_clamp"] == 256


@requires_basicsr
def test_nvlabs_unsupported_variants_are_refused(ros_state, latent_avg):
    nv = rosinality_to_nvlabs(ros_state, latent_avg)
    resnet = nv | {"synthesis.b8.skip.weight": torch.zeros(32, 32, 1, 1)}
    conditional = nv | {"mapping.embed.weight": torch.zeros(STYLE_DIM, 10), "mapping.embed.bias": torch.zeros(64)}
    orig = {k: v for k, v in nv.items() if not k.startswith("synthesis.b4.torgb")}
    for tensors, words in ((resnet, "resnet"), (conditional, "conditional"), (orig, "orig")):
        with pytest.raises(CheckpointFormatError, match=words):
            StyleGAN2.match_checkpoint(Checkpoint({f"G_ema.{k}": v for k, v in tensors.items()}))


@requires_basicsr
def test_rosinality_checkpoint_variants(ours, ros_state, latent_avg):
    # a training checkpoint: g_ema wins over g (shorter prefix)
    tensors = {f"g.{k}": v + 1 for k, v in ros_state.items()} | {f"g_ema.{k}": v for k, v in ros_state.items()}
    _, state = StyleGAN2.match_checkpoint(Checkpoint(tensors | {"latent_avg": latent_avg[None]}))
    assert torch.equal(state["conv1.conv.weight"], ros_state["conv1.conv.weight"])
    assert torch.equal(state["latent_avg"], latent_avg)
    # half matches are errors, other layouts are not ours
    broken = {k: v for k, v in ros_state.items() if k != "convs.3.conv.weight"}
    with pytest.raises(CheckpointFormatError, match=r"convs\.3\.conv\.weight"):
        StyleGAN2.match_checkpoint(Checkpoint(broken))
    wrong = ros_state | {"convs.3.activate.bias": torch.zeros(7)}
    with pytest.raises(CheckpointFormatError, match="wrong shapes"):
        StyleGAN2.match_checkpoint(Checkpoint(wrong))
    assert StyleGAN2.match_checkpoint(Checkpoint({"main.0.weight": torch.zeros(100, 512, 4, 4)})) is None


@requires_basicsr
@torch.no_grad()
def test_missing_latent_avg_and_noise_are_filled(oracle, ros_state):
    bare = {k: v for k, v in ros_state.items() if not k.startswith("noises.")}
    _, state = StyleGAN2.match_checkpoint(Checkpoint(bare))
    _, again = StyleGAN2.match_checkpoint(Checkpoint(bare))
    assert all(torch.equal(state[k], again[k]) for k in state)  # deterministic
    assert state["noises.noise_0"].shape == (1, 1, 4, 4) and state["noises.noise_8"].shape == (1, 1, 64, 64)
    # w̄ is the mapping's mean: compare with an independent estimate from the oracle's mapping
    w = oracle.get_latent(torch.randn(20_000, STYLE_DIM, generator=torch.Generator().manual_seed(99)))
    stderr = w.std(0) / math.sqrt(10_000)
    assert bool(((state["latent_avg"] - w.mean(0)).abs() < 5 * stderr + 1e-6).all())


@requires_basicsr
@torch.no_grad()
def test_load_generator_detects_a_rosinality_file(tmp_path, isolated_home, ours, ros_state, latent_avg):
    path = tmp_path / "stylegan2-test.pt"
    torch.save({"g_ema": ros_state, "latent_avg": latent_avg}, path)
    generator = load_generator(str(path))
    assert isinstance(generator, StyleGAN2) and generator.architecture == "stylegan2"
    assert generator.identity.config == ours.config
    z = _z(2, seed=9)
    _close(generator.synthesize(Latents(z)), ours.synthesize(Latents(z)))
    again = load_generator(str(path))  # from the converted file
    assert torch.equal(again.synthesize(Latents(z)), generator.synthesize(Latents(z)))


def test_channel_multiplier_is_inferred():
    torch.manual_seed(0)
    model = StyleGAN2(size=64, style_dim=16, n_mlp=2, channel_multiplier=1)
    assert model.channels == [512, 512, 512, 512, 256]
    config, state = StyleGAN2.match_checkpoint(Checkpoint({f"g_ema.{k}": v for k, v in model.state_dict().items()}))
    assert config == model.config and "channels" not in config and config["channel_multiplier"] == 1
    assert json.loads(json.dumps(config)) == config
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


# ----- interface ----------------------------------------------------------------------------------------------
def test_layout_of_a_1024_model():
    with torch.device("meta"):
        model = StyleGAN2(size=1024)
    assert model.num_layers == 18 and len(model.layer_names) == 18
    assert model.layer_resolutions == [4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 512, 1024, 1024, 1024]
    assert layer_range(model, "coarse") == (0, 1, 2)  # Local Basis: coarse [0, 3), middle [3, 7), fine [7, 18)
    assert layer_range(model, "middle") == (3, 4, 5, 6)
    assert layer_range(model, "fine") == tuple(range(7, 18))
    assert model.layer_names[0] == "4×4 conv" and model.layer_names[-1] == "1024×1024 to-RGB"
    assert len(model.noise_shapes()) == 17 and model.noise_shapes()[-1] == (1, 1, 1024, 1024)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(3)
    model = StyleGAN2(size=8, style_dim=8, n_mlp=2, channels=[6, 5]).double().eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.numel() == 1 or name.endswith("bias"):
                param.add_(0.3 * torch.randn_like(param))
    return model


def test_spaces_and_errors(tiny):
    lat = tiny.sample(3, seed=0, truncation=0.5, space="w+")
    assert lat.space == "w+" and lat.codes.shape == (3, tiny.num_layers, 8) and lat.truncation == 0.5
    assert torch.equal(tiny.synthesize(lat), tiny.synthesize(tiny.sample(3, seed=0, truncation=0.5, space="z")))
    with pytest.raises(InvalidValueError):
        tiny.to_space(lat, "w")
    with pytest.raises(InvalidValueError):
        tiny.synthesize(Latents(torch.zeros(1, 3, 8, dtype=torch.float64), "w+"))
    with pytest.raises(InvalidValueError):
        tiny.sample(1, truncation=1.5)
    assert StyleGAN2.from_config(json.loads(json.dumps(tiny.config))).config == tiny.config


def test_jacrev_through_mapping_and_synthesis(tiny):
    z = torch.randn(1, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = tiny.to_space(Latents(z), "w").codes
    direction = torch.randn(8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    eps = 1e-6

    def mapped(v):
        return tiny.features(Latents(v), ["w"])["w"]

    def err(a, b):
        return float((a - b).detach().abs().max())

    for mode in ("const", "random", "none"):
        noise = Noise(mode, 4)

        def image(v, noise=noise):
            return tiny.synthesize(Latents(v, "w", noise=noise))

        jac = jacrev(image)(w)  # [1, 3, 8, 8, 1, 8]
        fd = (image(w + eps * direction) - image(w - eps * direction)) / (2 * eps)
        assert err(jac[0, ..., 0, :] @ direction, fd[0]) < 1e-6, mode
        batch = torch.randn(3, 8, dtype=torch.float64)
        assert torch.allclose(vmap(lambda v, image=image: image(v[None])[0])(batch), image(batch))
    jac_z = jacrev(mapped)(z)  # Local Basis: Jacobian of the mapping z → w
    fd = (mapped(z + eps * direction) - mapped(z - eps * direction)) / (2 * eps)
    assert err(jac_z[0, :, 0] @ direction, fd[0]) < 1e-6


def test_noise_modes(tiny):
    w = tiny.sample(2, seed=5, space="w")
    images = {}
    for mode in ("const", "random", "none"):
        images[mode] = tiny.synthesize(w.replace(noise=Noise(mode, 4)))
        assert torch.equal(images[mode], tiny.synthesize(w.replace(noise=Noise(mode, 4))))  # deterministic
    assert torch.equal(images["const"], tiny.synthesize(w))  # the default
    assert not torch.equal(tiny.synthesize(w.replace(noise=Noise("random", 5))), images["random"])
    assert not torch.equal(images["const"], images["random"]) and not torch.equal(images["const"], images["none"])
    with pytest.raises(InvalidValueError):
        Noise("bogus")


def test_noise_is_part_of_the_request_not_of_the_shared_model(tiny):
    """Two users with different noise on one shared model, interleaved in threads, each get their own images."""
    import threading

    w = tiny.sample(2, seed=5, space="w")
    expected = {mode: tiny.synthesize(w.replace(noise=Noise(mode, 4))) for mode in ("const", "none", "random")}
    assert not any(hasattr(tiny, name) for name in ("noise_mode", "noise_seed"))
    wrong: list[str] = []

    def user(mode: str) -> None:
        for _ in range(20):
            if not torch.equal(tiny.synthesize(w.replace(noise=Noise(mode, 4))), expected[mode]):
                wrong.append(mode)

    threads = [threading.Thread(target=user, args=(mode,)) for mode in expected for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
