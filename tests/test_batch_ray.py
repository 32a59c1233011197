"""The Ray engine against the in-process one, on a local Ray instance with 2 CPUs: the same jobs write the same
shard bytes (a scoring job with a torch classifier, GANSpace sampling), a job killed midway in-process resumes on Ray
to the same result, and a finished job is served from its shards without starting any Ray work."""

from __future__ import annotations

import os
import sys

import pytest
import torch

ray = pytest.importorskip("ray")

import test_batch  # noqa: E402
from test_batch import colour, kill_midway, scoring_job  # noqa: E402

from steering.batch import Job, Scores, SeededLatents, Thumbnails, run  # noqa: E402
from steering.batch.ray_engine import RayEngine  # noqa: E402
from steering.batch.store import shard_name  # noqa: E402
from steering.methods import ganspace  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance (2 CPUs) for this module; the test modules travel to the workers by value."""
    saved = os.environ.pop("RAY_ADDRESS", None)
    ray.init("local", num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    for module in (sys.modules[__name__], test_batch):
        ray.cloudpickle.register_pickle_by_value(module)
    yield RayEngine(workers=2)
    ray.shutdown()
    if saved is not None:
        os.environ["RAY_ADDRESS"] = saved


class Classifier(torch.nn.Module):
    """A small image classifier with fixed random weights: 4 class probabilities per image."""

    name = "classifier"

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 4, stride=4)
        self.head = torch.nn.Linear(8, 4)
        for parameter in self.parameters():
            parameter.data = torch.randn(parameter.shape, generator=generator) * 0.3

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(images)).mean(dim=(2, 3))).softmax(dim=1)


def shard_files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("shard-")}


def test_scoring_job_writes_the_same_shards_on_both_engines(cluster, dcgan, eyes, tmp_path):
    measures = (Scores(Classifier()), Scores(colour, name="colour"), Thumbnails(16))
    job = Job(SeededLatents(120, seed=7), measures=measures, batch_size=10, shard_size=30)
    run(job, dcgan, store=tmp_path / "local")
    seen: list[int] = []
    remote = run(job, "dcgan-faces", engine=cluster, store=tmp_path / "ray", progress=lambda d, t: seen.append(d))
    assert (remote.computed, seen[0], seen[-1]) == (4, 0, 120)  # workers loaded the model from its spec
    assert shard_files(tmp_path / "ray") == shard_files(tmp_path / "local")  # bit-identical
    probabilities = remote.column("scores.classifier")
    assert probabilities.shape == (120, 4) and torch.allclose(probabilities.sum(1), torch.ones(120))

    conditional = scoring_job(count=40, shard_size=20)  # a model built in memory travels through the object store
    on_ray = run(conditional, eyes, engine=cluster, store=tmp_path / "eyes-ray")
    run(conditional, eyes, store=tmp_path / "eyes-local")
    assert on_ray.computed == 2 and shard_files(tmp_path / "eyes-ray") == shard_files(tmp_path / "eyes-local")


def test_ganspace_sampling_on_ray_gives_the_same_directions(cluster, dcgan, tmp_path):
    options = {"num_directions": 4, "num_samples": 600, "batch_size": 200, "use_cache": False}
    local = ganspace(dcgan, **options)
    remote = ganspace(dcgan, engine=cluster, store=tmp_path / "gs", **options)
    assert torch.equal(local.vectors, remote.vectors) and torch.equal(local.values, remote.values)
    assert torch.equal(local.scales, remote.scales)


def test_killed_job_resumes_on_ray_and_a_finished_one_is_read_back(cluster, dcgan, tmp_path):
    folder = tmp_path / "job"
    kill_midway(folder)  # in-process, SIGKILL in the middle of the last shard
    kept = shard_files(folder)
    resumed = run(scoring_job(), dcgan, engine=cluster, store=folder)
    assert (resumed.computed, resumed.reused) == (1, 2)
    assert {k: v for k, v in shard_files(folder).items() if k in kept} == kept  # the stored shards were not redone
    run(scoring_job(), dcgan, store=tmp_path / "whole")
    assert shard_files(folder) == shard_files(tmp_path / "whole")

    stamp = (folder / shard_name(2)).stat().st_mtime_ns
    finished = run(scoring_job(), dcgan, engine=RayEngine(workers=1), store=folder)
    assert (finished.computed, finished.reused) == (0, 3) and (folder / shard_name(2)).stat().st_mtime_ns == stamp
    assert torch.equal(finished.column("scores.colour"), run(scoring_job(), dcgan).column("scores.colour"))
