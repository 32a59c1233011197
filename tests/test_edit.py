"""Edits: composition, trajectories, W+ layer masks, grids and GIFs on the embedded DCGAN."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from steering import edit
from steering.directions import Directions
from steering.errors import DirectionsMismatchError, InvalidValueError
from steering.methods import sefa
from steering.models import Latents


@pytest.fixture(scope="module")
def directions(dcgan):
    return sefa(dcgan, num_directions=4, use_cache=False)


def test_composed_edit_adds_weighted_directions(dcgan, directions):
    base = dcgan.sample(2, seed=0)
    moved = edit.apply(dcgan, base, directions, {0: 1.5, 2: -2.0})
    expected = base.codes + 1.5 * directions.vectors[0] - 2.0 * directions.vectors[2]
    torch.testing.assert_close(moved.codes, expected)
    torch.testing.assert_close(edit.apply(dcgan, base, directions, [0, 0, 0, 0]).codes, base.codes)


def test_strength_validation(dcgan, directions):
    base = dcgan.sample(1, seed=0)
    with pytest.raises(InvalidValueError, match="finite"):
        edit.apply(dcgan, base, directions, {0: float("nan")})
    with pytest.raises(InvalidValueError, match="outside"):
        edit.apply(dcgan, base, directions, {9: 1.0})
    with pytest.raises(InvalidValueError, match="3 strengths for 4"):
        edit.apply(dcgan, base, directions, [1.0, 2.0, 3.0])
    two = dcgan.sample(2, seed=0)
    with pytest.raises(InvalidValueError, match="3 rows of strengths for 2 latents"):
        edit.apply(dcgan, two, directions, torch.ones(3, 4))
    with pytest.raises(InvalidValueError, match=r"\[k\] or \[N, k\]"):
        edit.apply(dcgan, two, directions, torch.ones(2, 2, 4))
    one_row = edit.apply(dcgan, two, directions, torch.ones(1, 4)).codes  # one row: every latent
    torch.testing.assert_close(one_row - two.codes, directions.vectors.sum(0).expand(2, -1))
    with pytest.raises(InvalidValueError, match="at least one strength"):
        edit.trajectory(dcgan, base, directions, 0, [])
    with pytest.raises(InvalidValueError, match="at least one control"):
        edit.sweep(dcgan, base, directions, [], [0.0, 1.0])


def test_trajectory_and_sweep_grid(dcgan, directions):
    base = dcgan.sample(1, seed=4)
    steps = edit.strengths_between(-3, 3, 5)
    path = edit.trajectory(dcgan, base, directions, 1, steps)
    assert len(path) == 5
    torch.testing.assert_close(path.codes[2], base.codes[0])
    torch.testing.assert_close(path.codes[4] - path.codes[0], 6 * directions.vectors[1])
    grid = edit.sweep(dcgan, base, directions, [0, 3], steps)
    assert grid.width >= 5 * 64 and grid.height >= 2 * 64


def test_gif_has_one_frame_per_strength_and_back(dcgan, directions, tmp_path):
    path = edit.animate(
        dcgan, dcgan.sample(1, seed=2), directions, 0, edit.strengths_between(-2, 2, 6), tmp_path / "a.gif"
    )
    with Image.open(path) as gif:
        assert gif.n_frames == 6 + 4  # forward, then back without repeating the ends


def test_per_direction_layer_masks_on_a_style_model(dcgan):
    """Each direction edits its own W+ layers (``layer_mask``); a real, small StyleGAN2 with random weights."""
    from steering.models.stylegan2 import StyleGAN2

    torch.manual_seed(0)
    model = StyleGAN2(size=16, style_dim=8, n_mlp=2, channel_multiplier=1).eval()  # 6 W+ layers
    mask = torch.zeros(2, model.num_layers, dtype=torch.bool)
    mask[0, 1:3] = True
    mask[1, 4] = True
    directions = Directions(vectors=torch.eye(8)[:2], space="w", method="test", model=model.identity, layer_mask=mask)
    w = model.sample(1, seed=0)
    moved = edit.apply(model, w, directions, {0: 2.0, 1: -1.0})
    assert moved.space == "w+"
    delta = moved.codes[0] - w.codes[0]  # [L, 8]
    assert torch.equal(delta[:, 0], torch.tensor([0.0, 2.0, 2.0, 0.0, 0.0, 0.0]))
    assert torch.equal(delta[:, 1], torch.tensor([0.0, 0.0, 0.0, 0.0, -1.0, 0.0]))
    with torch.no_grad():
        assert not torch.equal(model.synthesize(moved), model.synthesize(w))


def test_z_directions_refuse_w_latents(dcgan, directions):
    with pytest.raises(DirectionsMismatchError):
        edit.apply(dcgan, Latents(torch.zeros(1, 100), "w"), directions, {0: 1.0})


def test_a_walk_no_control_offers_is_refused(eyes):
    """``--great-circle`` with only affine (geometric) controls was accepted and did nothing: it is refused, naming
    the walks they offer; beside a linear control it applies to that one."""
    from steering.methods.steerability import steerability

    zoom = steerability(eyes, ["zoom-in"])
    latents = eyes.sample(1, seed=0)
    with pytest.raises(InvalidValueError, match="great-circle walk does not apply to affine"):
        edit.apply(eyes, latents, zoom, [1.0], walk="great-circle")
    linear = sefa(eyes, num_directions=2)
    both = edit.apply(eyes, latents, [zoom, linear], [[1.0], [2.0, 0.0]], walk="great-circle")
    straight = edit.apply(eyes, latents, [zoom, linear], [[1.0], [2.0, 0.0]])
    assert not torch.equal(both.codes, straight.codes)


def test_nan_pixels_are_refused_not_saved_black():
    from steering import render

    images = torch.zeros(2, 3, 4, 4)
    assert render.to_pil(images)[0].getpixel((0, 0)) == (128, 128, 128)
    images[1, 0, 2, 2] = float("nan")
    with pytest.raises(InvalidValueError, match="NaN pixels"):
        render.to_pil(images)
