"""Latent classifier heads: one small network per attribute on the latent, as in GradCtrl.

Each head is ``Linear(d [+ K] → 16) → LeakyReLU(0.1) → Linear(16 → C)`` with a sigmoid (binary, C = 1) or a
softmax (C classes) on top. It reads the latent vector, standardised by one shift [d] and one scale shared by all
heads, and, for class-conditional models, the class vector too (its gradient is taken along the latent only). Each
head is trained alone on its attribute's confident samples (``samples.confident``): Adam, learning rate 1e-3, batch
32, binary or categorical cross-entropy, and the epoch with the best validation accuracy is kept.

Heads live as plain tensors (``input.shift``, ``input.scale``, ``head{a}.w1`` …) so that a control file carries them;
``probabilities`` and ``jacobian`` read those tensors directly (the Jacobian in closed form: no autograd in a step).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InvalidValueError
from ..values import check_count, check_number
from .samples import Attribute, Labelled

HIDDEN = 16
SLOPE = 0.1
Progress = Callable[[int, int], None]


# ----- reading heads from tensors ------------------------------------------------------------------------------------
def _w(tensors: Mapping[str, Tensor], a: int, name: str, like: Tensor) -> Tensor:
    return tensors[f"head{a}.{name}"].to(like)


def hidden(tensors: Mapping[str, Tensor], a: int, x: Tensor, classes: Tensor | None) -> Tensor:
    """Pre-activations [N, 16] of head ``a`` at latents ``x`` [N, d]."""
    w1 = _w(tensors, a, "w1", x)
    d = x.shape[1]
    u = (x - tensors["input.shift"].to(x)) / tensors["input.scale"].to(x)
    h = u @ w1[:, :d].T + _w(tensors, a, "b1", x)
    if w1.shape[1] > d:
        if classes is None:
            raise InvalidValueError("this head reads the class vector: the latents carry no class")
        h = h + classes.to(x) @ w1[:, d:].T
    return h


def logits(tensors: Mapping[str, Tensor], a: int, x: Tensor, classes: Tensor | None = None) -> Tensor:
    """Logits [N, C] of head ``a``."""
    return F.leaky_relu(hidden(tensors, a, x, classes), SLOPE) @ _w(tensors, a, "w2", x).T + _w(tensors, a, "b2", x)


def probabilities(tensors: Mapping[str, Tensor], a: int, x: Tensor, classes: Tensor | None = None) -> Tensor:
    """Probabilities [N, C]: the sigmoid of one logit (binary) or the softmax over C."""
    out = logits(tensors, a, x, classes)
    return torch.sigmoid(out) if out.shape[1] == 1 else torch.softmax(out, dim=1)


def jacobian(tensors: Mapping[str, Tensor], a: int, x: Tensor, classes: Tensor | None = None) -> Tensor:
    """``∂p/∂x`` [N, C, d] of head ``a``'s probabilities, in closed form (in float64, with ``σ(l)·σ(−l)`` for the
    sigmoid's slope: a saturated head still gives a direction instead of exact zeros)."""
    x64 = x.double()
    c64 = None if classes is None else classes.double()
    own = {k: v.double() for k, v in tensors.items() if k.startswith((f"head{a}.", "input."))}
    h = hidden(own, a, x64, c64)
    w1, w2 = own[f"head{a}.w1"][:, : x.shape[1]], own[f"head{a}.w2"]
    slope = torch.where(h > 0, torch.ones_like(h), torch.full_like(h, SLOPE))
    dl = torch.einsum("ch,nh,hd->ncd", w2, slope, w1) / own["input.scale"]
    out = F.leaky_relu(h, SLOPE) @ w2.T + own[f"head{a}.b2"]
    if out.shape[1] == 1:
        return ((torch.sigmoid(out) * torch.sigmoid(-out))[:, :, None] * dl).to(x.dtype)
    p = torch.softmax(out, dim=1)
    return (p[:, :, None] * (dl - torch.einsum("nk,nkd->nd", p, dl)[:, None])).to(x.dtype)


