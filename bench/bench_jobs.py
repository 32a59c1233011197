"""A scoring job in-process vs on Ray, on this machine: throughput, cost per sample, and the projected cost of 10⁶
samples on N workers.

The job: seeded samples of a model, each rendered once and scored by built-in scorers (brightness, centre colour)
with a 64 px thumbnail (what a labelled set / dataset export needs). The in-process engine runs it in this process;
the Ray engine runs it on a local Ray instance (``--cpus`` CPUs, one single-threaded actor per CPU), or on the
cluster ``RAY_ADDRESS`` names. Both write the same shards (checked). Ray's cluster start is timed apart; the job times
include the actors' start (a Ray Data actor pool per job, the model loaded once per actor). Cases alternate
(local, Ray, local, Ray, …) and medians are reported.

Run: ``python bench/bench_jobs.py`` (``--samples 4096 --repeats 3 --cpus 2 --model dcgan-faces --device cpu``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from steering.batch import run, scoring_job
from steering.batch.ray_engine import RayEngine
from steering.sources import load_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan-faces")
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    import ray

    generator = load_generator(args.model, device=args.device)
    job = scoring_job(
        ["brightness", "centre-colour"], args.samples, batch_size=args.batch, shard_size=8 * args.batch, thumbnails=64
    )
    started = time.perf_counter()
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)
    else:
        ray.init("local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    cluster_start = time.perf_counter() - started
    workers = int(ray.cluster_resources().get("GPU", 0)) or int(ray.cluster_resources().get("CPU", 1))
    engine = RayEngine(workers=workers)
    ray.data.DataContext.get_current().enable_progress_bars = False

    times: dict[str, list[float]] = {"local": [], "ray": []}
    folders: dict[str, str] = {}
    for repeat in range(args.repeats):
        for name in ("local", "ray"):
            folder = tempfile.mkdtemp(prefix=f"bench-jobs-{name}-")
            start = time.perf_counter()
            if name == "local":
                with torch.inference_mode():
                    run(job, generator, store=folder)
            else:
                run(job, args.model, engine=engine, store=folder, device=args.device)
            times[name].append(time.perf_counter() - start)
            if repeat == 0:
                folders[name] = folder
    same = all(
        (Path(folders["local"]) / p.name).read_bytes() == p.read_bytes()
        for p in Path(folders["ray"]).glob("shard-*.safetensors")
    )
    ray.shutdown()

    local, remote = statistics.median(times["local"]), statistics.median(times["ray"])
    per_sample = local / args.samples
    print(f"{args.model} on {args.device}: {args.samples} samples (2 scorers + 64 px thumbnails), batch {args.batch}")
    print(f"torch threads in this process: {torch.get_num_threads()}; Ray workers: {workers}; load {os.getloadavg()}")
    print(f"in-process : {local:7.2f} s  {args.samples / local:8.1f} samples/s  {per_sample * 1000:.3f} ms/sample")
    print(
        f"Ray        : {remote:7.2f} s  {args.samples / remote:8.1f} samples/s  "
        f"({remote / local:.2f}× the in-process time; cluster start {cluster_start:.1f} s, apart)"
    )
    print(f"shards identical on both engines: {same}")
    worker_cost = remote * workers / args.samples  # seconds of one worker per sample, actor start included
    for n in (1, 8, 64):
        hours = 1e6 * worker_cost / n / 3600
        print(f"projected 10^6 samples on {n:3d} such workers: {hours:7.2f} h")


if __name__ == "__main__":
    main()
