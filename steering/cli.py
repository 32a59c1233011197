"""The ``gan-steering`` command line: list and describe models, discover directions, render edits, manage files.

Every command calls the same library functions as the UI. Results go to stdout (``--json`` where it helps), progress
bars and messages to stderr. Exit codes: 0 success, 1 an operating-system error (disk full, permission denied),
2 a usage error or any ``SteeringError`` (bad value, missing model, corrupt or mismatched file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Sequence

from . import __version__, limits, paths, values
from .errors import DirectionsFileError, InvalidValueError, SteeringError
from .text import terminal_safe

PROG = "gan-steering"
Progress = Callable[[int, int], None]

#: Options whose value may start with "-" (a negative bound); ``--range -3,3`` is rewritten to ``--range=-3,3``.
_SIGNED_VALUE_OPTIONS = ("--range",)
_LOOKS_NEGATIVE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


def echo(*parts: Any, file: Any = None, flush: bool = False) -> None:
    """``print`` for everything the CLI shows: names and messages from files are data, never terminal control."""
    print(terminal_safe(" ".join(str(part) for part in parts)), file=file or sys.stdout, flush=flush)


# ----- console: messages and progress bars on stderr --------------------------------------------------------------
@dataclasses.dataclass
class Console:
    """Where messages and progress go (stderr), and whether to show them."""

    quiet: bool = False

    def info(self, message: str) -> None:
        if not self.quiet:
            echo(message, file=sys.stderr, flush=True)

    @contextmanager
    def progress(self, description: str, unit: str = "it") -> Iterator[Progress | None]:
        """A ``progress(done, total)`` callback drawing a tqdm bar on stderr, shown only after a second of work."""
        if self.quiet:
            yield None
            return
        from tqdm import tqdm

        bar: tqdm | None = None

        def update(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr, delay=1.0, leave=False)
            bar.total = total
            bar.update(done - bar.n)

        try:
            yield update
        finally:
            if bar is not None:
                bar.close()


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        echo(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


# ----- argument types (argparse turns ArgumentTypeError into "argument --x: message", exit 2) ----------------------
def _checked(check: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse type that runs one of the core's value checks (``steering.values``: the UI runs the same)."""

    def parse(text: str) -> Any:
        try:
            return check(text)
        except InvalidValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def _count(what: str, low: int, high: int) -> Callable[[str], int]:
    return _checked(lambda text: values.check_count(text, what, low, high), "integer")


