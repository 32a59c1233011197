"""Concurrent synthesis calls of one model, served together: a small micro-batcher for apps with many users.

``SynthesisBatcher.synthesize(generator, latents)`` behaves like ``generator.synthesize(latents)``. While one batch
runs, the calls that arrive for the same model (and latents of the same kind: space, shape, truncation, noise,
device) wait; when it ends, the first of them runs all of them as the next batch (at most ``max_rows`` rows) and
each caller gets back its own rows. A caller alone runs at once (no waiting window), and a model is never run by
two batches of the same kind at a time, so the batcher is also the only lock live synthesis needs.

If a batch fails, its calls are run again one by one, so an error reaches only the caller whose latents caused it.
Rows are computed in a batch instead of alone: equal up to float rounding (bit-identical for the DCGANs on CPU).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Hashable

import torch
from torch import Tensor

from .models.base import Generator, Latents


@dataclass
class _Call:
    latents: Latents
    ready: threading.Event = field(default_factory=threading.Event)
    images: Tensor | None = None
    error: BaseException | None = None
    leads: bool = False


@dataclass
class _Lane:
    """The calls waiting for one model and one kind of latents; ``busy`` while a batch of them runs."""

    waiting: deque[_Call] = field(default_factory=deque)
    busy: bool = False


class SynthesisBatcher:
    """Coalesces concurrent ``synthesize`` calls (see the module docstring). ``batches`` / ``rows`` count what it
    ran (for benchmarks and tests)."""

    def __init__(self, max_rows: int = 16) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.max_rows = max_rows
        self.batches = self.rows = 0
        self._lanes: dict[Hashable, _Lane] = {}
        self._lock = threading.Lock()

    def synthesize(self, generator: Generator, latents: Latents) -> Tensor:
        """``generator.synthesize(latents)``, possibly computed in one batch with other callers' latents."""
        if len(latents) >= self.max_rows:
            return _alone(generator, latents)
        call = _Call(latents)
        key = _kind(generator, latents)
        with self._lock:
            lane = self._lanes.setdefault(key, _Lane())
            lane.waiting.append(call)
            if not lane.busy:
                lane.busy = call.leads = True
        if not call.leads:
            call.ready.wait()  # our rows, or our turn to run the next batch
        if call.leads:
            self._run_next(generator, key, lane)
        if call.error is not None:
            raise call.error
        assert call.images is not None
        return call.images

    def _run_next(self, generator: Generator, key: Hashable, lane: _Lane) -> None:
        """Run the waiting calls (up to ``max_rows`` rows, oldest first; the leader is the oldest), hand the lane to
        the next waiting call, or free it."""
        with self._lock:
            batch, rows = [], 0
            while lane.waiting and rows + len(lane.waiting[0].latents) <= self.max_rows:
                batch.append(lane.waiting.popleft())
                rows += len(batch[-1].latents)
        try:
            _serve(generator, batch)
        finally:
            with self._lock:
                self.batches, self.rows = self.batches + 1, self.rows + rows
                following = lane.waiting[0] if lane.waiting else None
                if following is not None:
                    following.leads = True
                else:
                    lane.busy = False
                    self._lanes.pop(key, None)
            for call in batch:
                call.ready.set()
            if following is not None:
                following.ready.set()


def _serve(generator: Generator, batch: list[_Call]) -> None:
    """Fill in each call's images (or its error)."""
    if len(batch) == 1:
        _fill(generator, batch[0])
        return
    try:
        images = _alone(generator, Latents.cat([call.latents for call in batch]))
    except Exception:  # one caller's latents may be at fault: find out whose, one by one
        for call in batch:
            _fill(generator, call)
        return
    start = 0
    for call in batch:
        call.images = images[start : start + len(call.latents)]
        start += len(call.latents)


def _fill(generator: Generator, call: _Call) -> None:
    try:
        call.images = _alone(generator, call.latents)
    except BaseException as exc:  # handed to the caller, raised in its own thread
        call.error = exc


@torch.no_grad()
def _alone(generator: Generator, latents: Latents) -> Tensor:
    return generator.synthesize(latents)


def _kind(generator: Generator, latents: Latents) -> Hashable:
    """Latents that can share a batch: the same model, space, shapes, dtype, device, truncation and noise."""
    classes: Any = None if latents.classes is None else tuple(latents.classes.shape[1:])
    codes = latents.codes
    return (
        id(generator),
        latents.space,
        tuple(codes.shape[1:]),
        codes.dtype,
        codes.device,
        classes,
        float(latents.truncation),
        latents.noise,
    )


__all__ = ["SynthesisBatcher"]
