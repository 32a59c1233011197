"""Turning image tensors into pictures: PIL images, labelled grids, animated GIFs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from .errors import InvalidValueError
from .glyphs import font, legible, line_height, text_width, wrap
from .io import atomic_path, save_image


def to_uint8(images: Tensor) -> np.ndarray:
    """[N, C, H, W] in [-1, 1] -> uint8 [N, H, W, C]; NaN pixels are refused (never saved as black)."""
    if images.ndim != 4:
        raise ValueError(f"expected images [N, C, H, W], got {list(images.shape)}")
    x = images.detach().float().mul(127.5)  # a fresh tensor: the rest happens in place, where the images are
    if bool(torch.isnan(x).any()):
        raise InvalidValueError(
            "the model drew NaN pixels for these latents (extreme codes, class weights or strengths): nothing was "
            "saved; use smaller values"
        )
    x = x.add_(127.5).clamp_(0, 255).round_().to(torch.uint8)
    # channels-last made contiguous where the images are (GPU included): PIL then reads one dense buffer
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def to_pil(images: Tensor) -> list[Image.Image]:
    arrays = to_uint8(images)
    if arrays.shape[-1] == 1:
        return [Image.fromarray(a[..., 0], mode="L") for a in arrays]
    return [Image.fromarray(a if a.shape[-1] == 3 else np.ascontiguousarray(a[..., :3])) for a in arrays]


def grid(
    images: Sequence[Image.Image],
    columns: int,
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    pad: int = 2,
    label_width: int = 160,
) -> Image.Image:
    """Images laid out row-major in a grid, with optional row and column labels; a column is widened (its images
    centred) where its label is wider than the images, up to ``label_width`` pixels: a longer label is wrapped onto
    two lines. The label band is as tall as the font's lines, so no label is clipped."""
    if not images:
        raise ValueError("a grid needs at least one image")
    width, height = images[0].size
    rows = -(-len(images) // columns)
    rows_shown = [legible(s) for s in row_labels or []]
    left = 8 + max((text_width(s) for s in rows_shown), default=0) if row_labels else 0
    heads = [wrap(s, max(width, label_width)) for s in column_labels or []]
    lines = max((len(h) for h in heads), default=0)
    top = lines * line_height() + 4 if lines else 0
    widest = max((text_width(line) for head in heads for line in head), default=0)
    pitch = max(width, widest + 4) + pad
    canvas = Image.new("RGB", (left + columns * pitch, top + rows * (height + pad)), "white")
    draw = ImageDraw.Draw(canvas)
    inset = (pitch - pad - width) // 2
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas.paste(image.convert("RGB"), (left + c * pitch + inset, top + r * (height + pad)))
    for r, label in enumerate(rows_shown):
        draw.text((2, top + r * (height + pad) + (height - line_height()) // 2), label, fill="black", font=font())
    for c, head in enumerate(heads):
        for k, line in enumerate(head):
            x = left + c * pitch + (pitch - pad - text_width(line)) // 2
            draw.text((max(x, left + c * pitch), 2 + k * line_height()), line, fill="black", font=font())
    return canvas


#: Animation formats by file suffix.
ANIMATIONS = (".gif", ".mp4")


def save_animation(
    frames: Sequence[Image.Image],
    path: str | os.PathLike[str],
    fps: float = 12.0,
    bounce: bool = True,
) -> Path:
    """An animated GIF or an H.264 MP4 (by ``path``'s suffix), written atomically; ``bounce`` plays the frames forward
    then back so the loop has no jump."""
    if not frames:
        raise InvalidValueError("an animation needs at least one frame")
    if not 0 < fps <= 50:
        raise InvalidValueError(f"fps must be in (0, 50], got {fps}")
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATIONS:
        raise InvalidValueError(f"an animation is saved as {' or '.join(ANIMATIONS)}, not {Path(path).name!r}")
    sequence = list(frames) + (list(frames[-2:0:-1]) if bounce and len(frames) > 2 else [])
    if suffix == ".gif":
        options = {"save_all": True, "append_images": sequence[1:], "duration": int(1000 / fps), "loop": 0}
        return save_image(sequence[0], path, format="GIF", **options)
    return _save_mp4(sequence, Path(path), fps)


def save_gif(
    frames: Sequence[Image.Image], path: str | os.PathLike[str], fps: float = 12.0, bounce: bool = True
) -> Path:
    """Animated GIF (see ``save_animation``)."""
    return save_animation(frames, Path(path), fps=fps, bounce=bounce)


def _save_mp4(frames: Sequence[Image.Image], path: Path, fps: float) -> Path:
    """H.264 (yuv420p, plays everywhere) through imageio-ffmpeg's bundled ffmpeg; frames are even-sized RGB."""
    import imageio_ffmpeg

    rgb = [frame.convert("RGB") for frame in frames]
    width, height = rgb[0].size
    size = (width + width % 2, height + height % 2)
    with atomic_path(path) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), size, fps=fps, codec="libx264", macro_block_size=1, output_params=["-f", "mp4"]
        )
        writer.send(None)  # start the encoder
        for frame in rgb:
            writer.send(np.ascontiguousarray(np.asarray(frame.resize(size) if frame.size != size else frame)))
        writer.close()
    return path
