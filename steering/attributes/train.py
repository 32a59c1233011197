"""From attribute sources to trained heads: score (or read labels), keep the confident samples, train.

A source is a registered scorer name (``"brightness"``, ``"fer-emotion"``), a ``Scorer`` (any callable wrapped in
``CallableScorer`` too), or a ``LabelledSet``. Scorers share one set of seeded samples, rendered once; labelled
sets bring their own samples. Scored samples are kept in a small in-process cache (the same model, scorers, count,
seed and ψ are not rendered twice: GradCtrl and its linear baseline train on the same data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import InvalidValueError
from ..memo import Recent, digest
from ..models.base import Generator
from ..scorers import Scorer, as_scorer
from ..stages import Stages
from ..values import check_count, check_number, check_seed, check_truncation
from .heads import Heads, Training, train_heads
from .labels import LabelledSet
from .samples import AttributeSamples, Labelled, confident, score_samples

Source = str | Scorer | LabelledSet | Callable[..., Any]
Progress = Callable[[int, int], None]
#: Scored samples of the last few (model, scorers, sampling).
_SCORED: Recent[list[AttributeSamples]] = Recent(4)


@dataclass(frozen=True)
class Sampling:
    """How scorers' training samples are drawn and which are kept (defaults: GradCtrl's 10,000 and 5 %)."""

    samples: int = 10_000
    fraction: float = 0.05
    validation: float = 0.3
    seed: int = 0
    truncation: float | None = None  # None: 0.4 for style-based models, 1 otherwise

    def __post_init__(self) -> None:  # checked before anything is scored
        checked = {
            "samples": check_count(self.samples, "the number of samples", 2, 1_000_000),
            "fraction": check_number(self.fraction, "the confident fraction", 1e-4, 0.5),
            "validation": check_number(self.validation, "the validation share", 0.0, 0.9),
            "seed": check_seed(self.seed),
            "truncation": None if self.truncation is None else check_truncation(self.truncation),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def describe(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "fraction": self.fraction,
            "validation": self.validation,
            "seed": self.seed,
            "truncation": self.truncation,
        }


@dataclass
class Trained:
    """Heads and the labelled training data they came from (the linear baseline is fitted on the same)."""

    heads: Heads
    labelled: list[Labelled]
    sampling: Sampling

    @property
    def nbytes(self) -> int:
        """Memory held by the heads and the training data (what a per-user store counts)."""
        tensors = [*self.heads.tensors.values()]
        for data in self.labelled:
            tensors += [data.codes, data.labels, data.validation, *([] if data.classes is None else [data.classes])]
        return sum(t.numel() * t.element_size() for t in tensors)


def attribute_samples(
    generator: Generator, sources: Sequence[Source], sampling: Sampling = Sampling(), progress: Progress | None = None
) -> list[tuple[AttributeSamples, bool]]:
    """Scored samples per source, with whether the confident ones are to be selected (scorers) or all kept
    (labelled sets)."""
    if not sources:
        raise InvalidValueError("choose at least one attribute")
    scorers = [as_scorer(s) for s in sources if not isinstance(s, LabelledSet)]
    scored = iter(_scored(generator, scorers, sampling, progress) if scorers else [])
    out = []
    for source in sources:
        if isinstance(source, LabelledSet):
            source.check_model(generator)
            if not len(source):
                raise InvalidValueError(f"the labelled set {source.attribute!r} holds no samples: label some first")
            out.append((source.samples(), False))
        else:
            out.append((next(scored), True))
    return out


def _scored(
    generator: Generator, scorers: list[Scorer], sampling: Sampling, progress: Progress | None
) -> list[AttributeSamples]:
    cacheable = all(s.cacheable for s in scorers)
    key = digest([generator.identity.sha256, [s.identity() for s in scorers], sampling.describe()])
    known = _SCORED.get(key) if cacheable else None
    if known is not None:
        return known
    found = score_samples(
        generator,
        scorers,
        sampling.samples,
        seed=sampling.seed,
        truncation=sampling.truncation,
        progress=progress,
    )
    if cacheable:
        _SCORED.put(key, found)
    return found


def prepare(
    generator: Generator, sources: Sequence[Source], sampling: Sampling = Sampling(), progress: Progress | None = None
) -> list[Labelled]:
    """The labelled training data of every source: confident scored samples, or a labelled set's samples."""
    data = attribute_samples(generator, sources, sampling, progress)
    names = [d.attribute.name for d, _ in data]
    if len(set(names)) != len(names):
        raise InvalidValueError(f"attribute names must be unique, got {names}")
    return [
        confident(d, sampling.fraction, validation=sampling.validation, seed=sampling.seed + i, select=select)
        for i, (d, select) in enumerate(data)
    ]


def train(
    generator: Generator,
    sources: Sequence[Source],
    sampling: Sampling = Sampling(),
    training: Training | None = None,
    progress: Progress | None = None,
) -> Trained:
    """Heads for every source (``progress(done, total)`` over both stages: rendering the samples, then training)."""
    stages = Stages(progress, ("scoring", "training"))
    labelled = prepare(generator, sources, sampling, stages(0))
    heads = train_heads(labelled, training or Training(), stages(1))
    stages.done()
    return Trained(heads, labelled, sampling)


__all__ = ["Sampling", "Source", "Trained", "attribute_samples", "prepare", "train"]
