"""Reading a user's image and preparing it for a model: checked before it is decoded, converted by one rule, centre
cropped and resized to the model's resolution.

The rules (the README's *Editing your own photos* repeats them):

* a file that is empty, larger than ``limits.MAX_IMAGE_FILE_BYTES``, not an image Pillow knows, damaged, or whose
  header declares more than ``limits.MAX_IMAGE_PIXELS`` (or more than the request's memory budget) is refused with
  ``ImageInputError`` / ``ResourceLimitError`` *before* its pixels are decoded (Pillow's own decompression-bomb
  check is turned into an error too);
* the camera's EXIF orientation is applied; an animated image uses its first frame;
* greyscale (``1``, ``L``, 16- and 32-bit integer ``I``) is repeated into three channels; palette images are expanded;
  transparency (``RGBA``, ``LA``, ``PA``, a palette with a transparent colour) is composited over white;
  ``CMYK`` and ``YCbCr`` are converted to RGB; floating-point images (``F``) and anything else are refused;
* images smaller than ``MIN_SIDE`` pixels are refused (there is nothing to reconstruct);
* an optional crop box ``(left, top, width, height)`` is cut out first; then the largest centred square is cut out
  and resized (Lanczos) to the model's resolution. No automatic face alignment: no landmark detector ships with the
  project's dependencies, so give the face's box (or crop the photograph around the face first).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .. import limits
from ..errors import ImageInputError, InvalidValueError
from ..values import check_count

#: Smallest side (pixels) of an image worth inverting.
MIN_SIDE = 16
#: What transparent pixels are composited over.
BACKGROUND = (255, 255, 255)
_ORIENTATION = 0x0112  # the EXIF tag
_GREY_MODES = ("1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N")


@dataclass(frozen=True)
class PreparedImage:
    """An image ready for inversion: ``pixels`` [1, 3, R, R] in [-1, 1], the source file's ``sha256``, its name and
    what was done to it (``notes``: conversions and the crop, in words)."""

    pixels: torch.Tensor
    sha256: str
    name: str
    original_size: tuple[int, int]
    original_mode: str
    notes: tuple[str, ...]

    @property
    def image(self) -> Image.Image:
        """The prepared pixels as a PIL image (what the model is asked to reconstruct)."""
        array = ((self.pixels[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(array, "RGB")

    def describe(self) -> dict[str, object]:
        """What a latents file records about its source image."""
        width, height = self.original_size
        return {"image_sha256": self.sha256, "image": self.name, "size": [width, height], "mode": self.original_mode}


def read_bytes(source: str | os.PathLike[str] | bytes, name: str | None = None) -> tuple[bytes, str]:
    """The file's bytes and a name to show, checked for size before anything else is done."""
    if isinstance(source, (bytes, bytearray)):
        data, shown = bytes(source), name or "the image"
    else:
        path = Path(source)
        shown = name or path.name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ImageInputError(f"no such file: {shown}") from None
        if not path.is_file():
            raise ImageInputError(f"{shown} is not a file")
        if size > limits.MAX_IMAGE_FILE_BYTES:
            raise ImageInputError(
                f"{shown} is {size / 2**20:.0f} MiB; images up to {limits.MAX_IMAGE_FILE_BYTES // 2**20} MiB are read"
            )
        data = path.read_bytes()
    if not data:
        raise ImageInputError(f"{shown} is empty (0 bytes): choose an image file")
    if len(data) > limits.MAX_IMAGE_FILE_BYTES:
        raise ImageInputError(f"{shown} is larger than {limits.MAX_IMAGE_FILE_BYTES // 2**20} MiB")
    return data, shown


