"""Commands about models and discovery: ``models``, ``info``, ``discover`` (built from the method table)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import InvalidValueError, SteeringError
from ..text import counted, format_layers
from .console import Console, echo
from .shared import load_model, numbers, output, print_json, shown_default


def cmd_models(args: argparse.Namespace, console: Console) -> int:
    from ..io import read_safetensors_metadata
    from ..models import ModelIdentity
    from ..sources import CATALOG
    from ..sources.embedded import embedded_wheel
    from ..sources.store import FORMAT

    catalog = []
    for entry in CATALOG.values():
        if entry.repo_id is None:
            source = f"pypi:{embedded_wheel(entry.name).requirement} (embedded)"
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
        print_json({"catalog": catalog, "converted": converted, "models_dir": str(folder)})
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
    generator = load_model(args, console)
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
        class_names=generator.class_names,
    )
    if args.json:
        print_json(info)
        return 0
    for key, value in info.items():
        if key in ("layer_names", "layer_resolutions", "feature_names", "class_names") or value in (None, ""):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        echo(f"{key.replace('_', ' ') + ':':<16}{shown}")
    if info["class_names"]:
        echo(f"{'class names:':<16}{_numbered(info['class_names'])}")
    echo(f"{'features:':<16}{', '.join(info['feature_names'])}")
    echo(f"layers ({len(info['layer_names'])}):")
    for i, (name, res) in enumerate(zip(info["layer_names"], info["layer_resolutions"], strict=False)):
        echo(f"  {i:>3}  {name}  ({res} px)")
    return 0


def _numbered(names: list[str], limit: int = 16) -> str:
    """``0 amber, 1 blue, …``: the first ``limit`` names with their class index."""
    shown = ", ".join(f"{i} {name}" for i, name in enumerate(names[:limit]))
    return shown + (f", … ({len(names)} classes)" if len(names) > limit else "")


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """One option per parameter of any method (``METHODS``); which method takes which is checked when run."""
    from ..methods import METHODS, all_parameters

    parser.add_argument("--method", choices=list(METHODS), required=True, help="how to find the controls")
    for parameter in all_parameters(METHODS).values():
        owned = {m.name: p for m in METHODS.values() for p in m.parameters if p.name == parameter.name}
        scope = "" if len(owned) == len(METHODS) else f"{', '.join(owned)}: "
        defaults = {name: shown_default(p.default) for name, p in owned.items()}
        if len(set(defaults.values())) == 1:
            shown = next(iter(defaults.values()))
            default = f" (default {shown})" if shown != "auto" else ""
        else:
            default = " (defaults: " + ", ".join(f"{name} {value}" for name, value in defaults.items()) + ")"
        parser.add_argument(*parameter.cli_flags, dest=parameter.name, help=f"{scope}{parameter.help}{default}")


def cmd_discover(args: argparse.Namespace, console: Console) -> int:
    from ..methods import METHODS, all_parameters, method

    chosen = method(args.method)
    given = {name: getattr(args, name) for name in all_parameters(METHODS) if getattr(args, name, None) is not None}
    foreign = [name for name in given if name not in {p.name for p in chosen.parameters}]
    if foreign:
        owners = sorted({m.name for m in METHODS.values() for p in m.parameters if p.name in foreign})
        flags = ", ".join(all_parameters(METHODS)[name].cli_flags[-1] for name in foreign)
        raise InvalidValueError(f"{flags} only apply to --method {' or '.join(owners)}, not {chosen.name}")
    out = output(args.output, (".safetensors",), "the direction file", args)
    generator = load_model(args, console)
    with console.progress(chosen.title, percent=True) as progress:
        found = chosen.run(generator, given, progress=progress, use_cache=not args.no_cache)
    found.save(out)
    low, high = found.strength_range
    layers = "" if found.layers is None else f" (W+ layers {format_layers(found.layers)})"
    echo(
        f"{found.method}: {counted(len(found), found.noun.removesuffix('s'), found.noun)} in {found.space}{layers} for "
        f"{found.model.name}, strength range {low:g} … {high:g}"
    )
    if found.values is not None:
        echo(f"{chosen.value_label or 'values'}: {numbers(found.values)}")
    echo(f"saved {out}")
    return 0
