"""Sharing control files on the Hugging Face Hub: the model card, the folder that is uploaded, push and pull.

A shared repo holds ``directions.safetensors`` (the file ``Control.save`` writes, of any kind), a ``README.md`` model
card (YAML front matter: ``library_name: gan-steering``, ``tags`` with the method and the kind, ``base_model`` when the
GAN itself came from the Hub) and, when a generator is at hand, ``preview.png``: a sweep of the first controls.
Pulling goes through ``steering.sources.hub.download`` (cache, token, offline mode, ``HF_ENDPOINT``) and
``Control.load``, so a file made for another model is refused with ``DirectionsMismatchError``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path, PurePosixPath

import yaml

from . import edit
from .controls import Control, load_control
from .errors import DirectionsFileError, HubError, InvalidValueError
from .io import save_image
from .models.base import Generator, ModelIdentity
from .sources import hub
from .sources.catalog import CATALOG
from .sources.spec import HubFile, valid_repo_id
from .start import Seed

LIBRARY_NAME = "gan-steering"
DEFAULT_FILENAME = "directions.safetensors"
PREVIEW_FILENAME = "preview.png"
PREVIEW_DIRECTIONS = 5
PREVIEW_STEPS = 5
_PULL_SPEC = re.compile(r"^(?P<repo>[^@:\s]+)(?:@(?P<rev>[^:\s]+))?(?::(?P<file>\S+))?$")


# ----- the model card ----------------------------------------------------------------------------------------------
def base_model_of(model: ModelIdentity) -> str | None:
    """The Hub repo the GAN came from (identity source ``hub:owner/name``), else ``None``."""
    source = model.source or ""
    if source.startswith("hub:") and valid_repo_id(source[4:]):
        return source[4:]
    return None


def model_spec(model: ModelIdentity) -> str:
    """What to pass to ``load_generator`` to get this model back (a catalog name, a pinned Hub file, a path)."""
    if model.name in CATALOG:
        return model.name
    repo = base_model_of(model)
    if repo:
        revision = f"@{model.revision}" if model.revision and model.revision != "unknown" else ""
        return f"{repo}{revision}:{model.filename}"
    return f"path/to/{model.filename or model.name}"


def model_card(
    directions: Control,
    preview_filename: str | None = None,
    base_model: str | None = None,
    *,
    repo_id: str | None = None,
    filename: str = DEFAULT_FILENAME,
) -> str:
    """``README.md`` for a repo sharing ``directions``: YAML metadata, the model, the method, the directions, usage."""
    model = directions.model
    base = base_model or base_model_of(model)
    if base is not None and not valid_repo_id(base):
        raise InvalidValueError(f"base_model {base!r} is not a Hub repo id 'owner/name'")
    metadata: dict[str, object] = {
        "library_name": LIBRARY_NAME,
        "tags": ["gan", "latent-directions", directions.method, f"{directions.kind}-controls"],
        "license": "other",  # directions are derived from the weights: they follow the GAN's own licence
    }
    if base:
        metadata["base_model"] = base
    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip()
    repo = repo_id or "<owner>/<repo>"
    local = repo.split("/")[-1].strip("<>") or "directions"
    pull = repo if filename == DEFAULT_FILENAME else f"{repo}:{filename}"
    catalog = CATALOG.get(model.name)
    licence = catalog.license if catalog and catalog.license else ""
    if not licence and base:
        licence = f"see [{base}](https://huggingface.co/{base})"
    layers = "all" if directions.layers is None else ", ".join(str(i) for i in directions.layers)
    if directions.layer_mask is not None:
        layers = "per direction (layer_mask)"
    lo, hi = directions.strength_range

    sections = [
        f"---\n{front}\n---",
        f"# {len(directions)} {directions.method} {directions.kind} controls for {model.name}",
        f"Latent directions for the GAN **{model.name}** ({model.architecture}), found with **{directions.method}** "
        f"by [gan-steering](https://pypi.org/project/{LIBRARY_NAME}/). Moving a latent code along one of them "
        f"changes one attribute of the generated image.",
        "## Model\n\n"
        + _table(
            ["Property", "Value"],
            [
                ["Name", model.name],
                ["Architecture", model.architecture],
                ["Weights sha256", f"`{model.sha256}`" if model.sha256 else "unknown"],
                ["Source", model.source or "unknown"],
                ["Revision", f"`{model.revision}`" if model.revision else "-"],
                ["File", f"`{model.filename}`" if model.filename else "-"],
            ],
        )
        + "\n\nThe direction file records this identity; loading it with another model raises "
        "`DirectionsMismatchError`.",
        "## Method\n\n"
        + _table(
            ["Property", "Value"],
            [
                ["Method", directions.method],
                ["Kind", f"{directions.kind}: a unit of strength is {directions.unit}"],
                ["Parameters", f"`{json.dumps(directions.params, sort_keys=True, default=str)}`"],
                ["Latent space", f"`{directions.space}`"],
                ["Layers", layers],
                ["Strength range", f"{lo:+.3g} … {hi:+.3g}"],
            ],
        ),
        "## Directions\n\n" + _direction_table(directions),
    ]
    if preview_filename:
        sections.append(
            f"## Preview\n\n![{directions.method} directions]({preview_filename})\n\n"
            f"One row per direction (the first {min(len(directions), PREVIEW_DIRECTIONS)}), one column per strength."
        )
    sections += [
        "## Usage\n\n```python\n"
        "from steering import edit, load_generator\n"
        "from steering.share import pull_directions\n\n"
        f'G = load_generator("{model_spec(model)}")\n'
        f'directions = pull_directions("{pull}", G)  # checks that the file fits G\n'
        "latents = G.sample(1, seed=0)\n"
        "image = edit.render(G, edit.apply(G, latents, directions, {0: 2.0}))[0]\n"
        "```\n\n"
        "From the command line (`huggingface-cli download` before huggingface_hub 1.0):\n\n"
        f"```bash\nhf download {repo} {filename} --local-dir {local}\n"
        f'gan-steering edit "{model_spec(model)}" --directions {local}/{filename} --strength 0=2 -o edited.png\n'
        "```",
        "## License\n\n"
        "These directions are derived from the model's weights and are shared under the same terms as the model"
        + (f": {licence}." if licence else "."),
    ]
    return "\n\n".join(sections) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _direction_table(directions: Control) -> str:
    header = ["#", "Name"]
    if directions.values is not None:
        header.append("Value")
    scales = getattr(directions, "scales", None)
    if scales is not None:
        header.append("Scale")
    header.append("Range")
    rows = []
    for i, name in enumerate(directions.names):
        row = [str(i), name]
        if directions.values is not None:
            row.append(f"{float(directions.values[i]):.4g}")
        if scales is not None:
            row.append(f"{float(scales[i]):.4g}")
        low, high = directions.range_of(i)
        row.append(f"{low:+.3g} … {high:+.3g}")
        rows.append(row)
    return _table(header, rows)


# ----- the folder that is uploaded ---------------------------------------------------------------------------------
def _check_filename(filename: str) -> str:
    path = PurePosixPath(filename)
    if path.is_absolute() or ".." in path.parts or not filename.endswith(".safetensors") or "\\" in filename:
        raise InvalidValueError(f"direction file name {filename!r} must be a relative path ending in .safetensors")
    return filename


def preview_grid(generator: Generator, directions: Control, seed: int = 0):
    """A sweep of the first few directions over their strength range, from one seeded sample."""
    lo, hi = directions.range_of(0)
    indices = range(min(len(directions), PREVIEW_DIRECTIONS))
    strengths = edit.strengths_between(lo, hi, PREVIEW_STEPS)
    start = Seed(seed).latents(generator, [directions])
    return edit.sweep(generator, start, directions, list(indices), strengths)


def build_upload_folder(
    directions: Control,
    folder: str | os.PathLike[str],
    generator: Generator | None = None,
    filename: str = DEFAULT_FILENAME,
    seed: int = 0,
    *,
    repo_id: str | None = None,
) -> Path:
    """Write the direction file, ``README.md`` and (with a generator) ``preview.png`` into ``folder``."""
    folder = Path(folder)
    _check_filename(filename)
    if generator is not None:
        directions.check_compatible(generator)  # never preview directions on the wrong model
    folder.mkdir(parents=True, exist_ok=True)
    directions.save(folder / filename)
    preview = None
    if generator is not None:
        preview = PREVIEW_FILENAME
        save_image(preview_grid(generator, directions, seed), folder / preview)
    card = model_card(directions, preview, repo_id=repo_id, filename=filename)
    (folder / "README.md").write_text(card, encoding="utf-8")
    return folder


# ----- push and pull -----------------------------------------------------------------------------------------------
def push_directions(
    directions: Control,
    repo_id: str,
    *,
    generator: Generator | None = None,
    token: str | None = None,
    private: bool = False,
    filename: str = DEFAULT_FILENAME,
    commit_message: str | None = None,
) -> str:
    """Create ``repo_id`` if needed and upload the direction file, card and preview in one commit: its URL."""
    from huggingface_hub import HfApi

    if not valid_repo_id(repo_id):
        raise InvalidValueError(f"{repo_id!r} is not a valid Hub repo id: expected 'owner/name'")
    _check_filename(filename)
    if hub.is_offline():
        raise HubError(f"cannot push to {repo_id}: offline mode is on (HF_HUB_OFFLINE); unset it to upload")
    endpoint = hub.hub_endpoint()
    api = HfApi(endpoint=endpoint, token=token)
    message = commit_message or f"Upload {len(directions)} {directions.method} directions for {directions.model.name}"
    with tempfile.TemporaryDirectory(prefix="gan-steering-push-") as tmp:
        folder = build_upload_folder(directions, tmp, generator, filename, repo_id=repo_id)
        try:
            repo_url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.upload_folder(
                repo_id=repo_id, folder_path=str(folder), commit_message=message, repo_type="model"
            )
        except Exception as exc:
            mapped = hub.map_error(exc, repo_id=repo_id, endpoint=endpoint, token=token, write=True)
            if mapped is None:
                raise
            raise mapped from exc
    return str(getattr(commit, "commit_url", None) or commit or repo_url)


def parse_pull_spec(spec: str) -> HubFile:
    """``owner/name[@revision][:filename]`` -> ``HubFile`` (default file ``directions.safetensors``)."""
    match = _PULL_SPEC.match((spec or "").strip())
    if not match or not valid_repo_id(match["repo"]):
        raise InvalidValueError(
            f"{spec!r} is not a direction repo: expected 'owner/name[@revision][:file.safetensors]'"
        )
    return HubFile(match["repo"], _check_filename(match["file"] or DEFAULT_FILENAME), match["rev"])


def pull_directions(
    spec: str,
    generator: Generator | None = None,
    *,
    token: str | None = None,
    local_files_only: bool = False,
) -> Control:
    """Download (or find in the HF cache) a shared direction file and load it, checked against ``generator``."""
    return pull_directions_file(spec, generator, token=token, local_files_only=local_files_only)[0]


def pull_directions_file(
    spec: str,
    generator: Generator | None = None,
    *,
    token: str | None = None,
    local_files_only: bool = False,
) -> tuple[Control, Path]:
    """``pull_directions`` and the local file (in the HF cache) the directions were read from."""
    source = parse_pull_spec(spec)
    downloaded = hub.download(source, token=token, local_files_only=local_files_only)
    try:
        return load_control(downloaded.path, generator), Path(downloaded.path)
    except DirectionsFileError as exc:
        where = f"{source.repo_id}@{downloaded.commit}" if downloaded.commit else source.repo_id
        raise DirectionsFileError(f"{source.filename} in Hub repo {where}: {exc}") from exc
