"""The public Space under load: 16 clients for 60 s mixing discover, render, rename and save (localhost, bounded).

Every client is its own browser session. Checked: no request fails, no client ever sees another's direction names,
the server's memory stays flat after warm-up, Gradio's file cache stays bounded; latencies are printed.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from test_public_mode import call

pytest.importorskip("gradio")
pytestmark = pytest.mark.slow

CLIENTS = 16
DURATION = 60.0
WARM_UP = 15.0
MODEL = "dcgan-faces"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cache_files(folder: Path) -> int:
    """Files under ``folder`` (``os.walk`` skips what the cleaner deletes while it counts)."""
    return sum(len(files) for _, _, files in os.walk(folder))


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    from appserver import running_app

    env = {"GAN_STEERING_PUBLIC": "1", "GAN_STEERING_CACHE_CLEANUP": "5,10"}
    with running_app(tmp_path_factory.mktemp("load-space"), env=env) as app:
        yield app


def test_sixteen_clients_for_a_minute(space):
    import httpx
    from appserver import discover_data, edit_state

    latencies: dict[str, list[float]] = defaultdict(list)
    failures: list[str] = []
    leaks: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + DURATION

    def timed(op: str, *data, session: str) -> tuple[str, str]:
        start = time.monotonic()
        event, payload = call(space, op, *data, session=session)
        with lock:
            latencies[op].append(time.monotonic() - start)
            if event != "complete":
                failures.append(f"{op}: {payload[:300]}")
        return event, payload

    def client(index: int) -> None:
        rng = random.Random(index)
        session = uuid.uuid4().hex
        mark = f"c{index}-"
        state = edit_state(index)
        timed("discover", MODEL, *discover_data("sefa", num_directions=4), session=session)
        timed("view", *state, session=session)
        names = [f"sefa {i}" for i in range(4)]
        renamed = 0
        while time.monotonic() < stop:
            op = rng.choices(["render", "rename", "save", "discover"], weights=[6, 2, 2, 1])[0]
            if op == "render":
                sliders = [rng.uniform(-1, 1) for _ in range(10)]
                timed("render", *state, rng.uniform(0, 1), *sliders, session=session)
            elif op == "rename":
                slot, new = rng.randrange(len(names)), f"{mark}{renamed}"
                event, _ = timed("rename_direction", f"{slot}: {names[slot]}", new, session=session)
                if event == "complete":
                    names[slot] = new
                renamed += 1
            elif op == "save":
                event, payload = timed("save_directions", session=session)
                if event == "complete":
                    saved = json.loads(payload)[0]
                    from safetensors import safe_open

                    target = space.folder / f"download-{index}.safetensors"
                    target.write_bytes(httpx.get(saved["url"], timeout=30).content)
                    with safe_open(str(target), "pt") as handle:
                        names = json.loads(handle.metadata()["names"])
                    foreign = [n for n in names if n.startswith("c") and not n.startswith(mark) and "-" in n]
                    if foreign:
                        with lock:
                            leaks.append(f"client {index} saw {foreign}")
            else:
                k = rng.choice([3, 4, 5])
                timed("discover", MODEL, *discover_data("sefa", num_directions=k), session=session)
                timed("view", *state, session=session)
                names = [f"sefa {i}" for i in range(k)]

    memory: list[tuple[float, float]] = []
    cache: list[int] = []
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        memory.append((time.monotonic() - begin, rss_mb(space.process.pid)))
        cache.append(cache_files(space.folder / "gradio"))
        time.sleep(2)
    for thread in threads:
        thread.join()

    renders = sorted(latencies["render"])
    total = sum(len(v) for v in latencies.values())
    p50, p95 = statistics.median(renders), renders[int(0.95 * (len(renders) - 1))]
    print(f"\n{total} requests from {CLIENTS} clients in {DURATION:.0f} s ({total / DURATION:.1f}/s); "
          f"render p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; "
          f"server RSS {memory[0][1]:.0f} → {memory[-1][1]:.0f} MB; Gradio cache files max {max(cache)}, "
          f"last {cache[-1]}")  # fmt: skip
    assert not failures, failures[:5]
    assert not leaks, leaks[:5]
    assert len(renders) > 100
    warm = [mb for t, mb in memory if t >= WARM_UP]
    assert max(warm) - warm[0] < 200, memory  # flat after warm-up: no per-request growth
    assert cache[-1] < 2000 and (max(cache) > cache[-1] or max(cache) < 200), cache  # cleaned as it goes
