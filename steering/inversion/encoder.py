"""A learned encoder: image → z (and class logits), trained on the model's own samples, used to start an inversion.

The network is a small convolutional regressor (the image average-pooled to at most 32², stride-2 convolutions of
16→64 channels down to 4×4 with leaky ReLUs, two linear layers) trained with Adam on generated (image, z, class)
pairs: mean squared error on z plus cross-entropy on the class. The pairs are drawn fresh for every batch, or from a
pool of ``pool`` pairs generated once (much cheaper per step: generating is the costly part on a CPU). It predicts
the posterior mean of z, a blurry but close start that optimisation then refines (the README reports the time to a
fixed PSNR with and without it).

Encoder files are safetensors: the network's tensors, and string metadata ``format`` = ``gan-steering.encoder``,
``format_version``, ``model`` (the identity of the generator it was trained for: loading checks the weights
sha256), ``config`` (the network's shape) and ``training`` (steps, batch, samples, seconds, final loss). The default
place is ``$GAN_STEERING_HOME/encoders/<model sha256>.safetensors``, where the CLI's ``train-encoder`` writes and
where ``invert`` and the UI look.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import limits, metadata, paths
from ..errors import DirectionsMismatchError, EncoderFileError, InvalidValueError
from ..io import load_safetensors, read_safetensors_metadata, save_safetensors
from ..models.base import Generator, Latents, ModelIdentity, Z
from ..values import check_count, check_number

log = logging.getLogger("gan_steering")
ENCODER_FORMAT = "gan-steering.encoder"
ENCODER_VERSION = 1
#: The encoder sees the image average-pooled to at most this many pixels per side.
MAX_INPUT = 32
MAX_TRAIN_STEPS = 100_000
MAX_BATCH = 512
_WIDTHS = (16, 32, 64, 128)


def input_resolution(resolution: int) -> int:
    return min(MAX_INPUT, resolution)


class Encoder(nn.Module):
    """image [N, C, R, R] in [-1, 1] → (z [N, z_dim], class logits [N, num_classes] or None)."""

    def __init__(self, resolution: int, channels: int, z_dim: int, num_classes: int = 0, hidden: int = 512) -> None:
        super().__init__()
        self.config = {
            "resolution": int(resolution),
            "channels": int(channels),
            "z_dim": int(z_dim),
            "num_classes": int(num_classes),
            "hidden": int(hidden),
        }
        side = input_resolution(resolution)
        if side < 16 or side & (side - 1):
            raise InvalidValueError(f"an encoder needs a power-of-two resolution of at least 16, got {resolution}")
        layers: list[nn.Module] = []
        width_in = channels
        for width in _WIDTHS[: int(math.log2(side // 4))]:  # stride-2 convolutions down to 4×4
            layers += [nn.Conv2d(width_in, width, 4, 2, 1), nn.LeakyReLU(0.2)]
            width_in = width
        self.features = nn.Sequential(*layers)
        flat = width_in * 16
        self.head = nn.Sequential(nn.Linear(flat, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, z_dim + num_classes))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        side = input_resolution(self.config["resolution"])
        if images.shape[-1] != side:
            images = F.adaptive_avg_pool2d(images, side)
        out = self.head(self.features(images).flatten(1))
        z_dim = self.config["z_dim"]
        return out[:, :z_dim], (out[:, z_dim:] if self.config["num_classes"] else None)

    def fits(self, generator: Generator) -> bool:
        return self.config == {**self.config, **_shape_of(generator)}

    @torch.no_grad()
    def predict(self, generator: Generator, images: Tensor) -> Latents:
        """Starting latents for ``images`` (soft classes from the predicted logits)."""
        self.to(images.device).eval()
        z, logits = self(images.float())
        classes = None if logits is None else logits.softmax(1)
        return Latents(z.to(generator.device), Z, None if classes is None else classes.to(generator.device))


def _shape_of(generator: Generator) -> dict[str, int]:
    return {
        "resolution": generator.resolution,
        "channels": generator.image_channels,
        "z_dim": generator.z_dim,
        "num_classes": generator.num_classes,
    }


@dataclass(frozen=True)
class TrainedEncoder:
    """An encoder with the model it belongs to and how it was trained."""

    encoder: Encoder
    model: ModelIdentity
    training: dict[str, Any]

    def predict(self, generator: Generator, images: Tensor) -> Latents:
        self.check(generator)
        return self.encoder.predict(generator, images)

    def check(self, generator: Generator) -> None:
        if self.model.sha256 != generator.identity.sha256:
            raise DirectionsMismatchError(
                f"this encoder was trained for {self.model.name!r} (sha256 {self.model.sha256[:12]}…), not for "
                f"{generator.identity.name!r}"
            )
        if not self.encoder.fits(generator):
            raise EncoderFileError(f"the encoder's shape {self.encoder.config} does not fit {generator.identity.name}")

    def save(self, path: str | os.PathLike[str]) -> Path:
        tensors = {name: t.detach().cpu().float().contiguous() for name, t in self.encoder.state_dict().items()}
        meta = {
            "format": ENCODER_FORMAT,
            "format_version": str(ENCODER_VERSION),
            "model": self.model.to_json(),
            "config": json.dumps(self.encoder.config, sort_keys=True),
            "training": json.dumps(self.training, sort_keys=True, default=str),
        }
        return save_safetensors(tensors, meta, path)


def check_encodable(generator: Generator) -> None:
    """Encoders predict z: models inverted in z (no mapping network) only."""
    if Z not in generator.latent_spaces or generator.default_space != Z:
        raise InvalidValueError(
            f"{generator.identity.name} is style-based: its inversion optimises w / w+ from w̄ (no encoder is trained)"
        )


def train_encoder(
    generator: Generator,
    steps: int = 2000,
    batch: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    pool: int | None = None,
) -> TrainedEncoder:
    """Train an encoder for ``generator`` on ``steps`` batches of samples (z ~ N(0, I), random classes): fresh ones
    for every batch, or drawn from ``pool`` pairs generated once."""
    check_encodable(generator)
    steps = check_count(steps, "the training steps", 1, MAX_TRAIN_STEPS)
    batch = check_count(batch, "the batch size", 2, MAX_BATCH)
    learning_rate = check_number(learning_rate, "the learning rate", 1e-6, 1.0)
    limits.check_images(generator, batch, "training images per batch")
    if pool is not None:
        pool = check_count(pool, "the pool of training pairs", batch, limits.MAX_SAMPLES)
        limits.check_samples(pool, 3 * input_resolution(generator.resolution) ** 2, "training pairs")
    torch.manual_seed(seed)
    encoder = Encoder(**_shape_of(generator)).to(generator.device)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    started, loss_value = time.perf_counter(), float("nan")
    encoder.train()
    stored = _pool(generator, pool, seed, progress) if pool is not None else None
    picker = torch.Generator().manual_seed(seed)
    for step in range(steps):
        if stored is not None:
            rows = torch.randint(pool or 1, (batch,), generator=picker)
            images, latents = stored[0][rows], stored[1].select(rows)
        else:
            with torch.no_grad():
                latents = generator.sample(batch, seed=seed * MAX_TRAIN_STEPS + step, space=Z)
                images = generator.synthesize(latents).float()
        z, logits = encoder(images)
        loss = F.mse_loss(z, latents.codes.float())
        if logits is not None and latents.classes is not None:
            loss = loss + F.cross_entropy(logits, latents.classes.argmax(1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_value = float(loss.detach())
        if progress is not None:
            progress(step + 1, steps)
    encoder.eval()
    training = {
        "steps": steps,
        "batch": batch,
        "samples": pool if pool is not None else steps * batch,
        "learning_rate": learning_rate,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 2),
        "final_loss": round(loss_value, 5),
    }
    return TrainedEncoder(encoder, generator.identity, training)


def _pool(
    generator: Generator, size: int, seed: int, progress: Callable[[int, int], None] | None
) -> tuple[Tensor, Latents]:
    """``size`` generated pairs, images kept at the encoder's input resolution."""
    latents = generator.sample(size, seed=seed * MAX_TRAIN_STEPS + MAX_TRAIN_STEPS - 1, space=Z)
    side, chunks = input_resolution(generator.resolution), []
    with torch.no_grad():
        for start in range(0, size, 64):
            chunk = generator.synthesize(latents.select(slice(start, start + 64))).float()
            chunks.append(F.adaptive_avg_pool2d(chunk, side))
            if progress is not None:
                progress(0, 1)  # cancellation is checked while the pool is made
    return torch.cat(chunks), latents


