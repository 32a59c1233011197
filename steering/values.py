"""The one place that checks each kind of value a user gives: the CLI, the UI and the API all call these.

Every check raises ``InvalidValueError`` with a message that names the value and says what would be accepted, and
runs before anything is allocated: a layer range ``0:50000000`` is refused from its two numbers, never materialised.
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol, Sequence

from .errors import InvalidValueError


class Layered(Protocol):
    """What ``layer_range`` reads of a generator (any ``steering.models.Generator``)."""

    @property
    def num_layers(self) -> int: ...

    @property
    def layer_resolutions(self) -> list[int]: ...


#: Seeds are whole numbers a torch generator accepts.
MAX_SEED = 2**63 - 1
#: At most this many seeds in one list (a seeds parameter without its own bound).
MAX_SEEDS = 4096
#: Largest strength magnitude (latent units, steps or path positions). Far beyond any useful edit, and small enough
#: that a latent moved by it stays finite in float32 (an overflow would silently render a black image).
MAX_ABS_STRENGTH = 1e4
#: Smallest usable width of a strength range.
MIN_RANGE_WIDTH = 1e-6
#: The largest W+ layer count any architecture has (StyleGAN2 at 1024 px has 18); bounds lists read from files.
MAX_LAYERS = 1024

_LAYER_LIST = re.compile(r"\s*\d+(\s*,\s*\d+)*\s*,?\s*")
LAYER_GROUPS = ("all", "coarse", "middle", "fine")
LAYER_GRAMMAR = "all, coarse, middle, fine, a half-open range lo:hi, or a list 0,2,5"


def check_number(value: Any, what: str, low: float | None = None, high: float | None = None) -> float:
    """A finite real number (bools and non-numbers refused), optionally within ``[low, high]``."""
    if isinstance(value, bool):
        raise InvalidValueError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValueError(f"{what} must be a number, got {_short(value)}") from None
    if not math.isfinite(number):
        raise InvalidValueError(f"{what} must be a finite number, got {_short(value)}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidValueError(f"{what} must be in [{_g(low)}, {_g(high)}], got {number:g}")
    return number


def check_count(value: Any, what: str, low: int, high: int) -> int:
    """A whole number in ``[low, high]`` (``3.0`` is accepted, ``3.5`` is not)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number: float | int = value
    else:
        number = check_number(value, what)
        if not float(number).is_integer():
            raise InvalidValueError(f"{what} must be a whole number, got {_short(value)}")
    if not low <= number <= high:
        raise InvalidValueError(f"{what} must be a whole number in [{low}, {high}], got {int(number)}")
    return int(number)


def check_seed(value: Any) -> int:
    """A seed: a whole number in [0, 2⁶³ − 1]."""
    return check_count(value, "a seed", 0, MAX_SEED)


def check_seeds(items: Sequence[Any], at_most: int, what: str = "seeds") -> list[int]:
    """Seeds, each checked, at most ``at_most`` of them."""
    if len(items) > at_most:
        raise InvalidValueError(f"{what}: at most {at_most}, got {len(items)}")
    return [check_seed(item) for item in items]


def check_truncation(value: Any) -> float:
    """Truncation ψ in (0, 1]."""
    psi = check_number(value, "truncation ψ")
    if not 0.0 < psi <= 1.0:
        raise InvalidValueError(f"truncation ψ must be in (0, 1], got {psi:g}")
    return psi


def check_strength(value: Any, what: str = "a strength") -> float:
    """A finite strength with ``|s| ≤ MAX_ABS_STRENGTH``."""
    return check_number(value, what, -MAX_ABS_STRENGTH, MAX_ABS_STRENGTH)


def check_strength_range(low: Any, high: Any) -> tuple[float, float]:
    """A usable slider range: finite, ``low < high``, not degenerate, within ``±MAX_ABS_STRENGTH``."""
    lo, hi = check_strength(low, "the lowest strength"), check_strength(high, "the highest strength")
    if not hi - lo >= MIN_RANGE_WIDTH:
        raise InvalidValueError(f"a strength range needs low < high, got {lo:g} … {hi:g}")
    return lo, hi


def neutral_strength(strength_range: tuple[float, float]) -> float:
    """The slider value that edits least: 0, or the end of the range nearest to it when the range excludes 0.

    The initial slider value and the Reset button both use it, so they always agree."""
    low, high = strength_range
    return min(max(0.0, low), high)


