"""Linear baselines beside GradCtrl: the InterFaceGAN-style boundary normal of the same labels, and its conditional
variant.

On the same confident samples the heads are trained on, a linear classifier (L2-regularised logistic regression,
full-batch L-BFGS, on the standardised latent and, for class-conditional models, the class vector) separates each
binary attribute, and each class of a multi-class one from the rest; the unit normal of its boundary (latent part)
is the direction, oriented towards "more of it". **Conditional**: each direction has the normals of the attributes
it excludes (default every other attribute; every class's normal for a multi-class one) projected out, so moving
along it leaves their linear scores unchanged (InterFaceGAN's conditional manipulation, for several conditions).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..attributes.heads import standardisation
from ..attributes.samples import Labelled, edit_space
from ..attributes.train import Sampling, Source, prepare
from ..cache import cached
from ..controls import LinearControl
from ..errors import InvalidValueError
from ..models.base import Generator, Z
from ..scorers import identities
from ..values import layer_range
from .gradctrl import ATTRIBUTES, FRACTION, PATH_LENGTH, SAMPLES, SEED, TRUNCATION, control_targets
from .registry import LAYERS, Method, Parameter

L2 = 1e-3


def fit_normal(data: Labelled, column: int, shift: Tensor, scale: Tensor) -> tuple[Tensor, float]:
    """Unit normal [d] of the boundary separating ``column`` (binary: label 1) from the rest, and its validation
    accuracy (training accuracy when there is no validation sample)."""
    codes, classes, labels = data.part(validation=False)
    val_codes, val_classes, val_labels = data.part(validation=True)

    def inputs(c: Tensor, k: Tensor | None) -> Tensor:
        u = ((c - shift) / scale).double()
        return u if k is None else torch.cat([u, k.double()], dim=1)

    x, y = inputs(codes, classes), (labels == (1 if data.attribute.binary else column)).double()
    if y.min() == y.max():
        raise InvalidValueError(f"{data.attribute.name}: no sample on one side of {data.attribute.classes[column]!r}")
    weight = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight], lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x @ weight[:-1] + weight[-1], y) + L2 * weight[:-1].pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    w = weight.detach()
    if len(val_codes):
        vx, vy = inputs(val_codes, val_classes), (val_labels == (1 if data.attribute.binary else column))
    else:
        vx, vy = x, y > 0.5
    accuracy = float(((vx @ w[:-1] + w[-1] > 0) == vy).double().mean())
    normal = w[: codes.shape[1]]
    if float(normal.norm()) < 1e-12:
        raise InvalidValueError(f"{data.attribute.name}: the labels are not linearly separable in the latent")
    return (normal / normal.norm()).float(), accuracy


def project_out(direction: Tensor, others: Tensor) -> Tensor:
    """``direction`` [d] minus its projection on the span of ``others`` [m, d], renormalised."""
    if not len(others):
        return direction
    q, r = torch.linalg.qr(others.double().T)
    q = q[:, r.diagonal().abs() > 1e-9]
    kept = direction.double() - q @ (q.T @ direction.double())
    if float(kept.norm()) < 1e-9:
        raise InvalidValueError("the direction lies in the span of the excluded attributes' boundaries")
    return (kept / kept.norm()).float()


def boundaries_from(
    generator: Generator,
    labelled: Sequence[Labelled],
    *,
    conditional: bool = False,
    exclude: Mapping[int, Sequence[str]] | None = None,
    layers: str | Sequence[int] = "all",
    params: Mapping[str, Any] | None = None,
) -> LinearControl:
    """Linear controls for the same targets as GradCtrl's (``control_targets``) from the labelled data the heads
    are (or would be) trained on; conditional: control ``i`` has the boundaries of ``exclude[i]`` (attribute names;
    default: every other attribute) projected out."""
    attributes = [d.attribute for d in labelled]
    names = [a.name for a in attributes]
    shift, scale = standardisation(labelled)
    normals, accuracy = {}, {}
    for a, data in enumerate(labelled):
        for c in range(data.attribute.outputs):
            normals[(a, c)], accuracy[(a, c)] = fit_normal(data, c, shift, scale)
    targets = control_targets(attributes)
    vectors = []
    for row, (a, c, _) in enumerate(targets):
        direction = normals[(a, c)]
        if conditional:
            chosen = exclude.get(row) if exclude else None
            others_of = [names.index(n) for n in chosen] if chosen is not None else range(len(attributes))
            others = [normals[(b, k)] for b in others_of if b != a for k in range(attributes[b].outputs)]
            direction = project_out(direction, torch.stack(others) if others else torch.zeros(0, direction.shape[0]))
        vectors.append(direction)
    space = edit_space(generator)
    used = layer_range(generator, layers)
    method = "boundaries"
    return LinearControl(
        vectors=torch.stack(vectors),
        space=space,
        method=method,
        model=generator.identity,
        names=[name + (" (conditional)" if conditional else " (linear)") for _, _, name in targets],
        params={**dict(params or {}), "conditional": conditional, "attributes": [a.describe() for a in attributes]},
        values=torch.tensor([accuracy[(a, c)] for a, c, _ in targets]),
        layers=None if space == Z or generator.num_layers == 1 or len(used) == generator.num_layers else used,
        strength_range=(-PATH_LENGTH, PATH_LENGTH),
    )


def boundaries(
    generator: Generator,
    attributes: Sequence[Source] = ("brightness", "left-right", "warmth"),
    num_samples: int = 10_000,
    fraction: float = 0.05,
    conditional: bool = False,
    layers: str | Sequence[int] = "all",
    seed: int = 0,
    truncation: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    use_cache: bool = True,
) -> LinearControl:
    """InterFaceGAN-style boundary normals of ``attributes`` (same sources and samples as ``gradctrl``)."""
    sampling = Sampling(num_samples, fraction, 0.3, seed, truncation)
    named = all(isinstance(a, str) for a in attributes)
    params = {
        "attributes_requested": [str(a) for a in attributes] if named else None,
        "sampling": sampling.describe(),
        "layers": list(layer_range(generator, layers)),
    }

    def compute() -> LinearControl:
        labelled = prepare(generator, attributes, sampling, progress)
        return boundaries_from(generator, labelled, conditional=conditional, layers=layers, params=params)

    key = {**params, "conditional": conditional, "scorers": identities(attributes) if named else None}
    return cached(generator, "boundaries", key, compute) if use_cache and named else compute()  # type: ignore[return-value]


METHOD = Method(
    name="boundaries",
    title="Linear boundaries (InterFaceGAN-style, GradCtrl's baseline)",
    function=boundaries,
    kind="linear",
    parameters=(
        ATTRIBUTES,
        SAMPLES,
        FRACTION,
        Parameter("conditional", "bool", False, "Project out the other attributes' boundaries"),
        LAYERS,
        SEED,
        TRUNCATION,
    ),
    value_label="validation accuracy",
    description="unit normals of linear classifiers on the same confident samples; conditional: others projected out",
)

__all__ = ["METHOD", "boundaries", "boundaries_from", "fit_normal", "project_out"]
