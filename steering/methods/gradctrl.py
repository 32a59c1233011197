"""GradCtrl: multi-directional gradient controls (Chen et al., ECCV 2022), as a field control.

Small heads on the latent (``steering.attributes.heads``) classify attributes; a control follows the normalised
gradient of its target head's probability, recomputed at every step, with the top-k most salient latent channels
of each *excluded* attribute (``|∂p_a/∂x|``, summed over a multi-class attribute's classes) set to zero before the
normalisation, the mask recomputed at every step too. A binary attribute gives one control that goes both ways (a
positive strength raises its probability, a negative one lowers it); a multi-class attribute gives one control per
class (towards it, or away from it for a negative strength).

Defaults as in the reference: 9 steps of 4/9 (path length 4 at the end of the range), W with the edit written to a
range of W+ layers for style-based models (z otherwise), both signs for binary attributes. Excluded attributes: the
reference hard-codes them per FFHQ attribute; here each control excludes by default the attributes *entangled* with
its own (the |mean cosine| of the heads' gradients over seeded latents is at least 0.15), each with a budget of
``top_k`` channels (default d/4; the reference's FFHQ budgets are 50–300 of 512); ``exclude="others"`` masks every
other attribute, ``"none"`` none, and each control's exclusions and budgets are settable (``with_exclusions``).

File: a field control (``field`` = ``gradctrl``) whose tensors are the heads (``input.shift``, ``input.scale``,
``head{a}.w1 b1 w2 b2``) and, per control, ``control.target`` (head index), ``control.column`` (class column) and
``control.exclude`` [k, A] (channel budget per attribute, 0: not excluded); its params hold the attributes (names,
classes, sources, accuracies, sample counts) and the training settings.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from ..attributes.heads import Heads, Training, check_head_tensors, jacobian
from ..attributes.samples import Attribute, default_truncation, edit_space
from ..attributes.train import Sampling, Source, Trained, train
from ..cache import cached
from ..controls import FieldControl, FieldInputs
from ..errors import InvalidValueError
from ..models.base import Generator, Z
from ..scorers import SCORERS, identities
from ..values import check_count, check_number, layer_range
from .registry import LAYERS, Method, Parameter

STEPS = 9
PATH_LENGTH = 4.0
EXCLUDE = ("entangled", "others", "none")
#: |mean cosine| of two heads' gradients from which ``exclude="entangled"`` masks one for the other.
ENTANGLED = 0.15


# ----- the field -----------------------------------------------------------------------------------------------------
def exclusion_mask(
    tensors: Mapping[str, Tensor], x: Tensor, classes: Tensor | None, budgets: Tensor, skip: int
) -> Tensor:
    """[N, d] bool: for each attribute ``a`` ≠ ``skip`` with a budget ``k_a > 0``, the ``k_a`` latent channels where
    its probabilities are most sensitive at ``x`` (``Σ_c |∂p_{a,c}/∂x|``); the union over attributes."""
    mask = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    for a, k in enumerate(budgets.tolist()):
        k = min(int(k), x.shape[1])
        if k <= 0 or a == skip:
            continue
        saliency = jacobian(tensors, a, x, classes).abs().sum(dim=1)
        mask.scatter_(1, saliency.topk(k, dim=1).indices, True)
    return mask


def gradient_step(generator: Generator, x: Tensor, inputs: FieldInputs) -> Tensor:
    """The GradCtrl field at ``x`` [N, d]: ``∂p_target/∂x`` with the excluded channels zeroed (normalised and signed
    by the field control)."""
    t, i = inputs.tensors, inputs.index
    check_head_tensors(t, x.shape[1], 0 if inputs.classes is None else inputs.classes.shape[1])
    target, column = int(t["control.target"][i]), int(t["control.column"][i])
    gradient = jacobian(t, target, x, inputs.classes)[:, column]
    return gradient.masked_fill(exclusion_mask(t, x, inputs.classes, t["control.exclude"][i], target), 0.0)


def check_control(control: FieldControl) -> None:
    """The heads, and each control's target head, class column and exclusion budgets [k, heads], fit together."""
    t, k, dim = control.tensors, control.count, control.latent_dim
    first = t.get("head0.w1")
    n = check_head_tensors(t, dim, 0 if first is None or first.ndim != 2 else max(0, int(first.shape[1]) - dim))
    target, column, exclude = (t.get(f"control.{name}") for name in ("target", "column", "exclude"))
    if target is None or column is None or tuple(target.shape) != (k,) or tuple(column.shape) != (k,):
        raise InvalidValueError(f"gradient controls need control.target and control.column of shape [{k}]")
    if exclude is None or tuple(exclude.shape) != (k, n) or bool((exclude < 0).any()):
        raise InvalidValueError(f"gradient controls need budgets control.exclude [{k}, {n}] of at least 0")
    for i, (a, c) in enumerate(zip(target.tolist(), column.tolist(), strict=True)):
        if a != int(a) or not 0 <= a < n or c != int(c) or not 0 <= c < t[f"head{int(a)}.w2"].shape[0]:
            raise InvalidValueError(f"gradient control {i} names head {a:g}, column {c:g}: not among its {n} heads")


