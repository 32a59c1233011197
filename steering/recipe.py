"""Recipes: every PNG the project saves says how it was made, so ``replay`` makes the same pixels again.

The recipe travels in the PNG as a text chunk ``gan-steering`` (JSON), beside a one-line ``parameters`` chunk that
image viewers and webuis show as "PNG info". It names the model (spec and weights sha256), the starting point (seed,
truncation, class and noise, or the sha256 of a latents file), each control file (content sha256, kind, method and
parameters, file name) with its strengths, the walk, and the display scale. ``replay`` finds the controls again from
files you give it, from the files the recipe names (beside the PNG), or by recomputing them with the method and
parameters recorded (cached bases make that instant); each must match its sha256.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from PIL import Image, PngImagePlugin

from . import edit, metadata
from .controls import WALKS, Control, load_control
from .errors import CancelledError, CorruptFileError, InvalidValueError, SteeringError
from .io import save_image
from .models.base import Generator, Latents, Noise
from .start import LatentsFile, Seed, load_latents, summarize
from .values import check_count, check_name, check_seed, check_strength, check_truncation

KEY = "gan-steering"
VERSION = 1
LAYOUTS = ("sweep", "seeds")


class RecipeError(CorruptFileError):
    """An image carries no recipe, or one that cannot be read or replayed."""


class ControlsNotFoundError(RecipeError):
    """A recipe's controls (``method``, saved as ``file``) are not among the files given nor beside the image, and
    recomputing them does not give the same sha256: their file is needed (the message says how on the command line)."""

    def __init__(self, method: str, file: str | None) -> None:
        self.method, self.file = method, file
        super().__init__(
            f"the {method} controls of this image ({file or 'no file name'}) were not found and cannot be "
            "recomputed to the same sha256: pass their file with --directions"
        )


@dataclass
class Recipe:
    """How an image was made (see the module docstring for the fields)."""

    model: dict[str, Any]
    start: dict[str, Any]
    controls: list[dict[str, Any]] = field(default_factory=list)
    walk: str = "linear"
    scale: int = 1
    #: ``None``: one edited image; ``{"type": "sweep", "control", "indices", "strengths", "labels"}``: a sweep grid
    #: of one control file from the start (``labels``: its rows' names as drawn; a renamed file replays the same
    #: picture); ``{"type": "seeds", "seeds"}``: the same edit on a row of seeds.
    layout: dict[str, Any] | None = None

    def to_json(self) -> str:
        data = {"version": VERSION, "model": self.model, "start": self.start, "controls": self.controls}
        data.update(walk=self.walk, scale=self.scale, layout=self.layout)
        return json.dumps(data, sort_keys=True, ensure_ascii=False)

    def summary(self) -> str:
        """One line, like a webui's "parameters"."""
        where = summarize(self.start)
        moves = "; ".join(
            f"{c.get('method', '?')}[{', '.join(f'{i}={v:g}' for i, v in enumerate(c['strengths']) if v)}]"
            for c in self.controls
            if any(c["strengths"])
        )
        return f"{self.model.get('name', '?')}, {where}" + (f"; {moves}" if moves else "") + f"; walk {self.walk}"

    @classmethod
    def from_json(cls, text: str, origin: str = "image") -> Recipe:
        """A recipe read from an image: every field checked (types, bounds), anything else is a ``RecipeError``."""
        data = metadata.check_json_object(metadata.parse_json(text, KEY, origin, RecipeError), KEY, origin, RecipeError)
        if data.get("version") != VERSION:
            raise RecipeError(
                f"{origin} carries a recipe of version {str(data.get('version'))[:20]!r}; this release reads {VERSION}"
            )
        where = _Where(origin)
        controls = [_control_entry(entry, where) for entry in _items(data.get("controls", []), "controls", where)]
        walk = where.typed(data, "walk", str, "linear")
        if walk not in WALKS:
            raise where.error(f"its walk must be one of {', '.join(WALKS)}")
        scale = where.typed(data, "scale", int, 1)
        if not 1 <= scale <= 64:
            raise where.error("its display scale is not a whole number in [1, 64]")
        layout = _layout(data.get("layout"), len(controls), where)
        return cls(_model(data.get("model"), where), _start(data.get("start"), where), controls, walk, scale, layout)