def head_count(tensors: Mapping[str, Tensor]) -> int:
    return sum(1 for name in tensors if name.startswith("head") and name.endswith(".w1"))


def check_head_tensors(tensors: Mapping[str, Tensor], dim: int, num_classes: int = 0) -> int:
    """The number of heads in ``tensors``, after checking every shape against latents of ``dim`` (plus
    ``num_classes`` inputs); ``InvalidValueError`` on anything that does not fit."""
    shift, scale = tensors.get("input.shift"), tensors.get("input.scale")
    if shift is None or scale is None or tuple(shift.shape) != (dim,) or tuple(scale.shape) != (1,):
        raise InvalidValueError(f"heads need input.shift [{dim}] and input.scale [1]")
    if not float(scale) > 0:
        raise InvalidValueError("input.scale must be positive")
    n = head_count(tensors)
    for a in range(n):
        parts = [tensors.get(f"head{a}.{k}") for k in ("w1", "b1", "w2", "b2")]
        if any(p is None for p in parts):
            raise InvalidValueError(f"head {a} misses some of w1, b1, w2, b2")
        w1, b1, w2, b2 = parts  # type: ignore[misc]
        hid = w1.shape[0]
        if w1.shape[1] not in (dim, dim + num_classes) or tuple(b1.shape) != (hid,):
            raise InvalidValueError(f"head {a} reads {w1.shape[1]} inputs; latents have {dim}")
        if w2.ndim != 2 or w2.shape[1] != hid or tuple(b2.shape) != (w2.shape[0],) or w2.shape[0] < 1:
            raise InvalidValueError(f"head {a} has unusable output weights {list(w2.shape)}")
    return n


# ----- training ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Training:
    """How heads are trained (defaults as in GradCtrl's code, except more than its single epoch)."""

    epochs: int = 30
    learning_rate: float = 1e-3
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "epochs", check_count(self.epochs, "the number of epochs", 1, 10_000))
        object.__setattr__(self, "learning_rate", check_number(self.learning_rate, "the learning rate", 1e-7, 1.0))
        object.__setattr__(self, "batch_size", check_count(self.batch_size, "the batch size", 1, 65_536))

    def describe(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "learning_rate": self.learning_rate, "batch_size": self.batch_size}