def _list_of(check: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        items = [check(part) for part in text.split(",") if part.strip()]
        if not items:
            raise InvalidValueError("the list is empty")
        return items

    return parse


def _strength_range(text: str) -> tuple[float, float]:
    parts = re.split(r"[,:]", text)
    if len(parts) != 2:
        raise InvalidValueError(f"{text!r} is not 'low,high' (e.g. -3,3)")
    low, high = values.check_strength_range(*parts)
    return low, high


def _strength(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidValueError(f"{text!r} is not INDEX=VALUE (e.g. 0=2.5 or 'smile=-1')")
    return key.strip(), values.check_strength(value, f"the strength in {text!r}")


SEED = _checked(values.check_seed, "seed")
SEEDS = _checked(_list_of(values.check_seed), "seeds")
TRUNCATION = _checked(values.check_truncation, "truncation")
FPS = _checked(lambda text: values.check_number(text, "fps", 0.1, 50), "fps")
INDICES = _checked(_list_of(lambda text: values.check_count(text, "a direction index", 0, 1 << 20)), "indices")
STRENGTH_RANGE = _checked(_strength_range, "range")
STRENGTH = _checked(_strength, "strength")
LAYERS = _checked(values.parse_layers, "layers")
STEPS = _count("the number of steps", 2, limits.MAX_STEPS)
SAMPLES = _count("the number of samples", 2, limits.MAX_SAMPLES)


# ----- shared helpers ---------------------------------------------------------------------------------------------
def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return name


def _load_model(args: argparse.Namespace, console: Console) -> Any:
    from .sources import load_generator

    return load_generator(
        args.model,
        device=_device(args.device),
        architecture=args.architecture,
        local_files_only=args.offline,
        log=console.info,
    )


def _inputs(args: argparse.Namespace) -> list[Path]:
    """The files a command reads and must never overwrite: MODEL when it is a local path, the direction file."""
    from .sources.load import local_path

    names = (getattr(args, "directions", None), getattr(args, "file", None))
    found = [Path(name).expanduser() for name in names if name]
    model = local_path(args.model) if getattr(args, "model", None) else None
    return found + ([model] if model is not None else [])


def _not_an_input(out: Path, inputs: Sequence[Path]) -> Path:
    """``out``, refused when it is one of ``inputs`` (the same file, through links too): writing it would destroy it."""
    for source in inputs:
        try:
            same = os.path.samefile(out, source)
        except OSError:  # one of them does not exist: not the same file
            same = False
        if same:
            raise InvalidValueError(
                f"the output {out} is {source}, which this command reads: writing it would destroy it; "
                "choose another output file"
            )
    return out


def _output(path: str, suffixes: Sequence[str], what: str, args: argparse.Namespace) -> Path:
    out = Path(path).expanduser()
    if out.suffix.lower() not in suffixes:
        raise InvalidValueError(f"{what} must end in {' or '.join(suffixes)}, got {out.name!r}")
    if out.is_dir():
        raise InvalidValueError(f"{out} is a folder; give a file name")
    return _not_an_input(out, _inputs(args))


def _image_output(path: str, args: argparse.Namespace) -> Path:
    from PIL import Image

    Image.init()
    out = Path(path).expanduser()
    writable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
    if out.suffix.lower() not in writable:
        raise InvalidValueError(f"cannot write images as {out.name!r}; use a .png, .jpg or .webp file name")
    return _output(path, sorted(writable), "the image file", args)


def _direction_index(directions: Any, key: str | int) -> int:
    """A direction by index or by name."""
    text = str(key).strip()
    if re.fullmatch(r"-?\d+", text):
        index = int(text)
        if not 0 <= index < len(directions):
            raise InvalidValueError(
                f"direction index {index} is outside [0, {len(directions)}): the file holds {len(directions)} "
                "directions (see `gan-steering inspect FILE`)"
            )
        return index
    if text in directions.names:
        return directions.names.index(text)
    raise InvalidValueError(f"no direction is named {text!r}; names: {', '.join(map(repr, directions.names))}")


def _load_directions(path: str, generator: Any = None) -> Any:
    from .directions import Directions

    return Directions.load(Path(path).expanduser(), generator)


def _sample(generator: Any, args: argparse.Namespace, seed: int | None) -> Any:
    """One seeded latent (seed 0 by default) with the command's truncation and class."""
    seed = 0 if seed is None else seed
    if args.class_index is not None and not generator.num_classes:
        raise InvalidValueError(f"--class-index: {generator.identity.name} is not class-conditional")
    return generator.sample(1, seed=seed, truncation=args.truncation, class_index=args.class_index)


def _format_layers(layers: Sequence[int] | None) -> str:
    if layers is None:
        return "all (the whole latent)"
    spans: list[str] = []
    for i in sorted(layers):
        if spans and spans[-1].split("-")[-1] == str(i - 1):
            spans[-1] = f"{spans[-1].split('-')[0]}-{i}"
        else:
            spans.append(str(i))
    return ", ".join(spans)


def _numbers(values: Any, digits: int = 4) -> str:
    return " ".join(f"{float(v):.{digits}g}" for v in values)


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def _print_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))


