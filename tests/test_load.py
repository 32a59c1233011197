"""The public Space under load (localhost, bounded): one client alone for 10 s, then 16 clients for 60 s, each its own
browser session and seed, moving sliders most of the time and now and then renaming a direction, saving the set or
discovering a new one.

Checked: no request fails; no client ever sees another's direction names; every picture is the one its own client
asked for (its recipe names the client's seed and strengths, and replaying the recipe gives its pixels); the server's
memory stays flat after warm-up; Gradio's file cache stays bounded. Printed: p50/p95 render latency and throughput,
16 clients against one. ``clients`` is also the load of ``bench/bench_space.py`` (renders only there).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from test_public_mode import api_base, call

gr = pytest.importorskip("gradio")
pytestmark = pytest.mark.slow

CLIENTS = 16
DURATION = 60.0
ALONE = 10.0
WARM_UP = 15.0
MODEL = "dcgan-faces"
K = 4  # directions of each client's first set
#: How often a client does each thing (renders: slider moves).
MIX = {"render": 12, "rename": 2, "save": 2, "discover": 1}


@dataclass
class Render:
    client: int
    seed: int
    strengths: list[float]  # one per direction of the client's set at that moment
    towards: float
    seconds: float
    png: bytes


@dataclass
class Load:
    """What the clients saw: their renders, other requests' latencies, failed requests, foreign names seen."""

    renders: list[Render]
    requests: int
    failures: list[str]
    leaks: list[str]


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

    if int(gr.__version__.split(".")[0]) < 4:
        pytest.skip("Gradio 3.x has no HTTP /call API to send raw requests through")
    env = {"GAN_STEERING_PUBLIC": "1", "GAN_STEERING_CACHE_CLEANUP": "5,10"}
    with running_app(tmp_path_factory.mktemp("load-space"), env=env) as app:
        yield app


def clients(space, count: int, seconds: float, mix: dict[str, int] | None = None) -> Load:
    """``count`` clients for ``seconds``, each its own session and seed: a SeFa set, then a random walk over ``mix``
    (default: renders only, as fast as answers come)."""
    import httpx
    from appserver import discover_data, edit_state
    from safetensors import safe_open

    base = api_base(space)
    mix = mix or {"render": 1}
    load = Load([], 0, [], [])
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def request(op: str, *data, session: str) -> tuple[str, str]:
        event, payload = call(space, op, *data, session=session)
        with lock:
            load.requests += 1
            if event != "complete":
                load.failures.append(f"{op}: {payload[:300]}")
        return event, payload

    def discover(seed: int, k: int, session: str) -> bool:
        done = request("discover", MODEL, *discover_data("sefa", num_directions=k), session=session)[0] == "complete"
        return done and request("view", *edit_state(seed), session=session)[0] == "complete"

    def client(index: int) -> None:
        rng, session, seed, mark = random.Random(index), uuid.uuid4().hex, 1000 + index, f"c{index}-"
        names = [f"sefa {i}" for i in range(K)]
        if not discover(seed, K, session):
            return
        while time.monotonic() < stop:
            op = rng.choices(list(mix), weights=list(mix.values()))[0]
            if op == "render":
                strengths = [round(rng.uniform(-3, 3), 3) for _ in names]
                towards = round(rng.uniform(0, 1), 3)
                sliders = strengths + [0.0] * (10 - len(names))
                start = time.monotonic()
                event, payload = request("render", *edit_state(seed), towards, *sliders, session=session)
                taken = time.monotonic() - start
                if event == "complete":
                    url = json.loads(payload)[0]["url"]
                    url = url if url.startswith("http") else base + "/file=" + url
                    png = httpx.get(url, timeout=30).content  # fetched at once, as a browser does
                    with lock:
                        load.renders.append(Render(index, seed, strengths, towards, taken, png))
            elif op == "rename":
                slot, new = rng.randrange(len(names)), f"{mark}{uuid.uuid4().hex[:6]}"
                if request("rename_direction", f"{slot}: {names[slot]}", new, session=session)[0] == "complete":
                    names[slot] = new
            elif op == "save":
                event, payload = request("save_directions", session=session)
                if event == "complete":
                    target = space.folder / f"download-{index}.safetensors"
                    target.write_bytes(httpx.get(json.loads(payload)[0]["url"], timeout=30).content)
                    with safe_open(str(target), "pt") as handle:
                        saved = json.loads(handle.metadata()["names"])
                    foreign = [n for n in saved if n.startswith("c") and not n.startswith(mark) and "-" in n]
                    if foreign:
                        with lock:
                            load.leaks.append(f"client {index} saw {foreign}")
            else:
                k = rng.choice([3, 4, 5])
                if discover(seed, k, session):
                    names = [f"sefa {i}" for i in range(k)]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return load