# ----- checking a recipe read from a file ---------------------------------------------------------------------------
#: At most this many control files in one recipe, and this many numbers in one of its lists.
MAX_CONTROLS = 64
MAX_ITEMS = 4096


@dataclass(frozen=True)
class _Where:
    """Where a recipe came from, for its errors."""

    origin: str

    def error(self, message: str) -> RecipeError:
        return RecipeError(f"{self.origin}: the recipe is malformed: {message}")

    def typed(self, data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        """``data[key]`` checked to be of ``kind`` (missing: ``default``, or an error when there is none)."""
        if key not in data:
            if default is ...:
                raise self.error(f"{key!r} is missing")
            return default
        if not metadata.is_kind(data[key], kind):
            raise self.error(f"{key!r} must be {metadata.describe(kind)}, got {type(data[key]).__name__}")
        return data[key]

    def value(self, check: Callable[[Any], Any], value: Any) -> Any:
        """``check(value)`` with its ``InvalidValueError`` as a ``RecipeError``."""
        try:
            return check(value)
        except InvalidValueError as exc:
            raise self.error(str(exc)) from None


def _object(value: Any, what: str, where: _Where) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise where.error(f"{what} must be an object, got {type(value).__name__}")
    return value


def _items(value: Any, what: str, where: _Where, limit: int = MAX_CONTROLS) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise where.error(f"{what} must be a list of at most {limit} items")
    return value


def _numbers(value: Any, what: str, where: _Where, check: Callable[[Any], Any], kind: type = float) -> list[Any]:
    """A list of JSON numbers (``kind``), each passed through one of the core's value checks."""
    items = _items(value, what, where, MAX_ITEMS)
    if not all(metadata.is_kind(item, kind) for item in items):
        raise where.error(f"{what} must be a list of {metadata.describe(kind)}s")
    return [where.value(check, item) for item in items]


def _sweep_index(value: Any) -> int:
    return check_count(value, "a sweep index", 0, MAX_ITEMS)


def _model(value: Any, where: _Where) -> dict[str, Any]:
    model = _object(value, "the model", where)
    metadata.check_sha256(model.get("sha256"), "the model's sha256", where.origin, RecipeError)
    where.typed(model, "name", str, None)
    where.typed(model, "spec", (str, type(None)), None)
    return model


def _start(value: Any, where: _Where) -> dict[str, Any]:
    start = _object(value, "the starting point", where)
    if "seed" not in start:
        metadata.check_sha256(start.get("latents_sha256"), "the latents file's sha256", where.origin, RecipeError)
        where.typed(start, "file", (str, type(None)), None)
        return start
    where.value(check_seed, where.typed(start, "seed", int))
    where.value(check_truncation, where.typed(start, "truncation", float, 1.0))
    if where.typed(start, "class_index", (int, type(None)), None) is not None:
        where.value(lambda index: check_count(index, "the class index", 0, 1 << 20), start["class_index"])
    noise = _object(start.get("noise") or {}, "the noise", where)
    where.value(Noise.from_description, noise)
    return start


def _control_entry(value: Any, where: _Where) -> dict[str, Any]:
    entry = _object(value, "each control", where)
    metadata.check_sha256(entry.get("sha256"), "a control's sha256", where.origin, RecipeError)
    for key in ("kind", "method"):
        where.typed(entry, key, str, None)
    where.typed(entry, "file", (str, type(None)), None)
    where.typed(entry, "params", dict, {})
    _numbers(where.typed(entry, "strengths", list), "a control's strengths", where, check_strength)
    return entry


def _layout(value: Any, controls: int, where: _Where) -> dict[str, Any] | None:
    if value is None:
        return None
    layout = _object(value, "the layout", where)
    if layout.get("type") not in LAYOUTS:
        raise where.error(f"its layout is not one of {', '.join(LAYOUTS)}")
    if layout["type"] == "seeds":
        if not _numbers(where.typed(layout, "seeds", list), "the seeds", where, check_seed, int):
            raise where.error("the seeds of its row are empty")
        return layout
    index = where.typed(layout, "control", int)
    if not 0 <= index < controls:
        raise where.error(f"its sweep shows control file {index}, not one of the {controls} it names")
    indices = _numbers(where.typed(layout, "indices", list), "the sweep's indices", where, _sweep_index, int)
    _numbers(where.typed(layout, "strengths", list), "the sweep's strengths", where, check_strength)
    labels = layout.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or len(labels) != len(indices):
            raise where.error("its sweep's row labels do not match its rows")
        layout["labels"] = [where.value(lambda v: check_name(v, "a row label"), label) for label in labels]
    return layout


def sweep_layout(control: Control, indices: Sequence[int], strengths: Sequence[float]) -> dict[str, Any]:
    """The layout of a sweep grid of ``control`` (the first control of its recipe), with its rows' names as drawn."""
    labels = [control.names[i] for i in indices]
    return {"type": "sweep", "control": 0, "indices": list(indices), "strengths": list(strengths), "labels": labels}


def recipe_for(
    generator: Generator,
    start: Seed | LatentsFile,
    controls: Sequence[Control],
    strengths: Sequence[Sequence[float]],
    *,
    walk: str = "linear",
    scale: int = 1,
    files: Sequence[str | None] | None = None,
    layout: dict[str, Any] | None = None,
) -> Recipe:
    """The recipe of an edit (``files``: the control files' names, where there are files)."""
    from .share import model_spec

    entries = []
    for i, (control, values) in enumerate(zip(controls, strengths, strict=True)):
        entries.append(
            {
                "sha256": control.content_hash(),
                "kind": control.kind,
                "method": control.method,
                "params": control.params,
                "file": None if not files else files[i],
                "strengths": [float(v) for v in values],
            }
        )
    identity = generator.identity
    model = {"name": identity.name, "spec": model_spec(identity), "sha256": identity.sha256}
    return Recipe(model, start.describe(), entries, walk, scale, layout)


def png_info(recipe: Recipe) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, recipe.to_json())
    info.add_itxt("parameters", recipe.summary())
    return info


