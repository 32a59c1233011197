"""Small helpers the tabs share: parsing UI inputs, naming output files, describing models and directions."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import errors

if TYPE_CHECKING:
    from ..settings import UISettings

MAX_SEED = 2**32 - 1


def parse_seed(value: Any) -> int:
    try:
        seed = float(value)
    except (TypeError, ValueError):
        raise errors.InvalidValueError(f"the seed must be a whole number, got {value!r}") from None
    if not math.isfinite(seed) or seed != int(seed) or not 0 <= seed <= MAX_SEED:
        raise errors.InvalidValueError(f"the seed must be a whole number in [0, {MAX_SEED}], got {value!r}")
    return int(seed)


def parse_number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise errors.InvalidValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise errors.InvalidValueError(f"{what} must be a finite number, got {value!r}")
    return number


def parse_count(value: Any, what: str, low: int, high: int) -> int:
    number = parse_number(value, what)
    if number != int(number) or not low <= number <= high:
        raise errors.InvalidValueError(f"{what} must be a whole number in [{low}, {high}], got {value!r}")
    return int(number)


def parse_layers(text: Any) -> str | list[int]:
    """``all``/``coarse``/``middle``/``fine``, ``lo:hi`` or a comma list ``0,2,5`` (checked by the core)."""
    text = str(text or "all").strip()
    if "," in text:
        try:
            return [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise errors.InvalidValueError(f"layer list {text!r} must be whole numbers separated by commas") from None
    return text


def choice_labels(directions: Any) -> list[str]:
    """``"3: name"`` per direction; ``choice_index`` reads the index back."""
    return [f"{i}: {name}" for i, name in enumerate(directions.names)]


def choice_index(label: Any, directions: Any) -> int:
    match = re.match(r"\s*(\d+)\s*:", str(label or ""))
    if not match:
        raise errors.InvalidValueError("choose a direction first")
    index = int(match.group(1))
    if not 0 <= index < len(directions):
        raise errors.InvalidValueError(f"direction {index} does not exist (there are {len(directions)})")
    return index


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "model"


def output_path(settings: UISettings, kind: str, stem: str, suffix: str) -> Path:
    """``<output_dir>/<kind>/<stem>-<timestamp><suffix>`` (the folder is created)."""
    folder = Path(settings.output_dir) / kind
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1_000_000:06d}"
    return folder / f"{slug(stem)}-{stamp}{suffix}"


def model_summary(generator: Any) -> str:
    """Markdown summary of a loaded generator."""
    info = generator.describe()
    spaces = ", ".join(info["latent_spaces"])
    dims = f"z {info['z_dim']}" + (f", w {info['w_dim']}" if info["w_dim"] else "")
    layers = ", ".join(f"{i}: {name}" for i, name in enumerate(generator.layer_names))
    rows = [
        ("model", f"`{info['name']}`"),
        ("architecture", info["architecture"]),
        ("resolution", f"{info['resolution']}×{info['resolution']}"),
        ("latent spaces", f"{spaces} ({dims})"),
        ("W+ layers", f"{info['num_layers']} ({layers})" if info["num_layers"] > 1 else layers),
    ]
    if info["num_classes"]:
        rows.append(("classes", str(info["num_classes"])))
    rows.append(("weights sha256", f"`{info['sha256'][:16]}…`" if info["sha256"] else "—"))
    if info["source"]:
        rows.append(("source", f"`{info['source']}`"))
    return "\n".join(f"- **{k}**: {v}" for k, v in rows)


def directions_summary(directions: Any) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted(directions.params.items()))
    layers = "all" if directions.layers is None else ", ".join(map(str, directions.layers))
    lo, hi = directions.strength_range
    return (
        f"**{len(directions)} {directions.method} directions** for `{directions.model.name}` "
        f"(space {directions.space}, layers {layers}, strengths {lo:g} … {hi:g})" + (f" · {params}" if params else "")
    )


def for_display(image: Any, minimum: int = 256) -> Any:
    """Small generator outputs (64×64) upscaled for the screen; larger images are returned as they are."""
    from PIL import Image

    side = min(image.size)
    if side >= minimum:
        return image
    factor = -(-minimum // side)
    return image.resize((image.size[0] * factor, image.size[1] * factor), Image.Resampling.NEAREST)
