"""A scored sample set as a Hugging Face dataset: Parquet shards with the latents, scores, model identity and a
thumbnail column, a dataset card, push to the Hub, pull back.

Layout (the Hub's dataset conventions; ``datasets.load_dataset`` reads it, pyarrow alone is enough here):

* ``data/train-00000-of-00004.parquet`` …: one file per job shard (written one at a time, atomically). Columns:
  ``row`` and ``seed`` (int64; ``seed`` is the sample's own seed, −1 when it has none), ``latent`` (float32 ×
  d; W+ rows flat, layers × d), ``class_vector`` (class-conditional models), ``scores_<name>`` (float32 × C per
  scored attribute), ``feature_<name>`` (features a job kept) and ``thumbnail`` (a PNG, the ``Image`` feature).
  The Arrow schema carries the ``huggingface`` feature types and our own ``gan-steering`` metadata (model
  identity, latent space and a row's shape, score classes, the job's description).
* ``README.md``: YAML front matter (``configs``, ``dataset_info`` with the features and the row count, tags) and a
  card naming the model (architecture, weights sha256, source), the attributes and how to load the set.

``read_dataset`` / ``pull_dataset`` return a ``ScoredSet``: the same tensors as the job's columns, bit for bit.
"""

from __future__ import annotations

import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import Tensor

from .. import limits
from ..errors import CorruptFileError, HubError, InvalidValueError
from ..io import atomic_path
from ..models.base import ModelIdentity
from ..sources import hub
from ..sources.spec import valid_repo_id
from .job import CLASSES, LATENTS
from .run import JobResult

DATASET_FORMAT = "gan-steering.scored-samples"
DATASET_VERSION = 1
SPLIT = "train"
_META_KEY = b"gan-steering"


class DatasetFileError(CorruptFileError):
    """A dataset folder or repo that is not a readable gan-steering scored sample set."""


@dataclass(frozen=True)
class ScoredSet:
    """Scored samples of one model: ``codes`` [N, d] in ``space`` ([N, layers, d] in w+), ``classes`` [N, K] or
    ``None``, ``seeds`` [N] (−1: none), ``scores`` {attribute: [N, C]} with ``score_classes`` {attribute: class
    names}, and thumbnails [N, h, w, 3] (uint8) when the set has them."""

    model: ModelIdentity
    space: str
    codes: Tensor
    seeds: Tensor
    scores: dict[str, Tensor]
    score_classes: dict[str, list[str]]
    classes: Tensor | None = None
    thumbnails: Tensor | None = None
    job: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def attribute_samples(self, name: str) -> Any:
        """One scored attribute with the latents (``attributes.AttributeSamples``): what GradCtrl's heads, the
        boundaries and SC²GAN train on (``attributes.confident`` picks the labelled rows)."""
        from ..attributes.samples import Attribute, AttributeSamples

        if name not in self.scores:
            raise InvalidValueError(f"the set has no scores of {str(name)[:40]!r}; it has {', '.join(self.scores)}")
        classes = tuple(self.score_classes.get(name) or (name,))
        attribute = Attribute(name, classes, {"dataset": self.model.name, "rows": len(self)})
        return AttributeSamples(attribute, self.space, self.codes, self.scores[name], self.classes)


# ----- writing --------------------------------------------------------------------------------------------------
def export_dataset(
    result: JobResult,
    model: ModelIdentity,
    folder: str | os.PathLike[str],
    *,
    repo_id: str | None = None,
    progress: Any = None,
) -> Path:
    """Write ``result`` (a job that kept its latents) as a dataset folder: Parquet shards and ``README.md``."""
    pq = _pyarrow_parquet()
    if model.sha256 != result.store.description.get("model", {}).get("sha256"):
        raise InvalidValueError(f"these results were not made with {model.name} (another weights sha256)")
    folder = Path(folder)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob(f"{SPLIT}-*.parquet"):
        stale.unlink()
    shards = result.job.num_shards
    info: dict[str, Any] = {}
    for index, columns in enumerate(result.shards()):
        table = _table(columns, result.job.shard_rows(index)[0], result, model, info)
        with atomic_path(data / f"{SPLIT}-{index:05d}-of-{shards:05d}.parquet") as tmp:
            pq.write_table(table, str(tmp))
        if progress is not None:
            progress(index + 1, shards)
    card = dataset_card(model, info, result.count, repo_id=repo_id)
    with atomic_path(folder / "README.md") as tmp:
        tmp.write_text(card, encoding="utf-8")
    return folder