# ----- controls from heads -------------------------------------------------------------------------------------------
def control_targets(attributes: Sequence[Attribute]) -> list[tuple[int, int, str]]:
    """One control per binary attribute and per class of a multi-class one: ``(head, column, name)``."""
    targets = []
    for a, attribute in enumerate(attributes):
        if attribute.binary:
            targets.append((a, 0, attribute.name))
        else:
            targets += [(a, c, f"{attribute.name} → {name}") for c, name in enumerate(attribute.classes)]
    return targets


def default_budget(dim: int) -> int:
    """A quarter of the latent channels per excluded attribute (the reference's FFHQ budgets: 50–300 of 512)."""
    return max(1, round(dim / 4))


def entanglement(generator: Generator, heads: Heads, probes: int = 256, seed: int = 0) -> Tensor:
    """[A, A] |mean cosine| between the heads' gradients (first class column; all columns of a multi-class head
    summed as saliency would) over seeded latents: how much moving for one attribute moves another."""
    latents = generator.sample(probes, seed=seed, truncation=default_truncation(generator), space=edit_space(generator))
    x = latents.codes.detach().float().cpu()
    classes = None if latents.classes is None else latents.classes.float().cpu()
    grads = [jacobian(heads.tensors, a, x, classes).sum(dim=1) for a in range(len(heads))]
    table = torch.zeros(len(heads), len(heads))
    for a in range(len(heads)):
        for b in range(len(heads)):
            table[a, b] = torch.nn.functional.cosine_similarity(grads[a], grads[b], dim=1).mean().abs()
    return table


