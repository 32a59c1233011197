"""Commands that render: ``edit``, ``sweep``, ``animate``, ``replay``; and ``latents``, which saves a starting point.
Every PNG they write carries its recipe (see ``steering.recipe``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import edit, recipe, render
from ..errors import InvalidValueError
from ..models.base import Latents
from ..start import save_latents, summarize
from ..text import counted
from .console import Console, echo
from .shared import (
    control_index,
    image_output,
    inputs,
    load_controls,
    load_model,
    not_an_input,
    output,
    start_point,
    strengths_of,
    walk,
)


def _save(image, path: Path, made: recipe.Recipe) -> None:
    """PNGs carry their recipe; other formats are written as they are."""
    if path.suffix.lower() == ".png":
        recipe.save_png(image, path, made)
    else:
        from ..io import save_image

        save_image(image, path)


def _files(args: argparse.Namespace) -> list[str]:
    return [Path(p).name for p in args.directions]


def cmd_edit(args: argparse.Namespace, console: Console) -> int:
    out = image_output(args.output, args)
    if args.seeds is not None and args.seed is not None:
        raise InvalidValueError("give either --seed or --seeds, not both")
    seeds = args.seeds if args.seeds is not None else [None]
    one_file = args.row or len(seeds) == 1
    outputs = [out] if one_file else [out.with_name(f"{out.stem}-seed{seed}{out.suffix}") for seed in seeds]
    for path in outputs:
        not_an_input(path, inputs(args))
    generator = load_model(args, console)
    controls = load_controls(args, generator)
    strengths = strengths_of(controls, args.strength or [])
    starts = [start_point(args, generator, seed) for seed in seeds]
    latents = Latents.cat([start.latents(generator, controls) for start in starts])
    with console.progress("rendering", unit="image") as progress:
        moved = edit.apply(generator, latents, controls, strengths, walk=walk(args), report=_cost_report(console))
        images = edit.render(generator, moved, progress=progress)
    files = _files(args)
    if one_file and len(images) > 1:
        layout = {"type": "seeds", "seeds": list(seeds)}
        made = recipe.recipe_for(generator, starts[0], controls, strengths, walk=walk(args), files=files, layout=layout)
        grid = render.grid(images, columns=len(images), column_labels=[f"seed {seed}" for seed in seeds])
        _save(grid, out, made)
        echo(out)
        return 0
    for path, start, image in zip(outputs, starts, images, strict=True):
        _save(image, path, recipe.recipe_for(generator, start, controls, strengths, walk=walk(args), files=files))
        echo(path)
    return 0


def _cost_report(console: Console):
    def report(name: str, steps: int, seconds: float) -> None:
        console.info(f"{name}: {counted(steps, 'field step')}, {1000 * seconds / max(steps, 1):.1f} ms per step")

    return report


def _one_control(args: argparse.Namespace, generator):
    controls = load_controls(args, generator)
    if len(controls) != 1:
        raise InvalidValueError("this command follows one direction file: give --directions once")
    return controls[0]


def cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    out = image_output(args.output, args)
    generator = load_model(args, console)
    control = _one_control(args, generator)
    indices = args.indices if args.indices is not None else list(range(min(len(control), 5)))
    indices = [control_index(control, i) for i in indices]
    low, high = args.range or control.range_of(indices[0])
    strengths = edit.strengths_between(low, high, args.steps)
    start = start_point(args, generator)
    with console.progress("rendering sweep", unit="image") as progress:
        grid = edit.sweep(
            generator, start.latents(generator, [control]), control, indices, strengths, progress, walk=walk(args)
        )
    layout = recipe.sweep_layout(control, indices, strengths)
    zeros = [[0.0] * len(control)]
    made = recipe.recipe_for(generator, start, [control], zeros, walk=walk(args), files=_files(args), layout=layout)
    _save(grid, out, made)
    echo(f"{out}: {counted(len(indices), 'direction')} × {len(strengths)} strengths from {low:g} to {high:g}")
    return 0


def cmd_animate(args: argparse.Namespace, console: Console) -> int:
    out = output(args.output, render.ANIMATIONS, "the animation", args)
    generator = load_model(args, console)
    control = _one_control(args, generator)
    index = control_index(control, args.index)
    low, high = args.range or control.range_of(index)
    strengths = edit.strengths_between(low, high, args.frames)
    start = start_point(args, generator)
    with console.progress("rendering frames", unit="frame") as progress:
        edit.animate(
            generator,
            start.latents(generator, [control]),
            control,
            index,
            strengths,
            out,
            fps=args.fps,
            progress=progress,
            bounce=not args.no_bounce,
            walk=walk(args),
        )
    echo(f"{out}: {control.names[index]!r} from {low:g} to {high:g} in {len(strengths)} frames")
    return 0


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    if not Path(args.image).expanduser().is_file():  # the words every command uses for a missing input
        raise recipe.RecipeError(f"no such file: {args.image}")
    made = recipe.read_recipe(Path(args.image).expanduser())
    out = image_output(args.output, args) if args.output else None
    args.model = args.model or made.model.get("spec")
    generator = load_model(args, console)
    directions = [Path(p).expanduser() for p in args.directions or []]
    latents = [Path(args.latents).expanduser()] if args.latents else []
    with console.progress("recomputing controls that are not found", percent=True) as progress:
        image, _ = recipe.replay(
            Path(args.image).expanduser(), generator, directions=directions, latents=latents, progress=progress
        )
    echo(f"recipe: {made.summary()}")
    if out is not None:
        _save(image, out, made)
        echo(out)
    return 0


def cmd_latents(args: argparse.Namespace, console: Console) -> int:
    out = output(args.output, (".safetensors",), "the latents file", args)
    generator = load_model(args, console)
    start = start_point(args, generator)
    save_latents(start.latents(generator), generator, out, source=start.describe())
    echo(f"{out}: the starting point of {generator.identity.name} at {summarize(start.describe())}")
    return 0