def _seeds(result: JobResult, start: int, stop: int) -> list[int]:
    source = result.store.description.get("latents", {})
    if source.get("source") == "seeds" and source.get("block") == 1:
        return list(range(source["seed"] + start, source["seed"] + stop))
    return [-1] * (stop - start)


def _table(
    columns: dict[str, Tensor], start: int, result: JobResult, model: ModelIdentity, info: dict[str, Any]
) -> Any:
    """One shard (its first row is ``start``) as an Arrow table; ``info`` collects the features and score classes
    for the card."""
    import pyarrow as pa

    if LATENTS not in columns:
        raise InvalidValueError("a dataset needs the latents: run the job with keep_latents=True")
    rows = int(columns[LATENTS].shape[0])
    arrays: dict[str, Any] = {
        "row": pa.array(range(start, start + rows), pa.int64()),
        "seed": pa.array(_seeds(result, start, start + rows), pa.int64()),
    }
    features: dict[str, Any] = {"row": _value("int64"), "seed": _value("int64")}
    names = {LATENTS: "latent", CLASSES: "class_vector"}
    for name, tensor in sorted(columns.items()):
        if name == "thumbnail":
            arrays["thumbnail"] = pa.array([{"bytes": _png(t), "path": None} for t in tensor], _image_type())
            features["thumbnail"] = {"_type": "Image"}
            continue
        column = names.get(name) or name.replace(".", "_")
        flat = tensor.reshape(rows, -1).float().contiguous()
        values = pa.array(flat.reshape(-1).numpy(), pa.float32())
        arrays[column] = pa.FixedSizeListArray.from_arrays(values, flat.shape[1])
        features[column] = {"feature": _value("float32"), "length": int(flat.shape[1]), "_type": "List"}
    own = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "model": json.loads(model.to_json()),
        "space": _space(result),
        "latent_shape": list(columns[LATENTS].shape[1:]),  # a row's shape (W+: layers × w), stored flat
        "score_classes": _score_classes(result),
        "job": result.store.description,
    }
    info.update(features=features, own=own)
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode(), _META_KEY: json.dumps(own)}
    return pa.table(arrays).replace_schema_metadata(metadata)


def _space(result: JobResult) -> str | None:
    return result.store.description.get("latents", {}).get("space")


def _score_classes(result: JobResult) -> dict[str, list[str]]:
    found = {}
    for measure in result.store.description.get("measures", []):
        if measure.get("measure") == "scores":
            found[measure["name"]] = list(measure.get("classes") or [])
    return found


def _value(dtype: str) -> dict[str, str]:
    return {"dtype": dtype, "_type": "Value"}


def _png(pixels: Tensor) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.numpy()).save(buffer, format="PNG")
    return buffer.getvalue()


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InvalidValueError('dataset export needs pyarrow: pip install "gan-steering[parquet]"') from exc
    return pq


def _image_type() -> Any:
    """The Arrow type of the ``Image`` feature (encoded bytes, or a path)."""
    import pyarrow as pa

    return pa.struct([("bytes", pa.binary()), ("path", pa.string())])


# ----- the card -------------------------------------------------------------------------------------------------
def _yaml_feature(name: str, feature: dict[str, Any]) -> dict[str, Any]:
    if feature["_type"] == "Image":
        return {"name": name, "dtype": "image"}
    if feature["_type"] == "List":
        return {"name": name, "list": feature["feature"]["dtype"], "length": feature["length"]}
    return {"name": name, "dtype": feature["dtype"]}


