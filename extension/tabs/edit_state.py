"""What the Edit tab's inputs mean in core terms: the starting point, the stack of controls and their strengths.

The tab moves along a *stack*: the current control set (discovered, uploaded or pulled; any kind) and the
interpolation from the starting point towards a target seed (a path control). Sliders are drawn from each control's
own ``slider()`` spec; nothing here knows one kind from another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .. import compat
from ..core import controls, errors, methods, values
from ..core import models as core_models
from ..core import start as start_module
from ..session import directions_store
from .common import directions_summary, in_box, md

if TYPE_CHECKING:
    from ..settings import UISettings

#: How many inputs the Edit tab's handlers read first: model, set, start, seed, ψ, class, noise, walk, target, path.
STATE_INPUTS = 10

#: The class picker's choice for "the class the seed draws" (class-conditional models).
SEED_CLASS = "from the seed"

NO_DIRECTIONS = (
    "No directions yet: discover them in the Discover tab, load a direction file below or pull from the Hub."
)
DEFAULT_SWEEP_ROWS = 3
#: What an error says when the loaded starting point is no longer held, and what to do.
START_GONE = (
    "the starting point (latents file) is",
    "upload it again, or press 🎲 or type a seed to start from a seed",
)


@dataclass
class View:
    """The Edit tab's state for one request (from its inputs)."""

    model: Any
    start: Any  # steering.start.Seed or LatentsFile
    current: Any | None  # the current control set, or None
    info: str  # what the info box says about it
    interpolation: Any  # the path towards the target seed
    walk: str

    @property
    def stack(self) -> list[Any]:
        return [c for c in (self.current, self.interpolation) if c is not None]

    def latents(self, controls: Sequence[Any] | None = None) -> Any:
        """The starting point's latents in the space ``controls`` (default: the whole stack) need."""
        return self.start.latents(self.model, self.stack if controls is None else controls)


def class_choices(model: Any) -> list[str]:
    """The class picker's choices: the seed's own class, then ``"index name"`` per class (the picker is hidden for a
    model without classes; its one choice keeps any value a page sends valid)."""
    return [SEED_CLASS, *(f"{i} {name}" for i, name in enumerate(model.class_names if model.num_classes else []))]


def class_index_of(choice: Any) -> int | None:
    """The class index behind a picker choice (``None``: the seed's own class)."""
    text = str(choice or "").strip()
    if not text or text == SEED_CLASS:
        return None
    return values.check_count(text.split()[0], "the class", 0, 1 << 20)


def class_choice(model: Any, class_index: int | None) -> str:
    """The picker choice for ``class_index`` (what a restored recipe shows)."""
    return SEED_CLASS if class_index is None else class_choices(model)[1 + int(class_index)]


def starting_point(model: Any, start_key: str | None, seed: Any, truncation: Any, klass: Any, noise: Any) -> Any:
    """A latents file the user loaded (its key in the store), else the seed with its truncation, class and noise."""
    if start_key:
        found = directions_store.get(start_key, *START_GONE)
        found.latents(model)  # the model check: a file for another model is refused
        return found
    class_index = class_index_of(klass) if model.num_classes else None
    return start_module.Seed(
        in_box("Seed", values.check_seed, seed),
        in_box("Truncation ψ", values.check_truncation, truncation),
        class_index,
        core_models.Noise(noise or "const"),
    )


def current_set(model: Any, key: str | None, max_sliders: int, strict: bool) -> tuple[Any | None, str]:
    """The current control set if it fits ``model``, and what to say about it. ``strict``: a set that is gone or
    does not fit is an error (a render must never silently ignore the sliders) instead of a message."""
    if not key:
        return None, NO_DIRECTIONS
    found = directions_store.get(key) if strict else directions_store.find(key)
    if found is None:
        return None, "⚠️ The directions of this page are no longer in memory: discover or load them again."
    try:
        found.check_compatible(model)
    except errors.DirectionsMismatchError as exc:
        if strict:
            raise
        return None, f"⚠️ The current directions do not fit the loaded model: {md(exc)}"
    shown = min(len(found), max_sliders)
    more = f" (sliders for the first {shown})" if shown < len(found) else ""
    return found, directions_summary(found) + more


