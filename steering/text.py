"""Strings from files and users are data: shown on a terminal, they never carry control sequences."""

from __future__ import annotations

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


__all__ = ["terminal_safe"]
