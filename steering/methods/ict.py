"""Iterative curve traversal (ICT) through local bases: the field functions of ``localbasis`` controls (registered in
``steering.controls.field.FIELDS``) and ICT trajectories with W+ layer ranges.

A step of the iterative traversal re-estimates the local basis at the current latent ``x`` and follows the
latent-side direction ``v_j`` that continues the path: at the first step the one most aligned (largest ``|cos|``) with
the direction the control was made from (its ``reference``), then the one most aligned with the previous step; its
sign is kept (``⟨v_j, previous⟩ > 0``), so the path never turns back when singular values cross. By default each
step is scaled by ``σ_ref / σ_j`` (the paper's scaled traversal): ``f``'s output moves at a constant speed.

The guided variant chooses at its first step the local direction most aligned with a global direction (SeFa,
GANSpace: on the output side when they live in ``f``'s output ``w``, else on the latent side), then continues as
above, each step scaled by a factor drawn from ``[a, 2 − a]`` (seeded by the step, so a path is reproducible).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from ..controls import Control, FieldInputs
from ..edit import trajectory
from ..errors import InvalidValueError
from ..models.base import NOISE_MODES, WPLUS, Generator, Latents, Noise
from ..values import check_number, layer_range
from .localbasis import LocalBasis, PartialNetwork, basis_of

#: Local bases one walk may compute (each is a whole Jacobian or a top-k solve).
MAX_BASES = 256


def network_for(
    generator: Generator,
    params: Mapping[str, Any],
    space: str,
    classes: Tensor | None,
    truncation: float | None = None,
    noise: Noise | None = None,
) -> PartialNetwork:
    """The partial network a control's params name, at one latent's class (``classes`` [1, C] or ``None``), ψ and
    noise: those of the latents being moved where known (BigGAN's batch-norm statistics and a style-based model's
    truncation depend on ψ), else the control's own (its starting point's)."""
    if noise is None:
        stored = params.get("noise") or {}
        mode = stored.get("mode", "const") if isinstance(stored, Mapping) else "const"
        seed = stored.get("seed", 0) if isinstance(stored, Mapping) else 0
        noise = Noise(mode, seed) if mode in NOISE_MODES else Noise()  # given maps are not stored with a control
    psi = float(params.get("truncation", 1.0)) if truncation is None else float(truncation)
    return PartialNetwork(generator, str(params["feature"]), space, classes, psi, noise)


def _bases(generator: Generator, x: Tensor, inputs: FieldInputs) -> list[LocalBasis]:
    """The local basis at each row of ``x`` [N, d] (``params["search"]`` directions, ``params["solver"]``)."""
    if inputs.step >= MAX_BASES:
        raise InvalidValueError(
            f"a local-basis traversal re-estimates its basis at every step; one request may take at most {MAX_BASES} "
            "steps: a smaller strength, or a control with a larger step"
        )
    params = inputs.params
    space = str(params.get("start", {}).get("space", "z"))
    found = []
    for n in range(len(x)):
        classes = None if inputs.classes is None else inputs.classes[n : n + 1]
        network = network_for(generator, params, space, classes, inputs.truncation, inputs.noise)
        found.append(basis_of(network, x[n], int(params["search"]), str(params.get("solver", "auto"))))
    return found


def _follow(basis: LocalBasis, target: Tensor, side: str = "latent") -> tuple[Tensor, Tensor]:
    """The latent-side direction ``±v_j`` whose ``v_j`` (or ``u_j`` on the output side) is most aligned with
    ``target``, signed to agree with it, and its singular value ``σ_j``."""
    vectors = basis.output if side == "output" else basis.latent
    scores = vectors.T @ target.to(vectors)
    j = int(scores.abs().argmax())
    sign = 1.0 if float(scores[j]) >= 0 else -1.0
    return sign * basis.latent[:, j], basis.values[j]


def ict_step(generator: Generator, x: Tensor, inputs: FieldInputs) -> Tensor:
    """The ICT field: for each row of ``x`` [N, d], the local direction that continues the path (module docstring).
    With ``params["speed"] == "output"`` (the paper's scaled step) it is ``v_j · σ_ref / σ_j``: every step moves
    ``f``'s output by the same amount (``σ_ref``, the control's singular value at its start, per latent unit)."""
    out = []
    scaled = inputs.params.get("speed") == "output"
    for n, basis in enumerate(_bases(generator, x, inputs)):
        target = inputs.tensors["reference"][inputs.index] if inputs.previous is None else inputs.previous[n]
        direction, sigma = _follow(basis, target)
        if scaled:
            direction = direction * (inputs.tensors["scale"][inputs.index] / sigma.clamp_min(1e-12))
        out.append(direction)
    return torch.stack(out).to(x)


def guided_step(generator: Generator, x: Tensor, inputs: FieldInputs) -> Tensor:
    """The guided stochastic ICT field: the local direction most aligned with the global one at the first step, then
    with the previous step, times a factor in ``[a, 2 − a]`` drawn from (seed, control, step): the same for every
    row, so a latent walks the same way alone or in a batch."""
    params = inputs.params
    a = float(params.get("randomness", 0.2))
    seed = hash((int(params.get("guide_seed", 0)), inputs.index, inputs.step)) & 0x7FFFFFFF
    factor = a + (2 - 2 * a) * float(torch.rand(1, generator=torch.Generator().manual_seed(seed)))
    out = []
    for n, basis in enumerate(_bases(generator, x, inputs)):
        if inputs.previous is None:
            step, _ = _follow(basis, inputs.tensors["guide"][inputs.index], str(params.get("guide_side", "latent")))
        else:
            step, _ = _follow(basis, inputs.previous[n])
        out.append(factor * step)
    return torch.stack(out).to(x)


def traverse(
    generator: Generator,
    latents: Latents,
    control: Control,
    index: int,
    strengths: Sequence[float],
    layers: str | Sequence[int] = "all",
) -> Latents:
    """The latents along control ``index`` at each strength (``control.walk``: an ICT advances each frame from the
    previous one), with the paper's W+ layer ranges: where the control moves z of a style-based model, the frames'
    ``w = f(z)`` go into the selected ``layers`` only, the others keep the start's ``w``."""
    frames = control.walk(generator, latents, index, list(strengths))
    used = layer_range(generator, layers)
    if len(used) == generator.num_layers:
        return frames
    if frames.space == WPLUS or WPLUS not in generator.latent_spaces or frames.space != "z":
        raise InvalidValueError("a layer range applies to controls that move z of a style-based model")
    moved = generator.to_space(frames, WPLUS).codes
    kept = generator.to_space(latents, WPLUS).codes.expand_as(moved)
    mask = torch.zeros(generator.num_layers, dtype=torch.bool, device=moved.device)
    mask[list(used)] = True
    return frames.replace(codes=torch.where(mask[None, :, None], moved, kept), space=WPLUS)


