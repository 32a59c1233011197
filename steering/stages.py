"""One progress bar over work done in stages: each stage reports its own ``(done, total)``, shown as a share of its
slot, so the bar only moves forward (scoring then training no longer falls back to 0 % when training starts)."""

from __future__ import annotations

from typing import Callable, Sequence

Progress = Callable[[int, int], None]


class Stages:
    """``Stages(progress, names)(i)`` is the ``progress`` callback of stage ``i`` (``None`` when there is none)."""

    def __init__(self, progress: Progress | None, names: Sequence[str]) -> None:
        self.progress, self.count = progress, len(names)

    def __call__(self, index: int) -> Progress | None:
        if self.progress is None:
            return None
        progress = self.progress

        def report(done: int, total: int) -> None:
            progress(index * 1000 + round(1000 * done / max(total, 1)), self.count * 1000)

        return report

    def done(self) -> None:
        if self.progress is not None:
            self.progress(self.count * 1000, self.count * 1000)


__all__ = ["Progress", "Stages"]
