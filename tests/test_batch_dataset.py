"""A scored sample set as a Hugging Face dataset: export to Parquet shards with a card, publish to the local
Hub-protocol server (olah, read-only: the built folder is committed as ``push_dataset`` would upload it), pull it
back through ``huggingface_hub`` and get the same tensors; ``datasets`` reads the folder with its own conventions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

pq = pytest.importorskip("pyarrow.parquet")

from steering.batch import score, scoring_job  # noqa: E402
from steering.batch.dataset import (  # noqa: E402
    DatasetFileError,
    export_dataset,
    pull_dataset,
    push_dataset,
    read_dataset,
)
from steering.errors import HubError, InvalidValueError  # noqa: E402

SCORERS = ["brightness", "centre-colour"]


@pytest.fixture(scope="module")
def scored(eyes, tmp_path_factory):
    """60 scored samples of the class-conditional eyes model in 3 shards, exported."""
    folder = tmp_path_factory.mktemp("scored")
    result = score(eyes, SCORERS, 60, seed=5, thumbnails=32, batch_size=10, shard_size=20, store=folder / "job")
    return result, export_dataset(result, eyes.identity, folder / "dataset", repo_id="me/eyes-colours")


def assert_same_set(pulled, result, eyes) -> None:
    columns = result.columns()
    assert pulled.model == eyes.identity and pulled.space == "z" and len(pulled) == 60
    assert torch.equal(pulled.codes, columns["latents"]) and torch.equal(pulled.classes, columns["classes"])
    assert torch.equal(pulled.seeds, torch.arange(5, 65))  # each row's own seed
    assert set(pulled.scores) == {"brightness", "centre-colour"}
    for name, value in pulled.scores.items():
        assert torch.equal(value, columns[f"scores.{name}"]), name
    assert pulled.score_classes["centre-colour"] == ["dark", "brown", "red", "green", "blue", "gray", "light"]
    assert torch.equal(pulled.thumbnails, columns["thumbnail"])  # PNG is lossless


def test_export_layout_and_card(scored, eyes):
    result, folder = scored
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["README.md", *[f"data/train-{i:05d}-of-00003.parquet" for i in range(3)]]
    table = pq.read_table(folder / "data" / "train-00001-of-00003.parquet")
    assert table.column("row").to_pylist() == list(range(20, 40))
    assert str(table.schema.field("latent").type) == "fixed_size_list<element: float>[100]"
    assert str(table.schema.field("scores_centre-colour").type) == "fixed_size_list<element: float>[7]"
    features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
    assert features["thumbnail"] == {"_type": "Image"} and features["class_vector"]["length"] == 8
    own = json.loads(table.schema.metadata[b"gan-steering"])
    assert own["model"]["sha256"] == eyes.identity.sha256 and own["job"]["latents"]["seed"] == 5

    card = (folder / "README.md").read_text()
    front = yaml.safe_load(re.match(r"^---\n(.*?)\n---\n", card, flags=re.S)[1])
    assert front["configs"][0]["data_files"] == [{"split": "train", "path": "data/train-*"}]
    assert front["dataset_info"]["splits"] == [{"name": "train", "num_examples": 60}]
    assert {"name": "thumbnail", "dtype": "image"} in front["dataset_info"]["features"]
    assert eyes.identity.sha256 in card and 'pull_dataset("me/eyes-colours")' in card
    assert_same_set(read_dataset(folder), result, eyes)


def test_datasets_library_reads_the_export(scored):
    datasets = pytest.importorskip("datasets")
    result, folder = scored
    loaded = datasets.load_dataset(str(folder), split="train")
    assert len(loaded) == 60 and isinstance(loaded.features["thumbnail"], datasets.Image)
    row = loaded[37]
    assert row["seed"] == 42 and row["thumbnail"].size == (32, 32)
    assert torch.equal(torch.tensor(row["latent"]), result.column("latents")[37])


@pytest.mark.hub
def test_push_pull_round_trip_through_the_local_hub(hub, scored, eyes, tmp_path):
    result, folder = scored
    repo_id = hub.new_repo_id("scored")
    files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    commit = hub.commit(repo_id, files, "Upload scored samples", repo_type="datasets")
    assert_same_set(pull_dataset(repo_id), result, eyes)
    assert_same_set(pull_dataset(f"{repo_id}@{commit}"), result, eyes)
    assert any(p.startswith(f"/datasets/{repo_id}/resolve/") for _, p, _ in hub.requests(repo_id))

    hub.stop()  # cached: served from the HF cache without the server
    assert_same_set(pull_dataset(repo_id, local_files_only=True), result, eyes)


@pytest.mark.hub
def test_push_goes_to_the_hub_api(hub, scored, monkeypatch):
    _, folder = scored
    before = len(hub.requests())
    with pytest.raises(InvalidValueError, match="not a valid Hub repo id"):
        push_dataset(folder, "no-namespace")
    with pytest.raises(InvalidValueError, match="not an exported dataset"):
        push_dataset(folder / "data", "me/scored")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="offline mode"):
        push_dataset(folder, "me/scored")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert len(hub.requests()) == before  # refused before any request
    with pytest.raises(HubError, match=r"does not accept uploads"):  # the real HfApi reached the read-only olah
        push_dataset(folder, "me/scored", token="hf_test")
    assert ("POST", "/api/repos/create", 405) in hub.requests()[before:]


def test_damaged_or_foreign_files_are_refused(scored, eyes, dcgan, tmp_path):
    result, folder = scored
    with pytest.raises(InvalidValueError, match="not made with dcgan-faces"):
        export_dataset(result, dcgan.identity, tmp_path / "wrong")
    copy = tmp_path / "copy"
    (copy / "data").mkdir(parents=True)
    for path in (folder / "data").iterdir():
        (copy / "data" / path.name).write_bytes(path.read_bytes())
    shard = copy / "data" / "train-00001-of-00003.parquet"
    shard.unlink()
    with pytest.raises(DatasetFileError, match="missing or repeated"):
        read_dataset(copy)
    shard.write_bytes(b"PAR1 not really")
    with pytest.raises(DatasetFileError, match="not a readable Parquet"):
        read_dataset(copy)
    with pytest.raises(DatasetFileError, match="no data/train"):
        read_dataset(tmp_path)
    other = score(eyes, SCORERS, 20, seed=99, thumbnails=None, batch_size=10)
    export_dataset(other, eyes.identity, tmp_path / "other")
    shard.write_bytes((tmp_path / "other" / "data" / "train-00000-of-00001.parquet").read_bytes())
    with pytest.raises(DatasetFileError, match="another job"):
        read_dataset(copy)


def test_w_plus_latents_come_back_in_their_shape(tmp_path):
    """W+ latents (one w per layer) are stored flat in Parquet and come back [N, layers, w], bit for bit; a set whose
    recorded shape does not fit its column is refused."""
    from steering.models.stylegan2 import StyleGAN2

    torch.manual_seed(0)
    model = StyleGAN2(size=8, style_dim=32, n_mlp=2).eval()
    result = score(model, ["brightness"], 6, space="w+", thumbnails=None, batch_size=3, shard_size=3)
    folder = export_dataset(result, model.identity, tmp_path / "wplus")
    pulled = read_dataset(folder)
    assert pulled.space == "w+" and pulled.codes.shape == (6, model.num_layers, 32)
    assert torch.equal(pulled.codes, result.column("latents"))
    for shard in (folder / "data").iterdir():
        table = pq.read_table(shard)
        own = json.loads(table.schema.metadata[b"gan-steering"])
        own["latent_shape"] = [5, 32]
        metadata = {**table.schema.metadata, b"gan-steering": json.dumps(own).encode()}
        pq.write_table(table.replace_schema_metadata(metadata), shard)
    with pytest.raises(DatasetFileError, match="values per row"):
        read_dataset(folder)


def test_scoring_job_is_the_scorers_on_the_seeded_samples(eyes):
    from steering.scorers import scorer

    job = scoring_job(["brightness"], 12, seed=3, thumbnails=None, batch_size=4)
    result = score(eyes, ["brightness"], 12, seed=3, thumbnails=None, batch_size=4)
    assert result.fingerprint == job.fingerprint(eyes) and result.names() == ["classes", "latents", "scores.brightness"]
    images = eyes.synthesize(eyes.sample(1, seed=3 + 7)).clamp(-1, 1)
    torch.testing.assert_close(result.column("scores.brightness")[7], scorer("brightness")(images)[0])
    assert Path(__file__).name == "test_batch_dataset.py"


def test_a_pulled_set_trains_the_same_heads(hub, scored, eyes):
    """Export → the local Hub → pull: GradCtrl heads trained on the pulled set equal those trained on the job's own
    columns (a binary and a multi-class attribute, with the eyes' class vectors as head inputs)."""
    from steering.attributes import Training, confident, train_heads
    from steering.attributes.samples import Attribute, AttributeSamples

    result, folder = scored
    repo_id = hub.new_repo_id("heads")
    hub.commit(
        repo_id, {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}, "up", "datasets"
    )
    pulled = pull_dataset(repo_id)
    columns = result.columns()
    training = Training(epochs=5, seed=0)

    def heads(samples):
        return train_heads([confident(s, 0.3, seed=0) for s in samples], training)

    classes = {"brightness": ("bright",), "centre-colour": tuple(pulled.score_classes["centre-colour"])}
    own = [
        AttributeSamples(Attribute(n, classes[n]), "z", columns["latents"], columns[f"scores.{n}"], columns["classes"])
        for n in SCORERS
    ]
    from_hub, from_job = heads([pulled.attribute_samples(n) for n in SCORERS]), heads(own)
    assert from_hub.tensors.keys() == from_job.tensors.keys()
    assert all(torch.equal(from_hub.tensors[k], from_job.tensors[k]) for k in from_job.tensors)
    assert from_hub.accuracy == from_job.accuracy or all(a != a for a in from_job.accuracy)
    with pytest.raises(InvalidValueError, match="no scores of 'warmth'"):
        pulled.attribute_samples("warmth")
