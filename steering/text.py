"""Text shown to users: strings from files and users are data (they never carry control sequences on a terminal),
counts agree with their nouns, and values read as a user would type them, never as Python reprs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_KEEP = {"\n", "\t"}


def terminal_safe(text: str, keep_newlines: bool = True) -> str:
    """``text`` with every non-printable character (ESC, BEL, bidi overrides, …) written as a ``\\uXXXX`` escape.

    The escapes are valid inside JSON strings and mean the same character there, so JSON output stays JSON."""
    keep = _KEEP if keep_newlines else set()
    if text.isprintable() and not (set(text) & (_KEEP - keep)):
        return text
    return "".join(char if char.isprintable() or char in keep else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 path``, ``3 paths``: ``noun`` is the singular; the plural is ``noun + "s"`` unless given."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def format_layers(layers: Sequence[int] | None) -> str:
    """W+ layers as ranges (``0-3, 6``); ``None``: the whole latent."""
    if layers is None:
        return "all (the whole latent)"
    spans: list[str] = []
    for i in sorted(layers):
        if spans and spans[-1].split("-")[-1] == str(i - 1):
            spans[-1] = f"{spans[-1].split('-')[0]}-{i}"
        else:
            spans.append(str(i))
    return ", ".join(spans)


def plain(value: Any) -> str:
    """A value as a user would type or read it: lists as ``a,b,c``, mappings as ``key value, …`` (underscores as
    spaces, a nested mapping in parentheses), booleans as ``true``/``false``, ``None`` as ``none``, floats short."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{str(k).replace('_', ' ')} {_nested(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_nested(v) for v in value]
        return (", " if any(isinstance(v, Mapping) for v in value) else ",").join(items) or "none"
    return str(value)


def _nested(value: Any) -> str:
    return f"({plain(value)})" if isinstance(value, Mapping) and value else plain(value)


__all__ = ["counted", "plain", "terminal_safe"]