# ----- commands ---------------------------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace, console: Console) -> int:
    from .io import read_safetensors_metadata
    from .models import ModelIdentity
    from .sources import CATALOG
    from .sources.embedded import PACKAGE, VERSION
    from .sources.store import FORMAT

    catalog = []
    for entry in CATALOG.values():
        if entry.repo_id is None:
            source = f"pypi:{PACKAGE}=={VERSION} (embedded)"
        else:
            revision = f"@{entry.revision}" if entry.revision else ""
            source = f"hub:{entry.repo_id}{revision}:{entry.filename}"
        catalog.append(
            {
                "name": entry.name,
                "architecture": entry.architecture,
                "source": source,
                "license": entry.license,
                "description": entry.description,
            }
        )
    folder = paths.models_dir()
    converted = []
    for file in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
        row: dict[str, Any] = {"file": str(file), "size_mb": round(file.stat().st_size / 2**20, 1)}
        try:
            metadata = read_safetensors_metadata(file)
            if metadata.get("format") != FORMAT:
                continue
            identity = ModelIdentity.from_json(metadata["identity"])
            row.update(name=identity.name, architecture=identity.architecture, sha256=identity.sha256)
            row.update(source=identity.source, revision=identity.revision)
        except (SteeringError, KeyError, ValueError, TypeError) as exc:
            row["error"] = f"unreadable: {exc}"
        converted.append(row)
    if args.json:
        _print_json({"catalog": catalog, "converted": converted, "models_dir": str(folder)})
        return 0
    echo("Catalog models:")
    width = max((len(row["name"]) for row in catalog), default=0)
    for row in catalog:
        echo(f"  {row['name']:<{width}}  {row['architecture']:<12} {row['source']}")
        echo(f"  {'':<{width}}  {row['description']}")
        echo(f"  {'':<{width}}  licence: {row['license'] or 'see the source'}")
    echo(f"\nConverted models in {folder}:" if converted else f"\nNo converted models in {folder} yet.")
    for row in converted:
        if "error" in row:
            echo(f"  {Path(row['file']).name}  {row['error']}")
        else:
            echo(
                f"  {row['name']}  {row['architecture']}  sha256 {row['sha256'][:12]}…  {row['size_mb']} MB  "
                f"{Path(row['file']).name}"
            )
    return 0


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    generator = _load_model(args, console)
    info = generator.describe()
    identity = generator.identity
    info.update(
        revision=identity.revision,
        filename=identity.filename,
        default_space=generator.default_space,
        device=str(generator.device),
        layer_names=list(generator.layer_names),
        layer_resolutions=list(generator.layer_resolutions),
        feature_names=list(generator.feature_names()),
    )
    if args.json:
        _print_json(info)
        return 0
    for key, value in info.items():
        if key in ("layer_names", "layer_resolutions", "feature_names") or value in (None, ""):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        echo(f"{key.replace('_', ' ') + ':':<16}{shown}")
    echo(f"{'features:':<16}{', '.join(info['feature_names'])}")
    echo(f"layers ({len(info['layer_names'])}):")
    for i, (name, res) in enumerate(zip(info["layer_names"], info["layer_resolutions"], strict=False)):
        echo(f"  {i:>3}  {name}  ({res} px)")
    return 0


def cmd_discover(args: argparse.Namespace, console: Console) -> int:
    from .methods import ganspace, sefa

    out = _output(args.output, (".safetensors",), "the direction file", args)
    if args.method == "sefa":
        extra = [
            flag
            for flag, value in (("--samples", args.samples), ("--seed", args.seed), ("--feature", args.feature))
            if value is not None
        ]
        if extra:
            raise InvalidValueError(f"{', '.join(extra)} only apply to --method ganspace (SeFa reads the weights)")
    generator = _load_model(args, console)
    layers = values.parse_layers(args.layers)
    if args.method == "sefa":
        directions = sefa(generator, args.k, layers=layers, use_cache=not args.no_cache)
    else:
        options: dict[str, Any] = {"feature": args.feature, "layers": layers, "use_cache": not args.no_cache}
        if args.samples is not None:
            options["num_samples"] = args.samples
        if args.seed is not None:
            options["seed"] = args.seed
        with console.progress("GANSpace sampling", unit="sample") as progress:
            directions = ganspace(generator, args.k, progress=progress, **options)
    directions.save(out)
    low, high = directions.strength_range
    layers = "" if directions.layers is None else f" (W+ layers {_format_layers(directions.layers)})"
    echo(
        f"{directions.method}: {len(directions)} directions in {directions.space}{layers} for "
        f"{directions.model.name}, strength range {low:g} … {high:g}"
    )
    if directions.values is not None:
        label = "eigenvalues" if directions.method == "sefa" else "variances"
        echo(f"{label}: {_numbers(directions.values)}")
    echo(f"saved {out}")
    return 0


def cmd_edit(args: argparse.Namespace, console: Console) -> int:
    from . import edit, render
    from .io import save_image
    from .models import Latents

    out = _image_output(args.output, args)
    if args.seeds is not None and args.seed is not None:
        raise InvalidValueError("give either --seed or --seeds, not both")
    seeds = args.seeds if args.seeds is not None else [0 if args.seed is None else args.seed]
    one_file = args.row or len(seeds) == 1
    outputs = [out] if one_file else [out.with_name(f"{out.stem}-seed{seed}{out.suffix}") for seed in seeds]
    for path in outputs:
        _not_an_input(path, _inputs(args))
    generator = _load_model(args, console)
    directions = _load_directions(args.directions, generator)
    strengths: dict[int, float] = {}
    for key, value in args.strength or []:
        index = _direction_index(directions, key)
        if index in strengths:
            raise InvalidValueError(f"direction {index} ({directions.names[index]!r}) is given two strengths")
        strengths[index] = value
    latents = Latents.cat([_sample(generator, args, seed) for seed in seeds])
    with console.progress("rendering", unit="image") as progress:
        images = edit.render(generator, edit.apply(generator, latents, directions, strengths), progress=progress)
    if one_file and len(images) > 1:
        images = [render.grid(images, columns=len(images), column_labels=[f"seed {seed}" for seed in seeds])]
    for path, image in zip(outputs, images, strict=True):
        save_image(image, path)
        echo(path)
    return 0


def cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    from . import edit
    from .io import save_image

    out = _image_output(args.output, args)
    generator = _load_model(args, console)
    directions = _load_directions(args.directions, generator)
    indices = args.indices if args.indices is not None else list(range(min(len(directions), 5)))
    indices = [_direction_index(directions, i) for i in indices]
    low, high = args.range or directions.strength_range
    strengths = edit.strengths_between(low, high, args.steps)
    latents = _sample(generator, args, args.seed)
    with console.progress("rendering sweep", unit="image") as progress:
        grid = edit.sweep(generator, latents, directions, indices, strengths, progress=progress)
    save_image(grid, out)
    echo(f"{out}: {len(indices)} directions × {len(strengths)} strengths from {low:g} to {high:g}")
    return 0


def cmd_animate(args: argparse.Namespace, console: Console) -> int:
    from . import edit

    out = _output(args.output, (".gif",), "the animation", args)
    generator = _load_model(args, console)
    directions = _load_directions(args.directions, generator)
    index = _direction_index(directions, args.index)
    low, high = args.range or directions.strength_range
    strengths = edit.strengths_between(low, high, args.frames)
    latents = _sample(generator, args, args.seed)
    with console.progress("rendering frames", unit="frame") as progress:
        edit.animate(
            generator,
            latents,
            directions,
            index,
            strengths,
            out,
            fps=args.fps,
            progress=progress,
            bounce=not args.no_bounce,
        )
    echo(f"{out}: {directions.names[index]!r} from {low:g} to {high:g} in {len(strengths)} frames")
    return 0


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    from .io import read_safetensors_metadata

    path = Path(args.file).expanduser()
    directions = _load_directions(args.file)
    metadata = read_safetensors_metadata(path, error=DirectionsFileError)
    info: dict[str, Any] = {
        "file": str(path),
        "format": metadata.get("format"),
        "format_version": int(metadata["format_version"]),
        "created_with": metadata.get("created_with"),
        "method": directions.method,
        "params": directions.params,
        "model": dataclasses.asdict(directions.model),
        "space": directions.space,
        "dimension": directions.dim,
        "count": len(directions),
        "layers": None if directions.layers is None else list(directions.layers),
        "layer_mask": None if directions.layer_mask is None else directions.layer_mask.int().tolist(),
        "names": list(directions.names),
        "values": None if directions.values is None else directions.values.tolist(),
        "scales": None if directions.scales is None else directions.scales.tolist(),
        "strength_range": list(directions.strength_range),
    }
    if args.json:
        _print_json(info)
        return 0
    model = directions.model
    source = ", ".join(part for part in (model.source, model.revision, model.filename) if part)
    echo(f"{'file:':<16}{path}")
    echo(f"{'format:':<16}{info['format']} v{info['format_version']} ({info['created_with'] or 'unknown writer'})")
    echo(f"{'method:':<16}{directions.method} {json.dumps(directions.params, sort_keys=True, default=_json_default)}")
    echo(f"{'model:':<16}{model.name} ({model.architecture}), sha256 {model.sha256 or 'unknown'}")
    if source:
        echo(f"{'source:':<16}{source}")
    echo(f"{'space:':<16}{directions.space}, {len(directions)} directions of dimension {directions.dim}")
    echo(f"{'layers:':<16}{_format_layers(directions.layers)}")
    low, high = directions.strength_range
    echo(f"{'strengths:':<16}{low:g} … {high:g}")
    width = max(len(name) for name in directions.names)
    echo("directions:")
    for i, name in enumerate(directions.names):
        parts = [f"  {i:>3}  {name:<{width}}"]
        if directions.values is not None:
            parts.append(f"value {float(directions.values[i]):.4g}")
        if directions.scales is not None:
            parts.append(f"scale {float(directions.scales[i]):.3g}")
        if directions.layer_mask is not None:
            parts.append(f"layers {_format_layers(directions.layer_mask[i].nonzero().flatten().tolist())}")
        echo("  ".join(parts))
    return 0


