"""Batch jobs in this process (``steering.batch``) on the real embedded DCGANs: per-sample seeds, results independent
of how rows are sharded, atomic shards, resume after a real SIGKILL, finished jobs served from their shards, the
memory budget, cancellation, and GANSpace sampling through the interface with its old samples bit for bit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from steering.batch import Features, GivenLatents, Job, JobFolderError, Scores, SeededLatents, Thumbnails, run
from steering.batch.store import shard_name
from steering.errors import CancelledError, InvalidValueError, ResourceLimitError
from steering.methods import ganspace
from steering.methods.ganspace import _samples

ROOT = Path(__file__).resolve().parent.parent


def colour(images: torch.Tensor) -> torch.Tensor:
    """Mean red, green and blue of each image: [N, 3]."""
    return images.mean(dim=(2, 3))


class Counting:
    """A scorer that counts the images it scored."""

    name = "brightness"

    def __init__(self) -> None:
        self.images = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.images += len(images)
        return images.mean(dim=(1, 2, 3))


def scoring_job(count: int = 90, shard_size: int = 30, **options) -> Job:
    measures = options.pop("measures", (Scores(colour, name="colour"), Thumbnails(16)))
    return Job(SeededLatents(count, seed=11, **options), measures=measures, batch_size=10, shard_size=shard_size)


def test_rows_are_per_sample_seeds_and_do_not_depend_on_the_sharding(dcgan):
    whole = run(scoring_job(shard_size=90), dcgan).columns()
    split = run(scoring_job(shard_size=20), dcgan)
    assert split.job.num_shards == 5 and split.computed == 5
    assert {k: torch.equal(v, split.columns()[k]) for k, v in whole.items()} == dict.fromkeys(whole, True)
    for row in (0, 17, 89):  # row i is the sample of seed 11 + i, alone
        alone = dcgan.sample(1, seed=11 + row)
        assert torch.equal(whole["latents"][row], alone.codes[0])
        image = dcgan.synthesize(alone)
        torch.testing.assert_close(whole["scores.colour"][row], colour(image)[0], rtol=0, atol=1e-6)
    assert whole["thumbnail"].shape == (90, 16, 16, 3) and whole["thumbnail"].dtype == torch.uint8


def test_class_conditional_rows_keep_their_classes(eyes):
    result = run(scoring_job(count=20, shard_size=10), eyes).columns()
    expected = eyes.sample(1, seed=11 + 13)
    assert torch.equal(result["classes"][13], expected.classes[0]) and torch.equal(
        result["latents"][13], expected.codes[0]
    )
    fixed = run(scoring_job(count=20, class_index=5), eyes).column("classes")
    assert bool((fixed.argmax(1) == 5).all())


def test_given_latents_and_features(dcgan):
    latents = dcgan.sample(24, seed=3)
    result = run(Job(GivenLatents(latents), measures=(Features(("fc",)),), batch_size=8, shard_size=16), dcgan)
    expected = dcgan.features(latents, ["fc"])["fc"].flatten(1)
    torch.testing.assert_close(result.column("feature.fc"), expected, rtol=0, atol=1e-6)
    assert torch.equal(result.column("latents"), latents.codes)


def test_ganspace_samples_what_it_always_sampled(dcgan, tmp_path):
    def reference(space, feature, n, seed, batch):  # the loop GANSpace ran before the batch interface
        latents, inputs = [], []
        for start in range(0, n, batch):
            lat = dcgan.sample(min(batch, n - start), seed=seed + start, space=space)
            latents.append(lat.codes)
            inputs.append(dcgan.features(lat, [feature])[feature].flatten(1))
        return torch.cat(latents), torch.cat(inputs)

    for args in [("z", "fc", 700, 3, 300), ("z", "block1", 130, 0, 50)]:
        codes, inputs = _samples(dcgan, *args)
        old_codes, old_inputs = reference(*args)
        assert torch.equal(codes, old_codes) and torch.equal(inputs, old_inputs), args

    plain = ganspace(dcgan, num_directions=4, num_samples=600, batch_size=200, use_cache=False)
    stored = ganspace(dcgan, num_directions=4, num_samples=600, batch_size=200, use_cache=False, store=tmp_path / "gs")
    assert torch.equal(plain.vectors, stored.vectors) and torch.equal(plain.values, stored.values)
    assert sorted(p.name for p in (tmp_path / "gs").iterdir()) == ["job.json", shard_name(0)]
    seen: list[tuple[int, int]] = []
    again = ganspace(
        dcgan, num_directions=4, num_samples=600, batch_size=200, use_cache=False, store=tmp_path / "gs",
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert seen[0] == (1000, 2000) and torch.equal(again.vectors, plain.vectors)  # read back: sampling done at once
    assert seen[-1] == (2000, 2000) and seen == sorted(seen)  # then the PCA's passes


def test_ganspace_streams_its_samples_so_a_stored_job_outgrows_the_memory_budget(dcgan, tmp_path, monkeypatch):
    """The PCA reads the samples shard by shard (never put together, never copied centred): in memory they must fit
    the budget once; stored in a folder only one shard must, and the directions are the same either way. The
    randomized solver matches the exact principal components of the same samples."""
    from steering.analysis import grassmann
    from steering.errors import ResourceLimitError
    from steering.methods.ganspace import principal_components

    options = {"num_directions": 4, "feature": "block1", "num_samples": 1600, "batch_size": 100, "use_cache": False}
    monkeypatch.setenv("GAN_STEERING_MAX_REQUEST_MB", "80")  # 1600 rows of block1 (16,384 values) are 105 MB
    with pytest.raises(ResourceLimitError, match="ask for at most"):
        ganspace(dcgan, **options)
    stored = ganspace(dcgan, **options, store=tmp_path / "gs")
    assert len(list((tmp_path / "gs").glob("*.safetensors"))) == 2  # two shards of 64 MB at most
    monkeypatch.delenv("GAN_STEERING_MAX_REQUEST_MB")
    in_memory = ganspace(dcgan, **options)
    torch.testing.assert_close(in_memory.vectors, stored.vectors, atol=1e-5, rtol=0)
    _, inputs = _samples(dcgan, "z", "block1", 1600, 0, 100)
    centred = (inputs - inputs.mean(0)).double()
    values, vectors = torch.linalg.eigh(centred @ centred.T)  # the exact components, from the 1600×1600 Gram matrix
    exact = centred.T @ vectors[:, -4:]
    _, components, variances = principal_components(inputs, 4)
    assert grassmann.projection_distance(exact / exact.norm(dim=0), components.T.double()) < 1e-2
    torch.testing.assert_close(variances.double(), values[-4:].flip(0) / 1599, rtol=1e-3, atol=0)


def test_ganspace_can_be_cancelled_during_its_pca(dcgan):
    """A cancel raised from the progress callback stops GANSpace between two passes of its PCA too (it used to run to
    the end once the samples were drawn), and keeps nothing."""
    from steering.errors import CancelledError

    stages_seen: list[int] = []

    def cancel_in_pca(done: int, total: int) -> None:
        stages_seen.append(done)
        if done > total // 2:  # past the sampling stage
            raise CancelledError("cancelled")

    with pytest.raises(CancelledError):
        ganspace(dcgan, num_directions=2, num_samples=200, batch_size=100, use_cache=False, progress=cancel_in_pca)
    assert max(stages_seen) < 2000


def test_a_finished_job_is_served_from_its_shards(dcgan, tmp_path):
    scorer = Counting()
    job = scoring_job(measures=(Scores(scorer),))
    first = run(job, dcgan, store=tmp_path / "job")
    scored = scorer.images
    assert (first.computed, first.reused) == (3, 0) and scored >= 90
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "job").iterdir()}
    again = run(job, dcgan, store=tmp_path / "job")
    assert (again.computed, again.reused, scorer.images) == (0, 3, scored)  # not one image scored again
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "job").iterdir()} == stamps
    assert torch.equal(again.column("scores.brightness"), first.column("scores.brightness"))


def kill_midway(folder: Path) -> None:
    """Run ``scoring_job()`` into ``folder`` in another process and SIGKILL it in the middle of shard 2 (of 3)."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_batch import scoring_job
        from steering.batch import run
        from steering.sources import load_generator

        def progress(done, total):
            if done > 60:  # the first batch of the last shard is done; shards 0 and 1 are on disk
                os.kill(os.getpid(), signal.SIGKILL)

        run(scoring_job(), load_generator("dcgan-faces"), store={str(folder)!r}, progress=progress)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    assert sorted(p.name for p in folder.iterdir()) == ["job.json", shard_name(0), shard_name(1)]


