"""Whole paths on the non-embedded architectures: NVlabs pickle -> generator, layout equivalence through files,
SeFa and GANSpace with W+ layer ranges on StyleGAN2, SeFa on BigGAN-deep's first layer."""

from __future__ import annotations

import math

import pytest
import torch
from nvlabs_pickle import stylegan2_ada_state_dict, write_stylegan2_ada_pickle

from steering import edit
from steering.errors import InvalidValueError
from steering.methods import ganspace, sefa
from steering.models.biggan import BigGANDeep
from steering.sources import load_generator


@pytest.fixture(scope="module")
def nvlabs_pickle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nvlabs")
    state, init_kwargs = stylegan2_ada_state_dict(img_resolution=32, z_dim=32, w_dim=32, channel_base=256, seed=5)
    marker = folder / "executed"
    path = write_stylegan2_ada_pickle(folder / "network-snapshot.pkl", state, init_kwargs, marker=marker)
    return path, marker


@pytest.fixture(scope="module")
def stylegan2(nvlabs_pickle):
    path, _ = nvlabs_pickle
    return load_generator(str(path))


def test_nvlabs_pickle_loads_without_running_its_code(nvlabs_pickle, stylegan2):
    _, marker = nvlabs_pickle
    assert not marker.exists()
    assert stylegan2.architecture == "stylegan2" and stylegan2.identity.source == "file"
    assert stylegan2.num_layers == 2 * int(math.log2(32)) - 2
    with torch.no_grad():
        images = stylegan2.synthesize(stylegan2.sample(2, seed=1, truncation=0.7))
    assert images.shape == (2, 3, 32, 32) and torch.isfinite(images).all()


def test_rosinality_file_of_the_same_weights_gives_the_same_images(stylegan2, tmp_path):
    """Save the NVlabs-loaded weights as a rosinality training file and load it through detection again."""
    state = stylegan2.state_dict()
    ros = {"g_ema": {k: v for k, v in state.items() if k != "latent_avg"}, "latent_avg": state["latent_avg"]}
    torch.save(ros, tmp_path / "stylegan2.pt")
    twin = load_generator(str(tmp_path / "stylegan2.pt"))
    assert twin.architecture == "stylegan2" and twin.identity.sha256 != stylegan2.identity.sha256
    latents = stylegan2.sample(3, seed=2, truncation=0.8)
    with torch.no_grad():
        diff = (twin.synthesize(latents) - stylegan2.synthesize(latents)).abs().max()
    assert diff < 1e-4


@pytest.mark.parametrize("selection", ["coarse", "middle", "2:5"])
def test_sefa_edits_only_the_factorised_w_plus_layers(stylegan2, selection):
    directions = sefa(stylegan2, num_directions=4, layers=selection, use_cache=False)
    # W+ index -> resolution for a 32 px model: [4, 8, 8, 16, 16, 32, 32, 32] (index 1 feeds the 8 px up-conv)
    wanted = {"coarse": [0, 1, 2], "middle": [3, 4, 5, 6, 7], "2:5": [2, 3, 4]}[selection]
    assert directions.space == "w" and list(directions.layers) == wanted
    base = stylegan2.sample(1, seed=3)
    moved = edit.apply(stylegan2, base, directions, {0: 5.0})
    assert moved.space == "w+"
    changed = (moved.codes[0] - base.codes[0]).abs().sum(dim=1) > 0
    assert changed.nonzero().flatten().tolist() == wanted
    with torch.no_grad():
        assert (stylegan2.synthesize(moved) - stylegan2.synthesize(base)).abs().mean() > 1e-3


def test_fine_selection_on_a_32px_model_is_refused(stylegan2):
    with pytest.raises(InvalidValueError, match="selects no layer"):
        sefa(stylegan2, num_directions=2, layers="fine", use_cache=False)


def test_sefa_uses_the_style_affines_of_the_selected_layers(stylegan2):
    directions = sefa(stylegan2, num_directions=3, layers="0:2", use_cache=False)
    rows = torch.cat([p.weight for p in stylegan2.latent_projections() if set(p.layers) & {0, 1}])
    rows = rows / rows.norm(dim=1, keepdim=True)
    gram = rows.T.double() @ rows.double()
    top = torch.linalg.eigvalsh(gram).flip(0)[:3]
    torch.testing.assert_close(directions.values.double(), top, rtol=1e-4, atol=1e-4)


def test_ganspace_on_w(stylegan2):
    directions = ganspace(stylegan2, num_directions=3, num_samples=400, layers="middle", use_cache=False)
    assert directions.space == "w" and directions.params["feature"] is None
    assert list(directions.layers) == [3, 4, 5, 6, 7]
    w = stylegan2.sample(400, seed=0, space="w").codes
    variance = ((w - w.mean(0)) @ directions.vectors[0]).var()
    random = torch.nn.functional.normalize(torch.randn(32, generator=torch.Generator().manual_seed(0)), dim=0)
    assert variance > ((w - w.mean(0)) @ random).var()


def test_sefa_on_biggan_first_layer_z_part():
    torch.manual_seed(0)
    config = {
        "attention_layer_position": 2,
        "channel_width": 8,
        "class_embed_dim": 16,
        "eps": 1e-4,
        "layers": [[False, 16, 16], [True, 16, 8], [False, 8, 8], [True, 8, 4], [True, 4, 2], [True, 2, 1]],
        "n_stats": 51,
        "num_classes": 5,
        "output_dim": 64,
        "z_dim": 16,
    }
    model = BigGANDeep.from_config(config)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn_like(param) * 0.2)
        for name, buffer in model.named_buffers():
            if "running_vars" in name:
                buffer.copy_(buffer.abs() + 0.5)
    directions = sefa(model, num_directions=4, use_cache=False)
    assert directions.space == "z" and directions.dim == 16 and directions.layers is None
    (projection,) = model.latent_projections()
    assert projection.weight.shape[1] == 16  # only the z columns of gen_z, not the class embedding
    latents = model.sample(2, seed=0, truncation=0.5, class_index=1)
    moved = edit.apply(model, latents, directions, {0: 1.0})
    torch.testing.assert_close(moved.codes - latents.codes, directions.vectors[0].expand(2, -1))
    assert torch.equal(moved.classes, latents.classes)
