"""Field controls: the step direction is recomputed from the current latent (Local Basis traversal, GradCtrl).

A field is a function ``f(generator, x, inputs) -> [N, d]`` of the model, the current latent vector ``x`` [N, d] and
the control's stored tensors (small classifier heads, masks, guide directions); ``inputs`` also carry the previous
step's ``f̂`` along the same path and the steps taken, so a field may continue a path (the Local Basis traversal keeps
following one direction). Functions are named in ``FIELDS`` and imported from our own code: a file names its field,
it never carries code.

Step rule (explicit Euler): a strength ``s`` takes ``n = ⌈|s| / h⌉`` steps, ``n − 1`` of size ``h`` (``step_size``)
and a last one of ``|s| − (n − 1)·h``; each moves ``x ← x + sign(s) · size · f̂(x)`` with ``f̂ = f / ‖f‖`` (unit steps,
``normalise=True``, the default) or ``f̂ = f``. With unit steps one unit of strength is one latent unit of path
length, as for a linear control: a constant field reproduces the linear edit. Each step costs one evaluation of the
field; ``advance(…, report=fn)`` calls ``fn(name, steps, seconds)`` so callers can show the cost per step.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Sequence

import torch
from torch import Tensor

from .. import metadata as meta
from ..errors import DirectionsFileError, InvalidValueError
from ..models.base import Generator, Latents, Noise
from ..values import check_count, check_name, check_number
from .base import finite
from .stepwise import Report, StepwiseControl

TENSOR_PREFIX = "field."
MAX_STEPS = 10_000


@dataclass(frozen=True)
class FieldInputs:
    """What a field function reads besides the model and the latent."""

    index: int  # which control (slider) of the file
    tensors: Mapping[str, Tensor]
    params: Mapping[str, Any]
    classes: Tensor | None  # [N, C] for class-conditional models
    previous: Tensor | None = None  # f̂ [N, d] at the previous step of this path (None at its first step)
    step: int = 0  # steps taken so far along this path
    truncation: float | None = None  # ψ of the latents being moved (None: not known, the field's own)
    noise: Noise | None = None  # their noise (None: not known, the field's own)
    sign: Tensor | None = None  # [N], ±1: which way each path goes (None: forwards)


FieldFunction = Callable[[Generator, Tensor, FieldInputs], Tensor]
#: Where a path stands: the previous step's field value (``None`` before the first step) and the steps taken.
State = tuple[Tensor | None, int]


def constant_field(generator: Generator, x: Tensor, inputs: FieldInputs) -> Tensor:
    """The same direction everywhere (``tensors["directions"][index]``, [d]): the field form of a linear control; or
    one direction per class ([C, d]), each latent moving along its class mixture's."""
    direction = inputs.tensors["directions"][inputs.index].to(x)
    if direction.ndim == 1:
        return direction.expand_as(x)
    if inputs.classes is None or inputs.classes.shape[1] != direction.shape[0]:
        raise InvalidValueError(f"this control has one direction per class ({direction.shape[0]} classes)")
    return inputs.classes.to(x) @ direction


def check_constant(control: FieldControl) -> None:
    """A constant field's directions: [k, d], or [k, C, d] per class."""
    directions = control.tensors.get("directions")
    if directions is None or directions.ndim not in (2, 3) or directions.shape[0] != control.count:
        raise InvalidValueError(f"a constant field needs directions [{control.count}, (classes,) d]")
    if directions.shape[-1] != control.latent_dim:
        raise InvalidValueError(f"its directions are {directions.shape[-1]}-d, not {control.latent_dim}-d")


_CORE = __name__.rsplit(".", 2)[0]  # ``steering`` (or the name a webui loads the core under)

#: Field name -> "module:function" (imported on first use; our own code only).
FIELDS: dict[str, str] = {
    "constant": f"{__name__}:constant_field",
    "steerability": f"{_CORE}.methods.steerability:forbidden_step",
    "gradctrl": f"{_CORE}.methods.gradctrl:gradient_step",
    "local-basis": f"{_CORE}.methods.ict:ict_step",
    "local-basis-guided": f"{_CORE}.methods.ict:guided_step",
}


#: Field name -> "module:function" that checks a control's stored tensors fit its field (called when a control is
#: made or loaded, so a damaged file is refused then, not at its first step); fields without one need none.
FIELD_CHECKS: dict[str, str] = {
    "constant": f"{__name__}:check_constant",
    "steerability": f"{_CORE}.methods.steerability:check_control",
    "gradctrl": f"{_CORE}.methods.gradctrl:check_control",
}


