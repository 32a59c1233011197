"""Disentanglement along an edit: how much the target attribute changes against how much every other one does.

For each edit (a control and its slider) and each strength, the same start latents are moved, rendered and scored
by every attribute's scorer. An attribute's change is measured in units of its spread over the start images (its
standard deviation per score column), so attributes of different scales compare:

* the **target change**: the target column's change, signed so that positive is the requested direction;
* an **other attribute's change**: the mean absolute change of its columns (multi-class: of its probabilities);
  the *others' change* of an edit is the mean over the attributes it should leave alone (``Edit.others``, e.g. the
  attributes a GradCtrl control excludes; default every other scored attribute).

Edits are compared **at equal target change**: for each edit the strength where its mean target change reaches a
common level (the largest level every edit that raises the target reaches, or the one asked for) is found by
interpolating along its strengths, and the other attributes' changes are read there. An edit that never raises the
target (a head at chance level, a direction that does not move the attribute) cannot be compared at any level: it
does not set the level, and its row has no strength and no others' change but a ``note`` saying why (the plot still
shows its curve). ``Measurement.table()`` gives rows for a report; ``Measurement.curves_for_plot()`` gives
(target change, others' change) points per edit for a plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from ..controls import Control
from ..edit import apply
from ..errors import InvalidValueError
from ..models.base import Generator, Latents
from ..scorers import Scorer
from ..values import check_strength
from .samples import render_scores

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Edit:
    """One slider of one control file, with the attribute (scorer index) and class column it should change."""

    label: str
    control: Control
    index: int
    target: int  # index into the scorers
    column: int = 0
    others: tuple[int, ...] | None = None  # the attributes whose change counts (default: every other one)
    flip: bool = False  # the slider raises the target at negative strengths (an oriented SeFa/GANSpace direction)


@dataclass
class Curve:
    """One edit's changes at each strength: target change [S, N] and per-attribute changes [S, A, N]."""

    edit: Edit
    strengths: list[float]
    target: Tensor
    changes: Tensor

    def success(self) -> float:
        """Share of start latents whose target moved the requested way at the largest strength."""
        return float((self.target[-1] > 0).float().mean())


@dataclass
class Measurement:
    """Curves of every edit over the same start latents and attributes."""

    attributes: list[str]
    curves: list[Curve]
    level: float
    extra: dict[str, Any] = field(default_factory=dict)

    def others(self, curve: Curve) -> list[int]:
        """The attributes whose change counts for ``curve`` (its edit's ``others``, or every other attribute)."""
        if curve.edit.others is not None:
            return [a for a in curve.edit.others if a != curve.edit.target]
        return [a for a in range(len(self.attributes)) if a != curve.edit.target]

    def at_level(self, curve: Curve, level: float | None = None) -> dict[str, Any]:
        """The strength where ``curve``'s mean target change reaches ``level`` and the changes there."""
        level = self.level if level is None else level
        mean_target = curve.target.mean(dim=1)  # [S]
        s = torch.tensor(curve.strengths, dtype=torch.float64)
        points = torch.cat([torch.zeros(1, dtype=torch.float64), mean_target.double()])
        where = torch.cat([torch.zeros(1, dtype=torch.float64), s])
        changes = torch.cat([torch.zeros(1, len(self.attributes)), curve.changes.mean(dim=2)])  # [S + 1, A]
        reached = (points >= level - 1e-9).nonzero()
        if level <= 0 or not len(reached):  # an edit that never moves the target that far the requested way
            return {"strength": None, "target": float(mean_target.max()), "changes": None}
        j = int(reached[0])
        t = 0.0 if j == 0 else float((level - points[j - 1]) / (points[j] - points[j - 1]).clamp_min(1e-12))
        i = max(j - 1, 0)
        row = changes[i] + t * (changes[j] - changes[i]) if j else changes[0]
        strength = float(where[i] + t * (where[j] - where[i])) if j else 0.0
        return {"strength": strength, "target": level, "changes": row.tolist()}

    def note(self, curve: Curve, best: float) -> str:
        """Why ``curve`` has no row values at the common level (its mean target change reaches ``best`` at most)."""
        target = self.attributes[curve.edit.target]
        largest = max(abs(s) for s in curve.strengths)
        if best <= 0:
            return f"never raises {target} (up to strength {largest:g}): nothing to compare"
        return f"raises {target} by {best:.3g} std at most (strength {largest:g}), short of the common {self.level:.3g}"

    def table(self) -> list[dict[str, Any]]:
        """One row per edit at the common target level: strength, success share, others' mean change (``None``
        when no other attribute is measured), and each attribute's change; an edit that does not reach the level has
        ``None`` for them and a ``note`` saying why (``target_change`` is then the most it reached)."""
        rows = []
        for curve in self.curves:
            found = self.at_level(curve)
            row = {
                "edit": curve.edit.label,
                "target": self.attributes[curve.edit.target],
                "strength": found["strength"],
                "target_change": found["target"],
                "others_change": None,
                "success": curve.success(),
                "per_attribute": None,
                "note": None,
            }
            if found["changes"] is None:
                row["note"] = self.note(curve, found["target"])
            else:
                others = [found["changes"][a] for a in self.others(curve)]
                row["others_change"] = sum(others) / len(others) if others else None  # nothing to leave alone
                row["per_attribute"] = dict(zip(self.attributes, found["changes"], strict=True))
            rows.append(row)
        return rows

    def curves_for_plot(self) -> dict[str, list[tuple[float, float]]]:
        """Per edit: (mean target change, mean change of the other attributes) at 0 and each strength."""
        out = {}
        for curve in self.curves:
            others = self.others(curve)
            mean = curve.changes.mean(dim=2)[:, others].mean(dim=1) if others else torch.zeros(len(curve.strengths))
            points = zip(curve.target.mean(dim=1).tolist(), mean.tolist(), strict=True)
            out[curve.edit.label] = [(0.0, 0.0), *points]
        return out

    def format(self) -> str:
        """The table as aligned text (for the CLI, the test log and the README)."""
        rows = self.table()
        width = min(max([34, *(len(row["edit"]) for row in rows)]), 80)  # names in full: they tell the edits apart
        head = f"{'edit':{width}s} {'strength':>8s} {'target Δ':>8s} {'others Δ':>8s} {'success':>7s}  per attribute"
        lines = [f"common target change: {self.level:.3g} (standard deviations)", head]
        for row in rows:
            strength = "—" if row["strength"] is None else f"{row['strength']:.3g}"
            if row["note"] is None:
                others = f"{'—':>8s}" if row["others_change"] is None else f"{row['others_change']:8.3f}"
                per = ", ".join(f"{k} {v:.2f}" for k, v in row["per_attribute"].items() if k != row["target"])
            else:
                others, per = f"{'—':>8s}", row["note"]
            lines.append(
                f"{row['edit']:{width}s} {strength:>8s} {row['target_change']:8.3f} {others} "
                f"{row['success']:7.0%}  {per}"
            )
        return "\n".join(lines)


