"""Commands that analyse a latent space: ``basis`` (the local basis at a starting point, its spectrum, an ICT strip or
animation) and ``warpage`` (Grassmannian distances between local and global bases against the dimension)."""

from __future__ import annotations

import argparse
import csv
import io

from .. import edit, render
from ..errors import InvalidValueError
from ..start import summarize
from ..text import counted
from .console import Console, echo
from .shared import load_model, numbers, output, print_json, start_point

STRIPS = (".png", ".gif", ".mp4")


def add_basis_options(parser: argparse.ArgumentParser) -> None:
    from ..methods.jacobian import SOLVERS
    from . import arguments as arg

    k = arg.count("the number of directions", 1, 4096)
    parser.add_argument("-k", "--num-directions", type=k, default=10, help="local directions to find (default 10)")
    parser.add_argument("--feature", help="partial network's output (default: w, or the middle feature)")
    parser.add_argument("--solver", choices=SOLVERS, default="auto", help="Jacobian: exact, top-k or auto (default)")
    parser.add_argument("--json", action="store_true", help=arg.JSON_HELP)
    parser.add_argument(
        "--ict",
        type=arg.count("the direction index", 0, 4095),
        metavar="INDEX",
        help="walk this local direction: a PNG strip (ICT and linear rows), or a GIF/MP4 of the ICT",
    )
    parser.add_argument("--range", type=arg.STRENGTH_RANGE, metavar="LOW,HIGH", help="strengths (default -3,3)")
    parser.add_argument("--frames", type=arg.STEPS, default=9, help="frames (default 9)")
    parser.add_argument("--step-size", type=arg.checked(_step, "step"), default=0.25, help="ICT step (default 0.25)")
    parser.add_argument("--layers", default="all", help="W+ layers the walk writes (style-based models; default all)")
    parser.add_argument("--fps", type=arg.FPS, default=8.0, help="animation frames per second (default 8)")
    parser.add_argument(
        "-o", "--output", action=arg.Writes, metavar="STRIP.png|WALK.gif|WALK.mp4", help="with --ict: where to write"
    )


def _step(text: str) -> float:
    from ..values import check_number

    return check_number(text, "the step size", 1e-3, 10.0)


def cmd_basis(args: argparse.Namespace, console: Console) -> int:
    from ..methods.localbasis import latents_of, local_basis

    if (args.ict is None) != (args.output is None):
        raise InvalidValueError("--ict INDEX and -o OUTPUT go together (the walk and where to write it)")
    out = output(args.output, STRIPS, "the strip or animation", args) if args.output else None
    generator = load_model(args, console)
    start = start_point(args, generator)
    latents = latents_of(generator, start)
    with console.progress("local basis", unit="basis") as progress:
        if progress is not None:
            progress(0, 1)
        basis = local_basis(generator, latents, args.num_directions, args.feature, args.solver)
    info = {
        "model": generator.identity.name,
        "start": start.describe(),
        "space": latents.space,
        "feature": basis.network.feature,
        "jacobian": [int(basis.output.shape[0]), int(basis.latent.shape[0])],
        "exact": basis.exact,
        "products": basis.products,
        "singular_values": [float(v) for v in basis.values],
    }
    if out is not None:
        info["output"] = str(_walk(args, generator, latents, out, console))
    if args.json:
        print_json(info)
        return 0
    m, d = info["jacobian"]
    how = "exact Jacobian" if basis.exact else f"top-k solver, {basis.products} Jacobian-vector products"
    where = summarize(info["start"])
    echo(f"local basis of {basis.network.feature} ({m} values) over {latents.space} ({d}) at {where}")
    echo(f"{how}; singular values: {numbers(basis.values)}")
    if out is not None:
        echo(f"saved {out}")
    return 0


