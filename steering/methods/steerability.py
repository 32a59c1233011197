"""GAN steerability without optimization (Spingarn-Eliezer, Banner & Michaeli, ICLR 2021): geometric controls in
closed form from the weights of the first layer, ``y = A z + b(class)`` with ``y`` a C×H×W map.

For a transformation ``(P, D)`` on the map's grid (``spatial``), the new latent must satisfy
``D (A z' + b) ≈ P (A z + b)``:

* **linear** — one direction for every latent: ``q = (DA)⁺ (P − D) b`` (unit direction, ``‖q‖`` kept as its scale;
  one per class, as a constant field, for a class-conditional model with no class chosen); zero when the mean map
  has no structure the transformation moves (then it says so: use the nonlinear walk);
* **nonlinear** — solved exactly for each latent at each step: ``z ← M z + q`` with ``M = (DA)⁺ P A`` (an affine-map
  control: the slider ends at the natural end-point, the fixed point ``z* = (I − M)⁻¹ q`` when ``M``'s spectral
  radius is below 1); negative strengths apply the inverse transformation (zoom-out for zoom-in, …);
  ``keep_norm`` (the default) holds ‖z‖ at every step, so the walk stays among typical latents (without it, on a model
  whose mean map has no structure, such as the embedded faces, ``z*`` is the mean image);
* **other transformations forbidden** — each step is projected off the latent subspace along which the forbidden
  transformations move (their linear directions, and the principal directions of ``M_j − I``), so e.g. a zoom
  brings no translation; negative strengths take the inverse transformation's steps; **allowed** (the default) —
  the least squares over the whole latent, so whatever other transformation helps reach the target comes along.

The effective weights are read (batch norm folded, spectral norm applied); only H·W-square grid operators are built.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import Tensor

from ..controls import AffineControl, FieldControl, FieldInputs, LinearControl
from ..controls.affine import DEFAULT_STEPS, settled_after
from ..errors import InvalidValueError
from ..models.base import Generator, Z
from ..values import check_number
from .registry import CLASS_INDEX, Method, Parameter
from .spatial import INVERSES, TRANSFORMS, Transform, on_channels, transform

WALKS = ("nonlinear", "linear")
OTHERS = ("allow", "forbid")
#: A transformation whose change of the mean map is below this share of it "does not change the mean map".
MEAN_CHANGE_ZERO = 1e-6
#: Values per group of channels in the normal equations (float64: 4 MB).
CHUNK_VALUES = 1 << 19
#: The families a "forbid" removes by default: every family but the transformation's own.
FAMILIES = {"shift-x": "shift", "shift-y": "shift", "zoom": "zoom", "rotate": "rotate", "flip": "flip"}


@dataclass(frozen=True)
class FirstLayer:
    """``y = A z + b`` with ``y`` a C×H×W map (flat index channel-major); ``biases`` one row per class mix."""

    weight: Tensor  # A [C·H·W, d], float64
    biases: Tensor  # [K, C·H·W], float64 (K = 1 without classes)
    channels: int
    height: int
    width: int


def first_layer(generator: Generator, classes: Tensor | None = None) -> FirstLayer:
    """The first layer of ``generator`` as an affine map of z with a spatial layout (``classes`` [K, num_classes]:
    the biases of those class mixes; default the mean class). Style-based models read w through per-layer styles:
    this map does not exist there, and the error says what applies instead."""
    projections = [p for p in generator.latent_projections() if p.space == Z and p.shape is not None]
    if not projections or len(projections[0].shape or ()) != 3:
        raise InvalidValueError(
            f"{generator.identity.name} has no first layer that maps z to a spatial grid (style-based models read w "
            "through per-layer styles): geometric steering applies to DCGAN, BigGAN-deep and PGGAN models; for "
            "style-based models use SeFa or GANSpace on a layer range"
        )
    projection = projections[0]
    channels, height, width = projection.shape  # type: ignore[misc]
    if generator.num_classes and classes is None:
        classes = torch.full((1, generator.num_classes), 1.0 / generator.num_classes)
    biases = generator.first_layer_bias(classes).double()
    return FirstLayer(projection.weight.double(), biases, channels, height, width)


@dataclass(frozen=True)
class Solution:
    """One transformation solved on a first layer: the linear direction(s) and the nonlinear map."""

    name: str
    linear: Tensor  # q [K, d], one per class mix
    matrix: Tensor  # M [d, d]
    offsets: Tensor  # q [K, d] (the same q: the affine offset)
    mean_change: float  # ‖(P − D) b‖ / ‖b‖: how much the transformation changes the mean map


def solve(layer: FirstLayer, step: Transform, forbidden: Tensor | None = None, damping: float = 0.0) -> Solution:
    """Least squares ``D (A z' + b) ≈ P (A z + b)`` in closed form, through the normal equations
    ``G = (DA)ᵀDA`` (d × d). ``forbidden`` [d, r]: an orthonormal basis the move must stay off (``z' − z ⊥`` it);
    ``damping`` λ (a share of G's largest eigenvalue) adds ``λ‖z' − z‖²``: shorter steps towards the same end-point."""
    gram, coupling, change = _normal_equations(layer, step)
    d = gram.shape[0]
    eye = torch.eye(d, dtype=torch.float64)
    basis = eye if forbidden is None else _complement(forbidden)
    inverse = basis @ _damped_pinv(basis.T @ gram @ basis, damping) @ basis.T
    matrix = eye + inverse @ coupling
    offsets = change @ inverse.T
    bias_change = on_channels(
        step.target[step.constrained] - step.constraint[step.constrained], layer.biases.T, layer.channels
    )
    mean_change = float(bias_change.norm() / layer.biases.norm().clamp_min(1e-300))
    return Solution(step.name, offsets, matrix, offsets, mean_change)


def _normal_equations(layer: FirstLayer, step: Transform) -> tuple[Tensor, Tensor, Tensor]:
    """``(G, K, h)`` with ``G = (DA)ᵀDA``, ``K = (DA)ᵀ(PA − DA)``, ``h = (DA)ᵀ(P − D)b`` [K, d]: the step from ``z`` is
    ``G⁺ (K z + h)`` (``M z + q − z``). Accumulated over groups of channels, so no C·H·W × d product is held: the
    extra memory is a few MB whatever the size of the first layer."""
    rows = step.constrained
    d_rows, p_rows = step.constraint[rows], step.target[rows]
    dim, spatial = layer.weight.shape[1], layer.height * layer.width
    weight = layer.weight.reshape(layer.channels, spatial, dim)
    biases = layer.biases.reshape(len(layer.biases), layer.channels, spatial)
    gram = torch.zeros(dim, dim, dtype=torch.float64)
    coupling = torch.zeros(dim, dim, dtype=torch.float64)
    change = torch.zeros(len(biases), dim, dtype=torch.float64)
    group = max(1, CHUNK_VALUES // (len(rows) * dim))
    for first in range(0, layer.channels, group):
        a = weight[first : first + group]
        da = torch.matmul(d_rows, a).reshape(-1, dim)  # [c, R, d]: the operator on every channel of the group
        pa = torch.matmul(p_rows, a).reshape(-1, dim)
        moved = biases[:, first : first + group] @ (p_rows - d_rows).T  # [K, c, R]
        gram += da.T @ da
        coupling += da.T @ (pa - da)
        change += moved.reshape(len(biases), -1) @ da
    return gram, coupling, change


def _complement(basis: Tensor) -> Tensor:
    """An orthonormal basis of the orthogonal complement of ``basis`` [d, r] (orthonormal columns)."""
    d = basis.shape[0]
    projector = torch.eye(d, dtype=torch.float64) - basis @ basis.T
    u, s, _ = torch.linalg.svd(projector)
    return u[:, s > 0.5]


def family(name: str) -> str:
    """The kind of motion of one transformation (``shift``, ``zoom``, ``rotate``, ``flip``)."""
    base = name.rstrip("+-")
    return next((f for prefix, f in FAMILIES.items() if base.startswith(prefix)), base)


def families(name: str) -> set[str]:
    """The kinds of motion of a transformation or composition (``shift-x+∘zoom-in``: shift and zoom)."""
    return {family(part) for part in name.split("∘")}


def steerability(
    generator: Generator,
    transformations: Sequence[str] = ("shift-x+", "shift-y+", "zoom-in"),
    walk: str = "nonlinear",
    others: str = "allow",
    forbid: Sequence[str] = (),
    keep_norm: bool = True,
    damping: float = 0.0,
    class_index: int | None = None,
) -> AffineControl | FieldControl | LinearControl:
    """One control per transformation (see the module docstring). ``forbid``: which transformations ``others=
    "forbid"`` keeps out (default: every other family's shifts, zooms, turns and flips). ``keep_norm`` (the default)
    holds ‖z‖ at every nonlinear step, so the walk stays among typical latents; without it the walk is the paper's
    plain affine map, which ends at its fixed point (the mean image where the transformation does not change the
    mean map: the embedded faces). ``damping``: shorter nonlinear steps towards the same end-point (0: the paper's
    exact least squares)."""
    names = [_canonical(str(n)) for n in transformations if str(n).strip()]
    if not names:
        raise InvalidValueError("choose at least one transformation")
    if walk not in WALKS or others not in OTHERS:
        raise InvalidValueError(f"walk must be one of {WALKS} and others one of {OTHERS}")
    forbid = _check_forbid(names, forbid)
    classes = _classes(generator, class_index)
    layer = first_layer(generator, classes)
    damping = check_number(damping, "the damping", 0.0, 1e6)
    if walk == "linear" and damping:
        raise InvalidValueError("damping shortens the nonlinear walk's steps: the linear walk has none (set it to 0)")
    solved = {n: solve(layer, transform(n, layer.height, layer.width), damping=damping) for n in names}
    keep = bool(keep_norm)
    params = {
        "transformations": names,
        "walk": walk,
        "others": others,
        "forbid": list(forbid),
        "keep_norm": keep,
        "damping": damping,
        "class_index": class_index,
    }
    common = {"space": Z, "method": "steerability", "model": generator.identity, "params": params}
    names_shown = [_label(n) for n in names]
    values = torch.tensor([s.mean_change for s in solved.values()])
    if walk == "linear":
        if others == "forbid":
            solved = {
                n: solve(layer, transform(n, layer.height, layer.width), _linear_forbidden(layer, n, forbid))
                for n in names
            }
        return _linear_controls(solved, common)
    if others == "forbid":
        return forbidding_field(layer, names, list(forbid), keep, damping, common, names_shown, values)
    backward = _backward(layer, names, damping)
    still = Solution(
        "none",
        solved[names[0]].offsets * 0,
        torch.eye(layer.weight.shape[1], dtype=torch.float64),
        solved[names[0]].offsets * 0,
        0.0,
    )  # no backward map: negative strengths leave z as it is
    control = AffineControl(
        matrices=torch.stack([solved[n].matrix for n in names]).float(),
        offsets=torch.stack([_offsets(solved[n]) for n in names]).float(),
        backward_matrices=torch.stack([(b or still).matrix for b in backward]).float(),
        backward_offsets=torch.stack([_offsets(b or still) for b in backward]).float(),
        keep_norm=keep,
        names=names_shown,
        values=values,
        **common,
    )
    if all(backward):
        return control
    ends = [control.range_of(i) for i in range(len(names))]
    ranges = [[low if b is not None else 0.0, high] for b, (low, high) in zip(backward, ends, strict=True)]
    return dataclasses.replace(control, ranges=torch.tensor(ranges))


def _canonical(name: str) -> str:
    """A transformation's name with compositions written ``a∘b`` (``a*b`` is accepted)."""
    return "∘".join(part.strip() for part in name.replace("*", "∘").split("∘"))


def _inverse(name: str) -> str | None:
    """The transformation that undoes ``name``: ``(a∘b)⁻¹ = b⁻¹∘a⁻¹``; ``None`` where that does not compose (a
    composition with a zoom: zoom-out does not compose)."""
    parts = [INVERSES.get(part) for part in reversed(name.split("∘"))]
    if any(part is None for part in parts) or (len(parts) > 1 and "zoom-out" in parts):
        return None
    return "∘".join(parts)  # type: ignore[arg-type]


def _backward(layer: FirstLayer, names: list[str], damping: float) -> list[Solution | None]:
    """The inverse transformation of each (negative strengths); ``None`` where there is none."""
    inverses = [_inverse(n) for n in names]
    return [
        None if i is None else solve(layer, transform(i, layer.height, layer.width), damping=damping) for i in inverses
    ]


def _classes(generator: Generator, class_index: int | None) -> Tensor | None:
    """One-hot for the chosen class, every class (class-conditional offsets) when none is chosen, else ``None``."""
    if not generator.num_classes:
        if class_index is not None:
            raise InvalidValueError(f"{generator.identity.name} is not class-conditional: it takes no class")
        return None
    eye = torch.eye(generator.num_classes)
    if class_index is None:
        return eye
    if not 0 <= int(class_index) < generator.num_classes:
        raise InvalidValueError(f"class index must be in [0, {generator.num_classes}), got {class_index}")
    return eye[int(class_index) : int(class_index) + 1]


def _offsets(solution: Solution) -> Tensor:
    """[d], or [C, d] per class when the model is class-conditional and every class was solved."""
    return solution.offsets[0] if len(solution.offsets) == 1 else solution.offsets


def _forbidden_names(name: str, forbid: Sequence[str]) -> list[str]:
    """The transformations ``name`` must not bring along: those of ``forbid`` of another kind of motion than its own
    (default: every other family's)."""
    own = families(name)
    if forbid:
        return [t for t in forbid if family(t) not in own]
    return [t for t in TRANSFORMS if family(t) not in own and t != "zoom-in-mask"]


def _check_forbid(names: Sequence[str], forbid: Sequence[str]) -> list[str]:
    """``forbid`` as known transformations, each of which some chosen transformation can forbid (a transformation
    never forbids its own kind of motion: ``zoom-in`` beside ``shift-x+`` with ``forbid=[shift-x+]`` is a zoom
    without shift next to a shift)."""
    chosen = [_canonical(str(t)) for t in forbid if str(t).strip()]
    for t in chosen:
        if t not in TRANSFORMS:
            raise InvalidValueError(f"unknown transformation to forbid {t[:40]!r}; known: {', '.join(TRANSFORMS)}")
        if all(family(t) in families(n) for n in names):
            raise InvalidValueError(
                f"{t} is the kind of motion of every chosen transformation ({', '.join(names)}): none can forbid it"
            )
    return chosen


def _linear_forbidden(layer: FirstLayer, name: str, forbid: Sequence[str]) -> Tensor | None:
    """An orthonormal basis of the forbidden transformations' linear directions (those that are not zero)."""
    found = [solve(layer, transform(t, layer.height, layer.width)).linear for t in _forbidden_names(name, forbid)]
    if not found:
        return None
    rows = torch.cat(found)
    rows = rows[rows.norm(dim=1) > 1e-9]
    if not len(rows):
        return None
    q, r = torch.linalg.qr(rows.T)
    return q[:, r.diagonal().abs() > 1e-9]


def _linear_controls(solved: dict[str, Solution], common: dict) -> LinearControl | FieldControl:
    """One unit direction per transformation (its length ``‖q‖`` kept as its scale). Where every class of a
    class-conditional model was solved, each class has its own direction: a constant field per class, so a latent
    moves along its own class's ``q`` (their average can point far from each)."""
    vectors, scales = [], []
    for name, solution in solved.items():
        q = solution.linear  # [K, d]: one row per class solved
        lengths = q.norm(dim=1)
        if float(lengths.max()) <= 1e-9 or solution.mean_change <= MEAN_CHANGE_ZERO:
            raise InvalidValueError(
                f"the linear direction of {name} is zero for this model: its first layer's mean map has no spatial "
                f"structure that {name} moves (the change (P − D)·b is {solution.mean_change:.1e} of b), so no "
                f"constant move of z does it; use walk='nonlinear', which solves for each latent"
            )
        vectors.append(q / lengths.clamp_min(1e-12)[:, None])
        scales.append(lengths)
    names = [_label(n) for n in solved]
    values = torch.tensor([s.mean_change for s in solved.values()])
    if len(vectors[0]) == 1:
        scale = torch.stack(scales)[:, 0]
        reach = float(3 * scale.max())
        return LinearControl(
            vectors=torch.stack(vectors)[:, 0].float(),
            scales=scale,
            names=names,
            values=values,
            strength_range=(-reach, reach),
            **common,
        )
    reach = 3 * torch.stack(scales).max(dim=1).values
    params = {**common.pop("params"), "per_class": True, "scales": torch.stack(scales).tolist()}
    return FieldControl(
        field="constant",
        tensors={"directions": torch.stack(vectors).float()},  # [k, C, d]
        count=len(vectors),
        latent_dim=vectors[0].shape[1],
        step_size=float(reach.max()),  # a constant field: one step is exact
        normalise=True,
        names=names,
        values=values,
        ranges=torch.stack([-reach, reach], dim=1).float(),
        params=params,
        **common,
    )


LABELS = {
    "shift-x+": "shift x (content left)",
    "shift-x-": "shift x (content right)",
    "shift-y+": "shift y (content up)",
    "shift-y-": "shift y (content down)",
    "zoom-in": "zoom in",
    "zoom-out": "zoom out",
    "zoom-in-mask": "zoom in (mask)",
    "rotate+": "turn counter-clockwise",
    "rotate-": "turn clockwise",
    "flip-x": "mirror left-right",
    "flip-y": "mirror top-bottom",
}


def _label(name: str) -> str:
    return " then ".join(LABELS.get(part, part) for part in reversed(name.split("∘")))


METHOD = Method(
    name="steerability",
    title="Steerability (geometric, closed form)",
    function=steerability,
    kind="affine",
    parameters=(
        Parameter(
            "transformations", "choices", ["shift-x+", "shift-y+", "zoom-in"], "Transformations", choices=TRANSFORMS
        ),
        Parameter(
            "walk",
            "choice",
            "nonlinear",
            "Walk (nonlinear: solved at every step; linear: one direction)",
            choices=WALKS,
        ),
        Parameter("others", "choice", "allow", "Other transformations (forbid: projected out)", choices=OTHERS),
        Parameter("forbid", "choices", [], "Which to forbid (default: all other kinds)", choices=TRANSFORMS),
        Parameter("keep_norm", "bool", True, "Keep ‖z‖ at every nonlinear step"),
        Parameter("damping", "float", 0.0, "Damping (shorter nonlinear steps, same end-point)", minimum=0, maximum=1e6),
        CLASS_INDEX,
    ),
    value_label="change of the mean map",
    description="closed-form shift, zoom, turn and flip controls from the first layer's weights, linear or nonlinear",
)


# ----- nonlinear walk with other transformations forbidden: a field, solved per latent at every step ---------------
def forbidding_field(
    layer: FirstLayer,
    names: list[str],
    forbid: list[str],
    keep_norm: bool,
    damping: float,
    common: dict,
    names_shown: list[str],
    values: Tensor,
) -> FieldControl:
    """The nonlinear walk whose every step is the least squares with the forbidden transformations' moves at the
    current latent (``M_j z + q_j − z``) held out: ``δ ⊥ t_j(z)``. One unit of strength is one such step; a
    negative strength takes the inverse transformation's steps (zoom-out for zoom-in), and starts at 0 where there is
    none (a composition with a zoom). Rows ``count…`` of the equations are the inverses (``backward``: each
    control's row, −1 for none)."""
    inverses = [_inverse(n) for n in names]
    extra = [i for i in inverses if i is not None]
    backward = []
    for inverse in inverses:
        backward.append(-1 if inverse is None else len(names) + extra.index(inverse))
    rows = [*names, *extra]
    blocked = [_forbidden_names(n, forbid) for n in rows]
    union = sorted({t for ts in blocked for t in ts})
    equations = [_normal_equations(layer, transform(n, layer.height, layer.width)) for n in rows]
    others = [solve(layer, transform(t, layer.height, layer.width)) for t in union]
    tensors = {
        "gram_pinv": torch.stack([_damped_pinv(g, damping) for g, _, _ in equations]).float(),
        "coupling": torch.stack([k for _, k, _ in equations]).float(),
        "change": torch.stack([_offsets_of(h) for _, _, h in equations]).float(),
        "forbid_matrices": torch.stack([o.matrix for o in others]).float(),
        "forbid_offsets": torch.stack([_offsets(o) for o in others]).float(),
        "forbid_mask": torch.tensor([[float(t in ts) for t in union] for ts in blocked]),
        "backward": torch.tensor(backward, dtype=torch.float32),
    }
    params = {**common.pop("params"), "keep_norm_applied": keep_norm, "forbidden": union}
    control = FieldControl(
        field="steerability",
        tensors=tensors,
        count=len(names),
        latent_dim=layer.weight.shape[1],
        step_size=1.0,
        normalise=False,
        names=names_shown,
        values=values,
        params=params,
        **common,
    )
    ranges = [
        [-_settling(control, i, -1.0) if b >= 0 else 0.0, _settling(control, i, 1.0)] for i, b in enumerate(backward)
    ]
    return dataclasses.replace(control, ranges=torch.tensor(ranges))


def check_control(control: FieldControl) -> None:
    """A forbidding field's tensors fit together (``FIELD_CHECKS``): a damaged file is refused when it loads."""
    t, d = control.tensors, control.latent_dim
    needed = ("gram_pinv", "coupling", "change", "forbid_matrices", "forbid_offsets", "forbid_mask")
    if any(name not in t for name in needed):
        raise InvalidValueError(f"a steerability field needs the tensors {', '.join(needed)}")
    rows = len(t["gram_pinv"])
    square = all(t[n].ndim == 3 and tuple(t[n].shape[1:]) == (d, d) for n in ("gram_pinv", "coupling"))
    if not square or len(t["coupling"]) != rows or len(t["change"]) != rows or rows < control.count:
        raise InvalidValueError(f"its least-squares tensors do not fit {control.count} controls of a {d}-d latent")
    forbidden = len(t["forbid_matrices"])
    if tuple(t["forbid_mask"].shape) != (rows, forbidden) or t["forbid_matrices"].shape[1:] != (d, d):
        raise InvalidValueError("its forbidden transformations do not fit its mask")
    back = t.get("backward")
    if back is not None and (
        tuple(back.shape) != (control.count,) or bool(((back < -1) | (back >= rows) | (back != back.round())).any())
    ):
        raise InvalidValueError("its inverse transformations (backward) name rows it does not have")


def _damped_pinv(gram: Tensor, damping: float) -> Tensor:
    extra = damping * float(torch.linalg.eigvalsh(gram).max()) if damping else 0.0
    return torch.linalg.pinv(gram + extra * torch.eye(len(gram), dtype=torch.float64), hermitian=True)


def _offsets_of(rows: Tensor) -> Tensor:
    return rows[0] if len(rows) == 1 else rows


def forbidden_step(generator: Generator, x: Tensor, inputs: FieldInputs) -> Tensor:
    """The field of ``forbidding_field``: one constrained least-squares step from each latent of ``x`` [N, d]; on
    paths going backwards, minus the inverse transformation's step (so ``x − f̂`` takes it). A file without the
    inverses (``backward``) walks its own step back."""
    t = inputs.tensors
    back = int(t["backward"][inputs.index]) if "backward" in t else -1
    backwards = None if inputs.sign is None or back < 0 else (inputs.sign < 0).to(x.device)
    if backwards is None or not bool(backwards.any()):
        return _constrained_step(t, inputs.index, x, inputs)
    behind = -_constrained_step(t, back, x, inputs)
    if bool(backwards.all()):  # a slider moved below 0: only the inverse's steps are needed
        return behind
    return torch.where(backwards[:, None], behind, _constrained_step(t, inputs.index, x, inputs))


def _constrained_step(t: Mapping[str, Tensor], i: int, x: Tensor, inputs: FieldInputs) -> Tensor:
    """Row ``i``'s least-squares step from each latent of ``x``, the forbidden moves held out (``forbidding_field``)."""
    z = x.double()
    n = len(z)
    gram = t["gram_pinv"][i].double()
    g = z @ t["coupling"][i].double().T + _per_latent(t["change"][i], inputs.classes, n)
    free = g @ gram.T  # δ0 = G⁺ g, the unconstrained step
    mask = t["forbid_mask"][i] > 0
    moves = [
        z @ m.double().T + _per_latent(q, inputs.classes, n) - z
        for m, q, on in zip(t["forbid_matrices"], t["forbid_offsets"], mask, strict=True)
        if on
    ]
    step = free
    if moves:
        held = torch.stack(moves, dim=2)  # [N, d, J]
        system = held.transpose(1, 2) @ (gram @ held)  # Tᵀ G⁺ T
        rhs = held.transpose(1, 2) @ free[:, :, None]
        lam = torch.linalg.lstsq(system, rhs).solution
        step = free - (gram @ held @ lam)[:, :, 0]
    if inputs.params.get("keep_norm_applied"):
        moved = z + step
        step = moved * (z.norm(dim=1, keepdim=True) / moved.norm(dim=1, keepdim=True).clamp_min(1e-12)) - z
    return step.to(x)


def _per_latent(offsets: Tensor, classes: Tensor | None, n: int) -> Tensor:
    """[n, d] offsets: shared, or each latent's class mixture of per-class ones [C, d]."""
    offsets = offsets.double()
    if offsets.ndim == 1:
        return offsets.expand(n, -1)
    if classes is None:
        raise InvalidValueError("this control's offset depends on the class: the latents carry no class")
    return classes.double() @ offsets


def _settling(control: FieldControl, index: int, sign: float, probes: int = 32) -> float:
    """Steps until the walk of seeded Gaussian latents has settled (``settled_after``; at most 2·DEFAULT_STEPS)."""
    z = torch.randn(probes, control.dim, generator=torch.Generator().manual_seed(0))
    change = control.tensors["change"][index]
    classes = torch.full((probes, change.shape[0]), 1.0 / change.shape[0]) if change.ndim == 2 else None
    inputs = FieldInputs(index, control.tensors, control.params, classes, sign=torch.full((probes,), sign))
    steps = settled_after(lambda x: sign * forbidden_step(None, x, inputs), z, 2 * DEFAULT_STEPS)  # type: ignore[arg-type]
    return float(steps or 2 * DEFAULT_STEPS)
