"""Batched re-projection: many images refined at once from given starting latents.

For images that are small changes of generated ones (SC²GAN's synthesised rare combinations): each starts from the
latent of the image it was made from, in that latent's space (z, or w), with its classes held, and is refined by Adam
with the reconstruction loss of ``loss.ReconstructionLoss`` (no perceptual term) and, in z, the soft prior on ‖z‖²
of ``optimize``. The learning rate decays on a cosine over the steps (``torch.optim.lr_scheduler``); the best iterate
of each image is kept. Images are independent of each other: Adam is per coordinate and the loss a sum over images,
so a result does not depend on how the images are batched (up to floating-point summation).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .. import limits
from ..errors import InvalidValueError
from ..models.base import Generator, Latents, Z
from ..values import check_count
from .loss import LossWeights, ReconstructionLoss, psnr
from .optimize import InversionSettings

Progress = Callable[[int, int], None]
#: Images refined together (one batched render per step).
BATCH = 64


def reproject(
    generator: Generator,
    images: Tensor,
    start: Latents,
    steps: int = 100,
    *,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> tuple[Latents, Tensor]:
    """The latents (in ``start``'s space) that best reconstruct ``images`` [n, C, R, R] in [-1, 1], refined from
    ``start`` (n rows), and each one's PSNR in dB."""
    steps = check_count(steps, "the re-projection steps", 1, 5000)
    batch = check_count(batch, "the re-projection batch", 1, limits.MAX_SAMPLES)
    expected = (generator.image_channels, generator.resolution, generator.resolution)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected or len(images) != len(start):
        raise InvalidValueError(
            f"re-projection needs images of shape [n, {', '.join(map(str, expected))}] and n starting latents, "
            f"got {list(images.shape)} and {len(start)}"
        )
    if not bool(torch.isfinite(images).all()):
        raise InvalidValueError("the images to re-project hold NaN or infinite values")
    generator.check_space(start.space)
    limits.check_images(generator, min(batch, len(images)), "images re-projected together")
    found, quality = [], []
    for first in range(0, len(images), batch):
        rows = slice(first, first + batch)
        codes, value = _refine(generator, images[rows].float(), start.select(rows), steps, progress, first, len(images))
        found.append(codes)
        quality.append(value)
    return start.replace(codes=torch.cat(found).to(start.codes)), torch.cat(quality)


def _refine(
    generator: Generator, target: Tensor, start: Latents, steps: int, progress: Progress | None, done: int, total: int
) -> tuple[Tensor, Tensor]:
    device = generator.device
    target = target.to(device)
    settings = InversionSettings(space=start.space, use_perceptual=False)
    loss_of = ReconstructionLoss(LossWeights())
    codes = start.codes.detach().to(device).float().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([codes], lr=settings.rate_for(start.space))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    best_loss = torch.full((len(codes),), float("inf"), device=device)
    best = codes.detach().clone()
    for step in range(steps + 1):  # step 0 measures the start
        per_image, _ = loss_of(generator.synthesize(start.replace(codes=codes)), target)
        if start.space == Z and settings.z_prior:
            per_image = per_image + settings.z_prior * (codes.square().mean(1) - 1.0).square()
        better = per_image.detach() < best_loss
        best_loss = torch.where(better, per_image.detach(), best_loss)
        best[better] = codes.detach()[better]
        if progress is not None:
            progress(done + len(codes) * step // steps, total)
        if step == steps:
            break
        optimizer.zero_grad(set_to_none=True)
        per_image.sum().backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        quality = psnr(generator.synthesize(start.replace(codes=best)).float(), target)
    return best.cpu(), quality.cpu()


__all__ = ["BATCH", "reproject"]
