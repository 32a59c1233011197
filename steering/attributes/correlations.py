"""Spurious correlations between attributes in a model's samples (what SC²GAN corrects).

Every attribute's score columns over the same seeded samples (a binary attribute has one column, a multi-class one a
probability per class) give a Pearson correlation matrix. Each column is split at its median into *low* and *high*;
the joint frequency of a pair's four cells is 1/4 each for independent attributes, and the *rare cells* are those
well below it (the combinations the model seldom draws, e.g. warm but unsaturated faces). Pairs of columns of the same
attribute are left out: their classes' probabilities are tied by construction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..errors import InvalidValueError
from ..models.base import Generator
from ..values import check_count
from .samples import AttributeSamples
from .train import Sampling, Source, attribute_samples

Progress = Callable[[int, int], None]
#: A cell whose joint frequency is below this share is rare (independent attributes: 0.25 each).
RARE_SHARE = 0.15
CELLS = ("low", "high")


@dataclass(frozen=True)
class Pair:
    """Two score columns, their correlation and their 2 × 2 joint frequencies (rows: first low/high; columns: second
    low/high)."""

    first: int
    second: int
    correlation: float
    joint: Tensor

    def rare_cells(self, share: float = RARE_SHARE) -> list[tuple[str, str, float]]:
        """``(first side, second side, frequency)`` of the cells below ``share``, rarest first."""
        cells = [(CELLS[i], CELLS[j], float(self.joint[i, j])) for i in range(2) for j in range(2)]
        return sorted((c for c in cells if c[2] < share), key=lambda c: c[2])


@dataclass
class Correlations:
    """Score columns of the same samples: ``names`` (``"attribute"`` or ``"attribute: class"``), the attribute of each
    column, the scores [N, m] and the correlation matrix [m, m]."""

    names: list[str]
    attributes: list[str]
    columns: list[int]  # each column's index within its attribute's scores
    scores: Tensor
    matrix: Tensor
    samples: list[AttributeSamples]

    def high(self, column: int) -> Tensor:
        """Which samples are above the column's median [N] (bool)."""
        values = self.scores[:, column]
        return values > values.median()

    def pair(self, first: int, second: int) -> Pair:
        a, b = self.high(first), self.high(second)
        joint = torch.tensor([[float(((a == i) & (b == j)).float().mean()) for j in (0, 1)] for i in (0, 1)])
        return Pair(first, second, float(self.matrix[first, second]), joint)

    def pairs(self) -> list[Pair]:
        """Every pair of columns of different attributes, the most correlated (|r|) first."""
        found = [
            self.pair(i, j)
            for i, j in itertools.combinations(range(len(self.names)), 2)
            if self.attributes[i] != self.attributes[j]
        ]
        return sorted(found, key=lambda p: -abs(p.correlation))

    def most_correlated(self) -> Pair:
        found = self.pairs()
        if not found:
            raise InvalidValueError("correlations need at least two attributes")
        return found[0]

    def index(self, name: str) -> int:
        """The column called ``name`` (an attribute's name alone picks its first column)."""
        for i, (full, attribute) in enumerate(zip(self.names, self.attributes, strict=True)):
            if name in (full, attribute):
                return i
        raise InvalidValueError(f"no scored attribute is called {name!r}; scored: {', '.join(self.names)}")

    def table(self, limit: int = 10, share: float = RARE_SHARE) -> list[dict[str, Any]]:
        """The ``limit`` most correlated pairs with their joint frequencies and rare cells (for a report)."""
        rows = []
        for p in self.pairs()[:limit]:
            rare = ", ".join(
                f"{self.names[p.first]} {x} & {self.names[p.second]} {y}: {f:.1%}" for x, y, f in p.rare_cells(share)
            )
            rows.append(
                {
                    "first": self.names[p.first],
                    "second": self.names[p.second],
                    "correlation": round(p.correlation, 4),
                    "joint": [[round(float(v), 4) for v in row] for row in p.joint],
                    "rare": rare or "none",
                }
            )
        return rows

    def format(self, limit: int = 10) -> str:
        """The most correlated pairs as aligned text (CLI, test log, README)."""
        lines = [f"{len(self.scores)} samples; cells split at each score's median (independent: 25% each)"]
        lines.append(f"{'pair':44s} {'r':>7s}  rare cells")
        for row in self.table(limit):
            lines.append(f"{(row['first'] + ' ~ ' + row['second'])[:44]:44s} {row['correlation']:+7.3f}  {row['rare']}")
        return "\n".join(lines)


def correlations_of(samples: Sequence[AttributeSamples]) -> Correlations:
    """The correlations of attributes scored on the same samples."""
    if len(samples) < 2:
        raise InvalidValueError("correlations need at least two attributes")
    n = len(samples[0])
    if any(len(s) != n or not torch.equal(s.codes, samples[0].codes) for s in samples):
        raise InvalidValueError("the attributes were not scored on the same samples")
    names, attributes, columns, values = [], [], [], []
    for s in samples:
        for c, label in enumerate(s.attribute.classes):
            names.append(s.attribute.name if s.attribute.binary else f"{s.attribute.name}: {label}")
            attributes.append(s.attribute.name)
            columns.append(c)
            values.append(s.scores[:, c].double())
    scores = torch.stack(values, dim=1)
    spread = scores.std(dim=0)
    if bool((spread < 1e-12).any()):
        flat = [names[i] for i in (spread < 1e-12).nonzero()[:, 0].tolist()]
        raise InvalidValueError(f"{', '.join(flat)} do not vary over the samples: no correlation to measure")
    matrix = torch.corrcoef(scores.T).float()
    return Correlations(names, attributes, columns, scores.float(), matrix, list(samples))


def correlations(
    generator: Generator,
    sources: Sequence[Source],
    samples: int = 2000,
    *,
    seed: int = 0,
    truncation: float | None = None,
    progress: Progress | None = None,
) -> Correlations:
    """Score ``samples`` seeded samples with every source (scorers or their names) and correlate them."""
    samples = check_count(samples, "the number of samples", 16, 1_000_000)
    sampling = Sampling(samples=samples, seed=seed, truncation=truncation)  # ψ checked there
    scored = attribute_samples(generator, sources, sampling, progress)
    if any(not select for _, select in scored):
        raise InvalidValueError("correlations are measured on scored samples: give scorers, not labelled sets")
    return correlations_of([s for s, _ in scored])


__all__ = ["RARE_SHARE", "Correlations", "Pair", "correlations", "correlations_of"]