@torch.no_grad()
def best_direction(
    generator: Generator, control: Control, scorer: Scorer, column: int, latents: Latents, strength: float = 1.0
) -> tuple[int, float]:
    """The slider of ``control`` (e.g. SeFa's or GANSpace's directions, which know no attribute) that changes the
    ``column`` score most at ``strength``, and the sign that raises it: ``(index, ±1)``."""
    start = render_scores(generator, latents, [scorer])[0][:, column]
    best = (0, 1.0, -1.0)
    for index in range(len(control)):
        moved = apply(generator, latents, [control], [{index: strength}])
        change = float((render_scores(generator, moved, [scorer])[0][:, column] - start).mean())
        if abs(change) > best[2]:
            best = (index, 1.0 if change >= 0 else -1.0, abs(change))
    return best[0], best[1]


def measure(
    generator: Generator,
    edits: Sequence[Edit],
    scorers: Sequence[Scorer],
    latents: Latents,
    strengths: Sequence[float],
    *,
    level: float | None = None,
    signs: Mapping[str, float] | None = None,
    progress: Progress | None = None,
) -> Measurement:
    """Score every edit of ``edits`` at each of ``strengths`` (same sign; each edit's sign flips it where
    ``signs[label] = -1``: the other side of a binary control) from ``latents`` (see the module docstring)."""
    if not edits or not scorers:
        raise InvalidValueError("measuring needs at least one edit and one attribute")
    strengths = sorted({abs(check_strength(s)) for s in strengths if s})
    if not strengths:
        raise InvalidValueError("give at least one non-zero strength")
    for e in edits:
        if not 0 <= e.target < len(scorers) or not 0 <= e.column < scorers[e.target].num_classes:
            raise InvalidValueError(f"edit {e.label!r} targets an attribute or class that is not scored")
    start = render_scores(generator, latents, scorers)
    spread = [s.std(dim=0).clamp_min(1e-6) for s in start]
    total, done = len(edits) * len(strengths), 0
    curves = []
    for e in edits:
        sign = float((signs or {}).get(e.label, 1.0))
        targets, changes = [], []
        for s in strengths:
            moved = apply(generator, latents, [e.control], [{e.index: (-1.0 if e.flip else 1.0) * sign * s}])
            found = render_scores(generator, moved, scorers)
            delta = [(f - b) / sd for f, b, sd in zip(found, start, spread, strict=True)]
            targets.append((1.0 if sign > 0 else -1.0) * delta[e.target][:, e.column])
            changes.append(torch.stack([d.abs().mean(dim=1) for d in delta]))
            done += 1
            if progress is not None:
                progress(done, total)
        curves.append(Curve(e, [sign * s for s in strengths], torch.stack(targets), torch.stack(changes)))
    reached = [float(c.target.mean(dim=1).max()) for c in curves]
    raising = [r for r in reached if r > 0]  # an edit that never raises the target sets no level (its row says so)
    common = (min(raising) if raising else 0.0) if level is None else float(level)
    return Measurement([s.name for s in scorers], curves, common, {"seeds": len(latents)})


__all__ = ["Curve", "Edit", "Measurement", "best_direction", "measure"]