def save_png(image: Image.Image, path: str | os.PathLike[str], recipe: Recipe) -> Path:
    """A PNG with its recipe, written atomically."""
    return save_image(image, path, format="PNG", pnginfo=png_info(recipe))


def read_recipe(path: str | os.PathLike[str]) -> Recipe:
    """The recipe a PNG carries (``RecipeError`` when it has none or is not a readable PNG)."""
    try:
        with Image.open(path) as image:
            text = getattr(image, "text", {}).get(KEY)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RecipeError(f"{Path(path).name} is not a readable image ({type(exc).__name__})") from None
    if text is None:
        raise RecipeError(
            f"{Path(path).name} carries no gan-steering recipe: only PNGs saved by gan-steering can be replayed"
        )
    return Recipe.from_json(text, Path(path).name)


def start_of(recipe: Recipe, generator: Generator, folder: Path | None = None, latents: Sequence[Path] = ()):
    """The starting point a recipe names: its seed, or a latents file (given, or named beside the image)."""
    start = recipe.start
    if "seed" in start:
        noise = start.get("noise") or {}
        return Seed(
            start["seed"], start.get("truncation", 1.0), start.get("class_index"), Noise.from_description(noise)
        )
    wanted = start.get("latents_sha256")
    candidates = list(latents) + ([folder / Path(start["file"]).name] if folder and start.get("file") else [])
    for path in candidates:
        if Path(path).is_file():
            found = load_latents(path, generator)
            if found.describe()["latents_sha256"] == wanted:
                return found
    raise RecipeError(f"the image starts from a latents file ({start.get('file')!r}): pass it with --latents")


