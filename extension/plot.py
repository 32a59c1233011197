"""A tiny bar chart drawn with PIL: the spectrum (eigenvalues / variances) shown after a discovery."""

from __future__ import annotations

import math
from typing import Sequence

from PIL import Image, ImageDraw

_BAR = (79, 70, 229)
_GRID = (226, 232, 240)
_TEXT = (30, 41, 59)


def _nice_step(top: float, ticks: int = 5) -> float:
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str] | None = None,
    title: str = "",
    size: tuple[int, int] = (640, 320),
) -> Image.Image:
    """Bars for non-negative ``values`` with a labelled y axis; non-finite values are drawn as empty bars."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    finite = [float(v) for v in values if math.isfinite(float(v))]
    top = max([abs(v) for v in finite] + [1e-12])
    step = _nice_step(top)
    top = step * math.ceil(top / step)
    left, right, upper, lower = 56, 12, 44 if title else 16, 36
    plot_w, plot_h = width - left - right, height - upper - lower
    if title:
        draw.text(((width - 6 * len(title)) / 2, 12), title, fill=_TEXT)  # centred: hosts put labels in the corners
    for i in range(round(top / step) + 1):
        y = upper + plot_h - plot_h * (i * step) / top
        draw.line([(left, y), (left + plot_w, y)], fill=_GRID)
        draw.text((4, y - 6), _fmt(i * step), fill=_TEXT)
    n = max(len(values), 1)
    slot = plot_w / n
    bar = max(1.0, slot * 0.7)
    every = max(1, math.ceil(n / max(1, plot_w // 28)))  # thin out labels that would overlap
    for i, value in enumerate(values):
        x0 = left + i * slot + (slot - bar) / 2
        v = float(value)
        if math.isfinite(v):
            y0 = upper + plot_h - plot_h * max(v, 0.0) / top
            draw.rectangle([x0, y0, x0 + bar, upper + plot_h], fill=_BAR)
        if i % every == 0:
            text = labels[i] if labels else str(i)
            draw.text((x0, upper + plot_h + 6), text[:8], fill=_TEXT)
    draw.line([(left, upper), (left, upper + plot_h), (left + plot_w, upper + plot_h)], fill=_TEXT)
    return image
