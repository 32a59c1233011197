"""SC²GAN (Chen, Zhao, Aarabi & Jiang, ICCV 2023 workshops): correct a direction that drags a spuriously correlated
attribute along, by synthesising the rare combinations, re-projecting them into the latent space and re-fitting.

No code of the paper is public; the steps, and what was chosen where it is silent:

1. **Samples.** Seeded samples scored by both attributes, A (the one to edit) and B (the one it drags along); their
   correlation and the joint frequencies of the low/high cells (``attributes.correlations``).
2. **The base direction**: A's InterFaceGAN-style boundary normal fitted on A's confident samples (the top and
   bottom ``fraction`` by A's score; ``methods.boundaries.fit_normal``).
3. **Rare combinations.** From the confident samples whose B is on the common side (the side B's correlation with A
   puts it), images with B moved to the other side and A held:
   * style-based models (the paper): B's boundary direction applied only in B's W+ layers (``b_layers``);
   * a single-latent model (the embedded DCGANs) has no such layers; the substitute (our choice) is an
     **image-space change of B** when B is a built-in image statistic (``attributes.image_edits``: B moved to its
     15 % / 85 % quantile), else a **GradCtrl step** along B with A's salient channels masked (both heads trained on
     the same samples).
   The scorers check each image: A still on its side, B on the other; the cell's frequency among the samples says
   how rare the combination is.
4. **Re-projection**: the images inverted into the original latent space (z, or w for style-based models), all at
   once (``inversion.refine``), each starting from the latent of the sample it was made from (our choice: the paper
   trains an encoder; a small change of a generated image has its latent close by), its class held; rendered and
   scored again, only re-projections that keep the rare combination are used. Steps 3 and 4 do not depend on the
   direction being corrected: their result is kept in memory (the last few, by content), so correcting A's boundary
   and then a GradCtrl control on the same samples re-projects once.
5. **Re-fit**: A's boundary on its confident samples plus the re-projected ones (labelled with their A side).

The result is a linear control with two sliders, A's base direction and the corrected one, whose params record the
provenance (the pair, the correlation, the parent direction's sha256, how many samples of each kind); ``leak``
measures both: along an edit of A, the change of B per unit change of A, at equal change of A, over seeded latents.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from PIL import Image
from torch import Tensor

from ..attributes.correlations import Correlations, Pair, correlations_of
from ..attributes.heads import Training, standardisation, train_head, train_heads
from ..attributes.image_edits import can_change, move_to
from ..attributes.measure import Edit, Measurement, measure
from ..attributes.samples import AttributeSamples, Labelled, confident, edit_space, render_scores
from ..attributes.train import Sampling, Source, attribute_samples
from ..controls import Control, FieldControl, LinearControl
from ..edit import apply
from ..edit import render as render_images
from ..errors import InvalidValueError
from ..inversion.refine import reproject
from ..memo import Recent, digest
from ..models.base import WPLUS, Generator, Latents, W
from ..render import grid
from ..scorers import BINARY, Scorer, as_scorer
from ..stages import Stages
from ..values import check_count, check_number, distinct_name, layer_range
from .boundaries import fit_normal
from .gradctrl import FRACTION, PATH_LENGTH, SAMPLES, SEED, TRUNCATION, build_controls, heads_of
from .registry import LAYERS, Method, Parameter

#: Defaults of a correction (the CLI's ``correct``, the Correlations tab and ``discover --method sc2gan`` alike).
CORRECTION_SAMPLES = 2000
CORRECTION_FRACTION = 0.1

Progress = Callable[[int, int], None]
#: B is moved to these quantiles of its scores (the far side of the median).
LOW_QUANTILE, HIGH_QUANTILE = 0.15, 0.85


@dataclass(frozen=True)
class RareSamples:
    """Re-projected rare combinations: latents [M, d] (and classes), their A side (1: high), what made them."""

    codes: Tensor
    classes: Tensor | None
    sides: Tensor
    substitute: str
    made: int  # images synthesised with the rare combination (checked by the scorers)
    frequency: float  # the rare cells' joint frequency among the samples

    def __len__(self) -> int:
        return int(self.codes.shape[0])


@dataclass
class Correction:
    """The corrected control and how it was made. ``control``: what is saved and edited with (linear: one control,
    the base and the corrected slider; GradCtrl: the parent with A's head re-trained); ``edits``: (label, control,
    slider) of the base and the corrected edit of A, for measuring."""

    control: Control
    edits: list[tuple[str, Control, int]]
    pair: Pair
    correlations: Correlations
    rare: RareSamples

    @property
    def shape(self) -> str:
        """What the saved control holds, in words (for the CLI's and the UI's closing line)."""
        if isinstance(self.control, FieldControl):
            return "A's head re-trained"
        return "two sliders: the base direction and the corrected one"


def _pair_scorers(a: Source, b: Source) -> tuple[Scorer, Scorer]:
    """The scorers of A and B: two different binary attributes."""
    scorers = as_scorer(a), as_scorer(b)
    if scorers[0].name == scorers[1].name:
        raise InvalidValueError("choose two different attributes: the one to edit and the one it drags along")
    for s in scorers:
        if not s.binary:
            raise InvalidValueError(f"{s.name!r} has several classes: SC²GAN here corrects binary attributes")
    return scorers


def _rows(labelled: Labelled, data: AttributeSamples) -> Tensor:
    """Which rows of ``data`` a confident selection kept (seeded samples: every latent is distinct)."""
    lookup = {c.numpy().tobytes(): i for i, c in enumerate(data.codes)}
    return torch.tensor([lookup[c.numpy().tobytes()] for c in labelled.codes])


def synthesise(
    generator: Generator,
    a_data: AttributeSamples,
    b_data: AttributeSamples,
    a_scorer: Scorer,
    b_scorer: Scorer,
    labelled: Labelled,
    count: int,
    *,
    b_layers: str | Sequence[int] = "fine",
    progress: Progress | None = None,
) -> tuple[Tensor, Tensor, Latents, str, float]:
    """Images with B on its rare side and A held, from confident A samples on B's common side: ``(images [M, 3, R,
    R], their A sides [M], the latents they were made from, the substitute used, the cells' frequency)``."""
    correlation = float(torch.corrcoef(torch.stack([a_data.scores[:, 0], b_data.scores[:, 0]]))[0, 1])
    sign = 1.0 if correlation >= 0 else -1.0
    b_scores, a_scores = b_data.scores[:, 0], a_data.scores[:, 0]
    b_median, a_median = b_scores.median(), a_scores.median()
    rows = _rows(labelled, a_data)
    images, sides, sources, frequency = [], [], [], 0.0
    tried, held_a, moved_b = 0, 0, 0
    substitute = _substitute(generator, b_scorer)
    for side in (1, 0):
        # A high goes with B high when they correlate positively: the rare cell is A high & B low (and vice versa)
        b_common_high = (side == 1) == (sign > 0)
        chosen = rows[labelled.labels == side]
        common = chosen[(b_scores[chosen] > b_median) == b_common_high][:count]
        if not len(common):
            continue
        rare_cell = ((a_scores > a_median) == bool(side)) & ((b_scores > b_median) != b_common_high)
        frequency += float(rare_cell.float().mean())
        target = torch.quantile(b_scores, LOW_QUANTILE if b_common_high else HIGH_QUANTILE)
        latents = Latents(
            a_data.codes[common], a_data.space, None if a_data.classes is None else a_data.classes[common]
        )
        moved = _move_b(generator, latents, b_scorer, a_scorer, b_data, a_data, target, substitute, b_layers)
        found_a = a_scorer(moved)[:, 0]
        found_b = b_scorer(moved)[:, 0]
        held = (found_a > a_median) == bool(side)
        flipped = (found_b > b_median) != b_common_high
        keep = held & flipped
        tried, held_a, moved_b = tried + len(held), held_a + int(held.sum()), moved_b + int(flipped.sum())
        images.append(moved[keep])
        sides.append(torch.full((int(keep.sum()),), float(side)))
        sources.append(latents.select(keep))
        if progress is not None:
            progress(2 - side, 2)
    if not images or not sum(len(i) for i in images):
        a, b = a_scorer.name, b_scorer.name
        raise InvalidValueError(
            f"no rare combination of {a!r} and {b!r} could be made: of {tried} confident samples of {a} with {b} on "
            f"its common side, {moved_b} got {b} moved to its rare side ({substitute}) and {held_a} kept {a}, never "
            f"both (moving {b} moves {a} too: the two are tied in the images); use more samples, or another pair"
            if tried
            else f"no rare combination of {a!r} and {b!r} could be made: no confident sample of {a} has {b} on its "
            "common side; use more samples or a larger confident fraction"
        )
    merged = Latents(
        torch.cat([s.codes for s in sources]),
        a_data.space,
        None if a_data.classes is None else torch.cat([s.classes for s in sources]),
    )
    return torch.cat(images), torch.cat(sides), merged, substitute, frequency / 2