def traversals(
    generator: Generator,
    latents: Latents,
    index: int,
    strengths: Sequence[float],
    feature: str | None = None,
    layers: str | Sequence[int] = "all",
    step_size: float = 0.25,
    solver: str = "auto",
) -> dict[str, Latents]:
    """Local direction ``index`` at ``latents`` walked two ways, frame for frame: ``ICT`` (output speed) and
    ``linear`` (the linear local traversal, its strengths scaled by ``σ_index`` where it moves f's output w, so both
    rows move w alike at first order)."""
    from .localbasis import localbasis

    step_size = check_number(step_size, "the step size", 1e-3, 10.0)
    steps = sum(math.ceil(max([0.0, *(sign * float(v) for v in strengths)]) / step_size - 1e-9) for sign in (1, -1))
    if steps > MAX_BASES:
        raise InvalidValueError(
            f"this walk would re-estimate the local basis {steps} times (steps of {step_size:g}); one request may "
            f"take at most {MAX_BASES}: a larger step or a shorter range"
        )
    common = {"feature": feature, "start": latents, "solver": solver, "num_directions": index + 1}
    ict = localbasis(generator, traversal="iterative", step_size=step_size, **common)
    linear = localbasis(generator, traversal="linear", layers=layers, **common)
    scale = float(ict.values[index]) if linear.space != ict.space else 1.0  # type: ignore[index]
    return {
        "ICT": traverse(generator, latents, ict, index, strengths, layers),
        "linear": trajectory(generator, latents, linear, index, [s * scale for s in strengths]),
    }


__all__ = ["guided_step", "ict_step", "network_for", "traversals", "traverse"]
