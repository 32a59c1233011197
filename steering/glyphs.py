"""Text in pictures drawn with PIL: the one font every chart, strip and grid uses, and ``legible``, which spells
the characters that font lacks (``²``, ``∂``, ``ψ``, ``×`` …) in ones it has, so that no label shows an empty box.

Pillow's default font is the only one present on every install (Aileron through FreeType from Pillow 10.1, a
Latin-1 bitmap font before, or without FreeType); both lack most symbols and Greek letters."""

from __future__ import annotations

import functools
import unicodedata

from PIL import ImageFont

#: Readable spellings of characters the app's labels use (others are decomposed: ``é`` → ``e``, ``²`` → ``2``).
FALLBACKS = {
    "∂": "d",
    "∇": "grad ",
    "×": "x",
    "−": "-",
    "–": "-",
    "—": "-",
    "→": "->",
    "←": "<-",
    "↔": "<->",
    "≈": "~",
    "≤": "<=",
    "≥": ">=",
    "≠": "!=",
    "±": "+/-",
    "·": ".",
    "•": "*",
    "…": "...",
    "‖": "||",
    "√": "sqrt",
    "⊥": "perp",
    "∘": "o",
    "∞": "inf",
    "°": "deg",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "Δ": "Delta",
    "ε": "eps",
    "η": "eta",
    "θ": "theta",
    "λ": "lambda",
    "μ": "mu",
    "π": "pi",
    "ρ": "rho",
    "σ": "sigma",
    "Σ": "Sigma",
    "τ": "tau",
    "φ": "phi",
    "ψ": "psi",
    "ω": "omega",
}
_NOTDEF = "\U0010fffd"  # a private-use code point no font maps: it draws the font's .notdef box


#: Pixels per em of the default font where it scales (FreeType): at Pillow's own 10 px, Aileron's 2 px spaces
#: vanish under hinting ("correlationsover 500 samples").
FONT_SIZE = 12


@functools.cache
def font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``FONT_SIZE`` (the same object every call; the bitmap font where it cannot scale)."""
    try:
        return ImageFont.load_default(size=FONT_SIZE)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1, or no FreeType
        return ImageFont.load_default()


def _mask(character: str) -> tuple[tuple[int, int], bytes] | None:
    try:
        mask = font().getmask(character)
    except (UnicodeError, ValueError, OSError):
        return None
    return mask.size, bytes(mask)


@functools.cache
def has_glyph(character: str) -> bool:
    """Whether the font draws ``character`` as itself (not as its .notdef box, not failing)."""
    if character.isspace() or (character.isascii() and character.isprintable()):
        return True
    drawn = _mask(character)
    return drawn is not None and drawn != _mask(_NOTDEF)


@functools.cache
def _spelled(character: str) -> str:
    if has_glyph(character):
        return character
    if character in FALLBACKS:
        return FALLBACKS[character]
    decomposed = unicodedata.normalize("NFKD", character)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    if kept and kept != character and all(has_glyph(c) for c in kept):
        return kept
    return "?"


def legible(text: str) -> str:
    """``text`` with every character the font lacks spelled in characters it has (``SC²GAN`` → ``SC2GAN``,
    ``∂block2/∂z`` → ``dblock2/dz``, ``ψ`` → ``psi``; an unknown one becomes ``?``)."""
    return "".join(_spelled(c) for c in str(text))


def text_width(text: str) -> int:
    """Width in pixels of ``text`` as drawn (after ``legible``)."""
    return round(font().getlength(legible(text)))


def wrap(text: str, width: float, lines: int = 2) -> list[str]:
    """``legible(text)`` broken at spaces into at most ``lines`` lines no wider than ``width`` pixels (a word wider
    than that is cut); the last line ends in ``...`` where text was left out."""
    words, out, current = legible(text).split(), [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if current and font().getlength(candidate) > width:
            out.append(current)
            candidate = word
        current = candidate
    out.append(current)
    out = [shorten(line, width) for line in out]
    if len(out) > lines:
        out = [*out[: lines - 1], shorten(" ".join(out[lines - 1 :]), width, always=True)]
    return out


def shorten(text: str, width: float, always: bool = False) -> str:
    """``legible(text)`` cut to ``width`` pixels, ending in ``...`` where it was cut (or ``always``)."""
    line = legible(text)
    if not always and font().getlength(line) <= width:
        return line
    while line and font().getlength(line + "...") > width:
        line = line[:-1]
    return line.rstrip() + "..."


def line_height() -> int:
    """Height in pixels a line of text needs (ascender to descender), for label bands that must not clip."""
    return max(font().getbbox("Ag|ypQ")[3], 11) + 2


__all__ = ["FALLBACKS", "font", "has_glyph", "legible", "line_height", "shorten", "text_width", "wrap"]