def summary(renders: list[Render], seconds: float) -> tuple[float, float, float]:
    """Render latency p50, p95 (s) and renders per second."""
    times = sorted(r.seconds for r in renders)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], len(renders) / seconds


def test_sixteen_clients_for_a_minute(space, dcgan, tmp_path):
    from steering import recipe

    alone = clients(space, 1, ALONE, MIX)
    memory: list[tuple[float, float]] = []
    cache: list[int] = []
    watching = threading.Event()

    def watch() -> None:
        begin = time.monotonic()
        while not watching.is_set():
            memory.append((time.monotonic() - begin, rss_mb(space.process.pid)))
            cache.append(cache_files(space.folder / "gradio"))
            watching.wait(2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    many = clients(space, CLIENTS, DURATION, MIX)
    watching.set()
    watcher.join()

    p50, p95, rate = summary(alone.renders, ALONE)
    q50, q95, many_rate = summary(many.renders, DURATION)
    print(
        f"\none client: {alone.requests} requests, {len(alone.renders)} renders, p50 {p50 * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, {rate:.1f}/s; {CLIENTS} clients: {many.requests} requests "
        f"({many.requests / DURATION:.1f}/s), {len(many.renders)} renders, p50 {q50 * 1000:.0f} ms, p95 "
        f"{q95 * 1000:.0f} ms, {many_rate:.1f}/s = {many_rate / rate:.2f}× one client; server RSS "
        f"{memory[0][1]:.0f} → {memory[-1][1]:.0f} MB; Gradio cache files max {max(cache)}, last {cache[-1]}"
    )
    assert not alone.failures and not many.failures, (alone.failures + many.failures)[:5]
    assert not many.leaks, many.leaks[:5]
    assert len(alone.renders) > 5 and len({r.client for r in many.renders}) == CLIENTS and len(many.renders) > 100

    # Every picture is its own client's: the recipe it carries names the client's seed and strengths …
    for render in many.renders:
        path = tmp_path / "one.png"
        path.write_bytes(render.png)
        made = recipe.read_recipe(path)
        strengths = {c.get("method"): c["strengths"] for c in made.controls}
        assert made.start["seed"] == render.seed, render.client
        assert strengths["sefa"] == pytest.approx(render.strengths, abs=1e-9), render.client
        assert strengths.get("interpolation", [0.0]) == pytest.approx([render.towards], abs=1e-9), render.client
    # … and its pixels are what that recipe renders (a few per client, replayed here).
    for render in random.Random(0).sample(many.renders, min(len(many.renders), 3 * CLIENTS)):
        path = tmp_path / f"{uuid.uuid4().hex}.png"
        path.write_bytes(render.png)
        expected, _ = recipe.replay(path, dcgan)
        got = np.asarray(_image(render.png), dtype=int)
        diff = np.abs(got - np.asarray(expected.convert("RGB"), dtype=int))
        assert diff.max() <= 2 and (diff > 0).mean() < 0.01, (render.client, diff.max(), (diff > 0).mean())

    warm = [mb for t, mb in memory if t >= WARM_UP]
    assert max(warm) - warm[0] < 200, memory  # flat after warm-up: no per-request growth
    assert cache[-1] < 2000 and (max(cache) > cache[-1] or max(cache) < 200), cache  # cleaned as it goes


def _image(png: bytes):
    from PIL import Image

    with Image.open(BytesIO(png)) as image:
        return image.convert("RGB")
