"""Small charts drawn with PIL (no plotting library): line charts (the disentanglement curves of
``steering.attributes``) and a signed heat map (correlation matrices)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from PIL import Image, ImageDraw

from .glyphs import font, legible, line_height, shorten, text_width, wrap

COLOURS = [(79, 70, 229), (220, 38, 38), (5, 150, 105), (217, 119, 6), (124, 58, 237), (14, 116, 144)]
_GRID, _TEXT = (226, 232, 240), (30, 41, 59)


def _ticks(top: float, count: int = 5) -> float:
    raw = max(top, 1e-12) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


#: The top band left empty: hosts (Gradio) lay an image's label badge over its top-left corner.
BADGE_BAND = 32


def headroom_top(top: float, step: float) -> float:
    """The axis top: a whole number of ``step`` at least 5 % above ``top``, so that the tallest mark never touches
    the top edge."""
    return step * max(1, math.ceil(top * 1.05 / step))


def draw_title(draw: ImageDraw.ImageDraw, title: str, width: int) -> int:
    """``title`` centred below the badge band, on up to two lines; returns the y just below it."""
    y = BADGE_BAND
    for line in wrap(title, width - 16):
        draw.text(((width - font().getlength(line)) / 2, y), line, fill=_TEXT, font=font())
        y += line_height()
    return y + 4


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    size: tuple[int, int] = (640, 400),
) -> Image.Image:
    """One polyline per series of (x, y) points, with axes from 0, tick labels and a legend right of the plot."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    points = [p for line in series.values() for p in line if all(math.isfinite(v) for v in p)]
    x_top = max([p[0] for p in points] + [1e-9])
    y_top = max([p[1] for p in points] + [1e-9])
    x_step, y_step = _ticks(x_top), _ticks(y_top)
    x_top, y_top = x_step * math.ceil(x_top / x_step), headroom_top(y_top, y_step)
    names = [shorten(name, width // 4) for name in series]
    legend = round(max((font().getlength(name) for name in names), default=0)) + 28 if names else 0
    upper = (draw_title(draw, title, width) if title else BADGE_BAND) + (line_height() + 4 if y_label else 6)
    left, right, lower = 56, 16 + legend, 48
    plot_w, plot_h = width - left - right, height - upper - lower

    def at(x: float, y: float) -> tuple[float, float]:
        return left + plot_w * max(x, 0.0) / x_top, upper + plot_h - plot_h * max(y, 0.0) / y_top

    for i in range(round(y_top / y_step) + 1):
        y = at(0, i * y_step)[1]
        draw.line([(left, y), (left + plot_w, y)], fill=_GRID)
        draw.text((4, y - 6), f"{i * y_step:.3g}", fill=_TEXT, font=font())
    for i in range(round(x_top / x_step) + 1):
        x = at(i * x_step, 0)[0]
        draw.text((x - 8, upper + plot_h + 6), f"{i * x_step:.3g}", fill=_TEXT, font=font())
    draw.line([(left, upper), (left, upper + plot_h), (left + plot_w, upper + plot_h)], fill=_TEXT)
    x_text = legible(x_label)
    draw.text((left + (plot_w - font().getlength(x_text)) / 2, height - 18), x_text, fill=_TEXT, font=font())
    draw.text((left - 8, upper - line_height() - 2), shorten(y_label, plot_w), fill=_TEXT, font=font())
    for n, (line, shown) in enumerate(zip(series.values(), names, strict=True)):
        colour = COLOURS[n % len(COLOURS)]
        kept = [at(x, y) for x, y in line if math.isfinite(x) and math.isfinite(y)]
        if len(kept) > 1:
            draw.line(kept, fill=colour, width=2)
        for x, y in kept:
            draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=colour)
        x0, y0 = left + plot_w + 12, upper + 2 + line_height() * n
        draw.rectangle([x0, y0 + 2, x0 + 10, y0 + 10], fill=colour)
        draw.text((x0 + 14, y0), shown, fill=_TEXT, font=font())
    return image


def heatmap(
    matrix: Sequence[Sequence[float]], labels: Sequence[str], *, title: str = "", cell: int = 36
) -> Image.Image:
    """A square matrix of values in [-1, 1] as coloured cells (blue negative, red positive, white 0), each with its
    value, rows and columns labelled."""
    n = len(labels)
    if any(len(row) != n for row in matrix) or len(matrix) != n:
        raise ValueError(f"a heat map needs a {n}×{n} matrix")
    shown = [legible(label) for label in labels]
    margin = 8 + max((text_width(label) for label in shown), default=0)
    heading = wrap(title, max(margin + n * cell, 320)) if title else []
    top = margin + line_height() * len(heading) + (8 if title else 0)
    width = max(margin + n * cell + 8, 16 + max((text_width(line) for line in heading), default=0))
    image = Image.new("RGB", (width, top + n * cell + 8), "white")
    draw = ImageDraw.Draw(image)
    for k, line in enumerate(heading):
        draw.text((8, 6 + k * line_height()), line, fill=_TEXT, font=font())
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            v = max(-1.0, min(1.0, float(value))) if math.isfinite(value) else 0.0
            fade = round(255 * (1 - abs(v)))
            colour = (255, fade, fade) if v >= 0 else (fade, fade, 255)
            x, y = margin + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour, outline=_GRID)
            ink = _TEXT if abs(v) < 0.6 else (255, 255, 255)
            draw.text((x + 4, y + cell // 2 - 6), f"{v:+.2f}", fill=ink, font=font())
        draw.text((4, top + i * cell + cell // 2 - 6), shown[i], fill=_TEXT, font=font())
    for j, label in enumerate(shown):  # column labels in full, turned to read upwards above their column
        word = Image.new("RGB", (text_width(label) + 4, line_height()), "white")
        ImageDraw.Draw(word).text((2, 0), label, fill=_TEXT, font=font())
        upright = word.rotate(90, expand=True)
        image.paste(upright, (margin + j * cell + (cell - upright.width) // 2, top - 4 - upright.height))
    return image


__all__ = ["BADGE_BAND", "draw_title", "headroom_top", "heatmap", "line_chart"]