def _imported(where: str) -> Callable[..., Any]:
    """The function a registry entry ``"module:function"`` names (imported on first use)."""
    module_name, function_name = where.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def field_function(name: str) -> FieldFunction:
    if name not in FIELDS:
        raise InvalidValueError(f"unknown field {name!r}; this gan-steering knows {', '.join(FIELDS)}")
    return _imported(FIELDS[name])


@dataclasses.dataclass(kw_only=True)
class FieldControl(StepwiseControl):
    """k controls following one field function, each with its own index into the stored tensors."""

    kind: ClassVar[str] = "field"
    unit: ClassVar[str] = "latent units of path length along the field (Euler steps)"
    noun: ClassVar[str] = "field controls"

    field: str
    tensors: dict[str, Tensor]
    count: int  # number of controls (k)
    latent_dim: int  # d of the vectors it moves
    step_size: float = 0.1
    normalise: bool = True

    def __len__(self) -> int:
        return self.count

    @property
    def dim(self) -> int:
        return self.latent_dim

    def check_tensors(self) -> None:
        self.field = check_name(self.field, "the field name")
        if self.field not in FIELDS:
            raise InvalidValueError(f"unknown field {self.field!r}: this gan-steering knows {', '.join(FIELDS)}")
        self.count = check_count(self.count, "the number of field controls", 1, 4096)
        self.latent_dim = check_count(self.latent_dim, "the latent dimension", 1, 1 << 20)
        self.tensors = {
            check_name(k, "a tensor name"): finite(v, f"field tensor {k!r}") for k, v in self.tensors.items()
        }
        self.step_size = check_number(self.step_size, "the field step size", 1e-6, 1e3)
        self.normalise = bool(self.normalise)
        if self.field in FIELD_CHECKS:
            _imported(FIELD_CHECKS[self.field])(self)

    def kind_tensors(self) -> dict[str, Tensor]:
        return {TENSOR_PREFIX + name: tensor for name, tensor in self.tensors.items()}

    def behaviour_params(self) -> dict[str, Any]:
        """All of ``params``: the step functions read them (speed, randomness, the guide's seed, the truncation …)."""
        return {"params": self.params}

    def kind_metadata(self) -> dict[str, str]:
        return {
            "field": self.field,
            "field_steps": json.dumps(
                {
                    "count": self.count,
                    "latent_dim": self.latent_dim,
                    "step_size": self.step_size,
                    "normalise": self.normalise,
                }
            ),
        }

    @classmethod
    def accepts_tensor(cls, name: str) -> bool:
        return name.startswith(TENSOR_PREFIX)

    @classmethod
    def kind_fields(cls, tensors: Mapping[str, Tensor], metadata: Mapping[str, str], origin: str) -> dict[str, Any]:
        name = meta.field(metadata, "field", str, origin, DirectionsFileError, as_json=False)
        if name not in FIELDS:
            raise DirectionsFileError(
                f"{origin} follows the field {name[:40]!r}, which this gan-steering does not know "
                f"(it knows {', '.join(FIELDS)}): upgrade it"
            )
        steps = meta.check_json_object(
            meta.field(metadata, "field_steps", dict, origin, DirectionsFileError),
            "field_steps",
            origin,
            DirectionsFileError,
        )
        whole = all(
            isinstance(steps.get(key), int) and not isinstance(steps.get(key), bool) for key in ("count", "latent_dim")
        )
        if not whole or not meta.is_kind(steps.get("step_size"), float):
            raise DirectionsFileError(f"{origin}: field_steps needs a whole count and latent_dim and a step_size")
        own = {k[len(TENSOR_PREFIX) :]: v for k, v in tensors.items() if k.startswith(TENSOR_PREFIX)}
        return {
            "field": name,
            "tensors": own,
            "count": steps["count"],
            "latent_dim": steps["latent_dim"],
            "step_size": float(steps["step_size"]),
            "normalise": bool(steps.get("normalise", True)),
        }

    def select_tensors(self, index: Tensor) -> dict[str, Any]:
        raise InvalidValueError("field controls share their tensors; select is not available for them")

    # ----- moving latents ----------------------------------------------------------------------------------------
    def direction(
        self,
        generator: Generator,
        x: Tensor,
        index: int,
        context: Latents | None,
        state: State = (None, 0),
        sign: Tensor | None = None,
    ) -> Tensor:
        """``f̂(x)`` [N, d] for control ``index``; ``context``: the latents being moved (their class, ψ and noise; the
        codes are ``x``), ``None`` for none known; ``state``: the previous step's ``f̂`` and the steps taken so far;
        ``sign`` [N]: which way each path goes (a field may differ backwards: the inverse transformation)."""
        classes, truncation, noise = (
            (None, None, None) if context is None else (context.classes, float(context.truncation), context.noise)
        )
        inputs = FieldInputs(index, self.tensors, self.params, classes, *state, truncation, noise, sign)
        f = field_function(self.field)(generator, x, inputs)
        if tuple(f.shape) != tuple(x.shape):
            raise InvalidValueError(f"field {self.field!r} returned {list(f.shape)} for latents {list(x.shape)}")
        if self.normalise:
            f = f / f.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return f

    def move(
        self, generator: Generator, start: Tensor, s: Tensor, index: int, latents: Latents, report: Report | None
    ) -> tuple[Tensor, None]:
        """``start`` integrated along the field by ``s`` (the step rule above); the cost goes to ``report``."""
        began = time.perf_counter()
        moved, steps = self._integrate(generator, start, s, index, latents)
        if report is not None:
            report(self.names[index], steps, time.perf_counter() - began)
        return moved, None

    def _integrate(
        self, generator: Generator, x: Tensor, s: Tensor, index: int, context: Latents
    ) -> tuple[Tensor, int]:
        """``x`` moved by ``s``: ``n − 1`` full steps then one of what is left (see the module docstring)."""
        n, last = self._steps(s)
        sign = torch.sign(s).to(x)[:, None]
        previous = None
        for step in range(int(n.max())):
            size = torch.where(n - 1 > step, self.step_size, last).to(x)
            moved, f = self._step(generator, x, sign, size, index, context, (previous, step))
            active = (n > step)[:, None]
            x = torch.where(active, moved, x)
            previous = f if previous is None else torch.where(active, f, previous)
        return x, int(n.max())

    def _steps(self, s: Tensor) -> tuple[Tensor, Tensor]:
        """How many steps each strength of ``s`` [N] takes, and the size of its last one (float64)."""
        amount = s.abs().double()
        n = torch.ceil(amount / self.step_size - 1e-9).clamp_min(0)
        if float(n.max()) > MAX_STEPS:
            raise InvalidValueError(f"{float(amount.max()):g} is {int(n.max())} steps of {self.step_size:g}")
        return n, amount - (n - 1) * self.step_size

    def _step(
        self,
        generator: Generator,
        x: Tensor,
        sign: Tensor,
        size: Tensor,
        index: int,
        context: Latents,
        state: State,
    ) -> tuple[Tensor, Tensor]:
        """One Euler step of ``size`` [N] from ``x``, and the field there."""
        f = self.direction(generator, x, index, context, state, sign.reshape(-1).expand(len(x)))
        return x + sign * size[:, None] * f, f

    def frames(
        self, generator: Generator, start: Tensor, index: int, targets: Sequence[float], latents: Latents
    ) -> list[Tensor]:
        """Each frame is the slider's own path to its strength (full steps from the start, then a shorter one), the
        full steps continued from the previous frame's: a frame equals the slider at the same strength."""
        s = torch.tensor(list(targets), dtype=torch.float64)
        counts, lasts = self._steps(s)
        sign = torch.sign(s[:1]).to(start)[:, None]
        full = torch.full((1,), self.step_size, dtype=torch.float64).to(start)
        x, previous, done, out = start, None, 0, []
        for n, last in zip(counts.tolist(), lasts, strict=True):
            while done < n - 1:
                x, previous = self._step(generator, x, sign, full, index, latents, (previous, done))
                done += 1
            if n == 0:
                out.append(x)
                continue
            size = last.reshape(1).to(start)
            moved, f = self._step(generator, x, sign, size, index, latents, (previous, done))
            if torch.equal(size, full):  # the last step was a full one: the next frame goes on from here
                x, previous, done = moved, f, done + 1
            out.append(moved)
        return out


__all__ = ["FIELDS", "FIELD_CHECKS", "FieldControl", "FieldInputs", "constant_field", "field_function"]