def cmd_rename(args: argparse.Namespace, console: Console) -> int:
    path = Path(args.file).expanduser()  # without -o, FILE is edited in place (atomically): that is the command
    out = _not_an_input(Path(args.output).expanduser(), _inputs(args)) if args.output else path
    directions = _load_directions(args.file)
    index = _direction_index(directions, args.index)
    old = directions.names[index]
    directions.renamed(index, args.name).save(out)  # atomic: a temporary file replaces the target in one step
    echo(f"direction {index}: {old!r} -> {args.name.strip()!r} in {out}")
    return 0


def cmd_push(args: argparse.Namespace, console: Console) -> int:
    from .share import push_directions

    directions = _load_directions(args.file)
    generator = None
    if args.model:  # with the model at hand the upload carries a preview grid (and is checked against it)
        args.architecture, args.offline = None, False
        generator = _load_model(args, console)
    console.info(f"uploading {args.file} to {args.repo_id} …")
    url = push_directions(directions, args.repo_id, generator=generator, token=args.token, private=args.private)
    echo(url)
    return 0


def cmd_pull(args: argparse.Namespace, console: Console) -> int:
    from .share import pull_directions_file

    out = _output(args.output, (".safetensors",), "direction file", args)
    generator = None
    if args.model:
        args.architecture = None
        generator = _load_model(args, console)
    directions, pulled = pull_directions_file(args.spec, generator, token=args.token, local_files_only=args.offline)
    _not_an_input(out, [pulled])  # never over the file in the Hugging Face cache
    directions.save(out)
    checked = f", checked against {args.model}" if generator is not None else ""
    echo(f"{len(directions)} {directions.method} directions for {directions.model.name} -> {out}{checked}")
    return 0


