"""The table of methods: what each one is called, what it computes, the kind of control it produces, its parameters
(types, defaults, limits) and what its values mean. The CLI and the Discover tab are built from it: a new method is
one ``Method`` entry, with no branch in either."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import InvalidValueError
from ..values import MAX_SEEDS, check_count, check_name, check_number, check_seeds, parse_layers

if TYPE_CHECKING:
    from ..controls import Control
    from ..models.base import Generator

#: Parameter types: how a value typed in the CLI or the UI is read.
TYPES = ("int", "float", "bool", "text", "choice", "choices", "layers", "feature", "seeds")


@dataclass(frozen=True)
class Parameter:
    """One keyword of a method function."""

    name: str
    type: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # CLI spellings; default ``--name-with-dashes``
    #: Choices that depend on the model (a "choice" read from the generator, e.g. its scales); checked by the method.
    model_options: Callable[[Generator], list[str]] | None = None

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"parameter type must be one of {TYPES}, got {self.type!r}")

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.flags or ("--" + self.name.replace("_", "-"),)

    @property
    def depends_on_model(self) -> bool:
        """Whether ``options`` changes with the model (the UI refreshes those pickers when a model loads)."""
        return self.model_options is not None or self.type == "feature"

    def parse(self, value: Any) -> Any:
        """The value checked by the core's value checks (``None`` or ``""``: the default)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.default
        what = f"{self.help[0].lower()}{self.help[1:]}" if self.help else self.name
        if self.type == "int":
            low = int(self.minimum) if self.minimum is not None else -(2**63)
            high = int(self.maximum) if self.maximum is not None else 2**63 - 1
            return check_count(value, what, low, high)
        if self.type == "float":
            return check_number(value, what, self.minimum, self.maximum)
        if self.type == "bool":
            return _boolean(value, what)
        if self.type == "layers":
            return parse_layers(value)
        if self.type == "choices":
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            chosen = [str(item).strip() for item in items if str(item).strip()]
            unknown = [item for item in chosen if item not in self.choices and not _composed(item, self.choices)]
            if unknown:
                raise InvalidValueError(f"{what}: {', '.join(unknown)[:80]} not among {', '.join(self.choices)}")
            return chosen
        if self.type == "seeds":
            items = value if isinstance(value, (list, tuple)) else str(value).replace(" ", "").split(",")
            return check_seeds([item for item in items if str(item).strip()], int(self.maximum or MAX_SEEDS), what)
        text = check_name(str(value), what)
        if self.type == "feature":
            return None if text == FEATURE_DEFAULT else text
        if self.type == "choice" and self.model_options is None and text not in self.choices:
            raise InvalidValueError(f"{what} must be one of {', '.join(self.choices)}, got {text[:40]!r}")
        return text

    def as_text(self, value: Any = None) -> str:
        """``value`` (default: the parameter's default) as typed into a text field: lists comma-separated (what
        ``parse`` reads back), no default as an empty field."""
        value = self.default if value is None else value
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ", ".join(str(item) for item in value)
        return str(value)

    def options(self, generator: Generator | None) -> list[str]:
        """The choices to offer (a feature picker lists the model's named features)."""
        if self.model_options is not None:
            return [str(self.default)] if generator is None else self.model_options(generator) or [str(self.default)]
        if self.type in ("choice", "choices"):
            return list(self.choices)
        if self.type == "feature":
            names = [] if generator is None else [n for n in generator.feature_names() if n != "image"]
            return [FEATURE_DEFAULT, *names]
        if self.type == "layers":
            return ["all", "coarse", "middle", "fine"]
        return []


#: What a "feature" parameter shows for "the method's own default".
FEATURE_DEFAULT = "default"

#: Parameters several methods take (the same name means the same parameter everywhere).
NUM_DIRECTIONS = Parameter(
    "num_directions", "int", 10, "Number of directions", minimum=1, flags=("-k", "--num-directions")
)
CLASS_INDEX = Parameter(
    "class_index", "int", None, "Class index (class-conditional models; empty: each seed's own)", minimum=0
)
LAYERS = Parameter("layers", "layers", "all", "W+ layers: all, coarse, middle, fine, lo:hi or 0,2,5")


@dataclass(frozen=True)
class Method:
    """One steering method."""

    name: str
    title: str
    function: Callable[..., Control]
    kind: str  # the kind of control it produces
    parameters: tuple[Parameter, ...]
    value_label: str | None = None  # what ``Control.values`` hold ("eigenvalues", "variances", …)
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: A short account of a set it made, for people (the UI's line about the set); ``None``: its parameters listed.
    summary: Callable[[Control], str] | None = None

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise InvalidValueError(f"{self.name} has no parameter {name!r}")

    def run(
        self,
        generator: Generator,
        options: Mapping[str, Any] | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        use_cache: bool = True,
    ) -> Control:
        """Check ``options`` (names and values) and compute; ``progress(done, total)`` where the method reports it."""
        kwargs = {p.name: p.default for p in self.parameters}
        for name, value in (options or {}).items():
            kwargs[name] = self.parameter(name).parse(value)
        return self.call(generator, kwargs, progress=progress, use_cache=use_cache)

    def call(
        self,
        generator: Generator,
        kwargs: Mapping[str, Any],
        *,
        progress: Callable[[int, int], None] | None = None,
        use_cache: bool = True,
    ) -> Control:
        """The method's function on ``kwargs`` as they are (already checked, e.g. recorded in a recipe), with
        ``progress`` and ``use_cache`` where it takes them."""
        accepted = inspect.signature(self.function).parameters
        extra: dict[str, Any] = {}
        if "progress" in accepted:
            extra["progress"] = progress
        if "use_cache" in accepted:
            extra["use_cache"] = use_cache
        return self.function(generator, **kwargs, **extra)


def _composed(item: str, choices: tuple[str, ...]) -> bool:
    """A composition of choices written ``a∘b`` or ``a*b``."""
    parts = item.replace("*", "∘").split("∘")
    return len(parts) > 1 and all(part.strip() in choices for part in parts)


def _boolean(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidValueError(f"{what} must be true or false, got {str(value)[:40]!r}")


def all_parameters(methods: Mapping[str, Method]) -> dict[str, Parameter]:
    """Every parameter of every method by name (the same name means the same parameter everywhere)."""
    union: dict[str, Parameter] = {}
    for method in methods.values():
        for parameter in method.parameters:
            known = union.setdefault(parameter.name, parameter)
            if known.type != parameter.type or known.cli_flags != parameter.cli_flags:
                raise ValueError(f"parameter {parameter.name!r} differs between methods")
    return union


__all__ = [
    "CLASS_INDEX",
    "FEATURE_DEFAULT",
    "LAYERS",
    "NUM_DIRECTIONS",
    "TYPES",
    "Method",
    "Parameter",
    "all_parameters",
]