def _substitute(generator: Generator, b_scorer: Scorer) -> str:
    if W in generator.latent_spaces:
        return "B's direction in its W+ layers"
    if can_change(b_scorer):
        return f"image-space change of {b_scorer.name}"
    return f"GradCtrl step along {b_scorer.name} with A masked"


@torch.no_grad()
def _move_b(
    generator: Generator,
    latents: Latents,
    b_scorer: Scorer,
    a_scorer: Scorer,
    b_data: AttributeSamples,
    a_data: AttributeSamples,
    target: Tensor,
    substitute: str,
    b_layers: str | Sequence[int],
) -> Tensor:
    """The rendered images of ``latents`` with B moved towards ``target`` (see ``synthesise``)."""
    images = generator.synthesize(latents).clamp(-1, 1).float()
    if substitute.startswith("image-space"):
        return move_to(b_scorer, images, torch.full((len(images),), float(target)))[0]
    direction = 1.0 if float(target) > float(b_data.scores[:, 0].median()) else -1.0
    b_labelled = confident(b_data, 0.1, seed=1)
    if substitute.startswith("GradCtrl"):
        heads = train_heads([b_labelled, confident(a_data, 0.1, seed=2)], Training(epochs=30, seed=0))
        control = build_controls(generator, heads, exclude="others")
        moved = apply(generator, latents, [control], [{0: direction * PATH_LENGTH}])
        return generator.synthesize(moved).clamp(-1, 1).float()
    # style-based: B's boundary normal, a full path length towards the target side, written only into B's W+ layers
    normal, _ = fit_normal(b_labelled, 0, *standardisation([b_labelled]))
    layers = layer_range(generator, b_layers)
    plus = generator.to_space(latents, WPLUS)
    mask = torch.zeros(generator.num_layers, 1)
    mask[list(layers)] = 1.0
    codes = plus.codes + direction * PATH_LENGTH * mask * normal.to(plus.codes)
    return generator.synthesize(plus.replace(codes=codes)).clamp(-1, 1).float()