# ----- parser -----------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from .models import ARCHITECTURES

    parser = _Parser(
        prog=PROG, description="Find and apply semantic steering directions in the latent spaces of pretrained GANs."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or messages on stderr")

    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    model = _Parser(add_help=False)
    model.add_argument(
        "model", metavar="MODEL", help="catalog name (see `models`), owner/repo[@revision]:file, or path"
    )
    model.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: auto")
    model.add_argument("--architecture", choices=sorted(ARCHITECTURES), help="skip detection, use this layout")
    model.add_argument("--offline", action="store_true", help="use only files already in the local Hugging Face cache")

    latent = _Parser(add_help=False)
    latent.add_argument("--directions", required=True, metavar="FILE", help="a direction file (.safetensors)")
    latent.add_argument("--seed", type=SEED, help="latent seed (default 0)")
    latent.add_argument("--truncation", type=TRUNCATION, default=1.0, metavar="PSI", help="ψ in (0, 1], default 1")
    latent.add_argument(
        "--class-index", type=_count("the class index", 0, 1 << 20), help="class for class-conditional models"
    )

    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def sub(name: str, run: Callable[..., int], help: str, parents: Sequence[argparse.ArgumentParser] = ()) -> Any:
        p = subs.add_parser(name, help=help, description=help, parents=[common, *parents])
        p.set_defaults(run=run)
        return p

    p = sub("models", cmd_models, "list catalog models and the converted models in the cache")
    p.add_argument("--json", action="store_true")

    p = sub("info", cmd_info, "load a model and describe it (latent spaces, layers, features)", [model])
    p.add_argument("--json", action="store_true")

    p = sub("discover", cmd_discover, "compute directions (SeFa or GANSpace) and save them to a file", [model])
    p.add_argument("--method", choices=("sefa", "ganspace"), required=True)
    p.add_argument(
        "-k",
        "--num-directions",
        dest="k",
        type=_count("the number of directions", 1, 1 << 16),
        default=10,
        help="default 10",
    )
    p.add_argument("--layers", default="all", help="all, coarse, middle, fine, lo:hi or 0,2,5 (W+ layers)")
    p.add_argument("--samples", type=SAMPLES, help="GANSpace: number of samples (default 10000)")
    p.add_argument("--seed", type=SEED, help="GANSpace: sampling seed (default 0)")
    p.add_argument("--feature", help="GANSpace: the feature to run PCA on (see `info`)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.safetensors")
    p.add_argument("--no-cache", action="store_true", help="recompute even if the basis is cached")

    p = sub("edit", cmd_edit, "render one edited image (or one per seed)", [model, latent])
    p.add_argument("--seeds", type=SEEDS, help="several seeds, e.g. 1,2,3: one image each (or --row)")
    p.add_argument(
        "--strength",
        type=STRENGTH,
        action="extend",
        nargs="+",
        metavar="IDX=VALUE",
        help="strength of a direction, by index or name (repeatable)",
    )
    p.add_argument("--row", action="store_true", help="with --seeds: one image with a row of all seeds")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")

    p = sub("sweep", cmd_sweep, "a grid: one row per direction, one column per strength", [model, latent])
    p.add_argument("--indices", type=INDICES, help="directions to show, e.g. 0,1,2 (default: the first 5)")
    p.add_argument("--range", type=STRENGTH_RANGE, metavar="LOW,HIGH", help="default: the file's strength range")
    p.add_argument("--steps", type=STEPS, default=7, help="strengths per row (default 7)")
    p.add_argument("-o", "--output", required=True, metavar="GRID.png")

    p = sub("animate", cmd_animate, "a GIF moving along one direction", [model, latent])
    p.add_argument("--index", required=True, help="direction index or name")
    p.add_argument("--range", type=STRENGTH_RANGE, metavar="LOW,HIGH", help="default: the file's strength range")
    p.add_argument("--frames", type=STEPS, default=24, help="distinct frames (default 24)")
    p.add_argument("--fps", type=FPS, default=12.0, help="frames per second (default 12)")
    p.add_argument("--no-bounce", action="store_true", help="play forward only (default: forward, then back)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.gif")

    p = sub("inspect", cmd_inspect, "show a direction file's metadata (no model is loaded)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true")

    p = sub("rename", cmd_rename, "rename a direction inside a file (in place unless -o)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("index", metavar="INDEX", help="direction index (or current name)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-o", "--output", metavar="OUT", help="write here instead of replacing FILE")

    p = sub("push", cmd_push, "upload a direction file with a model card (and preview) to a Hub repo")
    p.add_argument("file", metavar="FILE")
    p.add_argument("repo_id", metavar="OWNER/NAME")
    p.add_argument("--model", help="the model the directions belong to: adds a preview grid to the upload")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help=argparse.SUPPRESS)
    p.add_argument("--token", help="Hub token (default: your `hf auth login` token or HF_TOKEN)")
    p.add_argument("--private", action="store_true", help="create the repo as private")

    p = sub("pull", cmd_pull, "download a shared direction file from a Hub repo")
    p.add_argument("spec", metavar="OWNER/NAME[@REV][:FILE]")
    p.add_argument("-o", "--output", required=True, metavar="FILE.safetensors")
    p.add_argument("--model", help="check the file against this model (refused if it was made for another)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help=argparse.SUPPRESS)
    p.add_argument("--token", help="Hub token for private or gated repos")
    p.add_argument("--offline", action="store_true", help="use only the local Hugging Face cache")
    return parser


def _join_signed_values(argv: Sequence[str]) -> list[str]:
    """``--range -3,3`` -> ``--range=-3,3``: argparse would otherwise take ``-3,3`` for an option."""
    out: list[str] = []
    items = iter(argv)
    for item in items:
        if item in _SIGNED_VALUE_OPTIONS:
            value = next(items, None)
            if value is not None and _LOOKS_NEGATIVE.match(value):
                out.append(f"{item}={value}")
                continue
            out.append(item)
            if value is not None:
                out.append(value)
            continue
        out.append(item)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (errors are printed on stderr, without a traceback)."""
    parser = build_parser()
    try:
        args = parser.parse_args(_join_signed_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help / --version (0) or a usage error (2), already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    console = Console(quiet=args.quiet)
    try:
        return int(args.run(args, console))
    except SteeringError as exc:
        return _fail(str(exc), 2)
    except OSError as exc:
        return _fail(str(exc), 1)
    except (MemoryError, _OutOfMemory) as exc:
        return _fail(
            f"out of memory ({type(exc).__name__}): ask for fewer images, frames or samples, or a smaller "
            f"model; {limits.BUDGET_ENV} sets how much one request may use",
            1,
        )
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    """One line on stderr (the first line of ``message``), then the exit code."""
    lines = message.strip().splitlines() or ["unknown error"]
    echo(f"{PROG}: error: {lines[0]}{' …' if len(lines) > 1 else ''}", file=sys.stderr)
    return code


try:
    from torch import OutOfMemoryError as _OutOfMemory
except ImportError:  # pragma: no cover - torch < 2.5

    class _OutOfMemory(RuntimeError):  # type: ignore[no-redef]
        """Stand-in where torch has no ``OutOfMemoryError``."""


__all__ = ["build_parser", "main"]
