"""Attributes with scored latents: what latent heads and linear boundaries are trained on.

An ``Attribute`` is a name, its classes (one for a binary attribute) and where its scores came from (a scorer's
identity, or a labelled set's). ``AttributeSamples`` holds latent vectors in the edit space (``z``, or ``w`` for
style-based models), the class vectors of class-conditional models, and the attribute's scores [N, C]. Scorers give
them by rendering seeded samples (``score_samples``); a labelled set gives them directly (one-hot labels).

``confident`` keeps the samples the reference trains on: for a binary attribute the top and bottom ``fraction`` by
score (labels 1 and 0); for a multi-class one, per class c, the ``fraction · N`` samples with the highest c-score
among those whose argmax is c. A share of each class (30 % by default) is held out for validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..errors import InvalidValueError
from ..limits import check_images, check_latents
from ..models.base import WPLUS, Generator, Latents, W, Z
from ..scorers import Scorer
from ..values import check_count, check_name, check_names, check_number, check_truncation

Progress = Callable[[int, int], None]
#: The reference samples style-based latents with ψ = 0.4; models without a mapping network are not truncated.
STYLE_TRUNCATION = 0.4


@dataclass(frozen=True)
class Attribute:
    """One attribute: ``classes`` has one name for a binary attribute (higher: more of it), C ≥ 2 otherwise."""

    name: str
    classes: tuple[str, ...]
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", check_name(self.name, "the attribute name"))
        object.__setattr__(self, "classes", tuple(check_names(list(self.classes), "class names")))
        if not self.classes:
            raise InvalidValueError(f"attribute {self.name!r} needs at least one class")

    @property
    def binary(self) -> bool:
        return len(self.classes) == 1

    @property
    def outputs(self) -> int:
        """Columns of its head: 1 (sigmoid) for binary, C (softmax) otherwise."""
        return len(self.classes)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "classes": list(self.classes), "source": self.source}

    @classmethod
    def from_scorer(cls, scorer: Scorer) -> Attribute:
        return cls(scorer.name, scorer.classes, scorer.identity())


@dataclass(frozen=True)
class AttributeSamples:
    """Scored latents of one attribute: ``codes`` [N, d] in ``space``, ``classes`` [N, K] or ``None``, ``scores``
    [N, C] (binary: one column)."""

    attribute: Attribute
    space: str
    codes: Tensor
    scores: Tensor
    classes: Tensor | None = None

    def __post_init__(self) -> None:
        n = self.codes.shape[0]
        if self.codes.ndim != 2 or n < 1:
            raise InvalidValueError(f"latent codes must be [N, d], got {list(self.codes.shape)}")
        if tuple(self.scores.shape) != (n, self.attribute.outputs):
            raise InvalidValueError(f"scores must be [{n}, {self.attribute.outputs}], got {list(self.scores.shape)}")
        if self.classes is not None and self.classes.shape[0] != n:
            raise InvalidValueError(f"class vectors must be one per latent ({n}), got {self.classes.shape[0]}")

    def __len__(self) -> int:
        return int(self.codes.shape[0])


def default_truncation(generator: Generator) -> float:
    """ψ for training samples: 0.4 in W (the reference), none in z."""
    return STYLE_TRUNCATION if W in generator.latent_spaces else 1.0


def edit_space(generator: Generator) -> str:
    """Where heads read and controls move: w for style-based models, z otherwise."""
    return W if W in generator.latent_spaces else Z


@torch.no_grad()
def render_scores(
    generator: Generator,
    latents: Latents,
    scorers: Sequence[Scorer],
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> list[Tensor]:
    """Each scorer's scores [N, C] of the images ``latents`` render (in batches; ``progress(done, N)`` after each)."""
    n = len(latents)
    out: list[list[Tensor]] = [[] for _ in scorers]
    for start in range(0, n, batch_size):
        batch = latents.select(slice(start, start + batch_size))
        images = generator.synthesize(batch).clamp(-1, 1).float()
        for found, scorer in zip(out, scorers, strict=True):
            found.append(scorer(images).detach().float().cpu())
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return [torch.cat(parts) for parts in out]


