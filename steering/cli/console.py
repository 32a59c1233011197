"""Where the CLI writes: results on stdout, messages, progress and errors on stderr, one line per error."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NoReturn

from ..text import terminal_safe

PROG = "gan-steering"
Progress = Callable[[int, int], None]
_PERCENT = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}"


def echo(*parts: Any, file: Any = None, flush: bool = False) -> None:
    """``print`` for everything the CLI shows: names and messages from files are data, never terminal control."""
    print(terminal_safe(" ".join(str(part) for part in parts)), file=file or sys.stdout, flush=flush)


def fail(message: str, code: int) -> int:
    """One line on stderr (the first line of ``message``), then the exit code."""
    lines = message.strip().splitlines() or ["unknown error"]
    echo(f"{PROG}: error: {lines[0]}{' …' if len(lines) > 1 else ''}", file=sys.stderr)
    return code


@dataclasses.dataclass
class Console:
    """Where messages and progress go (stderr), and whether to show them."""

    quiet: bool = False

    def info(self, message: str) -> None:
        if not self.quiet:
            echo(message, file=sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        """A result not to trust as it is: shown even when quiet (on stderr)."""
        echo(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)

    @contextmanager
    def progress(self, description: str, unit: str = "it", percent: bool = False) -> Iterator[Progress | None]:
        """A ``progress(done, total)`` callback drawing a tqdm bar on stderr, shown only after a second of work.

        ``percent``: the counts are no unit a rate makes sense of (stages, or samples then epochs): show the share
        done and the time left only."""
        if self.quiet:
            yield None
            return
        from tqdm import tqdm

        bar: tqdm | None = None

        def update(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                shape = {"bar_format": _PERCENT} if percent else {}
                bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr, delay=1.0, leave=False, **shape)
            bar.total = total
            bar.update(done - bar.n)

        try:
            yield update
        finally:
            if bar is not None:
                bar.close()


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage itself is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        echo(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)
