"""The Space under load: throughput and latency of live slider renders, one client alone and 16 at once, with the
synthesis micro-batcher on and off.

Each configuration starts ``spaces_app.py`` (public mode, localhost) afresh; clients are the load test's
(``tests/test_load.py``, renders only here): each its own session and seed, a SeFa set, then random slider moves as
fast as answers come. Configurations:

* ``before``: 2 renders at a time, no batching (how the Space ran before: the queue's default of 2 events);
* ``16, off``: 16 renders at a time (``GAN_STEERING_LIVE_CONCURRENCY``), each synthesised alone
  (``GAN_STEERING_BATCHING=0``);
* ``16, on``: 16 at a time, concurrent syntheses coalesced into batches (the default now);
* ``16, on, 1 thread``: the same with ``OMP_NUM_THREADS=1`` (torch without intra-op threads: on a machine whose
  cores are busy, a 2-thread forward waits for a descheduled thread).

Run: ``python bench/bench_space.py`` (``--seconds 30 --alone 10 --clients 16``). Prints one line per configuration.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from appserver import running_app  # noqa: E402
from test_load import clients, summary  # noqa: E402

CONFIGURATIONS = {
    "before (2 at a time, no batching)": {"GAN_STEERING_LIVE_CONCURRENCY": "2", "GAN_STEERING_BATCHING": "0"},
    "16 at a time, batching off": {"GAN_STEERING_LIVE_CONCURRENCY": "16", "GAN_STEERING_BATCHING": "0"},
    "16 at a time, batching on": {"GAN_STEERING_LIVE_CONCURRENCY": "16", "GAN_STEERING_BATCHING": "1"},
    "16 at a time, batching on, 1 thread": {
        "GAN_STEERING_LIVE_CONCURRENCY": "16",
        "GAN_STEERING_BATCHING": "1",
        "OMP_NUM_THREADS": "1",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--alone", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    print(f"{args.clients} clients for {args.seconds:.0f} s, one client for {args.alone:.0f} s; load {os.getloadavg()}")
    rows = []
    for name, env in CONFIGURATIONS.items():
        with tempfile.TemporaryDirectory(prefix="bench-space-") as folder:
            full = {"GAN_STEERING_PUBLIC": "1", "GAN_STEERING_CACHE_CLEANUP": "5,10", **env}
            with running_app(Path(folder), env=full) as app:
                clients(app, 1, 3.0)  # warm-up: the model, the SeFa cache, the first PNGs
                one, all_of_them = clients(app, 1, args.alone), clients(app, args.clients, args.seconds)
                failures = one.failures + all_of_them.failures
                alone, many = summary(one.renders, args.alone), summary(all_of_them.renders, args.seconds)
        if failures:
            print(f"  {name}: {len(failures)} failed requests, e.g. {failures[0][:200]}")
        rows.append((name, alone, many))
        print(
            f"{name:36s} one: {alone[2]:5.1f}/s p50 {alone[0] * 1000:5.0f} ms | {args.clients}: {many[2]:5.1f}/s "
            f"p50 {many[0] * 1000:5.0f} ms p95 {many[1] * 1000:5.0f} ms = {many[2] / alone[2]:.2f}× one client",
            flush=True,
        )
    base = rows[0][2][2]
    for name, _, many in rows[1:]:
        print(f"{name}: {many[2] / base:.2f}× the throughput of 'before' at {args.clients} clients")


if __name__ == "__main__":
    main()
