"""Labelled sets: samples a user assigned to the classes of one attribute, kept as a safetensors file.

A set names one attribute and its classes (two or more: a two-class set is a binary attribute whose second class is
"more of it"), and holds, per sample, the latent vector in the edit space (``codes`` [N, d]), the class vector of a
class-conditional model (``model_classes`` [N, K]), the seed it came from (``seeds``, −1 when it came from
elsewhere) and the label (``labels`` [N], a class index). Metadata: ``format`` = ``gan-steering.labels``, version,
model identity, space, attribute, class names, truncation. A set is reloaded (checked against the model) and
extended; labelling the same seed again replaces its label.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from .. import metadata as meta
from ..errors import CorruptFileError, DirectionsMismatchError, InvalidValueError
from ..io import load_safetensors, save_safetensors
from ..limits import check_latents
from ..models.base import Generator, ModelIdentity
from ..values import check_count, check_name, check_names, check_seed, check_truncation
from ..version import __version__
from .samples import Attribute, AttributeSamples, edit_space

LABELS_FORMAT = "gan-steering.labels"
LABELS_VERSION = 1
MAX_CLASSES = 64


class LabelsFileError(CorruptFileError):
    """A labelled-set file is corrupt, truncated or not a gan-steering labels file."""


@dataclass(frozen=True)
class LabelledSet:
    """Labelled samples of one attribute for one model (see the module docstring)."""

    model: ModelIdentity
    space: str
    attribute: str
    class_names: tuple[str, ...]
    codes: Tensor  # [N, d]
    labels: Tensor  # [N] long
    seeds: Tensor  # [N] long, −1: not from a seed
    model_classes: Tensor | None = None  # [N, K]
    truncation: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attribute", check_name(self.attribute, "the attribute name"))
        names = tuple(check_names(list(self.class_names), "class names"))
        if not 2 <= len(names) <= MAX_CLASSES:
            raise InvalidValueError(f"an attribute needs 2 to {MAX_CLASSES} classes, got {len(names)}")
        object.__setattr__(self, "class_names", names)
        n = self.codes.shape[0] if self.codes.ndim == 2 else -1
        if n < 0 or tuple(self.labels.shape) != (n,) or tuple(self.seeds.shape) != (n,):
            raise InvalidValueError(
                f"codes [N, d], labels [N] and seeds [N] must agree, got {list(self.codes.shape)}, "
                f"{list(self.labels.shape)}, {list(self.seeds.shape)}"
            )
        if n and not bool(torch.isfinite(self.codes).all()):
            raise InvalidValueError("latent codes contain NaN or infinite values")
        if n and (int(self.labels.min()) < 0 or int(self.labels.max()) >= len(names)):
            raise InvalidValueError(f"labels must be class indices in [0, {len(names)})")
        given = self.model_classes
        if given is not None and (given.ndim != 2 or given.shape[0] != n or not torch.isfinite(given).all()):
            raise InvalidValueError("model classes must be finite class vectors [N, K], one per sample")
        object.__setattr__(self, "truncation", check_truncation(self.truncation))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the samples (what a per-user store counts)."""
        tensors = [self.codes, self.labels, self.seeds, *([] if self.model_classes is None else [self.model_classes])]
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def binary(self) -> bool:
        """Two classes: one binary attribute, "more of it" being the second class."""
        return len(self.class_names) == 2

    @property
    def as_attribute(self) -> Attribute:
        classes = self.class_names[1:] if self.binary else self.class_names
        return Attribute(self.attribute, classes, {"labels": self.attribute, "classes": list(self.class_names)})

    def counts(self) -> dict[str, int]:
        return {name: int((self.labels == c).sum()) for c, name in enumerate(self.class_names)}

    def samples(self) -> AttributeSamples:
        """As training data: scores are the labels (binary: 0/1 in one column; else one-hot)."""
        if self.binary:
            scores = self.labels.float()[:, None]
        else:
            scores = torch.nn.functional.one_hot(self.labels, len(self.class_names)).float()
        return AttributeSamples(self.as_attribute, self.space, self.codes.float(), scores, self.model_classes)

    # ----- building -------------------------------------------------------------------------------------------------
    @classmethod
    def empty(
        cls, generator: Generator, attribute: str, class_names: Sequence[str], truncation: float = 1.0
    ) -> LabelledSet:
        space = edit_space(generator)
        d = generator.space_dim(space)
        k = generator.num_classes
        return cls(
            model=generator.identity,
            space=space,
            attribute=attribute,
            class_names=tuple(class_names),
            codes=torch.zeros(0, d),
            labels=torch.zeros(0, dtype=torch.long),
            seeds=torch.zeros(0, dtype=torch.long),
            model_classes=torch.zeros(0, k) if k else None,
            truncation=truncation,
        )

    def with_seeds(self, generator: Generator, seeds: Sequence[int], labels: Sequence[int]) -> LabelledSet:
        """This set with seeded samples labelled (a seed labelled again gets its new label)."""
        seeds = [check_seed(s) for s in seeds]
        labels = [check_count(v, "a label", 0, len(self.class_names) - 1) for v in labels]
        if len(seeds) != len(labels):
            raise InvalidValueError(f"{len(seeds)} seeds for {len(labels)} labels")
        self.check_model(generator)
        codes, classes = [], []
        for seed in seeds:
            latents = generator.sample(1, seed=seed, truncation=self.truncation, space=self.space)
            codes.append(latents.codes.detach().float().cpu())
            if latents.classes is not None:
                classes.append(latents.classes.detach().float().cpu())
        new = torch.cat(codes) if codes else torch.zeros(0, self.codes.shape[1])
        return self.extended(new, labels, seeds, torch.cat(classes) if classes else None)

    def extended(
        self,
        codes: Tensor,
        labels: Sequence[int] | Tensor,
        seeds: Sequence[int] | Tensor | None = None,
        model_classes: Tensor | None = None,
    ) -> LabelledSet:
        """This set with more samples; a seed already in the set, or given twice, is relabelled (its last label), not
        repeated."""
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        seeds = torch.full((len(labels),), -1, dtype=torch.long) if seeds is None else torch.as_tensor(seeds)
        if codes.ndim != 2 or codes.shape[1] != self.codes.shape[1]:
            raise InvalidValueError(f"codes must be [N, {self.codes.shape[1]}], got {list(codes.shape)}")
        listed = seeds.tolist()
        last = [i for i, seed in enumerate(listed) if seed < 0 or seed not in listed[i + 1 :]]
        if len(last) < len(listed):
            rows = torch.tensor(last, dtype=torch.long)
            codes, labels, seeds = codes[rows], labels[rows], seeds[rows]
            model_classes = None if model_classes is None else model_classes[rows]
        check_latents(len(self) + len(codes), codes.shape[1], "labelled samples")
        keep = torch.ones(len(self), dtype=torch.bool)
        for seed in seeds.tolist():
            if seed >= 0:
                keep &= self.seeds != seed
        if (self.model_classes is None) != (model_classes is None):
            raise InvalidValueError("class vectors are needed for every sample of a class-conditional model")
        classes = None if model_classes is None else torch.cat([self.model_classes[keep], model_classes.float()])
        return dataclasses.replace(
            self,
            codes=torch.cat([self.codes[keep], codes.float()]),
            labels=torch.cat([self.labels[keep], labels]),
            seeds=torch.cat([self.seeds[keep], seeds.long()]),
            model_classes=classes,
        )

    def merged(self, other: LabelledSet) -> LabelledSet:
        """Both sets' samples (same model, space, attribute and classes)."""
        if (other.model.sha256, other.space, other.attribute, other.class_names) != (
            self.model.sha256,
            self.space,
            self.attribute,
            self.class_names,
        ):
            raise InvalidValueError("only sets of the same model, attribute and classes can be merged")
        return self.extended(other.codes, other.labels, other.seeds, other.model_classes)

    def check_model(self, generator: Generator) -> None:
        if generator.identity.sha256 != self.model.sha256:
            raise DirectionsMismatchError(
                f"these labels were made for model {self.model.name!r} (sha256 {self.model.sha256[:12]}…), not "
                f"{generator.identity.name!r}; load {self.model.name!r}"
            )
        if generator.space_dim(self.space) != self.codes.shape[1]:
            raise DirectionsMismatchError(f"labelled codes have dimension {self.codes.shape[1]}")
        if (generator.num_classes > 0) != (self.model_classes is not None):
            raise DirectionsMismatchError("the labels and the model disagree on class conditioning")
        if self.model_classes is not None and self.model_classes.shape[1] != generator.num_classes:
            raise DirectionsMismatchError(
                f"the labels hold {self.model_classes.shape[1]} classes per sample; "
                f"the model has {generator.num_classes}"
            )

    # ----- files ----------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        tensors = {"codes": self.codes.float().contiguous(), "labels": self.labels, "seeds": self.seeds}
        if self.model_classes is not None:
            tensors["model_classes"] = self.model_classes.float().contiguous()
        metadata = {
            "format": LABELS_FORMAT,
            "format_version": str(LABELS_VERSION),
            "model": self.model.to_json(),
            "space": self.space,
            "attribute": self.attribute,
            "class_names": json.dumps(list(self.class_names), ensure_ascii=False),
            "truncation": json.dumps(self.truncation),
            "created_with": f"gan-steering {__version__}",
        }
        return save_safetensors(tensors, metadata, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], generator: Generator | None = None) -> LabelledSet:
        """Read a set (checked against ``generator`` when one is given); anything malformed is a
        ``LabelsFileError``."""
        error, origin = LabelsFileError, str(path)
        tensors, metadata = load_safetensors(path, error=error)
        if metadata.get("format") != LABELS_FORMAT:
            raise error(f"{origin} is not a gan-steering labels file")
        version = meta.field(metadata, "format_version", int, origin, error)
        if version > LABELS_VERSION:
            raise error(f"{origin} uses labels format {version}; this gan-steering reads {LABELS_VERSION}: upgrade it")
        unknown = sorted(set(tensors) - {"codes", "labels", "seeds", "model_classes"})
        if unknown or not {"codes", "labels", "seeds"} <= set(tensors):
            raise error(f"{origin} does not hold codes, labels and seeds (or holds {unknown[:5]})")
        names = meta.field(metadata, "class_names", list, origin, error)
        if not all(isinstance(n, str) for n in names):
            raise error(f"{origin}: class names must be text")
        try:
            labelled = cls(
                model=ModelIdentity.from_json(
                    meta.field(metadata, "model", str, origin, error, as_json=False), origin, error
                ),
                space=meta.field(metadata, "space", str, origin, error, as_json=False),
                attribute=meta.field(metadata, "attribute", str, origin, error, as_json=False),
                class_names=tuple(names),
                codes=tensors["codes"].float(),
                labels=tensors["labels"].long(),
                seeds=tensors["seeds"].long(),
                model_classes=tensors.get("model_classes"),
                truncation=meta.field(metadata, "truncation", float, origin, error, default=1.0),
            )
        except (InvalidValueError, TypeError, ValueError) as exc:
            raise error(f"{origin} holds an unusable labelled set: {exc}") from None
        if generator is not None:
            labelled.check_model(generator)
        return labelled


__all__ = ["LABELS_FORMAT", "LabelledSet", "LabelsFileError"]
