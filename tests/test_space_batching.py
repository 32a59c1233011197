"""The public Space serving many users' sliders at once (localhost, bounded): one client alone for 10 s, then 16 clients
moving sliders for 60 s. Checked: no request fails; every picture is the one its own client asked for (its recipe
names the client's seed and strengths, and replaying the recipe gives its pixels); the server's memory stays flat
after warm-up. Printed: p50/p95 latency and throughput, 16 clients against one."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from io import BytesIO

import numpy as np
import pytest
from test_load import rss_mb
from test_public_mode import api_base, call

gr = pytest.importorskip("gradio")
pytestmark = pytest.mark.slow

CLIENTS = 16
DURATION = 60.0
ALONE = 10.0
WARM_UP = 15.0
MODEL = "dcgan-faces"
K = 4


@dataclass
class Render:
    client: int
    seed: int
    sliders: list[float]
    towards: float
    seconds: float
    png: bytes


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    from appserver import running_app

    if int(gr.__version__.split(".")[0]) < 4:
        pytest.skip("Gradio 3.x has no HTTP /call API to send raw requests through")
    env = {"GAN_STEERING_PUBLIC": "1", "GAN_STEERING_CACHE_CLEANUP": "5,10"}
    with running_app(tmp_path_factory.mktemp("batching-space"), env=env) as app:
        yield app


def clients(space, count: int, seconds: float, failures: list[str]) -> list[Render]:
    """``count`` clients, each its own session and seed: a SeFa set, then random slider moves until time is up."""
    import httpx
    from appserver import discover_data, edit_state

    base = api_base(space)
    done: list[Render] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        rng, session, seed = random.Random(index), uuid.uuid4().hex, 1000 + index
        for op, data in [("discover", [MODEL, *discover_data("sefa", num_directions=K)]), ("view", edit_state(seed))]:
            event, payload = call(space, op, *data, session=session)
            if event != "complete":
                with lock:
                    failures.append(f"{op}: {payload[:300]}")
                return
        while time.monotonic() < stop:
            sliders = [round(rng.uniform(-3, 3), 3) for _ in range(K)] + [0.0] * 6
            towards = round(rng.uniform(0, 1), 3)
            start = time.monotonic()
            event, payload = call(space, "render", *edit_state(seed), towards, *sliders, session=session)
            seconds_taken = time.monotonic() - start
            if event != "complete":
                with lock:
                    failures.append(f"render: {payload[:300]}")
                continue
            url = json.loads(payload)[0]["url"]
            if not url.startswith("http"):
                url = base + "/file=" + url
            png = httpx.get(url, timeout=30).content  # fetched at once, as a browser does
            with lock:
                done.append(Render(index, seed, sliders, towards, seconds_taken, png))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done


def summary(renders: list[Render], seconds: float) -> tuple[float, float, float]:
    times = sorted(r.seconds for r in renders)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], len(renders) / seconds


def test_sixteen_clients_moving_sliders(space, dcgan, tmp_path):
    from steering import recipe

    failures: list[str] = []
    alone = clients(space, 1, ALONE, failures)
    memory: list[tuple[float, float]] = []
    watching = threading.Event()

    def watch() -> None:
        begin = time.monotonic()
        while not watching.is_set():
            memory.append((time.monotonic() - begin, rss_mb(space.process.pid)))
            watching.wait(2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    many = clients(space, CLIENTS, DURATION, failures)
    watching.set()
    watcher.join()

    p50, p95, rate = summary(alone, ALONE)
    q50, q95, many_rate = summary(many, DURATION)
    print(
        f"\none client: {len(alone)} renders, p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, {rate:.1f}/s; "
        f"{CLIENTS} clients: {len(many)} renders, p50 {q50 * 1000:.0f} ms, p95 {q95 * 1000:.0f} ms, "
        f"{many_rate:.1f}/s = {many_rate / rate:.2f}× one client; "
        f"server RSS {memory[0][1]:.0f} → {memory[-1][1]:.0f} MB"
    )
    assert not failures, failures[:5]
    assert len(alone) > 5 and len({r.client for r in many}) == CLIENTS

    # Every picture is its own client's: the recipe it carries names the client's seed and strengths …
    for render in many:
        path = tmp_path / "one.png"
        path.write_bytes(render.png)
        made = recipe.read_recipe(path)
        strengths = {c.get("method"): c["strengths"] for c in made.controls}
        assert made.start["seed"] == render.seed, render.client
        assert strengths["sefa"] == pytest.approx(render.sliders[:K], abs=1e-9), render.client
        assert strengths.get("interpolation", [0.0]) == pytest.approx([render.towards], abs=1e-9), render.client
    # … and its pixels are what that recipe renders (a few per client, replayed here).
    picked = random.Random(0).sample(many, min(len(many), 3 * CLIENTS))
    for render in picked:
        path = tmp_path / f"{uuid.uuid4().hex}.png"
        path.write_bytes(render.png)
        expected, _ = recipe.replay(path, dcgan)
        got = np.asarray(_image(render.png), dtype=int)
        diff = np.abs(got - np.asarray(expected.convert("RGB"), dtype=int))
        assert diff.max() <= 2 and (diff > 0).mean() < 0.01, (render.client, diff.max(), (diff > 0).mean())

    warm = [mb for t, mb in memory if t >= WARM_UP]
    assert max(warm) - warm[0] < 200, memory  # flat after warm-up: no per-request growth


def _image(png: bytes):
    from PIL import Image

    with Image.open(BytesIO(png)) as image:
        return image.convert("RGB")