def score_samples(
    generator: Generator,
    scorers: Sequence[Scorer],
    samples: int = 10_000,
    *,
    seed: int = 0,
    truncation: float | None = None,
    batch_size: int = 64,
    progress: Progress | None = None,
) -> list[AttributeSamples]:
    """``samples`` seeded latents in the edit space, rendered once and scored by every scorer."""
    if not scorers:
        raise InvalidValueError("choose at least one attribute to score")
    samples = check_count(samples, "the number of samples", 2, 1_000_000)
    check_latents(samples, generator.space_dim(edit_space(generator)))
    check_images(generator, min(samples, batch_size), "images per batch")
    psi = default_truncation(generator) if truncation is None else check_truncation(truncation)
    space = edit_space(generator)
    latents = generator.sample(samples, seed=seed, truncation=psi, space=space)
    if latents.space == WPLUS:  # never: sample returns the requested space
        raise InvalidValueError("training samples are single latent vectors")
    scores = render_scores(generator, latents, scorers, batch_size=batch_size, progress=progress)
    codes = latents.codes.detach().float().cpu()
    classes = None if latents.classes is None else latents.classes.detach().float().cpu()
    return [
        AttributeSamples(Attribute.from_scorer(s), space, codes, found, classes)
        for s, found in zip(scorers, scores, strict=True)
    ]


@dataclass(frozen=True)
class Labelled:
    """Training data of one attribute: ``codes`` [M, d], ``classes`` [M, K] or ``None``, ``labels`` [M] (binary:
    0/1; multi-class: the class index), split into training and validation rows."""

    attribute: Attribute
    codes: Tensor
    labels: Tensor
    classes: Tensor | None
    validation: Tensor  # [M] bool

    def part(self, validation: bool) -> tuple[Tensor, Tensor | None, Tensor]:
        rows = self.validation if validation else ~self.validation
        return self.codes[rows], None if self.classes is None else self.classes[rows], self.labels[rows]

    def counts(self) -> dict[str, int]:
        return {"train": int((~self.validation).sum()), "validation": int(self.validation.sum())}


def confident(
    data: AttributeSamples, fraction: float = 0.05, *, validation: float = 0.3, seed: int = 0, select: bool = True
) -> Labelled:
    """The confident samples of ``data`` with hard labels and a seeded validation split (see the module docstring);
    ``select=False`` keeps every sample (a labelled set: the user's labels are the truth)."""
    fraction = check_number(fraction, "the confident fraction", 1e-4, 0.5)
    validation = check_number(validation, "the validation share", 0.0, 0.9)
    scores, n = data.scores, len(data)
    if data.attribute.binary and select:
        order = torch.argsort(scores[:, 0], descending=True, stable=True)
        take = max(1, min(n // 2, round(fraction * n)))
        rows = torch.cat([order[:take], order[n - take :]])
        labels = torch.cat([torch.ones(take), torch.zeros(take)])
    elif data.attribute.binary:
        rows, labels = torch.arange(n), (scores[:, 0] > 0.5).float()
    else:
        winners = scores.argmax(dim=1)
        picked, found = [], []
        for c in range(scores.shape[1]):
            members = (winners == c).nonzero()[:, 0]
            if select:
                members = members[torch.argsort(scores[members, c], descending=True, stable=True)]
                members = members[: max(1, round(fraction * n))]
            picked.append(members)
            found.append(torch.full((len(members),), c))
        rows, labels = torch.cat(picked), torch.cat(found).float()
    if len(torch.unique(labels)) < 2:
        raise InvalidValueError(
            f"attribute {data.attribute.name!r} has samples of only one class: label (or score) some of another"
        )
    gen = torch.Generator().manual_seed(seed)
    shuffle = torch.randperm(len(rows), generator=gen)
    rows, labels = rows[shuffle], labels[shuffle]
    held = torch.zeros(len(rows), dtype=torch.bool)
    for c in torch.unique(labels):  # stratified: every class keeps at least one training sample
        members = (labels == c).nonzero()[:, 0]
        held[members[: min(round(validation * len(members)), len(members) - 1)]] = True
    classes = None if data.classes is None else data.classes[rows]
    return Labelled(data.attribute, data.codes[rows], labels.long(), classes, held)


__all__ = [
    "STYLE_TRUNCATION",
    "Attribute",
    "AttributeSamples",
    "Labelled",
    "confident",
    "default_truncation",
    "edit_space",
    "render_scores",
    "score_samples",
]