def dataset_card(model: ModelIdentity, info: dict[str, Any], rows: int, *, repo_id: str | None = None) -> str:
    """``README.md``: the Hub's dataset metadata (configs, features, row count) and what the set holds."""
    features = info.get("features", {})
    own = info.get("own", {})
    metadata = {
        "configs": [{"config_name": "default", "data_files": [{"split": SPLIT, "path": f"data/{SPLIT}-*"}]}],
        "dataset_info": {
            "features": [_yaml_feature(name, feature) for name, feature in features.items()],
            "splits": [{"name": SPLIT, "num_examples": rows}],
        },
        "tags": ["gan", "gan-steering", "latents", "attribute-scores"],
        "license": "other",
    }
    scores = own.get("score_classes", {})
    lines = [f"| `scores_{name}` | {', '.join(classes) or name} |" for name, classes in scores.items()]
    repo = repo_id or "<owner>/<repo>"
    return (
        f"---\n{yaml.safe_dump(metadata, sort_keys=False).strip()}\n---\n\n"
        f"# Scored samples of {model.name}\n\n"
        f"{rows} latents of **{model.name}** ({model.architecture}, weights sha256 `{model.sha256}`, source "
        f"`{model.source or 'unknown'}`) in space `{own.get('space')}`, rendered and scored by "
        f"[gan-steering](https://pypi.org/project/gan-steering/) batch jobs. Each row has its `seed` (−1: none), "
        "its `latent`, the class vector of class-conditional models, the scores and a `thumbnail`.\n\n"
        "| column | classes |\n|---|---|\n" + "\n".join(lines) + "\n\n"
        "## Usage\n\n```python\nfrom steering.batch.dataset import pull_dataset\n\n"
        f'scored = pull_dataset("{repo}")  # ScoredSet: codes, seeds, scores, thumbnails\n```\n\n'
        f'or `datasets.load_dataset("{repo}")`.\n\n'
        "## License\n\nDerived from the model's outputs: the same terms as the model apply.\n"
    )


# ----- reading --------------------------------------------------------------------------------------------------
def read_dataset(folder: str | os.PathLike[str]) -> ScoredSet:
    """A dataset folder (``export_dataset``'s, or a pulled snapshot) as a ``ScoredSet``."""
    pq = _pyarrow_parquet()
    files = sorted(Path(folder).glob(f"data/{SPLIT}-*.parquet"))
    if not files:
        raise DatasetFileError(f"{folder} holds no data/{SPLIT}-*.parquet files: not a scored sample set")
    tables, own = [], None
    total = 0
    for path in files:
        try:
            table = pq.read_table(str(path))
        except Exception as exc:  # pyarrow raises its own ArrowInvalid / OSError for damaged files
            raise DatasetFileError(f"{path.name} is not a readable Parquet file ({exc})") from exc
        meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
        if meta.get("format") != DATASET_FORMAT:
            raise DatasetFileError(f"{path.name} is not a gan-steering scored sample set")
        if own is not None and meta.get("job") != own.get("job"):
            raise DatasetFileError(f"{path.name} belongs to another job than the other shards")
        own = meta
        total += table.nbytes
        limits.check_bytes(total, f"reading the dataset in {folder}")
        tables.append(table)
    assert own is not None
    import pyarrow as pa

    table = pa.concat_tables(tables)
    order = torch.as_tensor(table.column("row").to_numpy())
    if not torch.equal(order, torch.arange(len(order))):
        raise DatasetFileError(f"the rows of {folder} are missing or repeated")

    def matrix(name: str) -> Tensor:
        column = table.column(name).combine_chunks()
        width = column.type.list_size
        return torch.from_numpy(column.values.to_numpy(zero_copy_only=False).copy()).reshape(-1, width)

    names = table.column_names
    thumbnails = None
    if "thumbnail" in names:
        thumbnails = torch.stack([_unpng(item["bytes"]) for item in table.column("thumbnail").to_pylist()])
    scores = {n.removeprefix("scores_"): matrix(n) for n in names if n.startswith("scores_")}
    return ScoredSet(
        model=ModelIdentity.from_json(json.dumps(own["model"]), "the dataset", DatasetFileError),
        space=str(own.get("space")),
        codes=_unflatten(matrix("latent"), own.get("latent_shape")),
        seeds=torch.as_tensor(table.column("seed").to_numpy()),
        scores=scores,
        score_classes={k: list(v) for k, v in own.get("score_classes", {}).items()},
        classes=matrix("class_vector") if "class_vector" in names else None,
        thumbnails=thumbnails,
        job=own.get("job", {}),
    )


