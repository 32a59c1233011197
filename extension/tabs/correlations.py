"""Correlations tab (SC²GAN): which attributes the model's samples tie together (a correlation heat map and the rare
combinations), and the correction of one attribute's direction against a correlated one, with progress and Cancel:
its before/after table and a side-by-side strip. The corrected control (base and corrected sliders) goes to the Edit
tab through the session store, like Discover's. No math here: every step is a core call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import compat
from ..core import CORE, errors
from ..feedback import Panel, ok, warn
from ..session import directions_store, generator, session_id
from .common import md, typed_or

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared

correlations = importlib.import_module(CORE + ".attributes.correlations")
sc2gan = importlib.import_module(CORE + ".methods.sc2gan")
scorers = importlib.import_module(CORE + ".scorers")
charts = importlib.import_module(CORE + ".charts")

#: What is corrected: A's boundary fitted by SC²GAN itself, or the controls the Edit tab holds (a linear direction of
#: A, or GradCtrl controls with a head for A).
BASES = ("A's boundary, fitted here", "the Edit tab's controls")
DEFAULT_ATTRIBUTES = ["brightness", "contrast", "saturation", "warmth", "left-right", "top-bottom", "fer-emotion"]


def attribute_choices() -> list[str]:
    """Every registered scorer (built-in statistics, fer)."""
    return list(scorers.available())


def measure(
    settings: UISettings, spec: str, chosen: Any, samples: Any, *, request: Any = None, progress: Any = None
) -> tuple[Any, str, Any, Any, str]:
    """Score the samples with the chosen attributes: ``(heat map, table of the most correlated pairs, A picker, B
    picker, status)``; A and B are set to the most correlated pair of binary attributes."""
    names = [str(n) for n in (chosen or [])]
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = correlations.correlations(model, names, typed_or(samples, sc2gan.CORRECTION_SAMPLES), progress=progress)
    count = len(found.scores)
    matrix = found.matrix.tolist()
    chart = charts.heatmap(matrix, found.names, title=f"correlations over {count} samples")
    rows = ["| pair | r | rare cells (joint frequency; independent: 25 %) |", "|---|---|---|"]
    for r in found.table():
        rows.append(f"| {md(r['first'])} ~ {md(r['second'])} | {r['correlation']:+.3f} | {md(r['rare'])} |")
    binary = [p for p in found.pairs() if _binary(found, p.first) and _binary(found, p.second)]
    pick = binary[0] if binary else None
    first = found.names[pick.first] if pick else None
    second = found.names[pick.second] if pick else None
    status = ok(f"most correlated binary pair: {md(first)} ~ {md(second)}" if pick else "no pair of binary attributes")
    return chart, "\n".join(rows), compat.update(value=first), compat.update(value=second), status


def _binary(found: Any, column: int) -> bool:
    return found.names[column] == found.attributes[column]


def correct(
    settings: UISettings,
    spec: str,
    key: str,
    base: str,
    first: str,
    second: str,
    samples: Any,
    fraction: Any,
    rare: Any,
    steps: Any,
    seeds: Any,
    *,
    request: Any = None,
    progress: Any = None,
) -> tuple[str, str, Any, str]:
    """Correct A's direction (``base``: A's boundary, or the Edit tab's controls under ``key``) against B: ``(controls
    key for the Edit tab, before/after table, strip, status)``."""
    if not first or not second:
        raise errors.InvalidValueError("pick the attribute to edit (A) and the one it drags along (B)")
    if base not in BASES:
        raise errors.InvalidValueError(f"choose what to correct: {' or '.join(BASES)}")
    parent = directions_store.get(key) if base == BASES[1] else None
    with settings.lock:
        model = generator(settings, spec, request=request)
        result = sc2gan.correct(
            model,
            first,
            second,
            parent=parent,
            num_samples=typed_or(samples, sc2gan.CORRECTION_SAMPLES),
            fraction=typed_or(fraction, sc2gan.CORRECTION_FRACTION),
            rare=typed_or(rare, 64),
            inversion_steps=typed_or(steps, 100),
            progress=progress,
        )
        measured = sc2gan.leak(model, result, first, second, seeds=typed_or(seeds, 64))
        strip = sc2gan.strip(model, result, measured)
    key = directions_store.put(result.control, session_id(request))
    per_unit = sc2gan.leak_per_unit(measured)
    rows = [f"| edit | strength | Δ {md(first)} | Δ {md(second)} | Δ {md(second)} per unit Δ {md(first)} |"]
    rows.append("|---|---|---|---|---|")
    for row, unit in zip(measured.table(), per_unit, strict=True):  # one row per edit: base, corrected
        strength = "—" if row["strength"] is None else f"{row['strength']:.2f}"
        if row["note"]:
            leaked, per = f"— *{md(row['note'])}*", "—"
        else:
            leaked, per = f"{row['others_change']:.3f}", f"{unit:.3f}"
        rows.append(f"| {md(row['edit'])} | {strength} | {row['target_change']:.3f} | {leaked} | {per} |")
    done = (
        f"r = {result.pair.correlation:+.3f}; {len(result.rare)} of {result.rare.made} rare samples kept "
        f"({md(result.rare.substitute)}); the corrected control ({len(result.control)} sliders) is in the Edit tab"
    )
    caveats = sc2gan.caveats(result, measured)
    status = warn(f"{done}; but " + "; ".join(md(c) for c in caveats)) if caveats else ok(done)
    return key, "\n".join(rows), strip, status


class CorrelationsTab:
    """Components and events of the Correlations tab (``ui.py`` refreshes the Edit tab after ``corrected``)."""

    def __init__(self, settings: UISettings, shared: Shared) -> None:
        C = compat.component
        with gr.Row():
            with gr.Column(scale=1):
                gr.Markdown("**1 · Correlations** between attributes in the model's samples.")
                self.attributes = C(
                    gr.CheckboxGroup,
                    choices=attribute_choices(),
                    value=[n for n in DEFAULT_ATTRIBUTES if n in attribute_choices()],
                    label="Attributes to correlate",
                    elem_id="cc_attributes",
                )
                with gr.Row():
                    self.samples = compat.whole_number(
                        value=sc2gan.CORRECTION_SAMPLES,
                        label="Samples to score",
                        elem_id="cc_samples",
                    )
                    self.measure_button = C(gr.Button, value="Measure", elem_id="cc_measure")
                self.heatmap = compat.image_output(label="Correlation matrix", show_label=False, elem_id="cc_heatmap")
                self.pairs = C(gr.Markdown, value="", elem_id="cc_pairs")
            with gr.Column(scale=1):
                gr.Markdown("**2 · Correct** A's direction so that it stops dragging B along (SC²GAN).")
                binary = [n for n in attribute_choices() if n in sc2gan.BINARY_SCORERS]
                with gr.Row():
                    self.first = C(gr.Dropdown, choices=binary, value="warmth", label="A: edit", elem_id="cc_first")
                    self.second = C(
                        gr.Dropdown, choices=binary, value="saturation", label="B: correlated", elem_id="cc_second"
                    )
                self.base = C(gr.Radio, choices=list(BASES), value=BASES[0], label="Correct", elem_id="cc_base")
                with gr.Row():
                    self.fraction = C(
                        gr.Number, value=sc2gan.CORRECTION_FRACTION, label="Confident share of A", elem_id="cc_fraction"
                    )
                    self.rare = compat.whole_number(value=64, label="Rare per side", elem_id="cc_rare")
                    self.steps = compat.whole_number(value=100, label="Re-projection steps", elem_id="cc_steps")
                    self.seeds = compat.whole_number(value=64, label="Seeds for the leak", elem_id="cc_seeds")
                with gr.Row():
                    self.correct_button = C(gr.Button, value="Correct", variant="primary", elem_id="cc_correct")
                    self.cancel_button = C(gr.Button, value="Cancel", elem_id="cc_cancel")
                self.table = C(gr.Markdown, value="", elem_id="cc_table")
                self.strip = compat.image_output(
                    label="Start · base · corrected", show_label=False, toolbar=False, elem_id="cc_strip"
                )
                self.status = C(gr.Markdown, value="", elem_id="cc_status")
        #: What shows a result made from the current model (blanked when another model is loaded).
        self.results = [self.heatmap, self.pairs, self.table, self.strip, self.status]
        self.panel = panel = Panel("correlations", self.status)
        panel.job(
            self.measure_button.click,
            measure,
            settings,
            [shared.model, self.attributes, self.samples],
            [self.heatmap, self.pairs, self.first, self.second, self.status],
            gpu=True,
        )
        self.corrected = panel.job(
            self.correct_button.click,
            correct,
            settings,
            [
                shared.model,
                shared.directions,
                self.base,
                self.first,
                self.second,
                self.samples,
                self.fraction,
                self.rare,
                self.steps,
                self.seeds,
            ],
            [shared.directions, self.table, self.strip, self.status],
            gpu=True,
        )
        panel.wire_cancel(self.cancel_button, settings)
