"""Commands about control files: ``inspect``, ``rename``, ``push``, ``pull`` (every kind of control)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from ..controls import load_control
from ..errors import DirectionsFileError
from ..text import counted, format_layers, plain
from .console import Console, echo
from .shared import (
    checked_output,
    control_index,
    load_model,
    not_an_input,
    output,
    print_json,
)


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    from ..io import read_safetensors_metadata

    path = Path(args.file).expanduser()
    control = load_control(path)
    metadata = read_safetensors_metadata(path, error=DirectionsFileError)
    per_control = [
        {
            "name": control.names[i],
            "range": list(control.range_of(i)),
            "end_point": control.end_point(i),
            "value": None if control.values is None else float(control.values[i]),
            "layers": None if control.layer_mask is None else control.layer_mask[i].nonzero().flatten().tolist(),
        }
        for i in range(len(control))
    ]
    info: dict[str, Any] = {
        "file": str(path),
        "format": metadata.get("format"),
        "format_version": int(metadata["format_version"]),
        "created_with": metadata.get("created_with"),
        "kind": control.kind,
        "unit": control.unit,
        "method": control.method,
        "params": control.params,
        "model": dataclasses.asdict(control.model),
        "space": control.space,
        "dimension": control.dim,
        "count": len(control),
        "layers": None if control.layers is None else list(control.layers),
        "names": list(control.names),
        "values": None if control.values is None else control.values.tolist(),
        "strength_range": list(control.strength_range),
        "controls": per_control,
        "sha256": control.content_hash(),
    }
    if args.json:
        print_json(info)
        return 0
    model = control.model
    source = ", ".join(part for part in (model.source, model.revision, model.filename) if part)
    echo(f"{'file:':<16}{path}")
    echo(f"{'format:':<16}{info['format']} v{info['format_version']} ({info['created_with'] or 'unknown writer'})")
    echo(f"{'kind:':<16}{control.kind} (a unit of strength: {control.unit})")
    params = plain(control.params) if control.params else ""
    echo(f"{'method:':<16}{control.method}" + (f" ({params})" if params and len(params) <= 80 else ""))
    if len(params) > 80:  # one parameter a line
        for key, value in control.params.items():
            echo(f"{'':<16}{key.replace('_', ' ')}: {plain(value)}")
    echo(f"{'model:':<16}{model.name} ({model.architecture}), sha256 {model.sha256}")
    if source:
        echo(f"{'source:':<16}{source}")
    held = counted(len(control), control.noun.removesuffix("s"), control.noun)
    echo(f"{'space:':<16}{control.space}, {held} of dimension {control.dim}")
    echo(f"{'layers:':<16}{format_layers(control.layers)}")
    low, high = control.strength_range
    echo(f"{'strengths:':<16}{low:g} … {high:g}")
    width = max(len(name) for name in control.names)
    echo("directions:")
    scales = getattr(control, "scales", None)
    for i, row in enumerate(per_control):
        parts = [f"  {i:>3}  {row['name']:<{width}}"]
        if row["value"] is not None:
            parts.append(f"value {row['value']:.4g}")
        if scales is not None:
            parts.append(f"scale {float(scales[i]):.3g}")
        if tuple(row["range"]) != control.strength_range:
            parts.append(f"range {row['range'][0]:g} … {row['range'][1]:g}")
        if row["end_point"] is not None:
            parts.append(f"natural end at {row['end_point']:g}")
        if row["layers"] is not None:
            parts.append(f"layers {format_layers(row['layers'])}")
        echo("  ".join(parts))
    return 0


def cmd_rename(args: argparse.Namespace, console: Console) -> int:
    path = Path(args.file).expanduser()  # without -o, FILE is edited in place (atomically): that is the command
    out = checked_output(Path(args.output).expanduser(), args) if args.output else path
    control = load_control(path)
    index = control_index(control, args.index)
    old = control.names[index]
    control.renamed(index, args.name).save(out)  # atomic: a temporary file replaces the target in one step
    echo(f"direction {index}: {old!r} -> {args.name.strip()!r} in {out}")
    return 0


def cmd_push(args: argparse.Namespace, console: Console) -> int:
    from ..share import push_directions

    control = load_control(Path(args.file).expanduser())
    generator = None
    if args.model:  # with the model at hand the upload carries a preview grid (and is checked against it)
        args.architecture, args.offline = None, False
        generator = load_model(args, console)
    console.info(f"uploading {args.file} to {args.repo_id} …")
    url = push_directions(control, args.repo_id, generator=generator, token=args.token, private=args.private)
    echo(url)
    return 0


def cmd_pull(args: argparse.Namespace, console: Console) -> int:
    from ..share import pull_directions_file

    out = output(args.output, (".safetensors",), "direction file", args)
    generator = None
    if args.model:
        args.architecture = None
        generator = load_model(args, console)
    control, pulled = pull_directions_file(args.spec, generator, token=args.token, local_files_only=args.offline)
    not_an_input(out, [pulled])  # never over the file in the Hugging Face cache
    control.save(out)
    checked = f", checked against {args.model}" if generator is not None else ""
    noun = f"{control.method} {control.noun}"
    echo(f"{counted(len(control), noun.removesuffix('s'), noun)} for {control.model.name} -> {out}{checked}")
    return 0