def test_a_killed_job_resumes_to_the_same_result(dcgan, tmp_path):
    """A real SIGKILL in the middle of shard 2: shards 0 and 1 stay, the rerun computes only shard 2."""
    folder = tmp_path / "job"
    kill_midway(folder)
    resumed = run(scoring_job(), dcgan, store=folder)
    assert (resumed.computed, resumed.reused) == (1, 2)
    whole = run(scoring_job(), dcgan).columns()
    assert all(torch.equal(resumed.columns()[k], v) for k, v in whole.items())


def test_damaged_or_foreign_shards_are_computed_again(dcgan, tmp_path):
    folder = tmp_path / "job"
    run(scoring_job(), dcgan, store=folder)
    good = (folder / shard_name(1)).read_bytes()
    (folder / shard_name(1)).write_bytes(good[: len(good) // 2])  # a torn file (not one of our writes)
    (folder / shard_name(2)).write_bytes(good)  # shard 1's bytes under shard 2's name
    again = run(scoring_job(), dcgan, store=folder)
    assert (again.computed, again.reused) == (2, 1)
    assert torch.equal(again.column("latents"), run(scoring_job(), dcgan).column("latents"))

    with pytest.raises(JobFolderError, match="another job"):
        run(scoring_job(count=60), dcgan, store=folder)  # other latents: never mixed into this folder


def test_cancelled_job_keeps_its_shards(dcgan, tmp_path):
    def cancel(done, total):
        if done >= 40:
            raise CancelledError("cancelled")

    with pytest.raises(CancelledError):
        run(scoring_job(), dcgan, store=tmp_path / "job", progress=cancel)
    assert run(scoring_job(), dcgan, store=tmp_path / "job").reused == 1


def test_memory_budget(dcgan, tmp_path, monkeypatch):
    """block1 is 64 KiB a row; a batch of 5 images needs 0.7 MiB to work in: with 2 MiB, shards of 10 rows fit,
    2000 rows in memory or in one shard do not, and neither does reading 40 rows as one column."""
    monkeypatch.setenv("GAN_STEERING_MAX_REQUEST_MB", "2")
    block1 = (Features(("block1",)),)
    with pytest.raises(ResourceLimitError, match="2000 rows kept in memory"):
        run(Job(SeededLatents(2000), block1, batch_size=5, shard_size=10), dcgan)  # refused before computing
    with pytest.raises(ResourceLimitError, match="shards of 2000 rows"):
        run(Job(SeededLatents(2000), block1, batch_size=5, shard_size=2000), dcgan, store=tmp_path / "big")
    stored = run(Job(SeededLatents(40), block1, batch_size=5, shard_size=10), dcgan, store=tmp_path / "small")
    assert stored.computed == 4 and [len(s["latents"]) for s in stored.shards()] == [10] * 4
    with pytest.raises(ResourceLimitError, match="reading 40 rows"):
        stored.column("feature.block1")


def test_bad_jobs_and_scorers(dcgan):
    with pytest.raises(InvalidValueError, match="number of samples"):
        SeededLatents(0)
    with pytest.raises(InvalidValueError, match="keep its latents or compute"):
        Job(SeededLatents(4), keep_latents=False)
    with pytest.raises(InvalidValueError, match=r"returned \[3\] for \d images"):
        run(Job(SeededLatents(4), (Scores(lambda images: torch.zeros(3), name="short"),)), dcgan)
    with pytest.raises(InvalidValueError, match="NaN"):
        run(Job(SeededLatents(4), (Scores(lambda images: images[:, 0, 0, 0] / 0 * 0, name="nan"),)), dcgan)
    with pytest.raises(InvalidValueError, match="unknown engine"):
        run(Job(SeededLatents(4)), dcgan, engine="spark")
    assert os.environ.get("GAN_STEERING_MAX_REQUEST_MB") is None
