"""Real-image inversion: prepare a photograph for a model, find latents that reconstruct it (optimisation, optionally
started by a learned encoder), and save them as a latents file that every control can start from."""

from __future__ import annotations

from .encoder import TrainedEncoder, default_path, find_encoder, load_encoder, train_encoder
from .image import PreparedImage, parse_crop, prepare_image
from .loss import LossWeights, psnr, ssim_score
from .optimize import Inversion, InversionResult, InversionSettings, InversionState, invert

__all__ = [
    "Inversion",
    "InversionResult",
    "InversionSettings",
    "InversionState",
    "LossWeights",
    "PreparedImage",
    "TrainedEncoder",
    "default_path",
    "find_encoder",
    "invert",
    "load_encoder",
    "parse_crop",
    "prepare_image",
    "psnr",
    "ssim_score",
    "train_encoder",
]