def slider_grid(strength_range: tuple[float, float], steps: int = 200) -> tuple[float, float]:
    """``(minimum, step)`` of a slider over ``strength_range``: a two-digit step of about 1/``steps`` of the range,
    and the minimum moved down (by less than a step) onto a whole number of steps from the neutral strength. A
    browser's slider only stops at ``minimum + n·step``: so it can always come back to exactly neutral (0 leaves the
    image bit-identical)."""
    low, high = strength_range
    step = float(f"{(high - low) / steps:.2g}")
    if not step > 0:
        return low, step
    neutral = neutral_strength(strength_range)
    decimals = max(0, 1 - math.floor(math.log10(step)))
    minimum = round(neutral - math.ceil((neutral - low) / step - 1e-9) * step, decimals)
    return minimum, step


def parse_layers(value: Any) -> str | tuple[int, ...]:
    """A W+ layer selection as typed (CLI or UI): a group name or ``lo:hi`` (returned as text), or a list of indices.

    The model-dependent part (bounds, group contents) is ``layer_range``."""
    if isinstance(value, (list, tuple)):
        return tuple(check_count(v, "a layer index", 0, MAX_LAYERS - 1) for v in value)
    text = str("all" if value is None else value).strip().lower() or "all"
    if _LAYER_LIST.fullmatch(text):
        return tuple(check_count(int(part), "a layer index", 0, MAX_LAYERS - 1) for part in text.split(",") if part)
    if text in LAYER_GROUPS or re.fullmatch(r"\d*\s*:\s*\d*", text):
        return text
    raise InvalidValueError(f"layer selection {_short(value)} is not one of: {LAYER_GRAMMAR}")


def layer_range(generator: Layered, selection: Any) -> tuple[int, ...]:
    """Resolve a W+ layer selection (see ``parse_layers``) to sorted layer indices of ``generator``.

    Groups: ``coarse`` ≤ 8 px, ``middle`` 16–32 px, ``fine`` ≥ 64 px; ``lo:hi`` is half-open."""
    n = generator.num_layers
    parsed = parse_layers(selection)
    if isinstance(parsed, tuple):
        if any(i >= n for i in parsed):
            raise InvalidValueError(f"layer indices {list(parsed)} are outside [0, {n})")
        layers = tuple(sorted(set(parsed)))
    elif ":" in parsed:
        lo_text, hi_text = (part.strip() for part in parsed.split(":", 1))
        lo = int(lo_text) if lo_text else 0
        hi = int(hi_text) if hi_text else n
        if not 0 <= lo < hi <= n:  # checked on the two numbers, before any range exists
            raise InvalidValueError(f"layer range {parsed!r} is outside [0, {n}] or empty")
        layers = tuple(range(lo, hi))
    else:
        res = generator.layer_resolutions
        keep = {
            "all": lambda r: True,
            "coarse": lambda r: r <= 8,
            "middle": lambda r: 16 <= r <= 32,
            "fine": lambda r: r >= 64,
        }[parsed]
        layers = tuple(i for i in range(n) if keep(res[i]))
    if not layers:
        raise InvalidValueError(f"layer selection {_short(selection)} selects no layer of this {n}-layer model")
    return layers


def check_name(value: Any, what: str = "a name", max_length: int = 200) -> str:
    """A non-blank string of at most ``max_length`` characters (surrounding spaces removed)."""
    if not isinstance(value, str):
        raise InvalidValueError(f"{what} must be text, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidValueError(f"{what} cannot be empty")
    if len(text) > max_length:
        raise InvalidValueError(f"{what} is longer than {max_length} characters")
    return text


def check_names(values: Sequence[Any], what: str = "direction names") -> list[str]:
    """Non-blank, unique names (see ``check_name``)."""
    names = [check_name(v, f"each of the {what}") for v in values]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidValueError(f"{what} must be unique; {name!r} appears twice")
        seen.add(name)
    return names


def distinct_name(wanted: str, taken: Sequence[str]) -> str:
    """``wanted``, or ``wanted (2)``, ``wanted (3)``… when a name in ``taken`` already has it."""
    name, count = wanted, 1
    while name in taken:
        count += 1
        name = f"{wanted} ({count})"
    return name


def _g(value: float | None) -> str:
    return "…" if value is None else f"{value:g}"


def _short(value: Any, limit: int = 40) -> str:
    """``repr`` of a value, cut to ``limit`` characters (errors never echo a whole input)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "LAYER_GRAMMAR",
    "MAX_ABS_STRENGTH",
    "MAX_SEED",
    "check_count",
    "check_name",
    "check_names",
    "check_number",
    "check_seed",
    "check_strength",
    "check_strength_range",
    "check_truncation",
    "layer_range",
    "neutral_strength",
    "parse_layers",
]
