"""GradCtrl commands: ``label`` (a labelled set from seeds), ``train`` (heads → gradient controls and the linear
baselines) and ``measure`` (disentanglement along edits, as a table and a plot)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from .. import edit, render
from ..attributes import LabelledSet, Sampling, Training, train
from ..attributes.measure import Edit, best_direction, measure
from ..attributes.samples import edit_space
from ..charts import line_chart
from ..errors import InvalidValueError
from ..io import save_image
from ..methods import gradctrl as gc
from ..methods.boundaries import boundaries_from
from ..models.base import Latents
from ..scorers import SCORERS, scorer
from ..text import counted
from ..values import check_count, check_name, check_seed, check_strength, layer_range
from . import arguments as arg
from .console import Console, echo
from .shared import control_index, image_output, load_model, output

#: ``--top-k`` in ``gradctrl.controls_from``'s words (its upper bound, the latent's size, is checked once it is known).
TOP_K = "the masked channels (k)"


def add_arguments(subs: argparse._SubParsersAction, sub, model: argparse.ArgumentParser) -> None:
    """Add ``label``, ``train`` and ``measure`` (``sub(name, run, help, parents)`` makes a subcommand)."""
    p = sub("label", cmd_label, "label seeded samples for an attribute (a labelled set; reload to extend)", [model])
    p.add_argument("--attribute", required=True, help="the attribute's name, e.g. smile")
    p.add_argument("--classes", help="its class names, e.g. no,yes (two: a binary attribute); default: from --extend")
    p.add_argument("--set", dest="labels", action="append", default=[], metavar="SEED=CLASS", help="label a seed")
    p.add_argument(
        "--extend",
        action=arg.Updates,
        metavar="FILE",
        help="start from this labelled set (its labels are kept; -o may name it to add to it in place)",
    )
    p.add_argument("--truncation", type=arg.TRUNCATION, metavar="PSI", help="ψ of the samples (default 1)")
    p.add_argument(
        "--grid",
        action=arg.Writes,
        metavar="GRID.png",
        help="also render these seeds in a grid to look at (see --seeds)",
    )
    p.add_argument("--seeds", type=arg.SEEDS, help="seeds shown in --grid, e.g. 0,1,2,3")
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        required=True,
        metavar="LABELS.safetensors",
        help="the labelled set to write",
    )

    p = sub("train", cmd_train, "train attribute heads and save GradCtrl controls (and linear baselines)", [model])
    p.add_argument("--attribute", action="append", default=[], choices=sorted(SCORERS), help="a built-in scorer")
    p.add_argument(
        "--labels", action=arg.Reads, many=True, default=[], metavar="FILE", help="a labelled set (see `label`)"
    )
    p.add_argument(
        "--samples", type=arg.setting(Sampling, "samples"), default=10_000, help="scored samples (default 10000)"
    )
    p.add_argument(
        "--fraction",
        type=arg.setting(Sampling, "fraction"),
        default=0.05,
        help="confident share per side / class (default 0.05)",
    )
    p.add_argument(
        "--epochs", type=arg.setting(Training, "epochs"), default=30, help="training epochs per head (default 30)"
    )
    p.add_argument("--seed", type=arg.SEED, default=0, help="seed of the samples and the training (default 0)")
    p.add_argument("--exclude", choices=gc.EXCLUDE, default="entangled", help="excluded attributes (default entangled)")
    p.add_argument(
        "--top-k", type=arg.count(TOP_K, 0, 1 << 20), help="masked channels per excluded attribute (default d/4)"
    )
    p.add_argument("--layers", default="all", help="W+ layers edited (style-based models): all, coarse, lo:hi, …")
    p.add_argument(
        "--linear", action=arg.Writes, metavar="FILE", help="also save the linear boundaries of the same labels"
    )
    p.add_argument("--conditional", action=arg.Writes, metavar="FILE", help="also save the conditional boundaries")
    p.add_argument(
        "--strip", action=arg.Writes, metavar="STRIP.png", help="render one row per control from --strip-seed"
    )
    p.add_argument("--strip-seed", type=arg.SEED, default=0, help="the seed --strip starts from (default 0)")
    p.add_argument(
        "-o", "--output", action=arg.Writes, required=True, metavar="GRADCTRL.safetensors", help="the controls to write"
    )

    p = sub("measure", cmd_measure, "target change vs other attributes' change along edits (table and plot)", [model])
    p.add_argument(
        "--edit",
        action=arg.Reads,
        many=True,
        path=_edit_file,
        required=True,
        metavar="FILE=CONTROL",
        help="a control (name or index)",
    )
    p.add_argument("--target", required=True, metavar="ATTRIBUTE[:CLASS]", help="a built-in scorer (and class)")
    p.add_argument("--attributes", required=True, help="scorers to measure, comma-separated (with the target)")
    p.add_argument("--others", help="the attributes that should stay (default: every other one measured)")
    p.add_argument(
        "--seeds", type=arg.count("the number of seeds", 1, 4096), default=32, help="start latents (default 32)"
    )
    p.add_argument("--strengths", default="1,2,3,4", help="strengths (default 1,2,3,4)")
    p.add_argument("--down", action="store_true", help="measure the negative side of each control")
    p.add_argument("--plot", action=arg.Writes, metavar="PLOT.png", help="write the curves")
    p.add_argument("--json", action="store_true", help=arg.JSON_HELP)


def _edit_file(item: str) -> str:
    """The control file of ``--edit FILE=CONTROL`` (or ``--edit FILE``), as ``cmd_measure`` reads it."""
    file, _, which = item.rpartition("=")
    return file or which


def _classes_and_labels(args: argparse.Namespace, base: LabelledSet | None) -> tuple[list[str], list[tuple[int, int]]]:
    names = base.class_names if base is not None else None
    if args.classes:
        given = [check_name(c, "a class name") for c in args.classes.split(",")]
        if names is not None and tuple(given) != tuple(names):
            raise InvalidValueError(f"--extend holds classes {', '.join(names)}, not {', '.join(given)}")
        names = tuple(given)
    if names is None:
        raise InvalidValueError("give --classes (e.g. no,yes) or --extend a labelled set")
    labels = []
    for item in args.labels:
        seed, _, label = item.partition("=")
        if not label.strip():
            raise InvalidValueError(f"--set takes SEED=CLASS (e.g. 3={names[-1]}), got {item!r}")
        try:
            labels.append((check_seed(seed.strip()), _class_index(label.strip(), names)))
        except InvalidValueError as exc:
            raise InvalidValueError(f"--set {item}: {exc}") from None
    return list(names), labels


def _class_index(label: str, names: tuple[str, ...]) -> int:
    """A class by name, or by its index."""
    if label in names:
        return names.index(label)
    if re.fullmatch(r"[+-]?\d+", label):
        return check_count(label, "a class index", 0, len(names) - 1)
    raise InvalidValueError(
        f"{label!r} is not one of the classes ({', '.join(names)}); give a class name or its index "
        f"(0 … {len(names) - 1})"
    )


def cmd_label(args: argparse.Namespace, console: Console) -> int:
    out = output(args.output, (".safetensors",), "the labelled set", args)
    grid_out = image_output(args.grid, args) if args.grid else None
    generator = load_model(args, console)
    base = LabelledSet.load(Path(args.extend).expanduser(), generator) if args.extend else None
    if base is not None and args.attribute.strip() != base.attribute:
        raise InvalidValueError(f"--extend holds the attribute {base.attribute!r}, not {args.attribute!r}")
    if base is not None and args.truncation not in (None, base.truncation):
        raise InvalidValueError(f"--extend holds samples at ψ {base.truncation:g}, not {args.truncation:g}")
    names, labels = _classes_and_labels(args, base)
    psi = 1.0 if args.truncation is None else args.truncation
    labelled = base or LabelledSet.empty(generator, args.attribute, names, psi)
    if labels:
        labelled = labelled.with_seeds(generator, [s for s, _ in labels], [c for _, c in labels])
    labelled.save(out)
    echo(out)
    console.info(", ".join(f"{name}: {count}" for name, count in labelled.counts().items()))
    if grid_out is not None:
        seeds = args.seeds or list(range(16))
        latents = Latents.cat([generator.sample(1, seed=s, truncation=labelled.truncation) for s in seeds])
        images = edit.render(generator, latents)
        save_image(render.grid(images, columns=len(images), column_labels=[f"seed {s}" for s in seeds]), grid_out)
        echo(grid_out)
    return 0


def cmd_train(args: argparse.Namespace, console: Console) -> int:
    out = output(args.output, (".safetensors",), "the control file", args)
    for path in (args.linear, args.conditional):
        if path:
            output(path, (".safetensors",), "the control file", args)
    strip = image_output(args.strip, args) if args.strip else None
    if not args.attribute and not args.labels:
        raise InvalidValueError("give at least one --attribute or --labels")
    sampling = Sampling(args.samples, args.fraction, 0.3, args.seed)  # every option checked before any scoring
    generator = load_model(args, console)
    layer_range(generator, args.layers)
    if args.top_k is not None:
        check_count(args.top_k, f"--top-k ({TOP_K})", 0, generator.space_dim(edit_space(generator)))
    sources = [*args.attribute, *(LabelledSet.load(Path(p).expanduser(), generator) for p in args.labels)]
    with console.progress("scoring and training", percent=True) as progress:
        trained = train(generator, sources, sampling, Training(epochs=args.epochs, seed=args.seed), progress)
    controls = gc.controls_from(generator, trained, exclude=args.exclude, top_k=args.top_k, layers=args.layers)
    controls.save(out)
    echo(out)
    for head in trained.heads.describe():
        accuracy = "—" if head["accuracy"] is None else f"{head['accuracy']:.3f}"
        console.info(f"{head['name']}: validation accuracy {accuracy}, {_samples(head['samples'])}")
    for i, name in enumerate(controls.names):
        console.info(f"  {name}: excludes {_excluded(gc.exclusions(controls, i))}")
    for weak in trained.heads.weak().values():
        console.warn(weak)
    for path, conditional in ((args.linear, False), (args.conditional, True)):
        if path:
            found = boundaries_from(generator, trained.labelled, conditional=conditional, layers=args.layers)
            echo(found.save(Path(path).expanduser()))
    if strip is not None:
        start = generator.sample(1, seed=args.strip_seed)
        strengths = edit.strengths_between(*controls.strength_range, 7)
        save_image(edit.sweep(generator, start, controls, indices=range(len(controls)), strengths=strengths), strip)
        echo(strip)
    return 0


def _samples(counts: dict[str, int]) -> str:
    """``700 training, 300 validation samples`` from a head's ``{"train": 700, "validation": 300}``."""
    parts = [f"{n} {'training' if split == 'train' else split}" for split, n in counts.items()]
    return f"{', '.join(parts)} samples" if parts else "no samples"


