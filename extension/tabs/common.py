"""Small helpers the tabs share: reading UI inputs through the core's checks, describing models and directions.

Text that comes from files or users (direction names, model names, parameters) is shown through ``md``: escaped, so
it is never markup on the page."""

from __future__ import annotations

import html
import importlib
import re
from typing import Any, Callable, TypeVar

from .. import compat
from ..core import CORE, errors, methods, values

text = importlib.import_module(CORE + ".text")

#: Markdown punctuation, escaped with a backslash (``<`` and ``>`` become HTML entities instead).
T = TypeVar("T")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def md(text: Any) -> str:
    """``text`` as literal Markdown: Markdown punctuation backslash-escaped, then HTML escaped (in that order, so the
    entities of quotes and ampersands stay whole), one line."""
    plain = " ".join(str(text).split())
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", plain), quote=True)


def code(text: Any) -> str:
    """``text`` in an inline code span (escaped, so a backtick in a name cannot end the span)."""
    return f"<code>{html.escape(' '.join(str(text).split()), quote=True)}</code>"


def choice_labels(directions: Any) -> list[str]:
    """``"3: name"`` per direction; ``choice_index`` reads the index back."""
    return [f"{i}: {name}" for i, name in enumerate(directions.names)]


def choice_index(label: Any, directions: Any) -> int:
    match = re.match(r"\s*(\d+)\s*:", str(label or ""))
    if not match:
        raise errors.InvalidValueError("choose a direction first")
    return values.check_count(match.group(1), "the direction", 0, len(directions) - 1)


def typed_or(value: Any, default: Any) -> Any:
    """A box's value, or ``default`` only when the box is empty (``None`` or blank text): a typed ``0`` reaches the
    core's check, which refuses it with its own message, instead of silently becoming the default."""
    return default if value is None or (isinstance(value, str) and not value.strip()) else value


def in_box(label: str, check: Callable[..., T], *args: Any) -> T:
    """``check(*args)`` (a core value check) whose refusal names the box the value came from (``"Target seed: a
    seed must be …"``): an action that reads several boxes says which one is wrong."""
    try:
        return check(*args)
    except errors.InvalidValueError as exc:
        raise type(exc)(f"{label}: {exc}") from exc


def model_summary(generator: Any) -> str:
    """Markdown summary of a loaded generator."""
    info = generator.describe()
    spaces = ", ".join(info["latent_spaces"])
    dims = f"z {info['z_dim']}" + (f", w {info['w_dim']}" if info["w_dim"] else "")
    layers = ", ".join(f"{i}: {name}" for i, name in enumerate(generator.layer_names))
    rows = [
        ("model", code(info["name"])),
        ("architecture", md(info["architecture"])),
        ("resolution", f"{info['resolution']}×{info['resolution']}"),
        ("latent spaces", md(f"{spaces} ({dims})")),
        ("W+ layers", md(f"{info['num_layers']} ({layers})" if info["num_layers"] > 1 else layers)),
    ]
    if info["num_classes"]:
        names = generator.class_names
        listed = ", ".join(names[:16]) + (f", … ({len(names)})" if len(names) > 16 else "")
        rows.append(("classes", md(f"{info['num_classes']}: {listed}")))
    rows.append(("weights sha256", code(info["sha256"][:16] + "…") if info["sha256"] else "—"))
    if info["source"]:
        rows.append(("source", code(info["source"])))
    return "\n".join(f"- **{k}**: {v}" for k, v in rows)


def counted(controls: Any, method: str = "") -> str:
    """``"3 sefa directions"``, ``"1 interpolation path"``: how many controls, of which method, in the set's own
    noun (directions, transformations, field controls, paths), singular for one."""
    noun = controls.noun if len(controls) != 1 else controls.noun.removesuffix("s")
    return f"{len(controls)} {md(method) + ' ' if method else ''}{noun}"


def parameter_text(value: Any, limit: int = 40) -> str:
    """A method parameter in the core's words (``text.plain``: the CLI's and the recipes' way to write values), cut
    to ``limit`` characters so that a long value (a hash, a list of seeds) keeps the line readable."""
    shown = text.plain(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def directions_summary(directions: Any) -> str:
    """What the Edit tab says about its set: how many of what, for which model, in which space and layers, the
    strength range (one range, or per slider), and the method's own short account of it (``Method.summary``), else
    its parameters in words."""
    method = methods.METHODS.get(directions.method)
    if method is not None and method.summary is not None:
        params = method.summary(directions)
    else:
        params = ", ".join(parameter_text({k: v}) for k, v in sorted(directions.params.items()) if v is not None)
    layers = "all" if directions.layers is None else ", ".join(map(str, directions.layers))
    ranges = {(spec.minimum, spec.maximum) for spec in (directions.slider(i) for i in range(len(directions)))}
    if len(ranges) == 1:
        ((lo, hi),) = ranges
        strengths = f"strengths {lo:g} … {hi:g}"
    else:
        strengths = "a range per slider"
    return (
        f"**{counted(directions, directions.method)}** for {code(directions.model.name)} "
        f"(space {md(directions.space)}, layers {md(layers)}, {strengths})" + (f" · {md(params)}" if params else "")
    )


def for_display(image: Any, minimum: int = 256) -> Any:
    """Small generator outputs (64×64) upscaled for the screen; larger images are returned as they are."""
    from PIL import Image

    side = min(image.size)
    if side >= minimum:
        return image
    factor = -(-minimum // side)
    return image.resize((image.size[0] * factor, image.size[1] * factor), Image.Resampling.NEAREST)


def animation_for_display(path: str, minimum: int = 256) -> str:
    """A preview of a small GIF with every frame upscaled like ``for_display`` (timing and loop kept); the saved file
    itself is unchanged. Large GIFs are previewed as they are."""
    from PIL import Image, ImageSequence

    from .. import outputs

    with Image.open(path) as gif:
        if min(gif.size) >= minimum:
            return str(path)
        frames = [for_display(frame.convert("RGB"), minimum) for frame in ImageSequence.Iterator(gif)]
        timing = {"duration": gif.info.get("duration", 83), "loop": gif.info.get("loop", 0)}
    return outputs.preview(frames[0], format="GIF", save_all=True, append_images=frames[1:], **timing)


def previews(path: Any) -> tuple[Any, Any]:
    """``(image preview update, video preview update)`` for a saved result: an MP4 plays in the video preview (the
    file itself) with the image preview hidden; anything else (a GIF, upscaled like ``animation_for_display``, or a
    still image) shows in the image preview with the video preview hidden and emptied."""
    shown = str(path)
    if shown.lower().endswith(".mp4"):
        return compat.update(value=None, visible=False), compat.update(value=shown, visible=True)
    image = animation_for_display(shown) if shown.lower().endswith(".gif") else shown
    return compat.update(value=image, visible=True), compat.update(value=None, visible=False)