def correct(
    generator: Generator,
    attribute: Source,
    correlated: Source,
    *,
    parent: Control | None = None,
    parent_index: int | None = None,
    samples: tuple[AttributeSamples, AttributeSamples] | None = None,
    num_samples: int = CORRECTION_SAMPLES,
    fraction: float = CORRECTION_FRACTION,
    rare: int = 64,
    inversion_steps: int = 100,
    b_layers: str | Sequence[int] = "fine",
    seed: int = 0,
    truncation: float | None = None,
    progress: Progress | None = None,
) -> Correction:
    """SC²GAN for the pair (``attribute`` A, ``correlated`` B): see the module docstring. ``parent``: the user's
    control to correct (a linear direction of A, row ``parent_index``, or a GradCtrl control with a head for A);
    default: A's boundary fitted here. ``samples``: A's and B's scores of the same latents (e.g. a set with a known
    correlation), instead of ``num_samples`` seeded samples; ``rare``: at most this many rare combinations per side
    of A."""
    fraction = check_number(fraction, "the confident fraction", 1e-3, 0.5)
    rare = check_count(rare, "the rare samples per side", 1, 10_000)
    inversion_steps = check_count(inversion_steps, "the inversion steps", 1, 5000)
    sampling = Sampling(
        check_count(num_samples, "the number of samples", 32, 1_000_000), seed=seed, truncation=truncation
    )
    a_scorer, b_scorer = _pair_scorers(attribute, correlated)
    a_name = a_scorer.name
    index = None if parent is None else parent_slider(generator, parent, a_name, parent_index)
    stage = Stages(progress, ("scoring", "synthesis", "re-projection", "fit"))
    if samples is None:
        (a_data, _), (b_data, _) = attribute_samples(generator, [a_scorer, b_scorer], sampling, stage(0))
    else:
        a_data, b_data = samples
    found = correlations_of([a_data, b_data])
    pair = found.pair(0, 1)
    labelled = confident(a_data, fraction, seed=seed)
    rare_samples = rare_combinations(
        generator,
        (a_data, b_data),
        (a_scorer, b_scorer),
        labelled,
        pair,
        rare=rare,
        inversion_steps=inversion_steps,
        b_layers=b_layers,
        progress=(stage(1), stage(2)),
    )
    augmented = _augmented(labelled, rare_samples, _cell_counts(labelled, a_data, b_data, pair.correlation))
    provenance = {
        "pair": [a_name, b_scorer.name],
        "correlation": round(pair.correlation, 4),
        "joint": [[round(float(v), 4) for v in row] for row in pair.joint],
        "sampling": sampling.describe(),
        "fraction": fraction,
        "counts": {
            "confident": len(labelled.codes),
            "synthesised": rare_samples.made,
            "re-projected and kept": len(rare_samples),
            "rare cell frequency": round(rare_samples.frequency, 4),
        },
        "substitute": rare_samples.substitute,
        "inversion_steps": inversion_steps,
        "scorers": [a_scorer.identity(), b_scorer.identity()],
    }
    if isinstance(parent, FieldControl):
        assert index is not None
        corrected = _corrected_heads(parent, index, augmented, b_scorer.name, provenance, seed)
        edits = [(f"{parent.names[index]} (GradCtrl)", parent, index), (corrected.names[index], corrected, index)]
        stage.done()
        return Correction(corrected, edits, pair, found, rare_samples)
    control = _corrected_boundary(generator, parent, index, labelled, augmented, b_scorer.name, provenance)
    stage.done()
    return Correction(
        control, [(control.names[0], control, 0), (control.names[1], control, 1)], pair, found, rare_samples
    )