def _walk(args: argparse.Namespace, generator, latents, out, console: Console):
    from ..methods.ict import traversals

    low, high = args.range or (-3.0, 3.0)
    strengths = edit.strengths_between(low, high, args.frames)
    rows = traversals(generator, latents, args.ict, strengths, args.feature, args.layers, args.step_size, args.solver)
    with console.progress("rendering", unit="image") as progress:
        if out.suffix.lower() == ".png":
            images = edit.render(generator, edit.Latents.cat(list(rows.values())), progress=progress)
            labels = [f"{s:+.3g}" for s in strengths]
            strip = render.grid(images, columns=len(strengths), row_labels=list(rows), column_labels=labels)
            from ..io import save_image

            return save_image(strip, out)
        frames = edit.render(generator, rows["ICT"], progress=progress)
    return render.save_animation(frames, out, fps=args.fps)


def add_warpage_options(parser: argparse.ArgumentParser) -> None:
    from ..analysis.warpage import METRICS
    from ..methods.jacobian import SOLVERS
    from . import arguments as arg

    parser.add_argument("--feature", help="partial network's output (default: w, or the middle feature)")
    dims = arg.count("the largest dimension", 1, 4096)
    parser.add_argument("--max-dim", type=dims, default=10, help="subspace dimensions 1 … K (default 10)")
    parser.add_argument("--pairs", type=arg.count("the number of pairs", 1, 4096), default=16, help="default 16")
    parser.add_argument("--epsilon", type=arg.checked(_epsilon, "epsilon"), default=0.1, help="nearby: ε (0.1)")
    parser.add_argument("--metric", choices=METRICS, default="geodesic", help="default geodesic")
    parser.add_argument("--sampling-seed", type=arg.SEED, default=0, help="first seed of the pairs (default 0)")
    parser.add_argument("--truncation", type=arg.TRUNCATION, default=1.0, metavar="PSI", help="ψ (default 1)")
    parser.add_argument("--class-index", type=arg.CLASS_INDEX, help="class for class-conditional models")
    parser.add_argument("--solver", choices=SOLVERS, default="auto", help="Jacobian: exact, top-k or auto (default)")
    parser.add_argument("--json", action="store_true", help=arg.JSON_HELP)
    parser.add_argument("-o", "--output", action=arg.Writes, metavar="CURVES.csv", help="also write the curves as CSV")
    parser.add_argument(
        "--plot", action=arg.Writes, metavar="CURVES.png", help="also draw the curves (distance against k)"
    )


def _epsilon(text: str) -> float:
    from ..values import check_number

    return check_number(text, "ε", 1e-6, 100.0)


def cmd_warpage(args: argparse.Namespace, console: Console) -> int:
    from ..analysis.warpage import warpage

    out = output(args.output, (".csv",), "the curves file", args) if args.output else None
    plot = output(args.plot, (".png",), "the plot", args) if args.plot else None
    generator = load_model(args, console)
    with console.progress("warpage", unit="basis") as progress:
        found = warpage(
            generator,
            feature=args.feature,
            max_dim=args.max_dim,
            pairs=args.pairs,
            epsilon=args.epsilon,
            seed=args.sampling_seed,
            metric=args.metric,
            truncation=args.truncation,
            class_index=args.class_index,
            solver=args.solver,
            progress=progress,
        )
    rows = found.rows()
    if out is not None:
        from ..io import atomic_path

        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        with atomic_path(out) as tmp:
            tmp.write_text(text.getvalue(), encoding="utf-8")
    if plot is not None:
        from ..charts import line_chart
        from ..io import save_image

        series = {name: list(zip(found.dims, values, strict=True)) for name, values in found.curves.items()}
        save_image(line_chart(series, title=f"{found.metric} distance", x_label="subspace dimension k"), plot)
    if args.json:
        fields = ("metric", "side", "feature", "pairs", "epsilon", "dims", "curves", "spread")
        print_json({name: getattr(found, name) for name in fields})
        return 0
    pairs = counted(found.pairs, "pair")
    echo(f"{found.metric} distance between top-k subspaces ({found.side} side of {found.feature}, {pairs})")
    names = list(found.curves)
    echo("k".rjust(3) + "".join(name.rjust(18) for name in names))
    for row in rows:
        echo(f"{row['k']:>3}" + "".join(f"{row[name]:>18.4f}" for name in names))
    for path in (out, plot):
        if path is not None:
            echo(f"saved {path}")
    return 0
