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


def number(what: str, low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    return checked(lambda text: values.check_number(text, what, low, high), "number")


def setting(factory: Callable[..., Any], name: str) -> Callable[[str], Any]:
    """The field ``name`` of ``factory(name=text)``: a core settings object (``Sampling``, ``Training``,
    ``InversionSettings``) that checks its fields when made, so the option refuses what the core would, in its words."""
    return checked(lambda text: getattr(factory(**{name: text}), name), name)


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


# ----- files a command reads and writes ----------------------------------------------------------------------------
class FileArgument(argparse.Action):
    """An argument that names a file the command reads (``Reads``) or writes (``Writes``): declared where the argument
    is, so the check that an output never overwrites an input (``shared.output``) knows every file of every command.

    The value is stored as by ``store`` (``many=True``: as by ``append``); the file it names (``path(value)``, the
    value itself unless given) is also recorded in ``namespace.named_files``: ``(role, option, path)`` each."""

    role = ""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        many: bool = False,
        path: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.many, self.path = many, path

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option=None
    ) -> None:
        name = self.option_strings[-1] if self.option_strings else str(self.metavar or self.dest)
        if self.many:
            setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])
        else:
            setattr(namespace, self.dest, values)
        kept = [f for f in getattr(namespace, "named_files", []) if self.many or f[1] != name]  # given again: replaced
        file = self.path(values) if self.path is not None else values
        namespace.named_files = [*kept, *([(self.role, name, file)] if file else [])]


class Reads(FileArgument):
    """A file the command reads: no output may name it."""

    role = "input"


class Writes(FileArgument):
    """A file the command writes: no input, and no other output, may name it."""

    role = "output"


class Updates(FileArgument):
    """A file the command reads and may write back (``label --extend`` adds to a set in place): read whole before
    the output is written atomically, so an output may name it."""

    role = "update"


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
