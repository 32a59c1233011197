"""The Ray engine: Ray Data ``map_batches`` over a job's pending shard indices, with an actor pool.

Each actor loads the model once (from its spec, or from the object store when the model was built in code) and
computes whole shards with ``compute_shard``; the shards come back as safetensors bytes and the driver stores them,
so workers need no shared file system. GPU actors (one GPU each) are used when the cluster has GPUs. ``ray.init``
connects to the cluster ``RAY_ADDRESS`` names (or ``address=``), else starts a local one; connecting to an existing
cluster ships this package to the workers (``runtime_env`` ``py_modules``), which need torch and, for a model spec,
access to the model (the Hub or the same models folder).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InvalidValueError
from ..models.base import Generator
from .job import Advance, Deliver, Job, compute_shard, shard_bytes


class ShardWorker:
    """A Ray Data actor: loads the model once, then turns batches of shard indices into shard bytes."""

    def __init__(self, model: Any, job: Job, fingerprint: str, device: str) -> None:
        import torch

        from ..sources import load_generator

        if not isinstance(model, (str, Generator)):  # an object-store reference to a model built in code
            import ray

            model = ray.get(model)
        if isinstance(model, str):
            generator = load_generator(model, device=device)
        else:
            generator = model.to(device)
        self.generator = generator.eval()
        self.job, self.fingerprint = job, fingerprint
        torch.set_grad_enabled(False)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        indices = [int(i) for i in batch["shard"]]
        payloads = [
            shard_bytes(compute_shard(self.generator, self.job, i), self.fingerprint, i, self.job.shard_rows(i))
            for i in indices
        ]
        rows = [self.job.shard_rows(i)[1] - self.job.shard_rows(i)[0] for i in indices]
        return {"shard": np.array(indices), "rows": np.array(rows), "payload": np.array(payloads, dtype=object)}


class RayEngine:
    """Shards on a Ray cluster: ``workers`` actors (default: one per GPU, else one per ``cpus_per_worker`` CPUs).

    ``gpus_per_worker``: ``None`` uses one GPU per actor when the cluster has GPUs, else none. ``runtime_env`` is
    passed to ``ray.init`` (default: this package as ``py_modules`` when joining an existing cluster)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_worker: float = 1.0,
        gpus_per_worker: float | None = None,
        runtime_env: dict[str, Any] | None = None,
        **init_options: Any,
    ) -> None:
        if workers is not None and workers < 1:
            raise InvalidValueError(f"the number of Ray workers must be at least 1, got {workers}")
        self.address, self.workers = address, workers
        self.cpus_per_worker, self.gpus_per_worker = cpus_per_worker, gpus_per_worker
        self.runtime_env, self.init_options = runtime_env, init_options

    def connect(self) -> Any:
        """``ray`` initialised (an already running session is reused)."""
        try:
            import ray
        except ImportError as exc:
            raise InvalidValueError('the Ray engine needs Ray: pip install "gan-steering[ray]"') from exc
        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS") or None
            runtime_env = self.runtime_env
            if runtime_env is None and address:  # joining a cluster: bring our code to its workers
                runtime_env = {"py_modules": [str(Path(__file__).resolve().parents[1])]}
            options = {"include_dashboard": False, **self.init_options}
            ray.init(address=address, runtime_env=runtime_env, **options)
        return ray

    def run(
        self,
        job: Job,
        generator: Generator,
        spec: str | None,
        pending: list[int],
        fingerprint: str,
        deliver: Deliver,
        advance: Advance,
    ) -> None:
        ray = self.connect()
        resources = ray.cluster_resources()
        gpus = self.gpus_per_worker
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        if self.workers is not None:
            workers = self.workers
        elif gpus:
            workers = max(1, int(resources.get("GPU", 0) // gpus))
        else:
            workers = max(1, int(resources.get("CPU", 1) // self.cpus_per_worker))
        workers = max(1, min(workers, len(pending)))
        model: Any = spec if spec else ray.put(_on_cpu(generator))
        dataset = ray.data.from_items([{"shard": i} for i in pending], override_num_blocks=len(pending))
        results = dataset.map_batches(
            ShardWorker,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            fn_constructor_kwargs={
                "model": model,
                "job": job,
                "fingerprint": fingerprint,
                "device": "cuda" if gpus else "cpu",
            },
            num_cpus=self.cpus_per_worker,
            num_gpus=gpus,
            batch_format="numpy",
        )
        for row in results.iter_rows():
            deliver(int(row["shard"]), bytes(row["payload"]))
            advance(int(row["rows"]))


def _on_cpu(generator: Generator) -> Generator:
    """The generator to send to workers (a CPU copy when it lives on a GPU: workers may have none)."""
    if generator.device.type == "cpu":
        return generator
    import copy

    return copy.deepcopy(generator).to("cpu")


__all__ = ["RayEngine", "ShardWorker"]