#: Re-projected rare sets (each at most 2·rare latents) of the last few inputs, by a digest of everything they were
#: made from.
_RARE: Recent[RareSamples] = Recent(4)


def rare_combinations(
    generator: Generator,
    data: tuple[AttributeSamples, AttributeSamples],
    scorers: tuple[Scorer, Scorer],
    labelled: Labelled,
    pair: Pair,
    *,
    rare: int,
    inversion_steps: int,
    b_layers: str | Sequence[int] = "fine",
    progress: tuple[Progress | None, Progress | None] = (None, None),
) -> RareSamples:
    """Steps 3 and 4: the rare combinations of (A, B) synthesised from A's confident samples ``labelled``,
    re-projected, and kept where the re-projection keeps the combination. The same inputs give the same set, kept in
    memory: a second correction of the pair on the same samples (another parent) does not re-project."""
    (a_data, b_data), (a_scorer, b_scorer) = data, scorers
    settings = [rare, inversion_steps, str(b_layers), pair.correlation]
    header = [generator.identity.sha256, a_data.space, [s.identity() for s in scorers], settings]
    tensors = [a_data.codes, a_data.scores, b_data.scores, labelled.codes, labelled.labels]
    key = digest(header, tensors + [t for t in (a_data.classes, labelled.classes) if t is not None])
    known = _RARE.get(key)
    if known is not None:
        for report in progress:
            if report is not None:
                report(1, 1)
        return known
    images, sides, sources, substitute, frequency = synthesise(
        generator, a_data, b_data, a_scorer, b_scorer, labelled, rare, b_layers=b_layers, progress=progress[0]
    )
    projected, quality = reproject(generator, images, sources, inversion_steps, progress=progress[1])
    again_a, again_b = render_scores(generator, projected, [a_scorer, b_scorer])
    a_median, b_median = a_data.scores[:, 0].median(), b_data.scores[:, 0].median()
    b_common_high = (sides > 0.5) == (pair.correlation >= 0)
    held = (again_a[:, 0] > a_median) == (sides > 0.5)
    flipped = (again_b[:, 0] > b_median) != b_common_high
    kept = held & flipped
    if not bool(kept.any()):
        a_name = a_scorer.name
        raise InvalidValueError(
            f"none of the {len(images)} synthesised rare combinations of {a_name!r} and {b_scorer.name!r} survived "
            f"re-projection (mean {float(quality.mean()):.1f} dB): {int(held.sum())} kept {a_name} on its side, "
            f"{int(flipped.sum())} kept {b_scorer.name} on its rare side; the generator pulls them back to the "
            f"combination it draws. Use more samples (more rare combinations to re-project), or another pair; more "
            f"re-projection steps keep at most a few more"
        )
    found = RareSamples(
        projected.codes[kept],
        None if projected.classes is None else projected.classes[kept],
        sides[kept],
        substitute,
        len(images),
        frequency,
    )
    _RARE.put(key, found)
    return found