def _unflatten(codes: Tensor, shape: Any) -> Tensor:
    """The latents [N, *shape] from their flat column (sets written before the shape was recorded stay flat)."""
    if shape is None:
        return codes
    if not isinstance(shape, list) or not all(isinstance(n, int) and n > 0 for n in shape):
        raise DatasetFileError(f"the dataset's latent shape {str(shape)[:40]} is not a list of sizes")
    if codes.shape[1] != math.prod(shape):
        raise DatasetFileError(f"the dataset's latents hold {codes.shape[1]} values per row, not {shape}")
    return codes.reshape(-1, *shape)


def _unpng(data: bytes) -> Tensor:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return torch.from_numpy(np.asarray(image.convert("RGB")).copy())


# ----- the Hub ----------------------------------------------------------------------------------------------------
def push_dataset(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
) -> str:
    """Create the dataset repo ``repo_id`` if needed and upload ``folder`` (``export_dataset``'s) in one commit."""
    from huggingface_hub import HfApi

    if not valid_repo_id(repo_id):
        raise InvalidValueError(f"{repo_id!r} is not a valid Hub repo id: expected 'owner/name'")
    if not list(Path(folder).glob(f"data/{SPLIT}-*.parquet")) or not (Path(folder) / "README.md").is_file():
        raise InvalidValueError(f"{folder} is not an exported dataset (README.md and data/*.parquet)")
    if hub.is_offline():
        raise HubError(f"cannot push to {repo_id}: offline mode is on (HF_HUB_OFFLINE); unset it to upload")
    endpoint = hub.hub_endpoint()
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="dataset")
        commit = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="dataset",
            commit_message=commit_message or "Upload scored samples",
            allow_patterns=["README.md", "data/*.parquet"],
            delete_patterns=["data/*.parquet"],
        )
    except Exception as exc:
        mapped = hub.map_error(exc, repo_id=repo_id, endpoint=endpoint, token=token, write=True)
        if mapped is None:
            raise
        raise mapped from exc
    return str(getattr(commit, "commit_url", None) or commit)


def pull_dataset(
    spec: str, *, token: str | None = None, local_files_only: bool = False, cache_dir: str | None = None
) -> ScoredSet:
    """Download (or find in the HF cache) the dataset repo ``owner/name[@revision]`` and read it."""
    from huggingface_hub import snapshot_download

    repo_id, _, revision = (spec or "").strip().partition("@")
    if not valid_repo_id(repo_id):
        raise InvalidValueError(f"{spec!r} is not a dataset repo: expected 'owner/name[@revision]'")
    endpoint = hub.hub_endpoint()
    try:
        folder = snapshot_download(
            repo_id,
            repo_type="dataset",
            revision=revision or None,
            allow_patterns=["README.md", f"data/{SPLIT}-*.parquet"],
            token=token,
            local_files_only=local_files_only or hub.is_offline(),
            cache_dir=cache_dir or hub.hub_cache_dir(),
            endpoint=endpoint,
        )
    except Exception as exc:
        mapped = hub.map_error(exc, repo_id=repo_id, endpoint=endpoint, token=token)
        if mapped is None:
            raise
        raise mapped from exc
    return read_dataset(folder)


__all__ = [
    "DatasetFileError",
    "ScoredSet",
    "dataset_card",
    "export_dataset",
    "pull_dataset",
    "push_dataset",
    "read_dataset",
]
