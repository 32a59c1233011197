"""Timing helpers for the bench scripts: interleaved repetitions, medians, one process."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved_medians(
    cases: dict[str, Callable[[], object]], repeats: int, warmup: int = 3, block: int = 3
) -> dict[str, float]:
    """Median seconds per case. Cases alternate in blocks, so slow drift hits all of them alike; each block begins
    with one unmeasured run that absorbs the switch between libraries (e.g. NumPy's BLAS threads still spinning
    while torch's start), then ``block`` runs are timed."""
    for _ in range(warmup):
        for run in cases.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(max(1, -(-repeats // block))):
        for name, run in cases.items():
            run()
            for _ in range(block):
                start = time.perf_counter()
                run()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}
