"""How atypical a latent's activations are against the model's own sampled distribution.

A feature map ``[C, H, W]`` is summarised by its per-channel spatial means and standard deviations (``2C`` numbers:
the statistics that carry a layer's content and "style"); a vector feature (``w``) is used as it is. From
``num_samples`` seeded samples we fit the mean and a shrunk covariance of that summary; a latent's **atypicality** is
its Mahalanobis distance, divided by the median distance of the samples themselves, so ``1`` is a median sample and
``3`` is three times as far out as one. Nothing here knows a particular model: any feature of ``Generator.features``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from .. import limits
from ..models.base import Generator, Latents
from ..values import check_count, check_number

#: Share of the covariance's mean variance added to its diagonal (keeps the fit stable with few samples).
SHRINKAGE = 0.05


def summary(activations: Tensor) -> Tensor:
    """Per-channel spatial mean and standard deviation [N, 2C] of a feature map [N, C, …]; a vector [N, D] as is."""
    if activations.ndim <= 2:
        return activations.reshape(len(activations), -1).double()
    flat = activations.flatten(2).double()
    return torch.cat([flat.mean(dim=2), flat.std(dim=2)], dim=1)


@dataclass(frozen=True)
class Typicality:
    """The fitted distribution of one feature's summary (see the module docstring)."""

    feature: str
    mean: Tensor  # [F]
    whitening: Tensor  # [F, F]: (Σ + λ I)^(-1/2)
    median: float  # median Mahalanobis distance of the fitting samples

    def distance(self, generator: Generator, latents: Latents, batch_size: int = 64) -> Tensor:
        """Atypicality [N] of each latent (1: a median sample of the model)."""
        out = []
        with torch.no_grad():
            for i in range(0, len(latents), batch_size):
                part = latents.select(slice(i, i + batch_size))
                values = summary(generator.features(part, [self.feature])[self.feature].cpu())
                out.append(((values - self.mean) @ self.whitening).norm(dim=1))
        return torch.cat(out) / self.median


def fit(
    generator: Generator,
    feature: str,
    num_samples: int = 1024,
    seed: int = 0,
    truncation: float = 1.0,
    batch_size: int = 128,
    progress: Callable[[int, int], None] | None = None,
) -> Typicality:
    """Fit ``feature``'s summary distribution on ``num_samples`` seeded samples (``sample(seed + i)`` batches)."""
    generator.check_features([feature])
    num_samples = check_count(num_samples, "the number of samples", 16, limits.MAX_SAMPLES)
    truncation = check_number(truncation, "truncation ψ", 1e-3, 1.0)
    rows = []
    with torch.no_grad():
        for start in range(0, num_samples, batch_size):
            n = min(batch_size, num_samples - start)
            latents = generator.sample(n, seed=seed + start, truncation=truncation)
            rows.append(summary(generator.features(latents, [feature])[feature].cpu()))
            if progress is not None:
                progress(start + n, num_samples)
    data = torch.cat(rows)
    mean = data.mean(dim=0)
    centred = data - mean
    cov = centred.T @ centred / (len(data) - 1)
    cov = cov + SHRINKAGE * cov.diagonal().mean() * torch.eye(len(cov), dtype=cov.dtype)
    values, vectors = torch.linalg.eigh(cov)
    whitening = vectors @ torch.diag(values.clamp_min(1e-12).rsqrt()) @ vectors.T
    distances = (centred @ whitening).norm(dim=1)
    return Typicality(feature, mean, whitening, float(distances.median()))


__all__ = ["SHRINKAGE", "Typicality", "fit", "summary"]
