"""The Generator interface that every architecture implements.

A generator maps latent codes to images in [-1, 1], NCHW. Synthesis is a pure function of its tensor
inputs (no in-place updates of inputs, no hidden state), so ``torch.func.jacrev``, ``vmap`` and autograd
work through it. Everything a steering method needs is reachable from here:

* ``sample`` / ``to_space`` / ``synthesize``: seeded sampling with truncation, mapping between latent spaces,
  rendering (W+ codes carry one vector per synthesis layer, so layers can be mixed).
* ``latent_projections``: the affine maps ``y = A z + b`` that read the latent (SeFa, steerability).
* ``features``: named intermediate activations (Local Basis, GANSpace on a layer).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..errors import CheckpointFormatError, CorruptFileError, InvalidValueError
from ..limits import check_latents
from ..metadata import check_json_object, check_sha256, parse_json
from ..values import MAX_SEED, check_seed, check_truncation

#: Latent space names. ``z``: the input noise; ``w``: style-based intermediate latent (one vector per sample);
#: ``w+``: one ``w`` per synthesis layer, shape [N, num_layers, w_dim].
Z, W, WPLUS = "z", "w", "w+"


@dataclass(frozen=True)
class ModelIdentity:
    """Who a generator is: enough to check that a direction file belongs to it."""

    architecture: str
    name: str
    sha256: str
    source: str = ""
    revision: str | None = None
    filename: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=_jsonable)

    @classmethod
    def from_json(
        cls, text: str, origin: str = "file", error: type[CorruptFileError] = CorruptFileError
    ) -> ModelIdentity:
        """Parse and check an identity read from a file (types, a real sha256); ``error`` on anything malformed."""
        data = check_json_object(parse_json(text, "model", origin, error), "the model identity", origin, error)
        for key, kinds in _IDENTITY_FIELDS.items():
            if key in data and not isinstance(data[key], kinds):
                raise error(f"{origin}: model identity field {key!r} has the wrong type ({type(data[key]).__name__})")
        for key in ("architecture", "name"):
            if not data.get(key):
                raise error(f"{origin}: the model identity has no {key}")
        check_sha256(data.get("sha256"), "the model's weights sha256", origin, error)
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


_IDENTITY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "architecture": str,
    "name": str,
    "sha256": str,
    "source": str,
    "revision": (str, type(None)),
    "filename": (str, type(None)),
    "config": dict,
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


NOISE_MODES = ("const", "random", "none")
#: The mode of noise maps given with the latents (an inverted image's optimised noise, read from its latents file).
GIVEN_NOISE = "given"


@dataclass(frozen=True)
class Noise:
    """How a style-based model fills its per-layer noise inputs, as part of the request (never state on a model that
    users share): ``const`` the stored buffers (deterministic, the default), ``random`` one realisation drawn from
    ``seed`` (the same on every call), ``none`` no noise, ``given`` the ``maps`` carried here (one tensor per noise
    input, e.g. optimised by an inversion; ``Noise.given(maps)``). Models without noise inputs ignore it."""

    mode: str = "const"
    seed: int = 0
    maps: tuple[Tensor, ...] = field(default=(), repr=False, compare=False)
    #: sha256 of the given maps (how two ``given`` noises compare); empty for the other modes.
    digest: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.mode not in (*NOISE_MODES, GIVEN_NOISE):
            raise InvalidValueError(f"noise must be one of {list(NOISE_MODES)}, got {str(self.mode)[:20]!r}")
        object.__setattr__(self, "seed", check_seed(self.seed))
        maps = tuple(self.maps)
        if (self.mode == GIVEN_NOISE) != bool(maps):
            raise InvalidValueError("noise maps come with the mode 'given', and the mode 'given' with its maps")
        if any(not isinstance(m, Tensor) or m.ndim != 4 or not bool(torch.isfinite(m).all()) for m in maps):
            raise InvalidValueError("given noise maps must be finite 4-d tensors (one per noise input)")
        object.__setattr__(self, "maps", maps)
        object.__setattr__(self, "digest", _tensors_sha256(maps) if maps else "")

    @classmethod
    def given(cls, maps: Sequence[Tensor]) -> Noise:
        """Noise maps given as tensors (detached, on the CPU)."""
        return cls(GIVEN_NOISE, 0, tuple(m.detach().float().cpu().contiguous() for m in maps))

    def describe(self) -> dict[str, Any]:
        found = {"mode": self.mode, "seed": self.seed}
        return {**found, "sha256": self.digest} if self.maps else found

    @classmethod
    def from_description(cls, data: Mapping[str, Any], maps: Sequence[Tensor] = ()) -> Noise:
        mode = str(data.get("mode", "const"))
        if mode == GIVEN_NOISE and not maps:
            raise InvalidValueError("given noise needs its maps: they are stored in the latents file")
        return cls(mode, data.get("seed", 0), tuple(maps))


def _tensors_sha256(tensors: Sequence[Tensor]) -> str:
    digest = hashlib.sha256()
    for tensor in tensors:
        data = tensor.detach().cpu().float().contiguous()
        digest.update(f"{list(data.shape)};".encode())
        digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Latents:
    """A batch of latent codes in one space, with what the generator needs besides them.

    ``codes``: [N, d] for ``z``/``w``, [N, L, d] for ``w+``. ``classes``: [N, num_classes] conditioning
    (one-hot or soft) for class-conditional models, else ``None``. ``truncation``: the ψ the codes were
    sampled with; models whose synthesis depends on it (BigGAN's batch-norm statistics) read it. ``noise``: how
    style-based models fill their noise inputs for these latents (see ``Noise``).
    """

    codes: Tensor
    space: str = Z
    classes: Tensor | None = None
    truncation: float = 1.0
    noise: Noise = field(default_factory=Noise)

    def replace(self, **changes: Any) -> Latents:
        return dataclasses.replace(self, **changes)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def to(self, device: torch.device | str) -> Latents:
        classes = None if self.classes is None else self.classes.to(device)
        return self.replace(codes=self.codes.to(device), classes=classes)

    def select(self, index: int | slice | Tensor) -> Latents:
        """A sub-batch (an int keeps the batch dimension)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        classes = None if self.classes is None else self.classes[index]
        return self.replace(codes=self.codes[index], classes=classes)

    @staticmethod
    def cat(items: Sequence[Latents]) -> Latents:
        first = items[0]
        classes = None if first.classes is None else torch.cat([i.classes for i in items])  # type: ignore[misc]
        return first.replace(codes=torch.cat([i.codes for i in items]), classes=classes)


@dataclass(frozen=True)
class LatentProjection:
    """An affine map ``y = A x + b`` that reads a latent vector ``x`` in ``space``.

    ``weight`` [m, d] and ``bias`` [m] are the *effective* weights (batch norm folded, spectral norm and
    equalised learning rate applied). ``shape`` is the spatial layout of ``y`` (e.g. ``(512, 4, 4)``, flat index
    channel-major) or ``None`` for a flat vector. ``layers`` are the W+ layer indices that feed this map.

    ``class_bias`` [num_classes, m], for models whose map also reads the class vector ``c`` (``Latents.classes``)
    linearly: ``y = A x + bias + class_bias[k]`` for the one-hot class ``k``, ``y = A x + bias + c @ class_bias`` for
    soft classes. ``None`` when the map reads no class, or reads it otherwise (BigGAN: its ``class_bias(classes)``).
    Methods that study the latent (SeFa, …) read ``weight`` alone.
    """

    name: str
    weight: Tensor
    bias: Tensor
    space: str
    layers: tuple[int, ...] = (0,)
    shape: tuple[int, ...] | None = None
    resolution: int | None = None
    class_bias: Tensor | None = None


class Generator(nn.Module, ABC):
    """Base class of every architecture. Subclasses set the attributes and implement the abstract methods."""

    architecture: ClassVar[str]
    #: Latent spaces the model offers, in order of preference for editing.
    latent_spaces: tuple[str, ...] = (Z,)

    z_dim: int
    w_dim: int = 0
    num_classes: int = 0
    resolution: int
    image_channels: int = 3

    def __init__(self) -> None:
        super().__init__()
        self.identity = ModelIdentity(architecture=self.architecture, name=self.architecture, sha256="")

    @property
    def identity(self) -> ModelIdentity:
        """Who this model is. A model built in code (no checkpoint file) is named by the sha256 of its weights,
        computed at first use, so every file made for it can be checked against it."""
        if not self._identity.sha256:
            self._identity = dataclasses.replace(self._identity, sha256=self.weights_sha256())
        return self._identity

    @identity.setter
    def identity(self, value: ModelIdentity) -> None:
        self._identity = value

    def weights_sha256(self) -> str:
        """sha256 over the state dict (names, dtypes, shapes and bytes, in name order)."""
        digest = hashlib.sha256()
        for name, tensor in sorted(self.state_dict().items()):
            digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)};".encode())
            digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    # ----- configuration -------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Generator:
        """Build the architecture (weights uninitialised) from its config: the constructor's keyword arguments.

        Unknown keys are an error, so a converted file written by another version never half-loads."""
        known = [
            name
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        ]
        unknown = set(config) - set(known)
        if unknown:
            raise CheckpointFormatError(f"unknown {cls.architecture} config keys {sorted(unknown)}; known: {known}")
        return cls(**dict(config))

    @classmethod
    def expected_state(cls, config: Mapping[str, Any]) -> dict[str, Tensor]:
        """The state dict ``config`` calls for, as shape-only ``meta`` tensors: a checkpoint's tensors are checked
        against it before any real model is built, so a config that declares gigabytes allocates nothing."""
        with torch.device("meta"):
            return cls.from_config(config).state_dict()

    # ----- identity and layout -------------------------------------------------------------------
    @property
    def default_space(self) -> str:
        """The space edits happen in by default: ``w`` for style-based models, ``z`` otherwise."""
        return W if W in self.latent_spaces else Z

    @property
    def class_names(self) -> list[str]:
        """One label per class of a class-conditional model (``class i`` unless the model knows better)."""
        return [f"class {i}" for i in range(self.num_classes)]

    @property
    def noise_modes(self) -> tuple[str, ...]:
        """The ``Noise`` modes synthesis distinguishes (none: the model has no noise inputs)."""
        return ()

    @property
    def num_layers(self) -> int:
        """Number of W+ layers (1 for models without a per-layer latent)."""
        return 1

    @property
    def layer_names(self) -> list[str]:
        """One name per W+ layer, for UI labels and layer ranges."""
        return ["input"]

    @property
    def layer_resolutions(self) -> list[int]:
        """The output resolution each W+ layer works at (used for coarse/middle/fine ranges)."""
        return [self.resolution] * self.num_layers

    def space_dim(self, space: str) -> int:
        self.check_space(space)
        return self.z_dim if space == Z else self.w_dim

    def check_space(self, space: str) -> None:
        if space not in self.latent_spaces:
            raise InvalidValueError(f"{self.identity.name} has latent spaces {list(self.latent_spaces)}, not {space!r}")

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The weights' dtype (float32 as loaded; another after ``.to(torch.float16)``): synthesis casts latents and
        class vectors to it, so float64 codes or a half-precision model work alike."""
        for tensor in self.parameters():
            return tensor.dtype
        return torch.float32

    # ----- sampling ------------------------------------------------------------------------------
    def sample_z(self, n: int, seed: int) -> Tensor:
        """Standard normal z, drawn on the CPU so a seed gives the same codes on every device."""
        if n < 1:
            raise InvalidValueError(f"number of samples must be at least 1, got {n}")
        check_latents(n, self.z_dim)
        gen = torch.Generator().manual_seed(check_seed(seed))
        return torch.randn(n, self.z_dim, generator=gen).to(self.device)

    def sample_classes(self, n: int, seed: int, class_index: int | Sequence[int] | None = None) -> Tensor | None:
        """One-hot conditioning for class-conditional models (random classes when none are given); a class index for
        a model without classes is refused, not ignored."""
        if not self.num_classes:
            if class_index is not None:
                raise InvalidValueError(f"{self.identity.name} is not class-conditional: it takes no class index")
            return None
        if class_index is None:
            gen = torch.Generator().manual_seed((check_seed(seed) + 1) & MAX_SEED)
            idx = torch.randint(self.num_classes, (n,), generator=gen)
        else:
            idx = torch.as_tensor(class_index, dtype=torch.long).reshape(-1).expand(n)
            if bool((idx < 0).any()) or bool((idx >= self.num_classes).any()):
                raise InvalidValueError(f"class index must be in [0, {self.num_classes}), got {class_index}")
        return nn.functional.one_hot(idx, self.num_classes).float().to(self.device)

    def sample(
        self,
        n: int = 1,
        seed: int = 0,
        truncation: float = 1.0,
        space: str | None = None,
        class_index: int | Sequence[int] | None = None,
    ) -> Latents:
        """Seeded latents in ``space`` (default: ``default_space``) with truncation ψ applied."""
        truncation = check_truncation(truncation)
        space = space or self.default_space
        self.check_space(space)
        z = Latents(self.sample_z(n, seed), Z, self.sample_classes(n, seed, class_index), float(truncation))
        return self.to_space(self.truncate_z(z), space)

    def truncate_z(self, latents: Latents) -> Latents:
        """Truncation in z for models without a mapping network: pull codes towards the mean (0) by ψ."""
        if W in self.latent_spaces:
            return latents  # style-based models truncate in W (see to_space)
        return latents.replace(codes=latents.codes * latents.truncation)

    def to_space(self, latents: Latents, space: str) -> Latents:
        """Map latents to ``space``. Models with a mapping network override this (z -> w -> w+)."""
        self.check_space(space)
        if latents.space == space:
            return latents
        raise InvalidValueError(f"cannot map latents from {latents.space!r} to {space!r}")

    # ----- synthesis -----------------------------------------------------------------------------
    @abstractmethod
    def synthesize(self, latents: Latents) -> Tensor:
        """Images in [-1, 1], shape [N, image_channels, resolution, resolution]."""

    def forward(self, latents: Latents) -> Tensor:  # nn.Module convention
        return self.synthesize(latents)

    # ----- what methods read ---------------------------------------------------------------------
    @abstractmethod
    def latent_projections(self) -> list[LatentProjection]:
        """The affine maps that read the latent, in layer order."""

    def scale_projections(self) -> list[LatentProjection]:
        """The affine maps through which z reaches each scale beyond the first layer (BigGAN-deep: every block's
        conditional batch-norm gains), coarse to fine. Empty where only the first layer reads z (DCGAN, PGGAN);
        style-based models read w per layer: their per-scale maps are ``latent_projections`` by layer range."""
        return []

    def first_layer_bias(self, classes: Tensor | None = None) -> Tensor:
        """The first projection's bias with the class part added, one row per row of ``classes`` ([K, num_classes],
        one-hot or soft): [K, m]. ``None``: the class-free bias, [1, m]."""
        projection = self.latent_projections()[0]
        if classes is None:
            return projection.bias[None]
        if not self.num_classes or projection.class_bias is None:
            raise InvalidValueError(f"{self.identity.name}'s first layer reads no classes")
        if classes.ndim != 2 or classes.shape[1] != self.num_classes:
            raise InvalidValueError(f"classes must be [K, {self.num_classes}], got {list(classes.shape)}")
        return projection.bias + classes.to(projection.class_bias) @ projection.class_bias

    def feature_names(self) -> list[str]:
        """Names accepted by ``features`` (always includes ``"image"``)."""
        return ["image"]

    def check_features(self, names: Sequence[str]) -> None:
        """Raise ``InvalidValueError`` naming the known features if any of ``names`` is not one of them."""
        known = self.feature_names()
        unknown = set(names) - set(known)
        if unknown:
            raise InvalidValueError(f"unknown {self.architecture} features {sorted(unknown)}; known: {known}")

    def features(self, latents: Latents, names: Sequence[str]) -> dict[str, Tensor]:
        """Intermediate activations by name. Subclasses return more than the image."""
        self.check_features(names)
        return {"image": self.synthesize(latents)}

    def describe(self) -> dict[str, Any]:
        """A short summary for UIs and the CLI."""
        return {
            "name": self.identity.name,
            "architecture": self.architecture,
            "resolution": self.resolution,
            "latent_spaces": list(self.latent_spaces),
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "num_layers": self.num_layers,
            "num_classes": self.num_classes,
            "sha256": self.identity.sha256,
            "source": self.identity.source,
        }
