"""Batch jobs: latents → images → features / scores → stored results, on this machine or on a Ray cluster.

    from steering.batch import Job, SeededLatents, Scores, run

    job = Job(SeededLatents(100_000, seed=0), measures=(Scores(brightness),), batch_size=64)
    result = run(job, "dcgan-faces", engine="ray", store="runs/brightness")  # resumable; re-runs read the shards
    scores = result.column("scores.brightness")

Every row is a pure function of the job (per-sample seeds, fixed batches), so the results do not depend on the
engine or on how many workers share the work: both engines write the same shard bytes.
"""

from __future__ import annotations

from .engines import ENGINES, Engine, LocalEngine, engine_named
from .job import Job, compute_rows, compute_shard
from .latents import GivenLatents, LatentSource, SeededLatents
from .measures import Batch, Features, Measure, Scores, Thumbnails
from .run import JobResult, run
from .scoring import score, scoring_job
from .store import JobFolderError, ShardStore

__all__ = [
    "ENGINES",
    "Batch",
    "Engine",
    "Features",
    "GivenLatents",
    "Job",
    "JobFolderError",
    "JobResult",
    "LatentSource",
    "LocalEngine",
    "Measure",
    "Scores",
    "SeededLatents",
    "ShardStore",
    "Thumbnails",
    "compute_rows",
    "compute_shard",
    "engine_named",
    "run",
    "score",
    "scoring_job",
]
