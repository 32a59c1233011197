"""Analyze tab: the local basis at the Edit tab's starting point (its spectrum), walks along one local direction
(the ICT beside the linear traversal, as a strip, GIF or MP4), the controls sent to the Edit tab as sliders, how far
the Edit tab's global directions can be trusted at that point, and the warpage of the latent space.

Every handler reads the Edit tab's state inputs first (model, set, start, seed, ψ, class, noise, …: the same
``edit_state.STATE_INPUTS``), so it works at the point the user is looking at; the math is the core's
(``steering.methods.localbasis``, ``steering.methods.ict``, ``steering.analysis``)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import compat, outputs, plot
from ..core import CORE, edit, errors, methods, render, values
from ..core import io as core_io
from ..core import start as starts
from ..feedback import Panel, ok
from ..session import directions_store, generator, session_id
from . import edit_state as state
from .common import code, counted, md, previews, typed_or

if TYPE_CHECKING:
    from ..settings import UISettings
    from . import Shared
    from .edit import EditTab

localbasis = importlib.import_module(CORE + ".methods.localbasis")
ict = importlib.import_module(CORE + ".methods.ict")
warpage_module = importlib.import_module(CORE + ".analysis.warpage")
jacobian = importlib.import_module(CORE + ".methods.jacobian")
charts = importlib.import_module(CORE + ".charts")

WALK_FORMATS = ["strip (PNG)", "GIF", "MP4"]
TRAVERSALS = ["iterative", "guided", "linear"]
DEFAULT_FEATURE = "default"
#: Local directions shown in the spectrum (and offered for walks) at most.
MAX_DIRECTIONS = 64


# ----- helpers ----------------------------------------------------------------------------------------------------
def _point(settings: UISettings, inputs: tuple[Any, ...], request: Any) -> tuple[Any, Any, Any, tuple]:
    """``(model, starting point, latents at it, the handler's own inputs)`` from the Edit tab's state inputs."""
    spec, _key, start_key, seed, truncation, klass, noise, *_ = inputs[: state.STATE_INPUTS]
    model = generator(settings, spec, request=request)
    start = state.starting_point(model, start_key, seed, truncation, klass, noise)
    return model, start, localbasis.latents_of(model, start), tuple(inputs[state.STATE_INPUTS :])


def _feature(model: Any, choice: Any) -> str | None:
    text = str(choice or "").strip()
    if not text or text == DEFAULT_FEATURE:
        return None
    model.check_features([text])
    return text


def feature_choices(model: Any) -> list[str]:
    return [DEFAULT_FEATURE, *(n for n in model.feature_names() if n != "image")]


def _count(value: Any, what: str, low: int, high: int) -> int:
    return values.check_count(value if value not in (None, "") else low, what, low, high)


# ----- handlers ---------------------------------------------------------------------------------------------------
def spectrum(settings: UISettings, *inputs: Any, request: Any = None, progress: Any = None) -> list[Any]:
    """The local basis at the starting point (own inputs: feature, number of directions, solver): the spectrum chart,
    a summary, and the walk picker's choices. Returns ``[chart, summary, picker update, feature picker update]``."""
    with settings.lock:
        model, start, latents, (feature, count, solver) = _point(settings, inputs, request)
        k = _count(count, "the number of directions", 1, MAX_DIRECTIONS)
        if progress is not None:
            progress(0, 1)
        basis = localbasis.local_basis(
            model, latents, min(k, latents.codes.shape[-1]), _feature(model, feature), str(solver or "auto")
        )
        if progress is not None:
            progress(1, 1)
    sigma = basis.values.tolist()
    chart = plot.bar_chart(sigma, title=f"singular values of ∂{basis.network.feature}/∂{latents.space}")
    how = "exact Jacobian" if basis.exact else f"top-k solver ({basis.products} Jacobian-vector products)"
    m, d = basis.output.shape[0], basis.latent.shape[0]
    summary = (
        f"Local basis of {code(basis.network.feature)} ({m} values) over {md(latents.space)} ({d}) at "
        f"{md(_describe(start))}: {how}. σ₀/σ{_subscript(len(sigma) - 1)} = {sigma[0] / max(sigma[-1], 1e-30):.3g}."
    )
    labels = [f"{i}: σ={s:.4g}" for i, s in enumerate(sigma)]
    return [
        chart,
        summary,
        compat.update(choices=labels, value=labels[0]),
        compat.update(choices=feature_choices(model)),
    ]


def walk(settings: UISettings, *inputs: Any, request: Any = None, progress: Any = None) -> tuple[Any, Any, str, str]:
    """One local direction walked from the starting point (own inputs: feature, direction, from, to, frames, step,
    W+ layers, solver, format): a strip with the ICT and linear rows, or a GIF/MP4 of the ICT. Returns
    ``(image preview, MP4 preview, file, status)``: an MP4 plays in its own preview, the image preview hidden, and
    the reverse for a strip or GIF."""
    with settings.lock:
        model, _, latents, own = _point(settings, inputs, request)
        feature, picked, low, high, frames, step, layers, solver, fmt = own
        index = _count(str(picked or "0").split(":")[0], "the direction", 0, MAX_DIRECTIONS - 1)
        strengths = edit.strengths_between(low, high, _count(frames, "the number of frames", 2, 64))
        step = typed_or(step, 0.25)  # checked by ict.traversals
        chosen = _feature(model, feature)
        rows = ict.traversals(model, latents, index, strengths, chosen, layers or "all", step, str(solver or "auto"))
        what = str(fmt or WALK_FORMATS[0])
        if what == WALK_FORMATS[0]:
            images = edit.render(model, edit.Latents.cat(list(rows.values())), progress=progress)
            labels = [f"{s:+.3g}" for s in strengths]
            strip = render.grid(images, columns=len(strengths), row_labels=list(rows), column_labels=labels)
            path = outputs.output_path(settings, "analysis", f"local-{index}-strip", ".png", session_id(request))
            core_io.save_image(strip, path)
            return *previews(path), str(path), ok(f"strip saved as {code(outputs.shown(settings, path))}")
        suffix = ".mp4" if what == "MP4" else ".gif"
        images = edit.render(model, rows["ICT"], progress=progress)
        path = outputs.output_path(settings, "analysis", f"local-{index}-ict", suffix, session_id(request))
        render.save_animation(images, path, fps=8.0)
    return *previews(path), str(path), ok(f"{suffix[1:].upper()} saved as {code(outputs.shown(settings, path))}")


def send_to_edit(settings: UISettings, *inputs: Any, request: Any = None, progress: Any = None) -> tuple[str, str]:
    """Controls from the local basis at the starting point into the Edit tab (own inputs: feature, number, traversal,
    step, W+ layers, guide, solver). Returns ``(controls key, status)``; the Edit tab keeps its starting point (a seed
    is drawn in z where controls move z, see ``Seed.latents``)."""
    with settings.lock:
        model, _, latents, own = _point(settings, inputs, request)
        feature, count, traversal, step, layers, guide, solver = own
        options = {
            "num_directions": _count(count, "the number of directions", 1, MAX_DIRECTIONS),
            "traversal": str(traversal or "iterative"),
            "feature": _feature(model, feature),
            "step_size": step if step not in (None, "") else 0.25,
            "layers": layers or "all",
            "guide": str(guide or "sefa"),
            "solver": str(solver or "auto"),
        }
        found = methods.method("localbasis").function(model, start=latents, progress=progress, **options)
    key = directions_store.put(found, session_id(request))
    return key, ok(f"{counted(found, found.method)} ready in the Edit tab")


#: The subspace dimension of the trust shown beside the Edit tab's sliders.
TRUST_BESIDE_SLIDERS = 10


def _current(settings: UISettings, inputs: tuple[Any, ...], request: Any) -> tuple[Any, Any | None]:
    """``(model, the Edit tab's current set or None)``; the caller holds the lock."""
    model = generator(settings, inputs[0], request=request)
    return model, state.current_set(model, inputs[1], settings.max_sliders, strict=False)[0]


def _trust_of(settings: UISettings, inputs: tuple[Any, ...], request: Any, current: Any, feature: Any, count: Any):
    """``(trust, starting point)`` of ``current`` at the Edit tab's starting point; the caller holds the lock."""
    model, start, latents, _ = _point(settings, inputs, request)
    k = _count(count, "the subspace dimension", 1, MAX_DIRECTIONS)
    return warpage_module.trust(model, latents, current, k, _feature(model, feature)), start


def trust(settings: UISettings, *inputs: Any, request: Any = None) -> str:
    """How far the Edit tab's current (linear, global) directions can be trusted at its starting point (own inputs:
    feature, subspace dimension): a Markdown table."""
    feature, count = inputs[state.STATE_INPUTS :]
    with settings.lock:
        _, current = _current(settings, inputs, request)
        if current is None:
            raise errors.InvalidValueError("no directions in the Edit tab to judge: discover or load some first")
        found, start = _trust_of(settings, inputs, request, current, feature, count)
    rows = "\n".join(
        f"| {md(current.names[i])} | {score:.3f} | {found.best[i]} |" for i, score in enumerate(found.scores)
    )
    return (
        f"Cosine of each direction with the local top-{found.k} subspace at {md(_describe(start))} (1: inside it; "
        f"a random direction ≈ {found.chance:.3f}):\n\n| direction | trust | closest local direction |\n|---|---|---|\n"
        + rows
    )


def trust_beside_sliders(settings: UISettings, *inputs: Any, request: Any = None) -> str:
    """The Edit tab's line under its sliders (own input: whether it is wanted): each slider's trust at the current
    starting point, against the local top-10 subspace of the default partial network; empty when not wanted or when
    there is nothing to judge."""
    (wanted,) = inputs[state.STATE_INPUTS :]
    if not wanted:
        return ""
    with settings.lock:
        _, current = _current(settings, inputs, request)
        if current is None:
            return ""
        if not warpage_module.judged(current):
            return f"_Trust is measured for global linear directions; these are {md(current.noun)}._"
        found, _ = _trust_of(settings, inputs, request, current, DEFAULT_FEATURE, TRUST_BESIDE_SLIDERS)
    shown = min(len(current), settings.max_sliders)
    unbroken = [md(current.names[i]).replace(" ", "\u00a0") for i in range(shown)]  # a name stays on one line
    scores = " · ".join(f"{name}\u00a0**{found.scores[i]:.2f}**" for i, name in enumerate(unbroken))
    what = f"cosine with the local top-{found.k} subspace; a random direction ≈ {found.chance:.2f}"
    return f"Trust here ({what}): {scores}"


def warpage(
    settings: UISettings,
    spec: str,
    feature: Any,
    max_dim: Any,
    pairs: Any,
    epsilon: Any,
    metric: Any,
    seed: Any,
    *,
    request: Any = None,
    progress: Any = None,
) -> tuple[Any, str]:
    """The warpage curves (distance between top-k subspaces against k) as a chart and a table."""
    with settings.lock:
        model = generator(settings, spec, request=request)
        found = warpage_module.warpage(
            model,
            feature=_feature(model, feature),
            max_dim=_count(max_dim, "the largest dimension", 1, MAX_DIRECTIONS),
            pairs=typed_or(pairs, 16),  # pairs, ε and the seed: checked by warpage
            epsilon=typed_or(epsilon, 0.1),
            seed=typed_or(seed, 0),
            metric=str(metric or "geodesic"),
            progress=progress,
        )
    series = {name: list(zip(found.dims, values, strict=True)) for name, values in found.curves.items()}
    chart = charts.line_chart(series, title=f"{found.metric} distance", x_label="subspace dimension k")
    names = list(found.curves)
    table = "| k | " + " | ".join(md(n) for n in names) + " |\n|" + "---|" * (len(names) + 1) + "\n"
    table += "\n".join(f"| {row['k']} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |" for row in found.rows())
    return chart, f"{found.side} side of {code(found.feature)}, {found.pairs} pairs, ε = {found.epsilon:g}\n\n" + table


def _subscript(number: int) -> str:
    """``9`` → ``₉`` (σ₀/σ₉, not σ₀/σ_9)."""
    return str(number).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _describe(point: Any) -> str:
    """The starting point in the core's words (seed, ψ, class, noise; or the latents file): ``start.summarize``."""
    return starts.summarize(point.describe())


# ----- layout -----------------------------------------------------------------------------------------------------
class AnalyzeTab:
    """Components and events of the Analyze tab (reads the Edit tab's state; ``send_event`` refreshes it)."""

    def __init__(self, settings: UISettings, shared: Shared, edit_tab: EditTab) -> None:
        C = compat.component
        base = edit_tab.state_inputs
        with gr.Row():
            with gr.Column(scale=1):
                gr.Markdown("**Local basis at the Edit tab's starting point**")
                self.feature = C(
                    gr.Dropdown,
                    choices=[DEFAULT_FEATURE],
                    value=DEFAULT_FEATURE,
                    allow_custom_value=True,
                    label="Partial network's output (default: w, or the middle feature)",
                    elem_id="gan_steering_lb_feature",
                )
                self.count = compat.whole_number(
                    value=10,
                    minimum=1,
                    maximum=MAX_DIRECTIONS,
                    label="Local directions",
                    elem_id="gan_steering_lb_count",
                )
                self.solver = C(
                    gr.Radio,
                    choices=list(jacobian.SOLVERS),
                    value="auto",
                    label="Jacobian",
                    elem_id="gan_steering_lb_solver",
                )
                with gr.Row():
                    self.basis_button = C(
                        gr.Button, value="Local basis", variant="primary", elem_id="gan_steering_lb_basis"
                    )
                    self.cancel_button = C(gr.Button, value="Cancel", elem_id="gan_steering_lb_cancel")
                self.direction = C(
                    gr.Dropdown, choices=[], label="Local direction to walk", elem_id="gan_steering_lb_direction"
                )
                with gr.Row():
                    self.low = C(gr.Number, value=-3.0, label="Walk from", elem_id="gan_steering_lb_low")
                    self.high = C(gr.Number, value=3.0, label="Walk to", elem_id="gan_steering_lb_high")
                    self.frames = compat.whole_number(value=9, label="Walk frames", elem_id="gan_steering_lb_frames")
                with gr.Row():
                    self.step = C(gr.Number, value=0.25, label="ICT step", elem_id="gan_steering_lb_step")
                    self.layers = C(
                        gr.Textbox,
                        value="all",
                        label="W+ layers of the walk / linear traversal",
                        elem_id="gan_steering_lb_layers",
                    )
                    self.format = C(
                        gr.Radio,
                        choices=WALK_FORMATS,
                        value=WALK_FORMATS[0],
                        label="Walk as",
                        elem_id="gan_steering_lb_format",
                    )
                self.walk_button = C(gr.Button, value="Walk", elem_id="gan_steering_lb_walk")
                with gr.Row():
                    self.traversal = C(
                        gr.Radio,
                        choices=TRAVERSALS,
                        value="iterative",
                        label="Send as",
                        elem_id="gan_steering_lb_traversal",
                    )
                    self.guide = C(
                        gr.Radio,
                        choices=["sefa", "ganspace"],
                        value="sefa",
                        label="Guide (guided)",
                        elem_id="gan_steering_lb_guide",
                    )
                self.send_button = C(gr.Button, value="Send to the Edit tab", elem_id="gan_steering_lb_send")
                self.trust_button = C(
                    gr.Button, value="Trust of the Edit tab's directions here", elem_id="gan_steering_lb_trust"
                )
            with gr.Column(scale=1):
                self.chart = compat.image_output(label="Local spectrum", elem_id="gan_steering_lb_chart")
                self.summary = C(gr.Markdown, value="", elem_id="gan_steering_lb_summary")
                self.preview = compat.image_output(
                    label="Local walk", show_label=False, toolbar=False, elem_id="gan_steering_lb_preview"
                )
                self.video = compat.video_output(label="Local walk (MP4)", height=300, elem_id="gan_steering_lb_video")
                self.file = C(gr.File, label="Local walk file", elem_id="gan_steering_lb_file")
                self.trust = C(gr.Markdown, value="", elem_id="gan_steering_lb_trust_table")
                self.status = C(gr.Markdown, value="", elem_id="gan_steering_lb_status")
        with gr.Accordion("Warpage of the latent space", open=False):
            with gr.Row():
                self.max_dim = compat.whole_number(value=10, label="Warpage: largest k", elem_id="gan_steering_wp_k")
                self.pairs = compat.whole_number(value=16, label="Warpage: pairs", elem_id="gan_steering_wp_pairs")
                self.epsilon = C(gr.Number, value=0.1, label="Warpage: ε (nearby)", elem_id="gan_steering_wp_eps")
                self.seed = compat.whole_number(value=0, label="Warpage: first seed", elem_id="gan_steering_wp_seed")
                self.metric = C(
                    gr.Radio,
                    choices=list(warpage_module.METRICS),
                    value="geodesic",
                    label="Warpage: distance",
                    elem_id="gan_steering_wp_metric",
                )
            self.warpage_button = C(gr.Button, value="Warpage", elem_id="gan_steering_wp_run")
            self.warpage_chart = compat.image_output(label="Distance against k", elem_id="gan_steering_wp_chart")
            self.warpage_table = C(gr.Markdown, value="", elem_id="gan_steering_wp_table")

        self.panel = panel = Panel("analyze", self.status)
        panel.job(
            self.basis_button.click,
            spectrum,
            settings,
            [*base, self.feature, self.count, self.solver],
            [self.chart, self.summary, self.direction, self.feature],
            gpu=True,
        )
        walk_inputs = [self.feature, self.direction, self.low, self.high, self.frames, self.step, self.layers]
        panel.job(
            self.walk_button.click,
            walk,
            settings,
            [*base, *walk_inputs, self.solver, self.format],
            [self.preview, self.video, self.file, self.status],
            gpu=True,
        )
        #: What shows a result made from the current model (blanked when another model is loaded).
        self.results = [self.chart, self.summary, self.preview, self.video, self.file, self.trust, self.status]
        self.results += [self.warpage_chart, self.warpage_table]
        send_inputs = [self.feature, self.count, self.traversal, self.step, self.layers, self.guide, self.solver]
        self.send_event = panel.job(
            self.send_button.click,
            send_to_edit,
            settings,
            [*base, *send_inputs],
            [shared.directions, self.status],
            gpu=True,
        )
        panel.job(self.trust_button.click, trust, settings, [*base, self.feature, self.count], [self.trust], gpu=True)
        panel.job(
            self.warpage_button.click,
            warpage,
            settings,
            [shared.model, self.feature, self.max_dim, self.pairs, self.epsilon, self.metric, self.seed],
            [self.warpage_chart, self.warpage_table],
            gpu=True,
        )
        panel.wire_cancel(self.cancel_button, settings)