def _excluded(budgets: dict[str, int]) -> str:
    """``brightness (25 channels), warmth (1 channel)``, or ``nothing``."""
    return ", ".join(f"{name} ({counted(k, 'channel')})" for name, k in budgets.items()) or "nothing"


def cmd_measure(args: argparse.Namespace, console: Console) -> int:
    plot = image_output(args.plot, args) if args.plot else None
    names = [n.strip() for n in args.attributes.split(",") if n.strip()]
    target, _, target_class = args.target.partition(":")
    if target not in names:
        names.insert(0, target)
    scorers = [scorer(n) for n in names]
    t = names.index(target)
    if target_class and target_class not in scorers[t].classes:
        raise InvalidValueError(f"{target} has classes {', '.join(scorers[t].classes)}, not {target_class!r}")
    column = scorers[t].classes.index(target_class) if target_class else 0
    others = None
    if args.others:
        wanted = [n.strip() for n in args.others.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise InvalidValueError(f"--others: {', '.join(unknown)} not among the measured {', '.join(names)}")
        others = tuple(names.index(n) for n in wanted)
    strengths = [check_strength(s, "a strength") for s in args.strengths.split(",") if s.strip()]
    if not strengths:
        raise InvalidValueError("--strengths: give at least one strength")
    from ..controls import load_control

    generator = load_model(args, console)
    latents = generator.sample(args.seeds, seed=1000)
    edits, signs = [], {}
    for item in args.edit:
        file, _, which = item.rpartition("=")
        if not file:
            file, which = which, ""
        control = load_control(Path(file).expanduser(), generator)
        flip = False
        if which:
            index = control_index(control, which)
        else:  # the slider that moves the target most (SeFa, GANSpace: directions know no attribute)
            index, raising = best_direction(generator, control, scorers[t], column, latents.select(slice(0, 8)))
            flip = raising < 0
        label = f"{control.method}: {control.names[index]}"
        edits.append(Edit(label, control, index, t, column, others, flip=flip))
        signs[label] = -1.0 if args.down else 1.0
    with console.progress("measuring", unit="edit") as progress:
        found = measure(generator, edits, scorers, latents, strengths, signs=signs, progress=progress)
    if args.json:
        echo(json.dumps({"level": found.level, "rows": found.table()}, indent=2, default=str))
    else:
        echo(found.format())
    if plot is not None:
        chart = line_chart(
            found.curves_for_plot(),
            title=f"{args.target}: target change vs others' change",
            x_label="target change (std)",
            y_label="others' change (std)",
        )
        save_image(chart, plot)
        echo(plot)
    return 0


__all__ = ["add_arguments", "cmd_label", "cmd_measure", "cmd_train"]