def build_controls(
    generator: Generator,
    heads: Heads,
    *,
    exclude: str = "entangled",
    top_k: int | None = None,
    layers: str | Sequence[int] = "all",
    steps: int = STEPS,
    path_length: float = PATH_LENGTH,
    threshold: float = ENTANGLED,
    params: Mapping[str, Any] | None = None,
) -> FieldControl:
    """A field control with one slider per target (``control_targets``). Each control excludes, with ``top_k``
    channels each: the attributes entangled with its own (``exclude="entangled"``: the |mean cosine| of the heads'
    gradients is at least ``threshold``), every other attribute (``"others"``) or none (``"none"``)."""
    if exclude not in EXCLUDE:
        raise InvalidValueError(f"exclude must be one of {list(EXCLUDE)}, got {exclude!r}")
    space = edit_space(generator)
    dim = generator.space_dim(space)
    check_head_tensors(heads.tensors, dim, generator.num_classes)
    k = default_budget(dim) if top_k is None else check_count(top_k, "the masked channels (k)", 0, dim)
    steps = check_count(steps, "the number of steps", 1, 1000)
    path_length = check_number(path_length, "the path length", 1e-3, 1e3)
    threshold = check_number(threshold, "the entanglement threshold", 0.0, 1.0)
    targets = control_targets(heads.attributes)
    cosines = entanglement(generator, heads)
    budgets = torch.zeros(len(targets), len(heads))
    for row, (a, _, _) in enumerate(targets):
        if exclude == "others":
            budgets[row] = k
        elif exclude == "entangled":
            budgets[row] = torch.where(cosines[a] >= threshold, float(k), 0.0)
        budgets[row, a] = 0
    used = layer_range(generator, layers)
    tensors = {
        **heads.tensors,
        "control.target": torch.tensor([float(a) for a, _, _ in targets]),
        "control.column": torch.tensor([float(c) for _, c, _ in targets]),
        "control.exclude": budgets,
    }
    described = {
        **dict(params or {}),
        "attributes": heads.describe(),
        "training": heads.training,
        "steps": steps,
        "path_length": path_length,
        "entanglement": [[round(float(v), 4) for v in row] for row in cosines],
    }
    control = FieldControl(
        field="gradctrl",
        tensors=tensors,
        count=len(targets),
        latent_dim=dim,
        step_size=path_length / steps,
        normalise=True,
        space=space,
        method="gradctrl",
        model=generator.identity,
        names=[name for _, _, name in targets],
        params=described,
        layers=None if space == Z or generator.num_layers == 1 or len(used) == generator.num_layers else used,
        strength_range=(-path_length, path_length),
    )
    return _describe_exclusions(control)


def heads_of(control: FieldControl) -> Heads:
    """The heads a GradCtrl control file carries."""
    if control.field != "gradctrl":
        raise InvalidValueError(f"these are {control.method} controls, not GradCtrl ones")
    return Heads.from_description(
        control.tensors, control.params.get("attributes", []), control.params.get("training", {})
    )


def with_exclusions(control: FieldControl, index: int, budgets: Mapping[str, int]) -> FieldControl:
    """A copy where control ``index`` excludes the attributes named in ``budgets`` with those channel counts (others:
    none; its own attribute cannot be excluded)."""
    heads = heads_of(control)
    index = check_count(index, "the control", 0, len(control) - 1)
    row = torch.zeros(len(heads))
    own = int(control.tensors["control.target"][index])
    for name, k in budgets.items():
        a = heads.index(name)
        k = check_count(k, f"the masked channels of {name!r}", 0, control.dim)
        if a == own and k:
            raise InvalidValueError(f"{control.names[index]!r} cannot exclude its own attribute {name!r}")
        row[a] = k
    table = control.tensors["control.exclude"].clone()
    table[index] = row
    return _describe_exclusions(dataclasses.replace(control, tensors={**control.tensors, "control.exclude": table}))


def exclusions(control: FieldControl, index: int) -> dict[str, int]:
    """Control ``index``'s excluded attributes and their channel budgets."""
    heads = heads_of(control)
    row = control.tensors["control.exclude"][index]
    return {heads.attributes[a].name: int(k) for a, k in enumerate(row.tolist()) if k > 0}


def _describe_exclusions(control: FieldControl) -> FieldControl:
    params = {**control.params, "exclude": [exclusions(control, i) for i in range(len(control))]}
    return dataclasses.replace(control, params=params)