def parent_slider(generator: Generator, parent: Control, attribute: str, index: int | None = None) -> int:
    """The slider of ``parent`` that edits ``attribute``: a GradCtrl control's slider whose head is the attribute's
    (binary); for a linear control, ``index``, its only row, or the one row whose name mentions the attribute."""
    parent.check_compatible(generator)
    if parent.space != edit_space(generator):
        raise InvalidValueError(f"the control to correct must act in {edit_space(generator)}, not {parent.space}")
    if isinstance(parent, FieldControl):
        heads = heads_of(parent)
        a = heads.index(attribute)
        if not heads.attributes[a].binary:
            raise InvalidValueError(f"{attribute!r} has several classes: SC²GAN here corrects binary attributes")
        return int((parent.tensors["control.target"] == a).nonzero()[0])
    if not isinstance(parent, LinearControl):
        raise InvalidValueError(f"SC²GAN corrects linear directions and GradCtrl controls, not {parent.kind} controls")
    if index is not None:
        return check_count(index, "the direction to correct", 0, len(parent) - 1)
    if len(parent) == 1:
        return 0
    named = [i for i, name in enumerate(parent.names) if attribute in name]
    if len(named) != 1:
        raise InvalidValueError(
            f"say which of the {len(parent)} directions edits {attribute!r} (its index): "
            + ", ".join(f"{i}: {n}" for i, n in enumerate(parent.names[:12]))
        )
    return named[0]


def _corrected_boundary(
    generator: Generator,
    parent: Control | None,
    index: int | None,
    labelled: Labelled,
    augmented: Labelled,
    b_name: str,
    provenance: dict,
) -> LinearControl:
    """Base and corrected directions of A as one two-slider linear control: the base is ``parent``'s row (or A's
    boundary on its confident samples), the correction A's boundary re-fitted on the augmented samples."""
    name = labelled.attribute.name
    after, after_accuracy = fit_normal(augmented, 0, *standardisation([augmented]))
    if isinstance(parent, LinearControl) and index is not None:
        before, before_accuracy = parent.vectors[index].float(), None
        if float(before @ after) < 0:  # the corrected slider moves the way its parent's does (signs are arbitrary)
            after = -after
        base_name, parent_hash = parent.names[index], parent.content_hash()
    else:
        before, before_accuracy = fit_normal(labelled, 0, *standardisation([labelled]))
        base_name = f"{name} (linear)"
        parent_hash = LinearControl(
            vectors=before[None],
            space=edit_space(generator),
            method="boundaries",
            model=generator.identity,
            names=[base_name],
            params={"attribute": name, "sampling": provenance["sampling"], "fraction": provenance["fraction"]},
            strength_range=(-PATH_LENGTH, PATH_LENGTH),
        ).content_hash()
    return LinearControl(
        vectors=torch.stack([before, after]),
        space=edit_space(generator),
        method="sc2gan",
        model=generator.identity,
        names=[base_name, distinct_name(f"{name} (SC²GAN, without {b_name})", [base_name])],  # a corrected parent
        params={**provenance, "parent_sha256": parent_hash, "refit": "boundary"},
        values=None if before_accuracy is None else torch.tensor([before_accuracy, after_accuracy]),
        strength_range=(-PATH_LENGTH, PATH_LENGTH),
    )


def _corrected_heads(
    parent: FieldControl, index: int, augmented: Labelled, b_name: str, provenance: dict, seed: int
) -> FieldControl:
    """``parent`` (GradCtrl) with A's head re-trained on the augmented samples (the parent's input standardisation,
    epochs and learning rate; the other heads and every exclusion kept)."""
    heads = heads_of(parent)
    a = int(parent.tensors["control.target"][index])
    described = dict(parent.params.get("training") or {})
    training = Training(
        epochs=int(described.get("epochs", 30)),
        learning_rate=float(described.get("learning_rate", 1e-3)),
        batch_size=int(described.get("batch_size", 32)),
        seed=seed,
    )
    augmented = dataclasses.replace(augmented, attribute=heads.attributes[a])
    own, accuracy, _ = train_head(augmented, parent.tensors["input.shift"], parent.tensors["input.scale"], training)
    tensors = {**parent.tensors, **{f"head{a}.{k}": v for k, v in own.items()}}
    retrained = [i for i, t in enumerate(parent.tensors["control.target"].tolist()) if int(t) == a]
    suffix = f" (SC²GAN, without {b_name})"  # once: a corrected control corrected again keeps its name
    names = [n if n.endswith(suffix) or i not in retrained else n + suffix for i, n in enumerate(parent.names)]
    attributes = [dict(d) for d in parent.params.get("attributes", [])]
    if a < len(attributes):
        attributes[a]["accuracy"] = None if accuracy != accuracy else accuracy
    params = {
        **parent.params,
        "attributes": attributes,
        "sc2gan": {**provenance, "parent_sha256": parent.content_hash(), "refit": f"head {a}"},
    }
    return dataclasses.replace(parent, tensors=tensors, method="sc2gan", names=names, params=params)


