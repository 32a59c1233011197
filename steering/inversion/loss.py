"""What an inversion minimises and how its quality is reported.

Loss per image = ``l1``·|x − y| + ``l2``·(x − y)² (pixel means, images in [-1, 1]) + ``structural``·(1 − MS-SSIM)
(``pytorch_msssim.ms_ssim`` on [0, 1], 5 scales; its window shrinks to fit small images: 3 px at 64², 7 px at 128²,
11 px from 176²; images under 48 px use single-scale SSIM) + ``perceptual``·LPIPS-VGG16 when the VGG16 weights are
on this machine (see ``perceptual``; nothing is downloaded).

Quality: PSNR (dB, on [0, 1]) and SSIM (``pytorch_msssim.ssim``, 11-px Gaussian window, σ 1.5; smaller for images
under 11 px), per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pytorch_msssim import ms_ssim, ssim
from torch import Tensor

from .perceptual import Perceptual

#: MS-SSIM's 4 downsamplings need a side larger than (window − 1)·16.
_MS_LEVELS_FACTOR = 16


def _unit(images: Tensor) -> Tensor:
    return (images + 1.0) / 2.0


def ms_ssim_window(side: int) -> int | None:
    """The largest odd Gaussian window ≤ 11 that MS-SSIM's five scales allow for ``side`` pixels (None: too small)."""
    for window in (11, 9, 7, 5, 3):
        if side > (window - 1) * _MS_LEVELS_FACTOR:
            return window
    return None


def _ssim_window(side: int) -> int:
    return max(3, min(11, side - 1 if side % 2 == 0 else side))


def structural_similarity(images: Tensor, target: Tensor) -> Tensor:
    """Multi-scale SSIM per image (single-scale under 48 px), images in [-1, 1]. A gradient that MS-SSIM's
    fractional powers make undefined (a scale whose contrast term is ≤ 0: anti-correlated images) is set to zero,
    so the pixel terms still move such an image; the value itself is the library's."""
    side = min(images.shape[-2:])
    x = images.clone()
    if x.requires_grad:
        x.register_hook(lambda grad: torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0))
    window = ms_ssim_window(side)
    if window is None:
        return ssim(_unit(x), _unit(target), data_range=1.0, size_average=False, win_size=_ssim_window(side))
    return ms_ssim(_unit(x), _unit(target), data_range=1.0, size_average=False, win_size=window)


def psnr(images: Tensor, target: Tensor) -> Tensor:
    """PSNR per image in dB (images in [-1, 1], compared on [0, 1])."""
    mse = (_unit(images) - _unit(target)).square().flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse.clamp_min(1e-12))


def ssim_score(images: Tensor, target: Tensor) -> Tensor:
    """SSIM per image (Gaussian window 11, σ 1.5, on [0, 1])."""
    side = min(images.shape[-2:])
    return ssim(_unit(images), _unit(target), data_range=1.0, size_average=False, win_size=_ssim_window(side))


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (see the module)."""

    l1: float = 1.0
    l2: float = 1.0
    structural: float = 1.0
    perceptual: float = 1.0


class ReconstructionLoss:
    """The loss per image, and what each term contributed (for reports)."""

    def __init__(self, weights: LossWeights = LossWeights(), perceptual: Perceptual | None = None) -> None:
        self.weights, self.perceptual = weights, perceptual

    @property
    def terms(self) -> list[str]:
        named = ["l1", "l2", "structural"] + (["perceptual"] if self.perceptual is not None else [])
        return [name for name in named if getattr(self.weights, name) > 0]

    def __call__(self, images: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        w = self.weights
        diff = images - target.to(images)
        parts = {
            "l1": diff.abs().flatten(1).mean(1),
            "l2": diff.square().flatten(1).mean(1),
        }
        if w.structural > 0:
            parts["structural"] = 1.0 - structural_similarity(images, target.to(images))
        if self.perceptual is not None and w.perceptual > 0:
            parts["perceptual"] = self.perceptual(images, target.to(images))
        total = sum(getattr(w, name) * value for name, value in parts.items())
        return total, parts  # type: ignore[return-value]


__all__ = ["LossWeights", "ReconstructionLoss", "ms_ssim_window", "psnr", "ssim_score", "structural_similarity"]