def default_path(generator: Generator) -> Path:
    """Where the encoder for ``generator`` is kept: ``$GAN_STEERING_HOME/encoders/<sha256>.safetensors``."""
    return paths.home() / "encoders" / f"{generator.identity.sha256}.safetensors"


def load_encoder(path: str | os.PathLike[str], generator: Generator | None = None) -> TrainedEncoder:
    """Read an encoder file (checked against ``generator`` when one is given); malformed: ``EncoderFileError``."""
    origin, error = Path(path).name, EncoderFileError
    tensors, meta = load_safetensors(path, error=error)
    if meta.get("format") != ENCODER_FORMAT:
        raise error(f"{origin} is not a gan-steering encoder file (format {str(meta.get('format'))[:40]!r})")
    version = metadata.field(meta, "format_version", int, origin, error)
    if not 1 <= version <= ENCODER_VERSION:
        raise error(f"{origin} uses encoder format {version}; this gan-steering reads up to {ENCODER_VERSION}")
    config = metadata.check_json_object(metadata.field(meta, "config", dict, origin, error), "config", origin, error)
    keys = {"resolution", "channels", "z_dim", "num_classes", "hidden"}
    if set(config) != keys or not all(isinstance(v, int) and 0 <= v <= 1 << 16 for v in config.values()):
        raise error(f"{origin}: malformed encoder config")
    model = ModelIdentity.from_json(metadata.field(meta, "model", str, origin, error, as_json=False), origin, error)
    training = metadata.field(meta, "training", dict, origin, error, default={})
    try:
        with torch.device("meta"):
            expected = Encoder(**config).state_dict()
    except (InvalidValueError, RuntimeError, ValueError):
        raise error(f"{origin}: malformed encoder config") from None
    if set(tensors) != set(expected) or any(tensors[k].shape != expected[k].shape for k in expected):
        raise error(f"{origin}: its tensors do not fit the encoder config")
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
        raise error(f"{origin} holds NaN or infinite weights")
    encoder = Encoder(**config)
    encoder.load_state_dict(tensors)
    found = TrainedEncoder(encoder.eval(), model, dict(training) if isinstance(training, dict) else {})
    if generator is not None:
        found.check(generator)
        encoder.to(generator.device)
    return found