def decode(data: bytes, name: str = "the image") -> tuple[Image.Image, list[str], tuple[int, int], str]:
    """The image as 8-bit RGB after the mode rules (see the module), with notes on what was converted, and the
    original size and mode. The size in the header is checked before the pixels are decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            limits.check_image_size(width, height, name)
            image.load()
            frames = getattr(image, "n_frames", 1)  # reads ahead through the file: a damaged later frame fails here
    except limits.ResourceLimitError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own limit, checked at open
        raise limits.ResourceLimitError(
            f"{name} declares more pixels than Pillow decodes safely; at most "
            f"{limits.MAX_IMAGE_PIXELS // 2**20} megapixels can be read (scale it down first)"
        ) from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{name} is not an image that can be read (PNG, JPEG, WebP, BMP, GIF…)") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error) as exc:
        raise ImageInputError(f"{name} is damaged or truncated ({type(exc).__name__})") from None
    notes: list[str] = []
    size, mode = image.size, image.mode
    if frames > 1:
        notes.append("first frame of an animation")
    try:
        orientation = image.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError):
        orientation = 1
    if orientation not in (1, None):
        try:
            image = ImageOps.exif_transpose(image)
            notes.append("camera orientation applied")
        except (OSError, ValueError, SyntaxError):
            notes.append("camera orientation unreadable: ignored")
    return to_rgb(image, name, notes), notes, size, mode


def to_rgb(image: Image.Image, name: str, notes: list[str]) -> Image.Image:
    """8-bit RGB by the module's rule; ``ImageInputError`` for modes with no clear meaning as a photograph."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
        notes.append("palette expanded")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        if rgba.getchannel("A").getextrema() != (255, 255):
            notes.append("transparency composited over white")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in _GREY_MODES:
        notes.append("greyscale repeated into three channels")
        if mode.startswith("I"):
            array = np.asarray(image, dtype=np.float64)
            top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
            grey = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
        else:
            grey = image.convert("L")
        return Image.merge("RGB", (grey, grey, grey))
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"{mode} converted to RGB")
        return image.convert("RGB")
    if mode == "RGB":
        return image
    raise ImageInputError(
        f"{name} is a {mode!r} image (e.g. floating-point data): save it as an 8-bit RGB or greyscale image first"
    )


def check_crop(crop: Sequence[int] | None, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """A crop box ``(left, top, width, height)`` in the image's pixels, inside the image."""
    if crop is None:
        return None
    if len(crop) != 4:
        raise InvalidValueError("a crop box is four whole numbers: left, top, width, height")
    left, top, width, height = (check_count(v, "a crop box value", 0, limits.MAX_IMAGE_PIXELS) for v in crop)
    if width < 1 or height < 1 or left + width > size[0] or top + height > size[1]:
        box = f"{left},{top},{width},{height}"
        raise InvalidValueError(f"the crop box {box} is not inside the {size[0]}×{size[1]} image")
    return left, top, width, height


def parse_crop(text: str | None) -> tuple[int, ...] | None:
    """``"L,T,W,H"`` (the CLI's ``--crop``, the UI's box) as four whole numbers; empty: no crop."""
    if text is None or not str(text).strip():
        return None
    try:
        return tuple(int(v) for v in str(text).replace(" ", "").split(","))
    except ValueError:
        raise InvalidValueError(f"a crop box is four whole numbers L,T,W,H, got {str(text)[:40]!r}") from None


def centre_square(image: Image.Image, resolution: int, notes: list[str]) -> Image.Image:
    """The largest centred square, resized to ``resolution`` (Lanczos)."""
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(f"the image is {width}×{height}: at least {MIN_SIDE}×{MIN_SIDE} pixels are needed")
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    if (width, height) != (side, side):
        notes.append(f"centre square {side}×{side} at ({left}, {top})")
    square = image.crop((left, top, left + side, top + side))
    if side != resolution:
        notes.append(f"resized {side}→{resolution}")
        square = square.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return square


def prepare_image(
    source: str | os.PathLike[str] | bytes | Image.Image,
    resolution: int,
    name: str | None = None,
    crop: Sequence[int] | None = None,
) -> PreparedImage:
    """Read (a path, the file's bytes, or a PIL image), check, convert and crop an image for a model of
    ``resolution`` pixels; the ``sha256`` is that of the file's bytes (of the RGB pixels for a PIL image). ``crop``:
    ``(left, top, width, height)`` to cut out first (e.g. the face in a photograph), in the upright image's pixels."""
    if isinstance(source, Image.Image):
        shown = name or "the image"
        limits.check_image_size(*source.size, shown)
        notes: list[str] = []
        original_size, original_mode = source.size, source.mode
        rgb = to_rgb(source, shown, notes)
        digest = hashlib.sha256(rgb.tobytes()).hexdigest()
    else:
        data, shown = read_bytes(source, name)
        digest = hashlib.sha256(data).hexdigest()
        rgb, notes, original_size, original_mode = decode(data, shown)
    box = check_crop(crop, rgb.size)
    if box is not None:
        left, top, width, height = box
        rgb = rgb.crop((left, top, left + width, top + height))
        notes.append(f"cropped to {width}×{height} at ({left}, {top})")
    square = centre_square(rgb, resolution, notes)
    array = np.asarray(square, dtype=np.float32)
    pixels = torch.from_numpy(array).permute(2, 0, 1)[None] / 127.5 - 1.0
    return PreparedImage(pixels.contiguous(), digest, shown, original_size, original_mode, tuple(notes))


__all__ = [
    "BACKGROUND",
    "MIN_SIDE",
    "PreparedImage",
    "centre_square",
    "check_crop",
    "decode",
    "parse_crop",
    "prepare_image",
    "read_bytes",
]
