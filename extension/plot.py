"""A tiny bar chart drawn with PIL: the spectrum (eigenvalues / variances) shown after a discovery."""

from __future__ import annotations

import importlib
import math
from typing import Sequence

from PIL import Image, ImageDraw

from .core import CORE

charts = importlib.import_module(CORE + ".charts")
glyphs = importlib.import_module(CORE + ".glyphs")

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
    top = charts.headroom_top(top, step)
    font = glyphs.font()
    left, right, upper, lower = 56, 12, (charts.draw_title(draw, title, width) if title else charts.BADGE_BAND) + 8, 36
    plot_w, plot_h = width - left - right, height - upper - lower
    for i in range(round(top / step) + 1):
        y = upper + plot_h - plot_h * (i * step) / top
        draw.line([(left, y), (left + plot_w, y)], fill=_GRID)
        draw.text((4, y - 6), _fmt(i * step), fill=_TEXT, font=font)
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
            text = glyphs.shorten(labels[i], max(slot * every, 24)) if labels else str(i)
            draw.text((x0, upper + plot_h + 6), text, fill=_TEXT, font=font)
    draw.line([(left, upper), (left, upper + plot_h), (left + plot_w, upper + plot_h)], fill=_TEXT)
    return image
