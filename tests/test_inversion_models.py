"""Inversion on the class-conditional eyes cDCGAN (z and the class) and on a StyleGAN2 with random weights (w and w+
with noise maps, as NVlabs' projector). Thresholds (the README reports the measured figures):

* eyes, a generated blue eye, z + soft class, 60 steps: PSNR ≥ 24 dB, SSIM ≥ 0.75, its class found; ``best`` mode
  (30 steps) keeps that class one-hot;
* StyleGAN2 (random weights, 32 px), a generated image, 120 steps: w+ PSNR ≥ 21.5 dB and ≥ w's + 1 dB, SSIM ≥ w's;
  the optimised noise maps travel in the latents file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_inversion import generated

from steering.errors import LatentsFileError
from steering.inversion import InversionSettings, invert
from steering.models.base import Latents, Noise
from steering.models.stylegan2 import StyleGAN2
from steering.start import load_latents, save_latents


def test_eyes_reconstruct_a_generated_image_and_find_its_class(eyes):
    names = eyes.class_names
    target = generated(eyes, seed=7, class_index=1)
    soft = invert(eyes, target, InversionSettings(steps=60))
    top = float(soft.latents.classes.max())
    print(
        f"\neyes, generated {names[1]} eye, soft class: PSNR {soft.psnr:.2f} dB, SSIM {soft.ssim:.3f}, "
        f"class {names[soft.class_index]} ({top:.2f})"
    )
    assert soft.class_index == 1 and soft.psnr >= 24.0 and soft.ssim >= 0.75
    best = invert(eyes, target, InversionSettings(steps=30, classes="best"))
    print(f"eyes, the same eye, best class: PSNR {best.psnr:.2f} dB, class {names[best.class_index]} (one-hot)")
    one_hot = torch.nn.functional.one_hot(torch.tensor([1]), 8).float()
    assert best.class_index == 1 and torch.equal(best.latents.classes, one_hot)
    # stopped before the half-way snap (the target reached at once): the result is still one class, one-hot
    early = invert(eyes, target, InversionSettings(steps=30, classes="best", target_psnr=1.0))
    assert early.steps == 0 and early.stopped == "target reached"
    assert sorted(early.latents.classes[0].tolist()) == [0.0] * 7 + [1.0]


@pytest.fixture(scope="module")
def small_stylegan2():
    """A StyleGAN2 with random weights at 32 px (rosinality layout; w̄ set from its own mapping)."""
    torch.manual_seed(11)
    model = StyleGAN2(size=32, style_dim=32, n_mlp=2, channels=[32, 32, 24, 16]).eval()
    with torch.no_grad():
        model.latent_avg.copy_(model.to_space(model.sample(2000, seed=1, space="z"), "w").codes.mean(0))
    return model


@pytest.mark.slow
def test_stylegan2_w_plus_reconstructs_better_than_w(small_stylegan2, tmp_path):
    G = small_stylegan2
    target = generated(G, seed=21)
    results = {}
    for space in ("w", "w+"):
        results[space] = invert(G, target, InversionSettings(space=space, steps=120))
        r = results[space]
        print(f"\nStyleGAN2 (random, 32 px), {space}: PSNR {r.psnr:.2f} dB, SSIM {r.ssim:.3f}")
    assert results["w+"].psnr >= 21.5 and results["w+"].psnr >= results["w"].psnr + 1.0
    assert results["w+"].ssim >= results["w"].ssim
    # the optimised noise maps travel in the latents file and render the same image
    inverted = results["w+"]
    assert inverted.latents.noise.mode == "given" and len(inverted.latents.noise.maps) == len(G.noise_buffers())
    found = load_latents(inverted.save(tmp_path / "w+.safetensors", G), G)
    assert found.stored.noise == inverted.latents.noise
    np.testing.assert_allclose(G.synthesize(found.latents(G)).detach(), inverted.image, atol=1e-5)
    # noise maps of another model: refused
    other = Latents(found.stored.codes, "w+", None, 1.0, Noise.given([torch.zeros(1, 1, 4, 4)]))
    save_latents(other, G, tmp_path / "forged.safetensors")
    with pytest.raises(LatentsFileError, match="noise maps"):
        load_latents(tmp_path / "forged.safetensors", G)
