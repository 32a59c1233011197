"""How much work one request may ask for. Limits scale with the model and are checked before anything is allocated.

One request (a CLI command, a UI event, an API call) may hold at most ``request_budget()`` bytes of tensors it makes
(``GAN_STEERING_MAX_REQUEST_MB``, default 2048): the number of images, frames or samples it may ask for follows from
what one of them costs for the model at hand (a 64×64 DCGAN image is 300× cheaper than a 1024×1024 StyleGAN2 one).
Absolute caps bound the time where memory would not. The UI shows these same limits.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from .errors import ResourceLimitError


class Rendering(Protocol):
    """What the image limits read of a generator (any ``steering.models.Generator``)."""

    image_channels: int
    resolution: int
    identity: Any


BUDGET_ENV = "GAN_STEERING_MAX_REQUEST_MB"
DEFAULT_BUDGET_MB = 2048
#: Images rendered by one request (sweep cells, GIF/MP4 frames, seeds), whatever the model.
MAX_IMAGES = 4096
#: Strengths listed by one request (a sweep or animation has no use for more).
MAX_STEPS = 10_000
#: Samples drawn by one request (GANSpace, scoring).
MAX_SAMPLES = 1_000_000
_FLOAT = 4
#: Largest image (pixels) one request may decode: below Pillow's own decompression-bomb limit (89 MP), large enough
#: for any camera photo (a 50 MP sensor is 8660×5774).
MAX_IMAGE_PIXELS = 64 * 2**20
#: Largest image file one request may read.
MAX_IMAGE_FILE_BYTES = 100 * 2**20


def request_budget() -> int:
    """Bytes one request may allocate for its own tensors."""
    text = os.environ.get(BUDGET_ENV, "").strip()
    try:
        megabytes = float(text) if text else DEFAULT_BUDGET_MB
    except ValueError:
        megabytes = DEFAULT_BUDGET_MB
    return int(max(megabytes, 1.0) * 2**20)


def check_bytes(needed: int, what: str) -> None:
    """Refuse a request whose tensors would need more than the budget, before it allocates them."""
    budget = request_budget()
    if needed > budget:
        raise ResourceLimitError(
            f"{what} would need {size_text(needed)} of memory; one request may use {size_text(budget)} "
            f"(set {BUDGET_ENV} to allow more)"
        )


def image_bytes(generator: Rendering) -> int:
    """Memory one rendered image holds: the float image, its 8-bit copy and working space of the same size."""
    pixels = generator.image_channels * generator.resolution**2
    return 3 * pixels * _FLOAT


def max_images(generator: Rendering) -> int:
    """How many images one request may render with ``generator``."""
    return max(1, min(MAX_IMAGES, request_budget() // image_bytes(generator)))


def check_images(generator: Rendering, count: int, what: str = "images") -> int:
    """``count`` if one request may render that many images, else a ``ResourceLimitError`` naming the limit."""
    limit = max_images(generator)
    if count > limit:
        raise ResourceLimitError(
            f"{count} {what} is more than one request may render with {generator.identity.name} "
            f"({limit} at {generator.resolution}×{generator.resolution}; {BUDGET_ENV} sets the memory budget)"
        )
    return count


def max_samples(values_per_sample: int, copies: int = 2) -> int:
    """How many samples of ``values_per_sample`` floats one request may hold (``copies`` of them: by default twice,
    the data and its centred copy)."""
    return max(1, min(MAX_SAMPLES, request_budget() // (copies * _FLOAT * max(1, values_per_sample))))


def check_samples(count: int, values_per_sample: int, what: str = "samples", copies: int = 2) -> int:
    limit = max_samples(values_per_sample, copies)
    if count > limit:
        raise ResourceLimitError(
            f"{count} {what} of {values_per_sample} values each is more than one request may hold: ask for at "
            f"most {limit} (or raise the memory budget, {BUDGET_ENV})"
        )
    return count


def check_latents(count: int, dim: int, what: str = "latents") -> int:
    """``count`` latents of ``dim`` values: bounded like samples."""
    return check_samples(count, dim, what)


def check_image_size(width: int, height: int, what: str = "the image") -> None:
    """Refuse an image from its header's size, before it is decoded: at most ``MAX_IMAGE_PIXELS`` and, decoded as
    8-bit RGBA plus a float copy, within the memory budget."""
    pixels = int(width) * int(height)
    if pixels > MAX_IMAGE_PIXELS:
        raise ResourceLimitError(
            f"{what} is {width}×{height} pixels; at most {MAX_IMAGE_PIXELS // 2**20} megapixels can be read "
            "(scale it down first)"
        )
    check_bytes(pixels * (4 + 3 * _FLOAT), f"decoding {what} ({width}×{height})")


def size_text(num_bytes: float) -> str:
    """``num_bytes`` for people: ``512 B``, ``3.2 MiB``, ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num_bytes < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} TiB"


__all__ = [
    "MAX_IMAGES",
    "MAX_IMAGE_FILE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_SAMPLES",
    "MAX_STEPS",
    "check_bytes",
    "check_image_size",
    "check_images",
    "check_latents",
    "check_samples",
    "max_images",
    "max_samples",
    "request_budget",
    "size_text",
]
