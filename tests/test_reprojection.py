"""Batched re-projection (``steering.inversion.refine``) on the real embedded models: generated images with a known
latent, refined from a perturbed start, come back close to it; batching does not change a result; bad input is a
clear error."""

from __future__ import annotations

import pytest
import torch

from steering.errors import InvalidValueError
from steering.inversion.loss import psnr
from steering.inversion.refine import reproject


def perturbed(generator, count: int, seed: int, class_index: int | None = None):
    truth = generator.sample(count, seed=seed, class_index=class_index)
    with torch.no_grad():
        images = generator.synthesize(truth).clamp(-1, 1).float()
    noise = torch.randn(truth.codes.shape, generator=torch.Generator().manual_seed(seed))
    return images, truth.replace(codes=truth.codes + 0.3 * noise)


def test_reprojection_improves_every_image_and_does_not_depend_on_batching(dcgan):
    images, start = perturbed(dcgan, 6, seed=4)
    with torch.no_grad():
        before = psnr(dcgan.synthesize(start).float(), images)
    calls: list[tuple[int, int]] = []
    found, quality = reproject(dcgan, images, start, 40, progress=lambda *a: calls.append(a))
    print(f"\nPSNR before {before.mean():.2f} dB, after {quality.mean():.2f} dB")
    assert bool((quality > before + 3.0).all())
    with torch.no_grad():
        torch.testing.assert_close(psnr(dcgan.synthesize(found).float(), images), quality)  # the best iterate's
    assert calls[-1] == (6, 6) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    in_pairs, _ = reproject(dcgan, images, start, 40, batch=2)
    torch.testing.assert_close(in_pairs.codes, found.codes, atol=2e-3, rtol=0)


def test_the_class_of_the_start_is_held(eyes):
    images, start = perturbed(eyes, 3, seed=1, class_index=5)
    with torch.no_grad():
        before = psnr(eyes.synthesize(start).float(), images)
    found, quality = reproject(eyes, images, start, 20)
    assert torch.equal(found.classes, start.classes) and bool((quality > before).all())


def test_bad_input_is_refused(dcgan):
    images, start = perturbed(dcgan, 2, seed=0)
    with pytest.raises(InvalidValueError, match="n starting latents"):
        reproject(dcgan, images[:1], start)
    with pytest.raises(InvalidValueError, match="NaN"):
        reproject(dcgan, images * float("nan"), start)
    with pytest.raises(InvalidValueError, match="steps"):
        reproject(dcgan, images, start, 0)