@dataclass
class Heads:
    """Trained heads for several attributes, their tensors and what their training measured."""

    attributes: list[Attribute]
    tensors: dict[str, Tensor]
    accuracy: list[float]  # validation accuracy per head (NaN without validation samples)
    train_accuracy: list[float]
    counts: list[dict[str, int]] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    chance: list[float] = field(default_factory=list)  # per head: the validation share of its most common class

    def weak(self) -> dict[str, str]:
        """A warning (by attribute name) for each head whose validation accuracy is not clearly above chance (the
        share of its most common class; one-sided binomial test at 5 %): its control follows noise, it cannot steer."""
        found = {}
        for a, attribute in enumerate(self.attributes):
            n = self.counts[a].get("validation", 0) if a < len(self.counts) else 0
            accuracy = self.accuracy[a]
            chance = self.chance[a] if a < len(self.chance) else None
            if not n or chance is None or not math.isfinite(accuracy) or not math.isfinite(chance):
                continue
            if _above_chance(round(accuracy * n), n, chance) > 0.05:
                level = "at chance level" if accuracy <= chance + 1e-9 else "not clearly above chance"
                found[attribute.name] = (
                    f"{attribute.name}: validation accuracy {accuracy:.3f} on {n} samples is {level} "
                    f"({chance:.3f}), so its control cannot steer: score more samples or train more epochs"
                )
        return found

    def __len__(self) -> int:
        return len(self.attributes)

    def index(self, name: str) -> int:
        for a, attribute in enumerate(self.attributes):
            if attribute.name == name:
                return a
        raise InvalidValueError(f"no attribute {name!r}; trained: {', '.join(a.name for a in self.attributes)}")

    def probabilities(self, a: int, x: Tensor, classes: Tensor | None = None) -> Tensor:
        return probabilities(self.tensors, a, x, classes)

    def describe(self) -> list[dict[str, Any]]:
        """What a control file records about each head (JSON-able)."""
        return [
            {
                **attribute.describe(),
                "accuracy": _finite_or_none(self.accuracy[a]),
                "train_accuracy": _finite_or_none(self.train_accuracy[a]),
                "samples": self.counts[a] if a < len(self.counts) else {},
                "chance": _finite_or_none(self.chance[a]) if a < len(self.chance) else None,
            }
            for a, attribute in enumerate(self.attributes)
        ]

    @classmethod
    def from_description(
        cls, tensors: Mapping[str, Tensor], described: Sequence[Mapping[str, Any]], training: Mapping[str, Any]
    ) -> Heads:
        """Heads read back from a control file's tensors and metadata."""
        attributes = [Attribute(d["name"], tuple(d["classes"]), dict(d.get("source") or {})) for d in described]
        own = {k: v for k, v in tensors.items() if k.startswith(("head", "input."))}
        if head_count(own) != len(attributes):
            raise InvalidValueError(f"{head_count(own)} heads for {len(attributes)} attributes")
        for a, attribute in enumerate(attributes):
            if own[f"head{a}.w2"].shape[0] != attribute.outputs:
                raise InvalidValueError(f"head {a} has {own[f'head{a}.w2'].shape[0]} outputs for {attribute.name!r}")
        nan = float("nan")
        return cls(
            attributes,
            own,
            [nan if d.get("accuracy") is None else float(d["accuracy"]) for d in described],
            [nan if d.get("train_accuracy") is None else float(d["train_accuracy"]) for d in described],
            [dict(d.get("samples") or {}) for d in described],
            dict(training),
            [nan if d.get("chance") is None else float(d["chance"]) for d in described],
        )


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run tiny tensor ops on one thread (several only add synchronisation: 10× slower on a busy 2-core machine);
    the thread count is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _above_chance(correct: int, n: int, chance: float) -> float:
    """The one-sided binomial p-value of ``correct`` right out of ``n`` when each is right with ``chance``."""
    if chance >= 1.0:
        return 1.0
    if chance <= 0.0:
        return 0.0 if correct > 0 else 1.0
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(chance)
        + (n - k) * math.log1p(-chance)
        for k in range(max(correct, 0), n + 1)
    ]
    return min(1.0, sum(math.exp(t) for t in terms))


def chance_level(labels: Tensor, outputs: int) -> float:
    """Accuracy of always guessing the most common class of ``labels`` (NaN without labels)."""
    if not len(labels):
        return float("nan")
    return float(torch.bincount(labels.long(), minlength=max(outputs, 2)).max()) / len(labels)


def _accuracy(out: Tensor, labels: Tensor) -> float:
    if not len(labels):
        return float("nan")
    guess = (out[:, 0] > 0).long() if out.shape[1] == 1 else out.argmax(dim=1)
    return float((guess == labels).float().mean())


def _inputs(codes: Tensor, classes: Tensor | None, shift: Tensor, scale: Tensor) -> Tensor:
    u = (codes - shift) / scale
    return u if classes is None else torch.cat([u, classes], dim=1)


