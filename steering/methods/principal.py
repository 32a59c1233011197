"""Principal latent directions per scale (the steerability paper's unsupervised directions): the right singular
vectors of the weights that bring z to one scale, ordered by singular value. ``first layer``: the first layer's map
(``A`` of ``y = A z + b``); BigGAN-deep also offers each block's conditional gains (``Generator.scale_projections``).
Unlike SeFa the rows are not normalised: a direction's singular value is how much one unit of it changes that scale.
Style-based models read w per layer: their per-scale principal directions are SeFa on a layer range."""

from __future__ import annotations

import torch

from ..controls import LinearControl
from ..errors import InvalidValueError
from ..models.base import Generator, Z
from ..values import check_count
from .common import canonical_signs, latent_spread, strength_range
from .registry import NUM_DIRECTIONS, Method, Parameter

FIRST = "first layer"


def scales(generator: Generator) -> dict[str, torch.Tensor]:
    """The weights [m, d] that bring z to each scale the model offers, by name."""
    found: dict[str, torch.Tensor] = {}
    first = [p for p in generator.latent_projections() if p.space == Z]
    if first:
        found[FIRST] = first[0].weight
    for projection in generator.scale_projections():
        found[f"{projection.name} ({projection.resolution} px)"] = projection.weight
    return found


def principal(generator: Generator, num_directions: int = 10, scale: str = FIRST) -> LinearControl:
    """The top ``num_directions`` principal directions of ``scale`` (see ``scales``)."""
    available = scales(generator)
    if not available:
        raise InvalidValueError(
            f"{generator.identity.name} reads w per layer (style-based): use SeFa with a layer range (coarse, middle, "
            "fine or lo:hi) for its per-scale principal directions"
        )
    if scale not in available:
        raise InvalidValueError(f"{generator.identity.name} has no scale {scale!r}; choose one of {list(available)}")
    weight = available[scale].double()
    k = check_count(num_directions, "the number of directions", 1, weight.shape[1])
    _, singular, vh = torch.linalg.svd(weight, full_matrices=False)
    vectors = canonical_signs(vh[:k]).float()
    # the least principal direction: the small-circle walk's second axis, as in the reference code
    reference = vh[-1].float() if vh.shape[0] == weight.shape[1] else None
    spread = latent_spread(generator, Z, vectors.to(generator.device))
    return LinearControl(
        vectors=vectors,
        space=Z,
        method="principal",
        model=generator.identity,
        names=[f"{scale} pc {i}" for i in range(k)],
        params={"num_directions": k, "scale": scale},
        values=singular[:k].float(),
        strength_range=strength_range(spread.cpu()),
        reference=reference,
    )


#: The scale parameter, shared with attribute transfer; its choices are the loaded model's scales.
SCALE = Parameter(
    "scale", "choice", FIRST, "Scale (first layer, or a block's gains)", model_options=lambda g: list(scales(g))
)

METHOD = Method(
    name="principal",
    title="Principal directions per scale",
    function=principal,
    kind="linear",
    parameters=(NUM_DIRECTIONS, SCALE),
    value_label="singular values",
    description="right singular vectors of the weights that bring z to one scale (the steerability paper's "
    "unsupervised directions)",
)
