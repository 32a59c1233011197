"""Small charts drawn with PIL (no plotting library): line charts (the disentanglement curves of
``steering.attributes``) and a signed heat map (correlation matrices)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from PIL import Image, ImageDraw

COLOURS = [(79, 70, 229), (220, 38, 38), (5, 150, 105), (217, 119, 6), (124, 58, 237), (14, 116, 144)]
_GRID, _TEXT = (226, 232, 240), (30, 41, 59)


def _ticks(top: float, count: int = 5) -> float:
    raw = max(top, 1e-12) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    size: tuple[int, int] = (640, 400),
) -> Image.Image:
    """One polyline per series of (x, y) points, with axes from 0, tick labels and a legend."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    points = [p for line in series.values() for p in line if all(math.isfinite(v) for v in p)]
    x_top = max([p[0] for p in points] + [1e-9])
    y_top = max([p[1] for p in points] + [1e-9])
    x_step, y_step = _ticks(x_top), _ticks(y_top)
    x_top, y_top = x_step * math.ceil(x_top / x_step), y_step * math.ceil(y_top / y_step)
    left, right, upper, lower = 56, 16, 40 if title else 16, 48
    plot_w, plot_h = width - left - right, height - upper - lower

    def at(x: float, y: float) -> tuple[float, float]:
        return left + plot_w * max(x, 0.0) / x_top, upper + plot_h - plot_h * max(y, 0.0) / y_top

    if title:
        draw.text(((width - 6 * len(title)) / 2, 12), title, fill=_TEXT)
    for i in range(round(y_top / y_step) + 1):
        y = at(0, i * y_step)[1]
        draw.line([(left, y), (left + plot_w, y)], fill=_GRID)
        draw.text((4, y - 6), f"{i * y_step:.3g}", fill=_TEXT)
    for i in range(round(x_top / x_step) + 1):
        x = at(i * x_step, 0)[0]
        draw.text((x - 8, upper + plot_h + 6), f"{i * x_step:.3g}", fill=_TEXT)
    draw.line([(left, upper), (left, upper + plot_h), (left + plot_w, upper + plot_h)], fill=_TEXT)
    draw.text((left + plot_w / 2 - 3 * len(x_label), height - 18), x_label, fill=_TEXT)
    draw.text((left + 4, upper - 14 if not title else upper - 12), y_label, fill=_TEXT)
    for n, (name, line) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        kept = [at(x, y) for x, y in line if math.isfinite(x) and math.isfinite(y)]
        if len(kept) > 1:
            draw.line(kept, fill=colour, width=2)
        for x, y in kept:
            draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)
        draw.rectangle([left + 10, upper + 8 + 14 * n, left + 20, upper + 16 + 14 * n], fill=colour)
        draw.text((left + 24, upper + 6 + 14 * n), name[:48], fill=_TEXT)
    return image


def heatmap(
    matrix: Sequence[Sequence[float]], labels: Sequence[str], *, title: str = "", cell: int = 36
) -> Image.Image:
    """A square matrix of values in [-1, 1] as coloured cells (blue negative, red positive, white 0), each with its
    value, rows and columns labelled."""
    n = len(labels)
    if any(len(row) != n for row in matrix) or len(matrix) != n:
        raise ValueError(f"a heat map needs a {n}×{n} matrix")
    margin = 8 + 6 * max((len(label) for label in labels), default=0)  # PIL's default font: 6 px a character
    top = margin + (24 if title else 0)
    width = max(margin + n * cell + 8, 16 + 6 * len(title))
    image = Image.new("RGB", (width, top + n * cell + 8), "white")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((8, 6), title, fill=_TEXT)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            v = max(-1.0, min(1.0, float(value))) if math.isfinite(value) else 0.0
            fade = round(255 * (1 - abs(v)))
            colour = (255, fade, fade) if v >= 0 else (fade, fade, 255)
            x, y = margin + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=_GRID)
            draw.text((x + 4, y + cell // 2 - 6), f"{v:+.2f}", fill=_TEXT if abs(v) < 0.6 else (255, 255, 255))
        draw.text((4, top + i * cell + cell // 2 - 6), labels[i], fill=_TEXT)
    for j, label in enumerate(labels):  # column labels in full, turned to read upwards above their column
        word = Image.new("RGB", (6 * len(label) + 4, 12), "white")
        ImageDraw.Draw(word).text((2, 0), label, fill=_TEXT)
        upright = word.rotate(90, expand=True)
        image.paste(upright, (margin + j * cell + (cell - upright.width) // 2, top - 4 - upright.height))
    return image


__all__ = ["heatmap", "line_chart"]
