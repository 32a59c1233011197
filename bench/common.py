"""Timing helpers for the bench scripts: interleaved repetitions, medians, one process."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved_medians(cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 3) -> dict[str, float]:
    """Median seconds per case; cases alternate within each repetition so drift hits all of them alike."""
    for _ in range(warmup):
        for run in cases.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}