def _augmented(labelled: Labelled, rare: RareSamples, cells: dict[int, tuple[int, int]]) -> Labelled:
    """``labelled`` plus the re-projected rare samples, repeated so that on each side of A the rare cell weighs as
    much as the common one among the rows the boundary is fitted on (``cells[side]``: the training rows of the
    common and of the rare cell): in that data B then says nothing about A. A side whose rare cell already weighs
    as much gets none."""
    codes, labels, classes = [labelled.codes], [labelled.labels], [labelled.classes]
    for side in (0, 1):
        mine = rare.sides == side
        common, natural = cells.get(side, (0, 0))
        if not bool(mine.any()) or common <= natural:
            continue
        repeat = max(1, round((common - natural) / int(mine.sum())))
        codes.append(rare.codes[mine].to(labelled.codes).repeat(repeat, 1))
        labels.append(torch.full((int(mine.sum()) * repeat,), side, dtype=labelled.labels.dtype))
        if labelled.classes is not None:
            extra = (
                rare.classes[mine]
                if rare.classes is not None
                else torch.zeros(int(mine.sum()), labelled.classes.shape[1])
            )
            classes.append(extra.to(labelled.classes).repeat(repeat, 1))
    added = sum(len(c) for c in codes[1:])
    return dataclasses.replace(
        labelled,
        codes=torch.cat(codes),
        labels=torch.cat(labels),
        classes=None if labelled.classes is None else torch.cat(classes),  # type: ignore[arg-type]
        validation=torch.cat([labelled.validation, torch.zeros(added, dtype=torch.bool)]),
    )


def _cell_counts(
    labelled: Labelled, a_data: AttributeSamples, b_data: AttributeSamples, r: float
) -> dict[int, tuple[int, int]]:
    """Per side of A, its confident training rows (validation rows left out) with B on the common side and on the
    rare side."""
    b = b_data.scores[_rows(labelled, a_data), 0] > b_data.scores[:, 0].median()
    training = ~labelled.validation
    cells = {}
    for side in (0, 1):
        mine = training & (labelled.labels == side)
        common = b == ((side == 1) == (r >= 0))
        cells[side] = (int((mine & common).sum()), int((mine & ~common).sum()))
    return cells


def edits_of(measured: Correction | Control) -> list[tuple[str, Control, int]]:
    """(label, control, slider) of each edit of A: a correction's base and corrected ones, or every slider."""
    if isinstance(measured, Correction):
        return measured.edits
    return [(name, measured, i) for i, name in enumerate(measured.names)]


def leak(
    generator: Generator,
    measured: Correction | Control,
    attribute: Source,
    correlated: Source,
    *,
    seeds: int = 64,
    first_seed: int = 100_000,
    strengths: Sequence[float] = (1.0, 2.0, 3.0, 4.0),
    progress: Progress | None = None,
) -> Measurement:
    """Each edit of A (``edits_of``) from ``seeds`` seeded latents (apart from the training samples): the change of A
    and of B (in standard deviations of their scores), compared at equal change of A."""
    seeds = check_count(seeds, "the number of seeds", 2, 100_000)
    scorers = [as_scorer(attribute), as_scorer(correlated)]
    latents = generator.sample(seeds, seed=first_seed, space=edit_space(generator))
    edits = [Edit(name, control, i, target=0, others=(1,)) for name, control, i in edits_of(measured)]
    return measure(generator, edits, scorers, latents, strengths, progress=progress)


def leak_per_unit(measurement: Measurement) -> list[float | None]:
    """Per edit: the change of B per unit change of A at the common level (``None`` for an edit that does not reach
    it: its row's ``note`` says why)."""
    return [
        None if row["others_change"] is None else row["others_change"] / max(row["target_change"], 1e-12)
        for row in measurement.table()
    ]