def train_head(
    data: Labelled,
    shift: Tensor,
    scale: Tensor,
    training: Training | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, Tensor], float, float]:
    """One head trained on ``data``: its tensors (``w1 b1 w2 b2``), validation and training accuracy."""
    training = training or Training()
    codes, classes, labels = data.part(validation=False)
    val_codes, val_classes, val_labels = data.part(validation=True)
    x, vx = _inputs(codes, classes, shift, scale), _inputs(val_codes, val_classes, shift, scale)
    outputs = data.attribute.outputs
    gen = torch.Generator().manual_seed(training.seed)
    first, second = torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.Linear(HIDDEN, outputs)
    with torch.no_grad():  # seeded initialisation (PyTorch's default scheme) without touching the global RNG
        for layer in (first, second):
            bound = 1 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
    network = torch.nn.Sequential(first, torch.nn.LeakyReLU(SLOPE), second)
    optimiser = torch.optim.Adam(network.parameters(), lr=training.learning_rate)
    target = labels.float()[:, None] if outputs == 1 else labels

    def loss_of(out: Tensor, y: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(out, y) if outputs == 1 else F.cross_entropy(out, y)

    best: tuple[float, float, dict[str, Tensor]] | None = None
    with torch.enable_grad(), one_thread():
        for epoch in range(training.epochs):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), training.batch_size):
                rows = order[start : start + training.batch_size]
                optimiser.zero_grad()
                loss_of(network(x[rows]), target[rows]).backward()
                optimiser.step()
            with torch.no_grad():
                val = _accuracy(network(vx), val_labels) if len(vx) else _accuracy(network(x), labels)
                if best is None or val > best[0]:
                    state = {k: v.detach().clone() for k, v in network.state_dict().items()}
                    best = (val, _accuracy(network(x), labels), state)
            if progress is not None:
                progress(epoch + 1)
    assert best is not None
    state = best[2]
    tensors = {"w1": state["0.weight"], "b1": state["0.bias"], "w2": state["2.weight"], "b2": state["2.bias"]}
    return tensors, (best[0] if len(vx) else float("nan")), best[1]


def standardisation(labelled: Sequence[Labelled]) -> tuple[Tensor, Tensor]:
    """The shift [d] (mean) and the one scale [1] (root-mean-square deviation per channel) of all the latents."""
    everything = torch.cat([d.codes for d in labelled])
    shift = everything.mean(dim=0)
    scale = (everything - shift).pow(2).sum(dim=1).mean().sqrt().reshape(1) / math.sqrt(everything.shape[1])
    return shift, scale.clamp_min(1e-6)


def train_heads(
    labelled: Sequence[Labelled], training: Training | None = None, progress: Progress | None = None
) -> Heads:
    """One head per attribute; ``progress(done, total)`` counts epochs over all heads."""
    training = training or Training()
    if not labelled:
        raise InvalidValueError("no attribute to train a head for")
    names = [d.attribute.name for d in labelled]
    if len(set(names)) != len(names):
        raise InvalidValueError(f"attribute names must be unique, got {names}")
    dims = {d.codes.shape[1] for d in labelled}
    if len(dims) != 1:
        raise InvalidValueError(f"every attribute's latents must have one dimension, got {sorted(dims)}")
    shift, scale = standardisation(labelled)
    tensors: dict[str, Tensor] = {"input.shift": shift, "input.scale": scale}
    accuracy, train_accuracy, counts, chance = [], [], [], []
    total = training.epochs * len(labelled)
    for a, data in enumerate(labelled):
        report = None if progress is None else (lambda e, a=a: progress(a * training.epochs + e, total))
        own, val, fit = train_head(data, shift, scale, training, report)
        tensors.update({f"head{a}.{k}": v for k, v in own.items()})
        accuracy.append(val)
        train_accuracy.append(fit)
        counts.append(data.counts())
        chance.append(chance_level(data.part(validation=True)[2], data.attribute.outputs))
    described = training.describe()
    return Heads([d.attribute for d in labelled], tensors, accuracy, train_accuracy, counts, described, chance)


__all__ = [
    "HIDDEN",
    "SLOPE",
    "Heads",
    "Training",
    "chance_level",
    "check_head_tensors",
    "head_count",
    "hidden",
    "jacobian",
    "logits",
    "probabilities",
    "standardisation",
    "train_head",
    "train_heads",
]
