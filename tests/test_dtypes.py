"""Latents and weights of other dtypes: float64 codes render as float32 ones, and a model moved to float16 or
bfloat16 renders close to its float32 self (every architecture casts the latents to its weights' dtype; before,
the DCGANs, BigGAN-deep and PGGAN raised a raw dtype-mismatch RuntimeError)."""

from __future__ import annotations

import copy

import pytest
import torch

from steering import edit
from steering.methods import sefa
from steering.models.stylegan2 import StyleGAN2

pytestmark = pytest.mark.usefixtures("one_thread")


def _biggan():
    if __import__("importlib").util.find_spec("pytorch_pretrained_biggan") is None:
        pytest.skip("oracle pytorch-pretrained-biggan not installed (a test dependency: pip install --no-deps)")
    from oracles import TINY, random_biggan_deep

    from steering.models.biggan import BigGANDeep
    from steering.models.checkpoint import Checkpoint

    state = dict(random_biggan_deep().state_dict())
    config, weights = BigGANDeep.match_checkpoint(Checkpoint(state, {"config.json": copy.deepcopy(TINY)}))
    model = BigGANDeep.from_config(config)
    model.load_state_dict(weights)
    return model.eval()


def _stylegan2():
    torch.manual_seed(0)
    return StyleGAN2(size=8, style_dim=32, n_mlp=2).eval()


@pytest.mark.parametrize("name", ["dcgan", "eyes", "biggan", "stylegan2"])
def test_other_dtypes_render(name, request):
    model = {"biggan": _biggan, "stylegan2": _stylegan2}.get(name, lambda: request.getfixturevalue(name))()
    latents = model.sample(2, seed=1, space="z")
    with torch.no_grad():
        reference = model.synthesize(latents)
        assert torch.equal(model.synthesize(latents.replace(codes=latents.codes.double())), reference)
        for dtype, tolerance in ((torch.float16, 0.02), (torch.bfloat16, 0.1)):
            moved = copy.deepcopy(model).to(dtype)
            assert moved.dtype == dtype
            image = moved.synthesize(latents)
            assert image.dtype == dtype and float((image.float() - reference).abs().max()) < tolerance, dtype


def test_a_half_precision_model_discovers_and_edits(dcgan):
    half = copy.deepcopy(dcgan).to(torch.float16)
    directions = sefa(half, num_directions=3, use_cache=False)
    torch.testing.assert_close(
        directions.vectors, sefa(dcgan, num_directions=3, use_cache=False).vectors, atol=5e-3, rtol=0
    )
    latents = half.sample(1, seed=2)
    images = edit.render(half, edit.apply(half, latents, directions, {0: 2.0}))
    assert images[0].size == (64, 64)