def caveats(result: Correction, measured: Measurement, tolerance: float = 0.02) -> list[str]:
    """What a user should know before trusting ``result`` (measured by ``leak``): the rare samples came from one side
    of A only, or the corrected edit leaks no less of B per unit of A than the base (within ``tolerance``)."""
    a, b = result.correlations.names[result.pair.first], result.correlations.names[result.pair.second]
    found = []
    sides = sorted({int(s) for s in result.rare.sides.tolist()})
    if len(sides) == 1:
        side = "high" if sides[0] else "low"
        found.append(f"the {len(result.rare)} rare samples kept all have {a} {side}: the other rare cell was not made")
    per_unit = leak_per_unit(measured)
    if len(per_unit) == 2 and None not in per_unit and per_unit[1] >= per_unit[0] * (1 - tolerance):  # type: ignore
        found.append(
            f"the correction did not lower the change of {b} per unit change of {a} ({per_unit[0]:.3f} before, "
            f"{per_unit[1]:.3f} after): with {len(result.rare)} rare samples the direction barely moved, or {b} "
            f"follows {a} whatever the direction (tied in the images); use more samples, or another pair"
        )
    return found


def strip(generator: Generator, measured: Correction | Control, leak: Measurement, seeds: int = 4) -> Image.Image:
    """Rows of seeded samples (apart from the training ones): the start, then each edit of A (``edits_of``) at the
    strength where ``leak`` found the common change of A (base and corrected side by side)."""
    edits = edits_of(measured)
    strengths = [row["strength"] or 0.0 for row in leak.table()]
    start = generator.sample(seeds, seed=100_000, space=edit_space(generator))
    cells = []
    for i in range(seeds):
        one = start.select(slice(i, i + 1))
        cells += [one]
        cells += [apply(generator, one, [c], [{k: s}]) for (_, c, k), s in zip(edits, strengths, strict=True)]
    images = render_images(generator, Latents.cat(cells))
    return grid(images, columns=1 + len(edits), column_labels=["start", *(name for name, _, _ in edits)])


def sc2gan(
    generator: Generator,
    attribute: str = "warmth",
    correlated: str = "saturation",
    num_samples: int = CORRECTION_SAMPLES,
    fraction: float = CORRECTION_FRACTION,
    rare: int = 64,
    inversion_steps: int = 100,
    layers: str | Sequence[int] = "fine",
    seed: int = 0,
    truncation: float | None = None,
    progress: Progress | None = None,
) -> LinearControl:
    """A's linear direction and its SC²GAN correction against B (two sliders; see ``correct``)."""
    return correct(
        generator,
        attribute,
        correlated,
        num_samples=num_samples,
        fraction=fraction,
        rare=rare,
        inversion_steps=inversion_steps,
        b_layers=layers,
        seed=seed,
        truncation=truncation,
        progress=progress,
    ).control


__all__ = [
    "Correction",
    "RareSamples",
    "caveats",
    "correct",
    "edits_of",
    "leak",
    "leak_per_unit",
    "parent_slider",
    "rare_combinations",
    "sc2gan",
    "strip",
    "synthesise",
]


BINARY_SCORERS = BINARY

METHOD = Method(
    name="sc2gan",
    title="SC²GAN (a direction corrected against a correlated attribute)",
    function=sc2gan,
    kind="linear",
    parameters=(
        Parameter("attribute", "choice", "warmth", "SC²GAN: attribute to edit (A)", choices=BINARY_SCORERS),
        Parameter("correlated", "choice", "saturation", "SC²GAN: correlated attribute (B)", choices=BINARY_SCORERS),
        dataclasses.replace(SAMPLES, default=CORRECTION_SAMPLES, minimum=32),
        dataclasses.replace(FRACTION, default=CORRECTION_FRACTION),
        Parameter("rare", "int", 64, "SC²GAN: rare combinations per side", minimum=1, maximum=10_000),
        Parameter(
            "inversion_steps", "int", 100, "SC²GAN: re-projection steps (all images at once)", minimum=1, maximum=5000
        ),
        LAYERS,
        SEED,
        TRUNCATION,
    ),
    value_label="validation accuracy",
    description="A's boundary and its correction with re-projected rare combinations of A and B",
)
