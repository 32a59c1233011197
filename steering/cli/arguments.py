"""Argument types: each runs one of the core's value checks (``steering.values``), the same checks the UI runs."""

from __future__ import annotations

import argparse
import re
from typing import Any, Callable, Sequence

from .. import limits, values
from ..errors import InvalidValueError

#: Options whose value may start with "-" (a negative bound, strength or seed): ``--range -3,3`` is rewritten to
#: ``--range=-3,3``, so a negative value reaches the option's own check (``--set -1=yes``: "a seed must be …").
SIGNED_VALUE_OPTIONS = ("--range", "--set", "--seeds", "--strengths")
_LOOKS_NEGATIVE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


def checked(check: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse type that runs ``check`` (its ``InvalidValueError`` becomes argparse's one-line usage error)."""

    def parse(text: str) -> Any:
        try:
            return check(text)
        except InvalidValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def count(what: str, low: int, high: int) -> Callable[[str], int]:
    return checked(lambda text: values.check_count(text, what, low, high), "integer")


def list_of(check: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        items = [check(part) for part in text.split(",") if part.strip()]
        if not items:
            raise InvalidValueError("the list is empty")
        return items

    return parse


def strength_range(text: str) -> tuple[float, float]:
    parts = re.split(r"[,:]", text)
    if len(parts) != 2:
        raise InvalidValueError(f"{text!r} is not 'low,high' (e.g. -3,3)")
    return values.check_strength_range(*parts)


def strength(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidValueError(f"{text!r} is not INDEX=VALUE (e.g. 0=2.5 or 'smile=-1')")
    return key.strip(), values.check_strength(value, f"the strength in {text!r}")


#: The help of every ``--json`` option.
JSON_HELP = "print the result as JSON (for scripts) instead of text"

SEED = checked(values.check_seed, "seed")
SEEDS = checked(list_of(values.check_seed), "seeds")
TRUNCATION = checked(values.check_truncation, "truncation")
FPS = checked(lambda text: values.check_number(text, "fps", 0.1, 50), "fps")
INDICES = checked(list_of(lambda text: values.check_count(text, "a direction index", 0, 1 << 20)), "indices")
STRENGTH_RANGE = checked(strength_range, "range")
STRENGTH = checked(strength, "strength")
STEPS = count("the number of steps", 2, limits.MAX_STEPS)
CLASS_INDEX = count("the class index", 0, 1 << 20)


def join_signed_values(argv: Sequence[str]) -> list[str]:
    """``--range -3,3`` -> ``--range=-3,3`` (each of ``SIGNED_VALUE_OPTIONS``): argparse would otherwise take ``-3,3``
    for an option."""
    out: list[str] = []
    items = iter(argv)
    for item in items:
        if item in SIGNED_VALUE_OPTIONS:
            value = next(items, None)
            if value is not None and _LOOKS_NEGATIVE.match(value):
                out.append(f"{item}={value}")
                continue
            out.append(item)
            if value is not None:
                out.append(value)
            continue
        out.append(item)
    return out