def find_encoder(generator: Generator) -> TrainedEncoder | None:
    """The encoder kept for ``generator`` at ``default_path``, or None. Only a file that is really damaged there (not
    safetensors, truncated, tensors that do not fit) is removed, with a warning: it would fail every time. A file of
    a newer encoder format (another gan-steering sharing the folder), one that is not an encoder, or one that cannot
    be read just now is left on disk, with a warning, and counts as none."""
    path = default_path(generator)
    if not path.is_file():
        return None
    try:
        meta = read_safetensors_metadata(path, EncoderFileError)
        kept = _not_ours(meta)
        if kept is not None:
            log.warning("gan-steering: %s: %s; left as it is, inverting without it", path, kept)
            return None
        return load_encoder(path, generator)
    except EncoderFileError as exc:
        if isinstance(exc.__cause__, OSError):  # the disk, not the file: it may read fine next time
            log.warning("gan-steering: cannot read the encoder %s now (%s); inverting without it", path, exc.__cause__)
            return None
        try:
            path.unlink(missing_ok=True)
        except OSError as failed:  # a read-only folder: it stays, and is skipped again next time
            log.warning("gan-steering: the encoder %s is damaged (%s) and cannot be removed (%s)", path, exc, failed)
            return None
        log.warning("gan-steering: removed the damaged encoder %s (%s); train it again with train-encoder", path, exc)
        return None


def _not_ours(meta: dict[str, str]) -> str | None:
    """Why a readable file at the default place is not for this version to load (it is kept), or None."""
    if meta.get("format") != ENCODER_FORMAT:
        return f"not a gan-steering encoder file (format {str(meta.get('format'))[:40]!r})"
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        return None  # malformed: load_encoder says so, and the file counts as damaged
    if version > ENCODER_VERSION:
        return f"written by a newer gan-steering (encoder format {version}; this one reads up to {ENCODER_VERSION})"
    return None


__all__ = [
    "ENCODER_FORMAT",
    "Encoder",
    "TrainedEncoder",
    "check_encodable",
    "default_path",
    "find_encoder",
    "load_encoder",
    "train_encoder",
]
