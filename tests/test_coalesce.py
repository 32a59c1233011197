"""The synthesis micro-batcher (``steering.coalesce``): concurrent calls of one model share batches, each caller gets
its own rows (as it would alone), kinds of latents never mix, an error reaches only its caller, and the Edit tab's
live render serves concurrent users through it with the same pictures as one by one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from steering.coalesce import SynthesisBatcher
from steering.models.base import Latents

CALLERS = 12


def together(n: int, fn):
    """``fn(i)`` for i < n, started at the same moment from ``n`` threads; the results in order."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


class Slow:
    """Wraps a generator: each forward takes a little longer, so that callers pile up behind it (as on a busy
    server); counts the rows of each forward."""

    def __init__(self, generator) -> None:
        self.generator, self.forwards = generator, []

    def synthesize(self, latents: Latents) -> torch.Tensor:
        self.forwards.append(len(latents))
        threading.Event().wait(0.05)
        return self.generator.synthesize(latents)


def test_concurrent_callers_share_batches_and_get_their_own_rows(dcgan):
    batcher = SynthesisBatcher(max_rows=8)
    slow = Slow(dcgan)
    latents = [dcgan.sample(1, seed=100 + i) for i in range(CALLERS)]
    images = together(CALLERS, lambda i: batcher.synthesize(slow, latents[i]))
    for i, image in enumerate(images):
        alone = dcgan.synthesize(latents[i])
        torch.testing.assert_close(image, alone, rtol=0, atol=1e-6)  # row i is caller i's, as alone
    assert sum(slow.forwards) == CALLERS and max(slow.forwards) <= 8
    assert len(slow.forwards) < CALLERS  # coalesced: fewer forwards than callers
    assert (batcher.batches, batcher.rows) == (len(slow.forwards), CALLERS)
    lone = batcher.synthesize(slow, latents[0])  # a caller alone runs at once, alone
    assert slow.forwards[-1] == 1 and torch.equal(lone, dcgan.synthesize(latents[0]))


def test_kinds_of_latents_never_share_a_batch(dcgan):
    """Two models (two wrappers) and two truncations: three lanes, each batch from one of them."""
    batcher = SynthesisBatcher()
    first, second = Slow(dcgan), Slow(dcgan)
    requests = []
    for i in range(CALLERS):
        model = second if i % 3 == 0 else first
        requests.append((model, dcgan.sample(1, seed=i, truncation=0.5 if i % 3 == 1 else 1.0)))
    images = together(CALLERS, lambda i: batcher.synthesize(*requests[i]))
    for (_, latents), image in zip(requests, images, strict=True):
        torch.testing.assert_close(image, dcgan.synthesize(latents), rtol=0, atol=1e-6)
    assert sum(second.forwards) == 4 and sum(first.forwards) == 8
    assert len(first.forwards) >= 2  # its truncations 0.5 and 1.0 were never in one batch


class Picky:
    """A model that refuses latents whose first value is large (one user's bad request)."""

    def synthesize(self, latents: Latents) -> torch.Tensor:
        threading.Event().wait(0.02)
        if bool((latents.codes[:, 0] > 100).any()):
            raise ValueError("refused")
        return latents.codes * 2


def test_an_error_reaches_only_its_caller():
    batcher, picky = SynthesisBatcher(), Picky()
    codes = [torch.full((1, 4), 1000.0 if i == 5 else float(i)) for i in range(CALLERS)]

    def call(i):
        try:
            return batcher.synthesize(picky, Latents(codes[i]))
        except ValueError as exc:
            return exc

    results = together(CALLERS, call)
    assert isinstance(results[5], ValueError)
    for i, result in enumerate(results):
        if i != 5:
            assert torch.equal(result, codes[i] * 2)
    with pytest.raises(ValueError, match="at least 1"):
        SynthesisBatcher(0)


def test_live_renders_of_many_users_through_the_batcher(dcgan, tmp_path):
    pytest.importorskip("gradio")
    import dataclasses

    from extension.settings import UISettings
    from extension.tabs import edit as edit_tab
    from extension.tabs.edit_state import STATE_INPUTS

    settings = UISettings(output_dir=tmp_path, device="cpu", default_model="dcgan-faces", max_sliders=4)
    assert settings.batcher is not None  # on by default
    alone = dataclasses.replace(settings, batcher=None)

    class Session:
        def __init__(self, i):
            self.session_hash = f"user-{i}"

    def inputs(i):
        from appserver import edit_state

        values = [dcgan.identity.name, "", "", *edit_state(200 + i)]
        assert len(values) == STATE_INPUTS
        return [*values, 0.25 * (i % 4), 0.0, 0.0, 0.0, 0.0]

    served = together(CALLERS, lambda i: edit_tab.render(settings, *inputs(i), request=Session(i)))
    for i, path in enumerate(served):  # previews are named by their content: the same name, the same picture
        assert path == edit_tab.render(alone, *inputs(i), request=Session(i)), i
    assert len(set(served)) == CALLERS
