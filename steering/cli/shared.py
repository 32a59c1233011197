"""What several commands share: loading the model, control files and starting points; checking outputs."""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

from ..controls import Control, load_control
from ..errors import InvalidValueError, SteeringError
from ..models.base import Generator, Noise
from ..start import LatentsFile, Seed, load_latents
from ..text import counted, plain
from .console import Console, echo


def device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidValueError("--device cuda was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return name


#: gan-steering's own files that are not models, by their ``format``: what each one is and how to pass it instead.
NOT_MODELS = {
    "gan-steering.directions": (
        "a control file",
        "`--directions {file}`; `gan-steering inspect {file}` shows what it holds",
    ),
    "gan-steering.latents": ("a latents file (a starting point)", "`--latents {file}`"),
    "gan-steering.labels": ("a labelled set (see `label`)", "`train --labels {file}` or `label --extend {file}`"),
    "gan-steering.encoder": ("an inversion encoder", "`invert --encoder {file}`"),
}


def check_is_model(spec: str) -> None:
    """Refuse, before any conversion, a local file that is one of gan-steering's own files but not a model: say what
    it is, the model it was made for and how to pass it instead."""
    from ..io import read_safetensors_metadata
    from ..sources.load import local_path
    from ..sources.store import FORMAT

    path = local_path(spec)
    if path is None or not path.is_file() or path.suffix.lower() != ".safetensors":
        return
    try:
        metadata = read_safetensors_metadata(path)
    except (SteeringError, OSError):
        return  # not readable as safetensors: the loader says what it is
    found = str(metadata.get("format"))
    if not found.startswith("gan-steering.") or found == FORMAT:
        return
    what, how = NOT_MODELS.get(found, (f"a gan-steering file ({found[:60]})", "the command that reads it"))
    try:
        made_for = json.loads(metadata.get("model", "{}")).get("name")
    except (ValueError, AttributeError):
        made_for = None
    model = f"the model it was made for ({made_for[:80]})" if isinstance(made_for, str) else "the model"
    raise InvalidValueError(
        f"{path.name} is {what}, not a model: give {model} as MODEL, with {how.format(file=path.name)}"
    )


def load_model(args: argparse.Namespace, console: Console) -> Generator:
    from ..sources import load_generator

    check_is_model(args.model)
    return load_generator(
        args.model,
        device=device(args.device),
        architecture=getattr(args, "architecture", None),
        local_files_only=getattr(args, "offline", False),
        log=console.info,
    )


# ----- outputs never overwrite inputs -----------------------------------------------------------------------------
def named_files(args: argparse.Namespace, role: str) -> list[tuple[str, Path]]:
    """``(option, path)`` of each file given to an argument declared as read (``role="input"``, ``arguments.Reads``)
    or written (``"output"``, ``arguments.Writes``)."""
    found = getattr(args, "named_files", [])
    return [(name, Path(path).expanduser()) for kind, name, path in found if kind == role]


def inputs(args: argparse.Namespace) -> list[Path]:
    """The files a command reads and must never overwrite: every argument declared ``Reads`` (control, latents,
    labels, encoder files, images), and MODEL (or ``--model``) when it is a local path."""
    from ..sources.load import local_path

    model = local_path(args.model) if getattr(args, "model", None) else None
    return [path for _, path in named_files(args, "input")] + ([model] if model is not None else [])


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file, existing or not: the same place once links and ``..`` are resolved, or
    the same file on disk (a hard link)."""
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: told apart by their resolved paths above
        return False


def not_an_input(out: Path, sources: Sequence[Path]) -> Path:
    """``out``, refused when it is one of ``sources`` (the same file, links included): writing it would destroy it."""
    for source in sources:
        if same_file(out, source):
            raise InvalidValueError(
                f"the output {out} is {source}, which this command reads: writing it would destroy it; "
                "choose another output file"
            )
    return out


def distinct_outputs(args: argparse.Namespace) -> None:
    """Refuse two outputs that name one file (existing or not): the second write would replace the first."""
    seen: list[tuple[str, Path]] = []
    for name, path in named_files(args, "output"):
        for other_name, other in seen:
            if same_file(path, other):
                raise InvalidValueError(
                    f"{other_name} {other} and {name} {path} are the same file: one output would replace the other; "
                    "give each its own file"
                )
        seen.append((name, path))


def checked_output(out: Path, args: argparse.Namespace) -> Path:
    """``out``, refused when it is one of the command's inputs or when two of its outputs are one file."""
    distinct_outputs(args)
    return not_an_input(out, inputs(args))


def output(path: str, suffixes: Sequence[str], what: str, args: argparse.Namespace) -> Path:
    out = Path(path).expanduser()
    if out.suffix.lower() not in suffixes:
        raise InvalidValueError(f"{what} must end in {' or '.join(suffixes)}, got {out.name!r}")
    if out.is_dir():
        raise InvalidValueError(f"{out} is a folder; give a file name")
    return checked_output(out, args)


def image_output(path: str, args: argparse.Namespace) -> Path:
    from PIL import Image

    Image.init()
    writable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
    if Path(path).suffix.lower() not in writable:
        raise InvalidValueError(f"cannot write images as {Path(path).name!r}; use a .png, .jpg or .webp file name")
    return output(path, sorted(writable), "the image file", args)


# ----- controls ---------------------------------------------------------------------------------------------------
def load_controls(args: argparse.Namespace, generator: Generator | None = None) -> list[Control]:
    return [load_control(Path(path).expanduser(), generator) for path in args.directions]


def control_index(control: Control, key: str | int) -> int:
    """A control by index or by name."""
    text = str(key).strip()
    if re.fullmatch(r"-?\d+", text):
        index = int(text)
        if not 0 <= index < len(control):
            raise InvalidValueError(
                f"direction index {index} is outside [0, {len(control)}): the file holds "
                f"{counted(len(control), control.noun.removesuffix('s'), control.noun)} "
                "(see `gan-steering inspect FILE`)"
            )
        return index
    if text in control.names:
        return control.names.index(text)
    raise InvalidValueError(f"no direction is named {text!r}; names: {', '.join(map(repr, control.names))}")


def strengths_of(controls: Sequence[Control], given: Sequence[tuple[str, float]]) -> list[list[float]]:
    """Per control file, one strength per control, from ``IDX=VALUE`` pairs: an index counts across the files in the
    order given (0 … k₁−1 the first file, k₁ … the second …), a name must belong to one file only."""
    table = [[0.0] * len(c) for c in controls]
    seen: set[tuple[int, int]] = set()
    for key, value in given:
        file, index = _locate(controls, key)
        if (file, index) in seen:
            raise InvalidValueError(f"direction {key!r} ({controls[file].names[index]!r}) is given two strengths")
        seen.add((file, index))
        table[file][index] = value
    return table


def _locate(controls: Sequence[Control], key: str) -> tuple[int, int]:
    text = key.strip()
    if re.fullmatch(r"-?\d+", text):
        index, total = int(text), sum(len(c) for c in controls)
        if not 0 <= index < total:
            raise InvalidValueError(f"direction index {index} is outside [0, {total}) (see `gan-steering inspect`)")
        for file, control in enumerate(controls):
            if index < len(control):
                return file, index
            index -= len(control)
    owners = [(f, c.names.index(text)) for f, c in enumerate(controls) if text in c.names]
    if len(owners) == 1:
        return owners[0]
    if owners:
        raise InvalidValueError(f"{text!r} names a direction in several files: give its index instead")
    names = ", ".join(repr(n) for c in controls for n in c.names)
    raise InvalidValueError(f"no direction is named {text!r}; names: {names}")


def walk(args: argparse.Namespace) -> str:
    return "great-circle" if getattr(args, "great_circle", False) else getattr(args, "walk", "linear")


# ----- starting points ----------------------------------------------------------------------------------------------
def start_point(args: argparse.Namespace, generator: Generator, seed: int | None = None) -> Seed | LatentsFile:
    """The command's starting point: ``--latents FILE``, or a seed (``seed``, else ``--seed``, else 0)."""
    if getattr(args, "latents", None):
        if args.seed is not None or getattr(args, "seeds", None):
            raise InvalidValueError("give either --latents or a seed, not both")
        found = load_latents(Path(args.latents).expanduser(), generator)
        if len(found.stored) != 1:
            raise InvalidValueError(f"{args.latents} holds {len(found.stored)} latents; an edit starts from one")
        return found
    if args.class_index is not None and not generator.num_classes:
        raise InvalidValueError(f"--class-index: {generator.identity.name} is not class-conditional")
    chosen = seed if seed is not None else (0 if args.seed is None else args.seed)
    return Seed(chosen, args.truncation, args.class_index, Noise(args.noise, args.noise_seed))


# ----- printing ---------------------------------------------------------------------------------------------------
def shown_default(value: object) -> str:
    """A default as ``--help`` shows it, as the user would type it (``a,b,c``; ``auto`` where the method chooses)."""
    return "auto" if value is None else plain(value)


def numbers(values: Any, digits: int = 4) -> str:
    return " ".join(f"{float(v):.{digits}g}" for v in values)


def _json_default(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def print_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default))
