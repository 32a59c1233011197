"""Reading typed values out of the string metadata of our safetensors files, refusing anything malformed.

Every value read from a file is untrusted: JSON is parsed with a bounded size and nesting depth, and each field must
have the type the schema says (a name is a string, not a number; parameters are an object, not a list). Failures raise
the caller's error type with the key and the reason, never another exception.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping

from .errors import CorruptFileError

#: Largest metadata value we parse, in characters, and deepest JSON nesting we accept.
MAX_TEXT = 1 << 20
MAX_DEPTH = 32
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def parse_json(text: Any, key: str, origin: str, error: type[CorruptFileError]) -> Any:
    """``json.loads`` of a metadata value, bounded in size and depth; non-finite numbers are refused."""
    if not isinstance(text, str):
        raise error(f"{origin}: metadata {key!r} is not text")
    if len(text) > MAX_TEXT:
        raise error(f"{origin}: metadata {key!r} is larger than {MAX_TEXT} characters")
    if _depth_exceeds(text, MAX_DEPTH):
        raise error(f"{origin}: metadata {key!r} is nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise error(f"{origin}: metadata {key!r} is not valid JSON ({type(exc).__name__})") from None


def field(
    metadata: Mapping[str, str],
    key: str,
    kind: type | tuple[type, ...],
    origin: str,
    error: type[CorruptFileError],
    default: Any = ...,
    as_json: bool = True,
) -> Any:
    """The value under ``key`` (JSON-decoded unless ``as_json=False``), checked to be of ``kind``.

    A missing key returns ``default``, or is an error when there is none."""
    if key not in metadata:
        if default is ...:
            raise error(f"{origin}: metadata {key!r} is missing")
        return default
    value = parse_json(metadata[key], key, origin, error) if as_json else metadata[key]
    if not is_kind(value, kind):
        raise error(f"{origin}: metadata {key!r} must be {describe(kind)}, got {type(value).__name__}")
    return value


def is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    """``isinstance`` where ``bool`` is not an ``int`` and ``int`` counts as a ``float``."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return isinstance(value, kinds)


def describe(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "text",
        int: "a whole number",
        float: "a number",
        list: "a list",
        dict: "an object",
        bool: "true/false",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else names.get(k, k.__name__) for k in kinds)


def check_sha256(value: Any, what: str, origin: str, error: type[CorruptFileError]) -> str:
    """A lowercase hex sha256 (an empty or malformed one would skip the check that a file fits its model)."""
    if not isinstance(value, str) or not _SHA256.match(value):
        raise error(f"{origin}: {what} must be a sha256 (64 hex digits), got {value!r:.40}")
    return value


def check_json_object(value: Any, what: str, origin: str, error: type[CorruptFileError]) -> dict[str, Any]:
    """A JSON object with text keys whose values are finite JSON data."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise error(f"{origin}: {what} must be an object with text keys")
    _check_finite(value, what, origin, error)
    return value


def _check_finite(value: Any, what: str, origin: str, error: type[CorruptFileError]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise error(f"{origin}: {what} holds a non-finite number")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item, what, origin, error)
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, what, origin, error)


def _depth_exceeds(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit`` (checked before ``json.loads`` recurses)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name}")


__all__ = ["MAX_DEPTH", "check_json_object", "check_sha256", "field", "is_kind", "parse_json"]