def interpolation_towards(model: Any, start: Any, target: Any, mode: Any) -> Any:
    """The path from the starting point to the target seed's sample (the method ``interpolation`` for a seed)."""
    target_seed = in_box("Target seed", values.check_seed, target if target not in (None, "") else 0)
    mode = str(mode or "slerp")
    if isinstance(start, start_module.Seed):
        seeds = [start.seed, target_seed]
        options = {"seeds": seeds, "truncation": start.truncation, "interpolation": mode}
        return methods.method("interpolation").run(model, {**options, "class_index": start.class_index})
    end = model.sample(1, seed=target_seed, truncation=start.stored.truncation)
    begin = start.latents(model)
    if begin.space != end.space:  # a style-based model's start in z (the Local Basis traversals move z)
        begin = model.to_space(begin, end.space)
    return controls.PathControl.between(
        begin,
        end,
        model.identity,
        interpolation=mode,
        name=f"start → seed {target_seed}",
        params={"from": "latents", "to_seed": target_seed, "interpolation": mode},
    )


def view_of(
    settings: UISettings,
    model: Any,
    key: str | None,
    start_key: str | None,
    seed: Any,
    truncation: Any,
    klass: Any,
    noise: Any,
    walk: Any,
    target: Any,
    mode: Any,
    *,
    strict: bool,
) -> View:
    start = starting_point(model, start_key, seed, truncation, klass, noise)
    current, info = current_set(model, key, settings.max_sliders, strict)
    walk = str(walk or "linear")
    if current is None or walk not in current.walks:  # the picker kept a walk the new set does not offer
        walk = "linear"
    return View(model, start, current, info, interpolation_towards(model, start, target, mode), walk)


def strengths_for(view: View, sliders: Sequence[Any], towards: Any, max_sliders: int) -> list[list[float]]:
    """One strength list per control in ``view.stack`` from the slider values (controls beyond the sliders: 0)."""
    table = []
    if view.current is not None:
        row = [0.0] * len(view.current)
        for i, value in enumerate(list(sliders)[: min(len(row), max_sliders)]):
            row[i] = 0.0 if value is None else values.check_strength(value, f"slider {i + 1}")
        table.append(row)
    table.append([0.0 if towards in (None, "") else values.check_strength(towards, "the interpolation")])
    return table


def neutral_strengths(view: View) -> list[list[float]]:
    """Every slider at its neutral value (what the tab shows first and what Reset returns to)."""
    return [[c.slider(i).neutral for i in range(len(c))] for c in view.stack]


def slider_updates(current: Any | None, max_sliders: int, strengths: Sequence[float] | None = None) -> list[Any]:
    """One update per slider: label, range, step and value from each control's ``slider()`` spec."""
    shown = 0 if current is None else min(len(current), max_sliders)
    updates = []
    for i in range(shown):
        spec = current.slider(i)
        value = spec.neutral if strengths is None else strengths[i]
        label = spec.label + (f" · ends at {spec.end_point:g}" if spec.end_point is not None else "")
        updates.append(
            compat.update(
                visible=True, label=label, minimum=spec.minimum, maximum=spec.maximum, step=spec.step, value=value
            )
        )
    return updates + [compat.update(visible=False, value=0.0) for _ in range(max_sliders - shown)]


def pickable(view: View) -> list[str]:
    """Labels of every control of the stack, for the sweep and animation pickers (``"set.index: name"``)."""
    return [f"{s}.{i}: {c.names[i]}" for s, c in enumerate(view.stack) for i in range(len(c))]


def still_picked(labels: list[str], held: Any) -> list[str]:
    """The current labels of what a picker still holds (``held``: one label or several, perhaps under an old name of
    the same ``"set.index"``, such as an interpolation named after the previous seed)."""
    held = [held] if isinstance(held, str) else list(held or [])
    by_key = {label.split(":", 1)[0]: label for label in labels}
    return [by_key[key] for key in (str(h).split(":", 1)[0] for h in held) if key in by_key]


def picked(view: View, labels: Any) -> list[tuple[Any, int]]:
    """The (control, index) pairs behind picker labels."""
    import re

    labels = [labels] if isinstance(labels, str) else list(labels or [])
    if not labels:
        raise errors.InvalidValueError("choose at least one direction")
    out = []
    for label in labels:
        match = re.match(r"\s*(\d+)\.(\d+)\s*:", str(label))
        if not match or int(match.group(1)) >= len(view.stack):
            raise errors.InvalidValueError(f"{str(label)[:40]!r} is not one of the directions shown")
        control = view.stack[int(match.group(1))]
        out.append((control, values.check_count(match.group(2), "the direction", 0, len(control) - 1)))
    return out


def walk_choices(view: View) -> list[str]:
    """The walks the current set offers (the control says so: straight, great circle, small circle)."""
    return list(view.current.walks) if view.current is not None else ["linear"]
