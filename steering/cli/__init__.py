"""The ``gan-steering`` command line: list and describe models, discover controls, render edits, manage files.

Every command calls the same library functions as the UI. Results go to stdout (``--json`` where it helps), progress
bars and messages to stderr. Exit codes: 0 success, 1 an operating-system error (disk full, permission denied, out of
memory), 2 a usage error or any ``SteeringError`` (bad value, missing model, corrupt or mismatched file),
130 interrupted. Errors are one line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from .. import limits
from ..controls.linear import WALKS
from ..errors import SteeringError
from ..models.base import NOISE_MODES
from ..version import __version__
from . import arguments as arg
from . import gradctrl_commands, inversion_commands, sc2gan_commands
from .analysis_commands import add_basis_options, add_warpage_options, cmd_basis, cmd_warpage
from .console import PROG, Console, Parser, fail
from .edit_commands import cmd_animate, cmd_edit, cmd_latents, cmd_replay, cmd_sweep
from .file_commands import cmd_inspect, cmd_pull, cmd_push, cmd_rename
from .model_commands import add_method_options, cmd_discover, cmd_info, cmd_models
from .steer_commands import STEER_SKIPS, add_options_of, cmd_steer, cmd_transfer

try:
    from torch import OutOfMemoryError as _OutOfMemory
except ImportError:  # pragma: no cover - torch < 2.5

    class _OutOfMemory(RuntimeError):  # type: ignore[no-redef]
        """Stand-in where torch has no ``OutOfMemoryError``."""


def add_walk(parser: argparse.ArgumentParser) -> None:
    """How linear controls in z move: straight, on the great circle (keeps ‖z‖) or the small circle."""
    parser.add_argument(
        "--walk", choices=WALKS, default="linear", help="how linear controls in z move (default linear)"
    )
    parser.add_argument("--great-circle", action="store_true", help="the same as --walk great-circle (keeps ‖z‖)")


def build_parser() -> argparse.ArgumentParser:
    from ..models import ARCHITECTURES

    parser = Parser(prog=PROG, description="Find and apply steering controls in the latent spaces of pretrained GANs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages on stderr")

    common = Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    model = Parser(add_help=False)
    model.add_argument(
        "model", metavar="MODEL", help="catalog name (see `models`), owner/repo[@revision]:file, or path"
    )
    model.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto")
    model.add_argument("--architecture", choices=sorted(ARCHITECTURES), help="skip detection, use this layout")
    model.add_argument("--offline", action="store_true", help="use only files already in the local Hugging Face cache")

    seeded = Parser(add_help=False)
    seeded.add_argument("--seed", type=arg.SEED, help="start from this seed (default 0)")
    seeded.add_argument("--truncation", type=arg.TRUNCATION, default=1.0, metavar="PSI", help="ψ in (0, 1], default 1")
    seeded.add_argument("--class-index", type=arg.CLASS_INDEX, help="class for class-conditional models")
    seeded.add_argument(
        "--noise", choices=NOISE_MODES, default="const", help="style-based models' noise (default const)"
    )
    seeded.add_argument("--noise-seed", type=arg.SEED, default=0, help="seed of --noise random (default 0)")
    start = Parser(add_help=False, parents=[seeded])
    start.add_argument(
        "--latents",
        action=arg.Reads,
        metavar="FILE",
        help="start from a latents file (see `latents`) instead of a seed",
    )

    controls = Parser(add_help=False)
    controls.add_argument(
        "--directions", action=arg.Reads, many=True, required=True, metavar="FILE", help="a control file (.safetensors)"
    )
    add_walk(controls)

    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sub(name: str, run: Callable[..., int], help: str, parents: Sequence[argparse.ArgumentParser] = ()) -> Any:
        p = subs.add_parser(name, help=help, description=help, parents=[common, *parents])
        p.set_defaults(run=run)
        return p

    p = sub("models", cmd_models, "list catalog models and the converted models in the cache")
    p.add_argument("--json", action="store_true", help=arg.JSON_HELP)

    p = sub("info", cmd_info, "load a model and describe it (latent spaces, layers, features)", [model])
    p.add_argument("--json", action="store_true", help=arg.JSON_HELP)

    p = sub("discover", cmd_discover, "compute controls with a method and save them to a file", [model])
    add_method_options(p)
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        required=True,
        metavar="FILE.safetensors",
        help="where to save the controls",
    )
    p.add_argument("--no-cache", action="store_true", help="recompute even if the basis is cached")

    p = sub("edit", cmd_edit, "render one edited image (or one per seed); PNGs carry their recipe", [model, start])
    p.add_argument(
        "--directions", action=arg.Reads, many=True, required=True, metavar="FILE", help="a control file (repeatable)"
    )
    add_walk(p)
    p.add_argument("--seeds", type=arg.SEEDS, help="several seeds, e.g. 1,2,3: one image each (or --row)")
    p.add_argument(
        "--strength",
        type=arg.STRENGTH,
        action="extend",
        nargs="+",
        metavar="IDX=VALUE",
        help="strength of a control, by name or index (indices count across the files in order; repeatable)",
    )
    p.add_argument("--row", action="store_true", help="with --seeds: one image with a row of all seeds")
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        required=True,
        metavar="OUT.png",
        help="the image to write (with --seeds: OUT-seedN.png each)",
    )

    p = sub("sweep", cmd_sweep, "a grid: one row per control, one column per strength", [model, start, controls])
    p.add_argument("--indices", type=arg.INDICES, help="controls to show, e.g. 0,1,2 (default: the first 5)")
    p.add_argument("--range", type=arg.STRENGTH_RANGE, metavar="LOW,HIGH", help="default: the control's range")
    p.add_argument("--steps", type=arg.STEPS, default=7, help="strengths per row (default 7)")
    p.add_argument("-o", "--output", action=arg.Writes, required=True, metavar="GRID.png", help="the grid to write")

    p = sub("animate", cmd_animate, "a GIF or MP4 moving along one control", [model, start, controls])
    p.add_argument("--index", required=True, help="control index or name")
    p.add_argument("--range", type=arg.STRENGTH_RANGE, metavar="LOW,HIGH", help="default: the control's range")
    p.add_argument("--frames", type=arg.STEPS, default=24, help="distinct frames (default 24)")
    p.add_argument("--fps", type=arg.FPS, default=12.0, help="frames per second (default 12)")
    p.add_argument("--no-bounce", action="store_true", help="play forward only (default: forward, then back)")
    p.add_argument(
        "-o", "--output", action=arg.Writes, required=True, metavar="OUT.gif|OUT.mp4", help="the animation to write"
    )

    p = sub(
        "steer",
        cmd_steer,
        "closed-form geometric controls (shift, zoom, turn, flip) and a strip of their trajectories",
        [model, start],
    )
    add_options_of(p, "steerability", STEER_SKIPS)
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        required=True,
        metavar="CONTROLS.safetensors",
        help="where to save the controls",
    )
    p.add_argument(
        "--strip", action=arg.Writes, metavar="STRIP.png", help="also render one row per transformation from the start"
    )
    p.add_argument("--steps", type=arg.STEPS, default=7, help="strengths per row of the strip (default 7)")

    p = sub(
        "transfer",
        cmd_transfer,
        "a target sample takes a source's principal coordinates (source|target|result)",
        [model],
    )
    add_options_of(p, "transfer")
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        required=True,
        metavar="STRIP.png",
        help="the source|target|result strip to write",
    )
    p.add_argument(
        "--save",
        action=arg.Writes,
        metavar="PATH.safetensors",
        help="also save the transfer as a slider (target → result)",
    )

    p = sub("replay", cmd_replay, "make a PNG's recipe again (its model, start, controls and strengths)")
    p.add_argument(
        "image", action=arg.Reads, metavar="IMAGE.png", help="a PNG written by gan-steering (it carries its recipe)"
    )
    p.add_argument("-o", "--output", action=arg.Writes, metavar="OUT.png", help="write the replayed image here")
    p.add_argument("--model", help="the model (default: the one the recipe names)")
    p.add_argument("--directions", action=arg.Reads, many=True, metavar="FILE", help="a control file the recipe uses")
    p.add_argument("--latents", action=arg.Reads, metavar="FILE", help="the latents file the recipe starts from")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto")
    p.add_argument("--offline", action="store_true", help="use only the local Hugging Face cache")

    p = sub(
        "latents",
        cmd_latents,
        "save a starting point (seed, truncation, class, noise) as a latents file",
        [model, seeded],
    )
    p.set_defaults(latents=None)
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        required=True,
        metavar="START.safetensors",
        help="the latents file to write",
    )
    inversion_commands.add_arguments(subs, sub, model)
    gradctrl_commands.add_arguments(subs, sub, model)
    sc2gan_commands.add_arguments(sub, model)

    p = sub("basis", cmd_basis, "the local basis at a starting point: spectrum, ICT strip or animation", [model, start])
    add_basis_options(p)

    p = sub("warpage", cmd_warpage, "distances between local and global bases against their dimension", [model])
    add_warpage_options(p)

    p = sub("inspect", cmd_inspect, "show a control file's metadata (no model is loaded)")
    p.add_argument("file", action=arg.Reads, metavar="FILE", help="a control file (.safetensors)")
    p.add_argument("--json", action="store_true", help=arg.JSON_HELP)

    p = sub("rename", cmd_rename, "rename a control inside a file (in place unless -o)")
    p.add_argument("file", action=arg.Reads, metavar="FILE", help="the control file")
    p.add_argument("index", metavar="INDEX", help="control index (or current name)")
    p.add_argument("name", metavar="NAME", help="its new name")
    p.add_argument("-o", "--output", action=arg.Writes, metavar="OUT", help="write here instead of replacing FILE")

    p = sub("push", cmd_push, "upload a control file with a model card (and preview) to a Hub repo")
    p.add_argument("file", action=arg.Reads, metavar="FILE", help="the control file to upload")
    p.add_argument("repo_id", metavar="OWNER/NAME", help="the Hub repo to upload it to")
    p.add_argument("--model", help="the model the controls belong to: adds a preview grid to the upload")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help=argparse.SUPPRESS)
    p.add_argument("--token", help="Hub token (default: your `hf auth login` token or HF_TOKEN)")
    p.add_argument("--private", action="store_true", help="create the repo as private")

    p = sub("pull", cmd_pull, "download a shared control file from a Hub repo")
    p.add_argument("spec", metavar="OWNER/NAME[@REV][:FILE]", help="the Hub repo (a revision, the file in it)")
    p.add_argument(
        "-o", "--output", action=arg.Writes, required=True, metavar="FILE.safetensors", help="where to save the file"
    )
    p.add_argument("--model", help="check the file against this model (refused if it was made for another)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help=argparse.SUPPRESS)
    p.add_argument("--token", help="Hub token for private or gated repos")
    p.add_argument("--offline", action="store_true", help="use only the local Hugging Face cache")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (errors are printed on stderr, one line, without a traceback)."""
    parser = build_parser()
    try:
        args = parser.parse_args(arg.join_signed_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help / --version (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    console = Console(quiet=args.quiet)
    try:
        return int(args.run(args, console))
    except SteeringError as exc:
        return fail(str(exc), 2)
    except OSError as exc:
        return fail(_os_message(exc), 1)
    except (MemoryError, _OutOfMemory) as exc:
        return fail(
            f"out of memory ({type(exc).__name__}): ask for fewer images, frames or samples, or a smaller "
            f"model; {limits.BUDGET_ENV} sets how much one request may use",
            1,
        )
    except KeyboardInterrupt:
        return fail("interrupted", 130)


def _os_message(exc: OSError) -> str:
    """An operating-system error in words, without Python's ``[Errno N]`` prefix or quotes around the path."""
    if exc.strerror and exc.filename is not None:
        return f"{exc.strerror}: {exc.filename}"
    return exc.strerror or str(exc)


__all__ = ["build_parser", "main"]