# ----- the method ----------------------------------------------------------------------------------------------------
def gradctrl(
    generator: Generator,
    attributes: Sequence[Source] = ("brightness", "left-right", "warmth"),
    num_samples: int = 10_000,
    fraction: float = 0.05,
    epochs: int = 30,
    exclude: str = "entangled",
    top_k: int | None = None,
    layers: str | Sequence[int] = "all",
    seed: int = 0,
    truncation: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    use_cache: bool = True,
) -> FieldControl:
    """GradCtrl controls for ``attributes`` (scorer names, scorers or labelled sets; see ``steering.scorers``):
    heads trained on the confident ``fraction`` of ``num_samples`` scored samples, one control per binary attribute and
    per class of a multi-class one."""
    sampling = Sampling(num_samples, fraction, 0.3, seed, truncation)
    training = Training(epochs=epochs, seed=seed)
    named = all(isinstance(a, str) for a in attributes)
    params = {
        "attributes_requested": [str(a) for a in attributes] if named else None,
        "sampling": sampling.describe(),
        "exclude_default": exclude,
        "top_k": top_k,
        "layers": list(layer_range(generator, layers)),
    }

    def compute() -> FieldControl:
        trained = train(generator, attributes, sampling, training, progress)
        return controls_from(generator, trained, exclude=exclude, top_k=top_k, layers=layers, params=params)

    key = {**params, "epochs": epochs, "method": "gradctrl", "scorers": identities(attributes) if named else None}
    return cached(generator, "gradctrl", key, compute) if use_cache and named else compute()  # type: ignore[return-value]


def controls_from(
    generator: Generator, trained: Trained | Heads, params: Mapping[str, Any] | None = None, **options: Any
) -> FieldControl:
    """GradCtrl controls from trained heads (``build_controls`` options)."""
    heads = trained.heads if isinstance(trained, Trained) else trained
    extra = dict(params or {})
    if isinstance(trained, Trained):
        extra.setdefault("sampling", trained.sampling.describe())
    return build_controls(generator, heads, params=extra, **options)


SCORER_CHOICES = tuple(SCORERS)
ATTRIBUTES = Parameter(
    "attributes", "choices", ["brightness", "left-right", "warmth"], "Attributes (scorers)", choices=SCORER_CHOICES
)
SAMPLES = Parameter("num_samples", "int", 10_000, "Number of scored samples", minimum=16, flags=("--samples",))
FRACTION = Parameter("fraction", "float", 0.05, "Confident share kept per side / class", minimum=1e-4, maximum=0.5)
EPOCHS = Parameter("epochs", "int", 30, "Training epochs per head", minimum=1, maximum=10_000)
SEED = Parameter("seed", "int", 0, "Seed of the samples and the training", minimum=0)
TRUNCATION = Parameter(
    "truncation", "float", None, "Truncation ψ of the samples (default 0.4 in W, 1 in z)", minimum=0.01, maximum=1.0
)


def summary(control: FieldControl) -> str:
    """What a GradCtrl set is, briefly: each attribute with its validation accuracy, and what each control
    excludes."""
    heads = [
        f"{a['name']} {a['accuracy']:.2f}" if isinstance(a.get("accuracy"), float) else f"{a['name']} —"
        for a in control.params.get("attributes", [])
        if isinstance(a, dict) and "name" in a
    ]
    excluded = control.params.get("exclude", [])
    rows = []
    for name, budgets in zip(control.names, excluded, strict=False):
        names = ", ".join(budgets) if isinstance(budgets, dict) and budgets else "nothing"
        rows.append(f"{name} excludes {names}")
    return "; ".join(filter(None, ["validation accuracy " + ", ".join(heads) if heads else "", *rows]))


METHOD = Method(
    name="gradctrl",
    title="GradCtrl (gradient controls from attribute heads)",
    function=gradctrl,
    kind="field",
    parameters=(
        ATTRIBUTES,
        SAMPLES,
        FRACTION,
        EPOCHS,
        Parameter("exclude", "choice", "entangled", "Excluded attributes per control", choices=EXCLUDE),
        Parameter("top_k", "int", None, "Masked channels per excluded attribute (default d/4)", minimum=0),
        LAYERS,
        SEED,
        TRUNCATION,
    ),
    value_label=None,
    description="follow the gradient of small latent classifiers, masking channels other attributes rely on",
    summary=summary,
)


__all__ = [
    "METHOD",
    "build_controls",
    "control_targets",
    "controls_from",
    "exclusion_mask",
    "exclusions",
    "gradctrl",
    "gradient_step",
    "heads_of",
    "with_exclusions",
]
