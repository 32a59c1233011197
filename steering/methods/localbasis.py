"""Local Basis (Choi et al., ICLR 2022, "Do Not Escape From the Manifold"): at one latent, the ordered local
coordinates of the learned manifold, from the singular vectors of the Jacobian of a *partial network* ``f``.

* ``f`` maps the latent the user starts from (``z``, or ``w`` for a style-based model started in w) to one named
  feature of the generator (``Generator.features``), with the class, truncation and noise of the start held fixed:
  for style-based models the mapping network ``z ↦ w`` (the paper's choice, 512×512 for StyleGAN2); for the DCGANs
  and BigGAN-deep an intermediate feature map (by default the middle one), at the start's class.
* ``J = ∂f/∂z = U Σ Vᵀ``: the singular values ``σ`` (descending), the output-side basis ``U`` (the local basis of
  the paper: the tangent directions of ``f(Z)`` at ``f(z)``) and the latent-side directions ``V`` that move along them.
  Computed exactly (``jacobian.exact``) or, for a large Jacobian, by the top-k solver (``jacobian.top_k``).

The method (``METHOD``) turns the basis at a starting point into controls: the **iterative curve traversal** (a field
control: the basis is re-estimated at every step, ``ict``), its **guided** stochastic variant (following a global
SeFa or GANSpace direction through the local bases), or the **linear local traversal** (a linear control: ``w + t·u``
in the selected W+ layers where ``f``'s output is w, else ``z + t·v``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..controls import Control, FieldControl, LinearControl
from ..errors import InvalidValueError
from ..models.base import WPLUS, Generator, Latents, Noise, W, Z
from ..values import check_count, check_number, check_seed, check_truncation, layer_range
from . import jacobian
from .common import canonical_signs, latent_spread, strength_range
from .registry import LAYERS, NUM_DIRECTIONS, Method, Parameter

TRAVERSALS = ("iterative", "guided", "linear")
#: How fast an iterative traversal moves: ``output`` keeps f's output speed constant (the paper's scaled steps),
#: ``latent`` takes unit steps in the latent.
SPEEDS = ("output", "latent")
GUIDES = ("sefa", "ganspace")
#: Extra local directions searched when a step re-identifies the one it follows (beyond the controls' own).
SEARCH_MARGIN = 8
#: Local directions a guided step chooses among (the paper: 100 of StyleGAN2's 512), at most the basis' dimension.
GUIDED_SEARCH = 32
#: The class parameter (the same as the other methods' class_index).
CLASS_INDEX = Parameter(
    "class_index", "int", None, "Class index (class-conditional models; empty: each seed's own)", minimum=0
)


# ----- the partial network ------------------------------------------------------------------------------------------
def default_feature(generator: Generator, space: str = Z) -> str:
    """The feature ``f`` outputs by default: ``w`` for a style-based model started in z (the mapping network), else
    the middle intermediate feature (a nonlinear function of the latent: the first layer alone is affine)."""
    names = [n for n in generator.feature_names() if n != "image"]
    if space == Z and "w" in names:
        return "w"
    names = [n for n in names if n != "w"]
    if not names:
        raise InvalidValueError(f"{generator.identity.name} names no intermediate feature for a local basis")
    return names[len(names) // 2]


@dataclass(frozen=True)
class PartialNetwork:
    """``f``: latent rows [b, d] (in ``space``) ↦ the feature, flattened [b, m], at a fixed class, ψ and noise."""

    generator: Generator
    feature: str
    space: str
    classes: Tensor | None  # [1, C]
    truncation: float
    noise: Noise

    def __call__(self, x: Tensor) -> Tensor:
        classes = None if self.classes is None else self.classes.to(x).expand(len(x), -1)
        latents = Latents(x, self.space, classes, self.truncation, self.noise)
        return self.generator.features(latents, [self.feature])[self.feature].flatten(1)

    @property
    def output_is_latent(self) -> bool:
        """Whether ``f``'s output is a latent space the model edits (w, from z): then the output-side basis is a set
        of directions in it."""
        return self.feature == W and self.space == Z


def partial_network(generator: Generator, latents: Latents, feature: str | None = None) -> PartialNetwork:
    """``f`` at the class, truncation and noise of ``latents`` (one latent, in z, or in w for style-based models)."""
    if len(latents) != 1:
        raise InvalidValueError(f"a local basis is computed at one latent, got {len(latents)}")
    if latents.space == WPLUS:
        raise InvalidValueError(
            "a local basis needs the latent as one vector (z, or w): this starting point holds one w per layer (w+)"
        )
    feature = feature or default_feature(generator, latents.space)
    generator.check_features([feature])
    if feature == "image":
        raise InvalidValueError("choose an intermediate feature: the image's Jacobian is far too large to be useful")
    if feature == W and latents.space != Z:
        raise InvalidValueError("the mapping network's local basis (feature w) needs a starting point in z")
    classes = None if latents.classes is None else latents.classes[:1].detach()
    return PartialNetwork(generator, feature, latents.space, classes, float(latents.truncation), latents.noise)


# ----- the basis ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalBasis:
    """The top ``k`` singular triplets of ``∂f/∂x`` at one latent ``x``."""

    network: PartialNetwork
    point: Tensor  # x [d]
    values: Tensor  # σ [k], descending
    output: Tensor  # U [m, k]: the local basis (output side)
    latent: Tensor  # V [d, k]: the directions in the latent that move along U
    products: int  # Jacobian-vector products it took
    exact: bool

    def __len__(self) -> int:
        return int(self.values.numel())


def local_basis(
    generator: Generator,
    latents: Latents,
    k: int = 10,
    feature: str | None = None,
    solver: str = "auto",
    **options: int,
) -> LocalBasis:
    """The local basis of ``f`` (``partial_network``) at ``latents`` (one latent): the top ``k`` triplets, signs fixed
    (each latent-side direction's largest entry positive). ``solver``: ``exact``, ``top-k`` or ``auto``; ``options``
    go to the top-k solver (``oversample``, ``iterations``, ``seed``)."""
    network = partial_network(generator, latents, feature)
    return basis_of(network, latents.codes[0], k, solver, **options)


def basis_of(network: PartialNetwork, x: Tensor, k: int, solver: str = "auto", **options: int) -> LocalBasis:
    """``local_basis`` for a given partial network at the latent vector ``x`` [d]."""
    found = jacobian.triplets(network, x.detach(), k, solver, **options)
    right = canonical_signs(found.right.T).T
    flip = torch.sign((right * found.right).sum(0))
    return LocalBasis(network, x.detach(), found.values, found.left * flip, right, found.products, found.exact)


def start_latents(
    generator: Generator,
    seed: int = 0,
    truncation: float = 1.0,
    class_index: int | None = None,
    noise: Noise | None = None,
) -> Latents:
    """A seeded starting point in z (style-based models too: their mapping network is the partial network)."""
    psi = check_truncation(truncation)
    sample = generator.sample(1, seed=check_seed(seed), truncation=psi, space=Z, class_index=class_index)
    return sample.replace(noise=noise or Noise())


def latents_of(generator: Generator, start: Any) -> Latents:
    """The latent a basis is computed at: a ``Seed``'s sample in z (style-based models too), a latents file's codes
    (``LatentsFile``, checked against the model), or ``Latents`` as they are."""
    from ..start import Seed

    if isinstance(start, Seed):
        return start_latents(generator, start.seed, start.truncation, start.class_index, start.noise)
    if isinstance(start, Latents):
        return start
    return start.latents(generator)


# ----- the method ---------------------------------------------------------------------------------------------------
def localbasis(
    generator: Generator,
    num_directions: int = 10,
    traversal: str = "iterative",
    feature: str | None = None,
    guide: str = "sefa",
    layers: str | Sequence[int] = "all",
    seed: int = 0,
    truncation: float = 1.0,
    class_index: int | None = None,
    step_size: float = 0.25,
    speed: str = "output",
    randomness: float = 0.2,
    solver: str = "auto",
    *,
    start: Latents | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Control:
    """Controls from the local basis at a starting point (``start``, else the seed's latent in z): see the module
    docstring. ``traversal``: ``iterative`` (ICT, a field control; ``step_size`` latent units per re-estimated step,
    ``speed="output"`` rescales each by ``σ_ref/σ_j`` so f's output moves evenly, ``"latent"`` keeps unit latent
    steps), ``guided`` (the stochastic ICT following ``guide``'s global directions, each step scaled by a factor drawn
    from [``randomness``, 2 − ``randomness``]) or ``linear``. ``progress(done, total)`` around the basis."""
    if traversal not in TRAVERSALS:
        raise InvalidValueError(f"the traversal must be one of {list(TRAVERSALS)}, got {str(traversal)[:20]!r}")
    if speed not in SPEEDS:
        raise InvalidValueError(f"the speed must be one of {list(SPEEDS)}, got {str(speed)[:20]!r}")
    if start is None:
        start = start_latents(generator, seed, truncation, class_index)
    network = partial_network(generator, start, feature)
    d = int(start.codes.shape[-1])
    k = check_count(num_directions, "the number of directions", 1, d)
    step_size = check_number(step_size, "the step size", 1e-3, 10.0)
    randomness = check_number(randomness, "the randomness", 0.0, 1.0)
    used = layer_range(generator, layers)
    if progress is not None:
        progress(0, 1)
    with torch.no_grad():
        rank = min(d, int(network(start.codes[:1]).shape[1]))
    if k > rank:
        raise InvalidValueError(
            f"{network.feature} has {rank} values per sample: its local basis has at most {rank} directions, not {k}"
        )
    search = min(rank, k + SEARCH_MARGIN if traversal != "guided" else max(k + SEARCH_MARGIN, GUIDED_SEARCH))
    basis = basis_of(network, start.codes[0], min(search, rank), solver)
    if not float(basis.values[0]) > 0:
        raise InvalidValueError(
            f"{network.feature} does not change around this starting point (its Jacobian is zero there: every unit "
            "before it is inactive), so it has no local directions; start from another latent"
        )
    if progress is not None:
        progress(1, 1)
    params: dict[str, Any] = {
        "num_directions": k,
        "traversal": traversal,
        "feature": network.feature,
        "start": _describe(start),
        "solver": solver,
        "search": search,
        "speed": speed if traversal == "iterative" else "latent",
        "truncation": network.truncation,
        "noise": network.noise.describe(),
    }
    common = {"method": "localbasis", "model": generator.identity, "values": basis.values[:k].float()}
    if traversal == "linear":
        return _linear(generator, network, basis, k, used, params, common)
    if len(used) != generator.num_layers:
        raise InvalidValueError(
            "an iterative traversal moves the latent every W+ layer reads: it cannot be limited to some layers "
            "(the linear traversal can, and so can the ICT strips of the Analyze tab and the `basis` command)"
        )
    spread = latent_spread(generator, network.space, basis.latent[:, :k].T.float().contiguous().to(generator.device))
    reference = {"reference": basis.latent[:, :k].T.float(), "scale": basis.values[:k].float()}
    field = {"field": "local-basis", "tensors": reference, "count": k}
    names = [f"local {i} (ICT)" for i in range(k)]
    if traversal == "guided":
        field, names = _guided(generator, network, k, guide, used, params, randomness, seed)
    return FieldControl(
        space=network.space,
        latent_dim=d,
        step_size=step_size,
        normalise=False,
        names=names,
        params=params,
        strength_range=strength_range(spread.cpu(), 3.0),
        **field,
        **common,
    )


def _describe(start: Latents) -> dict[str, Any]:
    from ..start import latents_sha256

    return {"space": start.space, "latents_sha256": latents_sha256(start)}


def _linear(
    generator: Generator,
    network: PartialNetwork,
    basis: LocalBasis,
    k: int,
    used: tuple[int, ...],
    params: dict[str, Any],
    common: dict[str, Any],
) -> LinearControl:
    """``w + t·u`` in the selected W+ layers where ``f``'s output is w, else ``x + t·v`` in the latent."""
    if network.output_is_latent:
        vectors, space = basis.output[:, :k].T, W
    else:
        vectors, space = basis.latent[:, :k].T, network.space
    if space == Z and len(used) != generator.num_layers:
        raise InvalidValueError(
            f"the local basis of {network.feature!r} moves z, which every W+ layer reads: it cannot be limited to "
            "some layers (the basis of w can, or of a synthesis block from a start in w)"
        )
    vectors = vectors.float().contiguous()
    spread = latent_spread(generator, space, vectors.to(generator.device))
    layered = space != Z and generator.num_layers > 1
    return LinearControl(
        vectors=vectors,
        space=space,
        names=[f"local {i}" for i in range(k)],
        params={**params, "layers": list(used)},
        layers=used if layered else None,
        strength_range=strength_range(spread.cpu()),
        **common,
    )


def _guided(
    generator: Generator,
    network: PartialNetwork,
    k: int,
    guide: str,
    used: tuple[int, ...],
    params: dict[str, Any],
    randomness: float,
    seed: int,
) -> tuple[dict[str, Any], list[str]]:
    """The field of the guided traversal: one control per global direction of ``guide`` (SeFa or GANSpace)."""
    from . import METHODS

    if guide not in GUIDES:
        raise InvalidValueError(f"the guide must be one of {list(GUIDES)}, got {str(guide)[:20]!r}")
    found = METHODS[guide].run(generator, {"num_directions": k, "layers": list(used)})
    if found.space == network.space:
        side = "latent"
    elif network.output_is_latent and found.space == W:
        side = "output"
    else:
        raise InvalidValueError(
            f"{guide}'s directions live in {found.space}, which is neither the latent nor the output of the partial "
            f"network ({network.space} → {network.feature}); choose the feature w (style-based models)"
        )
    params.update(guide=guide, guide_side=side, randomness=randomness, guide_seed=check_seed(seed))
    field = {"field": "local-basis-guided", "tensors": {"guide": found.vectors.float()}, "count": len(found)}
    return field, [f"{name} (guided)" for name in found.names]


METHOD = Method(
    name="localbasis",
    title="Local Basis (Jacobian of a partial network)",
    function=localbasis,
    kind="field",
    parameters=(
        NUM_DIRECTIONS,
        Parameter("traversal", "choice", "iterative", "Traversal (iterative: ICT; guided; linear)", choices=TRAVERSALS),
        Parameter("feature", "feature", None, "Partial network's output (default: w, or the middle feature)"),
        Parameter("guide", "choice", "sefa", "Global directions a guided traversal follows", choices=GUIDES),
        LAYERS,
        Parameter("seed", "int", 0, "Sampling seed", minimum=0),
        Parameter("truncation", "float", 1.0, "Truncation ψ of the starting point", minimum=0.01, maximum=1.0),
        CLASS_INDEX,
        Parameter("step_size", "float", 0.25, "ICT step (latent units per basis)", minimum=1e-3, maximum=10.0),
        Parameter("speed", "choice", "output", "ICT speed (output: f's output moves evenly)", choices=SPEEDS),
        Parameter("randomness", "float", 0.2, "Guided: step factors drawn from [a, 2 − a]", minimum=0.0, maximum=1.0),
        Parameter("solver", "choice", "auto", "Jacobian: exact, top-k (randomized) or auto", choices=jacobian.SOLVERS),
    ),
    value_label="singular values",
    description="the local basis of a partial network at the starting point: iterative (ICT), guided or linear",
)

__all__ = [
    "GUIDES",
    "METHOD",
    "TRAVERSALS",
    "LocalBasis",
    "PartialNetwork",
    "basis_of",
    "default_feature",
    "latents_of",
    "local_basis",
    "localbasis",
    "partial_network",
    "start_latents",
]
