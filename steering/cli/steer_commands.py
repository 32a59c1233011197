"""Commands of the geometric methods: ``steer`` (closed-form shift, zoom, turn and flip controls with their trajectory
strip) and ``transfer`` (a target sample takes a source's principal coordinates). Their options are the methods' own
parameters (``steering.methods``), as in ``discover``."""

from __future__ import annotations

import argparse
from typing import Any

from .. import edit, recipe, render
from ..io import save_image
from ..methods import Method, method
from ..models.base import Latents
from ..text import counted
from .console import Console, echo
from .shared import image_output, load_model, numbers, output, shown_default, start_point

#: ``steer`` takes the sample's class from ``--class-index`` (the start); the controls follow each latent's class.
STEER_SKIPS = ("class_index",)


def add_options_of(parser: argparse.ArgumentParser, name: str, skip: tuple[str, ...] = ()) -> None:
    """One option per parameter of method ``name`` (its flags, help and default from the method table)."""
    for parameter in method(name).parameters:
        if parameter.name in skip:
            continue
        default = "" if parameter.default in (None, [], ()) else f" (default {shown_default(parameter.default)})"
        choices = f"; one or more of {', '.join(parameter.choices)}" if parameter.type == "choices" else ""
        parser.add_argument(*parameter.cli_flags, dest=parameter.name, help=f"{parameter.help}{default}{choices}")


def _given(args: argparse.Namespace, chosen: Method) -> dict[str, Any]:
    return {p.name: getattr(args, p.name) for p in chosen.parameters if getattr(args, p.name, None) is not None}


def cmd_steer(args: argparse.Namespace, console: Console) -> int:
    chosen = method("steerability")
    out = output(args.output, (".safetensors",), "the control file", args)
    strip = image_output(args.strip, args) if args.strip else None
    generator = load_model(args, console)
    options = {k: v for k, v in _given(args, chosen).items() if k not in STEER_SKIPS}
    control = chosen.run(generator, options)
    control.save(out)
    echo(f"steerability ({control.kind}): {counted(len(control), 'control')} for {control.model.name}")
    for i, name in enumerate(control.names):
        low, high = control.range_of(i)
        end = control.slider(i).end_point
        ends = f", natural end-point at {end:g}" if end is not None else ""
        echo(f"  {i}: {name}: strengths {low:g} … {high:g}{ends}")
    echo(f"saved {out}")
    if strip is not None:
        start = start_point(args, generator)
        low = min(control.range_of(i)[0] for i in range(len(control)))
        high = max(control.range_of(i)[1] for i in range(len(control)))
        strengths = through_zero(low, high, args.steps)
        indices = list(range(len(control)))
        with console.progress("rendering the trajectories", unit="image") as progress:
            grid = edit.sweep(generator, start.latents(generator, [control]), control, indices, strengths, progress)
        layout = recipe.sweep_layout(control, indices, strengths)
        made = recipe.recipe_for(generator, start, [control], [[0.0] * len(control)], files=[out.name], layout=layout)
        recipe.save_png(grid, strip, made)
        wider = [name for i, name in enumerate(control.names) if control.range_of(i) != (low, high)]
        beyond = f"; the rows of {', '.join(wider)} go beyond their own ranges (above)" if wider else ""
        echo(
            f"{strip}: one row per transformation, every row at strengths {numbers(strengths, 3)} "
            f"({low:g} … {high:g}: the controls' ranges together){beyond}"
        )
    return 0


def through_zero(low: float, high: float, steps: int) -> list[float]:
    """``steps`` strengths from ``low`` to ``high``; where the range spans 0 (the start), 0 is one of them and each
    side is evenly spaced, with a share of the columns as large as its share of the range."""
    if not low < 0 < high or steps < 3:
        return edit.strengths_between(low, high, steps)
    below = min(max(round((steps - 1) * -low / (high - low)), 1), steps - 2)
    return edit.strengths_between(low, 0, below + 1)[:-1] + edit.strengths_between(0, high, steps - below)


def cmd_transfer(args: argparse.Namespace, console: Console) -> int:
    chosen = method("transfer")
    out = image_output(args.output, args)
    saved = output(args.save, (".safetensors",), "the control file", args) if args.save else None
    generator = load_model(args, console)
    path = chosen.run(generator, _given(args, chosen))
    params = path.params
    source = generator.sample(
        1, seed=params["source_seed"], truncation=params["truncation"], class_index=params["source_class"]
    )
    target = generator.sample(
        1, seed=params["target_seed"], truncation=params["truncation"], class_index=params["target_class"]
    )
    result = edit.apply(generator, target, path, [1.0])
    images = edit.render(generator, Latents.cat([source, target, result]))
    labels = ["source", "target", f"target ← source ({counted(len(params['directions']), 'dir')})"]
    save_image(render.grid(images, columns=3, column_labels=labels), out)  # atomic: an interruption keeps the old
    if saved is not None:
        path.save(saved)
        echo(f"saved the transfer path (a slider from the target to the result) as {saved}")
    echo(f"{out}: source seed {params['source_seed']}, target seed {params['target_seed']}, result")
    return 0