def controls_of(
    recipe: Recipe,
    generator: Generator,
    folder: Path | None = None,
    files: Sequence[Path] = (),
    progress: Callable[[int, int], None] | None = None,
) -> list[Control]:
    """Each control the recipe names, found in ``files``, beside the image, or recomputed (``progress(done, total)``
    where the method reports it; it may raise to cancel); checked by sha256."""
    from .methods import METHODS

    given = []
    for path in files:
        given.append(load_control(path, generator))
    found = []
    for entry in recipe.controls:
        match = next((c for c in given if c.content_hash() == entry.get("sha256")), None)
        if match is None and folder is not None and isinstance(entry.get("file"), str):
            beside = folder / Path(entry["file"]).name
            if beside.is_file():
                try:
                    candidate = load_control(beside, generator)
                except SteeringError:
                    candidate = None
                if candidate is not None and candidate.content_hash() == entry.get("sha256"):
                    match = candidate
        if match is None and entry.get("method") in METHODS and isinstance(entry.get("params"), dict):
            method = METHODS[entry["method"]]
            try:
                candidate = method.call(generator, _method_options(entry["params"]), progress=progress)
            except CancelledError:
                raise
            except (SteeringError, TypeError):
                candidate = None
            if candidate is not None and candidate.content_hash() == entry.get("sha256"):
                match = candidate
        if match is None:
            file = entry.get("file")
            raise ControlsNotFoundError(str(entry.get("method", "?")), file if isinstance(file, str) else None)
        found.append(match)
    return found


def _method_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """Recorded parameters as keywords (``layers`` were recorded resolved: a list of indices)."""
    return {key: value for key, value in params.items() if key != "dim"}


def replay(
    path: str | os.PathLike[str],
    generator: Generator,
    *,
    directions: Sequence[Path] = (),
    latents: Sequence[Path] = (),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Image.Image, Recipe]:
    """Make the image a PNG's recipe describes again (same model, start, controls, strengths and walk);
    ``progress`` follows the recomputation of controls that are not found (see ``controls_of``)."""
    recipe = read_recipe(path)
    if recipe.model.get("sha256") != generator.identity.sha256:
        raise RecipeError(
            f"the image was made with {recipe.model.get('name')!r} (sha256 {str(recipe.model.get('sha256'))[:12]}…); "
            f"load that model ({recipe.model.get('spec')}) to replay it"
        )
    folder = Path(path).parent
    start = start_of(recipe, generator, folder, latents)
    controls = controls_of(recipe, generator, folder, directions, progress)
    image = render_recipe(recipe, generator, start, controls)
    if recipe.scale > 1:
        image = image.resize((image.width * recipe.scale, image.height * recipe.scale), Image.Resampling.NEAREST)
    return image, recipe


def render_recipe(recipe: Recipe, generator: Generator, start: Seed | LatentsFile, controls: Sequence[Control]):
    """The picture a recipe's layout describes, from its resolved start and controls (``edit``'s own functions)."""
    from . import render

    layout = recipe.layout or {}
    strengths = [c["strengths"] for c in recipe.controls]
    # an image made before a walk no control offered was refused: it was drawn with straight moves
    walk = recipe.walk if any(recipe.walk in c.walks for c in controls) else "linear"
    if layout.get("type") == "sweep":
        control = controls[int(layout.get("control", 0))]
        return edit.sweep(
            generator,
            start.latents(generator, [control]),
            control,
            layout["indices"],
            layout["strengths"],
            walk=walk,
            row_labels=layout.get("labels"),
        )
    if layout.get("type") == "seeds":
        seeds = [dataclasses.replace(start, seed=seed) for seed in layout["seeds"]]
        latents = Latents.cat([seed.latents(generator, controls) for seed in seeds])
        moved = edit.apply(generator, latents, controls, strengths, walk=walk) if controls else latents
        images = edit.render(generator, moved)
        return render.grid(images, columns=len(images), column_labels=[f"seed {s}" for s in layout["seeds"]])
    moved = start.latents(generator, controls)
    if controls:
        moved = edit.apply(generator, moved, controls, strengths, walk=walk)
    return edit.render(generator, moved)[0]


__all__ = [
    "KEY",
    "Recipe",
    "RecipeError",
    "png_info",
    "read_recipe",
    "recipe_for",
    "replay",
    "save_png",
    "sweep_layout",
]
