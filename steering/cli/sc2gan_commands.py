"""SC²GAN commands: ``correlations`` (which attributes the model's samples tie together: the most correlated pairs,
their rare combinations, a heat map) and ``correct`` (a direction of A corrected against B, with the before/after
leak of B per unit change of A)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..attributes.correlations import correlations
from ..charts import heatmap
from ..controls import load_control
from ..io import save_image
from ..methods import sc2gan
from ..scorers import available
from ..text import counted
from . import arguments as arg
from .console import Console, echo
from .shared import image_output, load_model, output, print_json

# The bounds are those sc2gan.correct, sc2gan.leak and correlations check (the upper bound of --parent-index, the
# parent's size, is checked there once the file is read); --top, which only cuts the table, is checked here alone.


def add_arguments(sub, model: argparse.ArgumentParser) -> None:
    """Add ``correlations`` and ``correct`` (``sub(name, run, help, parents)`` makes a subcommand)."""
    p = sub("correlations", cmd_correlations, "correlations between attributes in the model's samples", [model])
    p.add_argument("--attribute", action="append", required=True, choices=available(), help="a scorer (repeat)")
    p.add_argument(
        "--samples",
        type=arg.count("the number of samples", 16, 1_000_000),
        default=2000,
        help="seeded samples to score (default 2000)",
    )
    p.add_argument("--seed", type=arg.SEED, default=0, help="first seed of the samples (default 0)")
    p.add_argument(
        "--top", type=arg.count("the number of pairs listed", 1, 1 << 20), default=10, help="pairs listed (default 10)"
    )
    p.add_argument(
        "--chart", action=arg.Writes, metavar="HEATMAP.png", help="also save the correlation matrix as a heat map"
    )
    p.add_argument("--json", action="store_true", help=arg.JSON_HELP)

    p = sub("correct", cmd_correct, "SC²GAN: correct A's direction so it stops dragging a correlated B along", [model])
    p.add_argument("--attribute", required=True, choices=sc2gan.BINARY_SCORERS, help="A: the attribute to edit")
    p.add_argument("--correlated", required=True, choices=sc2gan.BINARY_SCORERS, help="B: the one it drags along")
    p.add_argument(
        "--parent",
        action=arg.Reads,
        metavar="CONTROL.safetensors",
        help="the control to correct: a linear direction of A or GradCtrl controls with a head for A (default: A's "
        "boundary, fitted here)",
    )
    p.add_argument(
        "--parent-index",
        type=arg.count("the direction to correct", 0, 1 << 20),
        metavar="I",
        help="which direction of a linear --parent edits A",
    )
    p.add_argument(
        "--samples",
        type=arg.count("the number of samples", 32, 1_000_000),
        default=sc2gan.CORRECTION_SAMPLES,
        help=f"seeded samples to score (default {sc2gan.CORRECTION_SAMPLES})",
    )
    p.add_argument(
        "--fraction",
        type=arg.number("the confident fraction", 1e-3, 0.5),
        default=sc2gan.CORRECTION_FRACTION,
        help=f"confident share of A per side (default {sc2gan.CORRECTION_FRACTION})",
    )
    p.add_argument(
        "--rare",
        type=arg.count("the rare samples per side", 1, 10_000),
        default=64,
        help="rare combinations made per side of A (default 64)",
    )
    p.add_argument(
        "--inversion-steps",
        type=arg.count("the inversion steps", 1, 5000),
        default=100,
        help="re-projection steps (default 100)",
    )
    p.add_argument(
        "--seeds",
        type=arg.count("the number of seeds", 2, 100_000),
        default=64,
        help="seeds the leak is measured on (default 64)",
    )
    p.add_argument(
        "--strip", action=arg.Writes, metavar="STRIP.png", help="also render start · base · corrected for 4 seeds"
    )
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        required=True,
        metavar="CORRECTED.safetensors",
        help="the controls to write",
    )


def cmd_correlations(args: argparse.Namespace, console: Console) -> int:
    chart = image_output(args.chart, args) if args.chart else None
    generator = load_model(args, console)
    samples = args.samples
    with console.progress("scoring samples", unit="sample") as progress:
        found = correlations(generator, args.attribute, samples, seed=args.seed, progress=progress)
    if chart is not None:
        save_image(heatmap(found.matrix.tolist(), found.names, title=f"correlations over {samples} samples"), chart)
    if args.json:
        print_json({"names": found.names, "matrix": found.matrix.tolist(), "pairs": found.table(args.top)})
        return 0
    echo(found.format(args.top))
    if chart is not None:
        echo(f"heat map saved as {chart}")
    return 0


def cmd_correct(args: argparse.Namespace, console: Console) -> int:
    out = output(args.output, (".safetensors",), "the control file", args)
    strip = image_output(args.strip, args) if args.strip else None
    generator = load_model(args, console)
    parent = load_control(Path(args.parent).expanduser(), generator) if args.parent else None
    with console.progress("SC²GAN", percent=True) as progress:
        result = sc2gan.correct(
            generator,
            args.attribute,
            args.correlated,
            parent=parent,
            parent_index=args.parent_index,
            num_samples=args.samples,
            fraction=args.fraction,
            rare=args.rare,
            inversion_steps=args.inversion_steps,
            progress=progress,
        )
    result.control.save(out)
    rare = result.rare
    echo(
        f"{args.attribute} ~ {args.correlated}: r = {result.pair.correlation:+.3f}; rare cells "
        f"{rare.frequency:.1%} of the samples; {len(rare)} of {counted(rare.made, 'rare combination')} kept after "
        f"re-projection ({rare.substitute})"
    )
    with console.progress("measuring the leak", unit="edit") as progress:
        measured = sc2gan.leak(generator, result, args.attribute, args.correlated, seeds=args.seeds, progress=progress)
    echo(measured.format())
    for (name, _, _), unit in zip(result.edits, sc2gan.leak_per_unit(measured), strict=True):
        per_unit = "— (it does not raise A)" if unit is None else f"{unit:.4f}"
        echo(f"  {name}: Δ {args.correlated} per unit Δ {args.attribute} = {per_unit}")
    for caveat in sc2gan.caveats(result, measured):
        console.warn(caveat)
    echo(f"saved {out} ({result.shape})")
    if strip is not None:
        save_image(sc2gan.strip(generator, result, measured), strip)
        echo(f"strip saved as {strip}")
    return 0
