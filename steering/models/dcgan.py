"""DCGAN (the PyTorch-tutorial generator), unconditional or class-conditional at the input.

Two embedded models use it: the 64×64 faces of ``gan-face-generate`` and the 128×128 eyes cDCGAN of
``omniart-eye-generator`` (8 colour classes). Layout (keys ``main.<i>.*``): ConvTranspose([z; y] → ngf·2^B, 4×4 from
1×1) + BatchNorm + ReLU (+ Dropout in the eyes layout, an identity in eval mode that shifts the later indices by one),
``B`` ×2 ConvTranspose + BatchNorm + ReLU blocks halving the width down to ``ngf``, a final ×2 ConvTranspose to ``nc``
channels and tanh: ``4·2^(B+1)`` pixels. ``y`` is the one-hot (or soft) class vector of ``Latents.classes``, appended
to z as the eyes wheel does. In eval mode the first ConvTranspose followed by BatchNorm is an affine map of [z; y],
exposed folded as ``LatentProjection("fc", A, b, shape=(ngf·2^B, 4, 4), class_bias=…)``.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from ..errors import CheckpointFormatError, InvalidValueError
from .base import Generator, LatentProjection, Latents, Z
from .checkpoint import Checkpoint

#: The Dropout rate of the eyes layout (only its place matters: synthesis always runs in eval mode).
INPUT_DROPOUT = 0.2
MAX_BLOCKS = 8  # 2048 px: far above any DCGAN in use, a bound on what a config may declare


class DCGAN(Generator):
    architecture = "dcgan"
    latent_spaces = (Z,)

    def __init__(
        self,
        nz: int = 100,
        ngf: int = 64,
        nc: int = 3,
        bn_eps: float = 1e-5,
        num_blocks: int = 3,
        dropout: bool = False,
        num_classes: int = 0,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.z_dim, self.ngf, self.image_channels, self.bn_eps = int(nz), int(ngf), int(nc), float(bn_eps)
        self.num_blocks, self.dropout, self.num_classes = int(num_blocks), bool(dropout), int(num_classes)
        self._class_names = _check_class_names(class_names, self.num_classes)
        if not 1 <= self.num_blocks <= MAX_BLOCKS or min(self.z_dim, self.ngf, self.image_channels) < 1:
            raise CheckpointFormatError(f"DCGAN needs 1 ≤ num_blocks ≤ {MAX_BLOCKS} and positive sizes: {self.config}")
        self.resolution = 4 * 2 ** (self.num_blocks + 1)
        self.main = nn.Sequential(*self._layers())
        relus = [i for i, module in enumerate(self.main) if isinstance(module, nn.ReLU)][1:]
        # "fc" is the affine map of [z; y] (the first BatchNorm's output, before its ReLU), then each block's output
        self._stage_at = {1: "fc", **{index: f"block{k + 1}" for k, index in enumerate(relus)}}
        self.eval()

    def _layers(self) -> list[nn.Module]:
        widths = [self.ngf * 2 ** (self.num_blocks - i) for i in range(self.num_blocks + 1)]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.z_dim + self.num_classes, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0], eps=self.bn_eps),
            nn.ReLU(),
        ]
        if self.dropout:
            layers.append(nn.Dropout(INPUT_DROPOUT))
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out, eps=self.bn_eps)]
            layers.append(nn.ReLU())
        return [*layers, nn.ConvTranspose2d(self.ngf, self.image_channels, 4, 2, 1, bias=False), nn.Tanh()]

    @property
    def config(self) -> dict[str, Any]:
        config = {"nz": self.z_dim, "ngf": self.ngf, "nc": self.image_channels, "bn_eps": self.bn_eps}
        config.update(num_blocks=self.num_blocks, dropout=self.dropout, num_classes=self.num_classes)
        return {**config, "class_names": self.class_names} if self.num_classes else config

    @property
    def class_names(self) -> list[str]:
        return list(self._class_names) if self._class_names else super().class_names

    @property
    def layer_names(self) -> list[str]:
        return ["z, class → 4×4" if self.num_classes else "z → 4×4"]

    @property
    def layer_resolutions(self) -> list[int]:
        return [4]

    def train(self, mode: bool = True) -> DCGAN:
        # Batch norm must use its running statistics (and Dropout stay off): synthesis stays a function of z alone.
        return super().train(False)

    # ----- synthesis -----------------------------------------------------------------------------
    def _input(self, latents: Latents) -> Tensor:
        """The first layer's input [z; y] as an [N, nz + num_classes, 1, 1] image."""
        if latents.space != Z:
            raise InvalidValueError(f"DCGAN synthesises from z, got latents in {latents.space!r}")
        z, classes = latents.codes.to(self.dtype), latents.classes
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InvalidValueError(f"DCGAN expects z of shape [N, {self.z_dim}], got {list(z.shape)}")
        if not self.num_classes:
            if classes is not None:
                raise InvalidValueError(f"{self.identity.name} is not class-conditional: it takes no classes")
            return z[:, :, None, None]
        if classes is None:
            raise InvalidValueError(f"{self.identity.name} is class-conditional: give Latents.classes")
        if tuple(classes.shape) != (z.shape[0], self.num_classes):
            raise InvalidValueError(
                f"classes must have shape [{z.shape[0]}, {self.num_classes}], got {list(classes.shape)}"
            )
        return torch.cat([z, classes.to(z.dtype)], dim=1)[:, :, None, None]

    def _stages(self, x: Tensor, wanted: set[str]) -> dict[str, Tensor]:
        """The ``wanted`` named stages from the input ``x``; the forward stops after the last of them."""
        out: dict[str, Tensor] = {}
        for index, module in enumerate(self.main):
            x = module(x)
            name = self._stage_at.get(index)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    return out
        out["image"] = x
        return out

    def synthesize(self, latents: Latents) -> Tensor:
        return self.main(self._input(latents))

    def feature_names(self) -> list[str]:
        return ["fc", *(f"block{k + 1}" for k in range(self.num_blocks)), "image"]

    def features(self, latents: Latents, names: Sequence[str]) -> dict[str, Tensor]:
        self.check_features(names)
        stages = self._stages(self._input(latents), set(names))
        return {name: stages[name] for name in names}

    # ----- what methods read ---------------------------------------------------------------------
    def latent_projections(self) -> list[LatentProjection]:
        conv, bn = self.main[0], self.main[1]
        # ConvTranspose on a 1×1 input: y[c, i, j] = Σ_k x_k W[k, c, i, j] with x = [z; classes]; then eval-mode BN.
        gain = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # [C]
        rows = (conv.weight * gain[None, :, None, None]).reshape(conv.weight.shape[0], -1)  # [nz + K, C·16]
        bias = (bn.bias - bn.running_mean * gain)[:, None, None].expand(-1, 4, 4)
        return [
            LatentProjection(
                name="fc",
                weight=rows[: self.z_dim].T.detach(),  # [C·16, nz], flat index c·16 + 4·row + col
                bias=bias.reshape(-1).detach(),
                space=Z,
                layers=(0,),
                shape=(conv.weight.shape[1], 4, 4),
                resolution=4,
                class_bias=rows[self.z_dim :].detach() if self.num_classes else None,  # [K, C·16]
            )
        ]

    # ----- checkpoint layout ---------------------------------------------------------------------
    @classmethod
    def match_checkpoint(cls, checkpoint: Checkpoint) -> tuple[dict[str, Any], dict[str, Tensor]] | None:
        """``(config, state_dict)`` for a PyTorch-tutorial DCGAN state dict, ``None`` if the keys do not fit.

        The number of blocks and the Dropout's place come from the keys; a class-conditional model's split of the
        first layer's input into z and classes does not (its catalog entry gives ``nz`` and ``num_classes``)."""
        prefix = checkpoint.prefix_of("main.0.weight")
        if prefix is None:
            return None
        tensors = checkpoint.sub(prefix)
        convs = _conv_weights(tensors)
        if convs is None:
            return None
        dropout, weights = convs
        first, last, num_blocks = weights[0], weights[-1], len(weights) - 2
        if not 1 <= num_blocks <= MAX_BLOCKS or first.shape[1] != last.shape[0] * 2**num_blocks:
            return None
        config = {
            "nz": int(first.shape[0]),
            "ngf": int(last.shape[0]),
            "nc": int(last.shape[1]),
            "num_blocks": num_blocks,
            "dropout": dropout,
        }
        expected = cls.expected_state(config)
        missing = sorted(set(expected) - set(tensors))
        if missing:
            raise CheckpointFormatError(f"looks like a DCGAN ({len(weights)} ConvTranspose2d) but lacks {missing[:5]}")
        return config, {k: tensors[k] for k in expected}


def _conv_weights(tensors: dict[str, Tensor]) -> tuple[bool, list[Tensor]] | None:
    """Whether the Dropout layout is used and the ConvTranspose weights in order (every third layer after the
    first, one later with the Dropout), ``None`` unless they are 4×4 kernels."""
    dropout = "main.3.weight" not in tensors and "main.4.weight" in tensors
    indices = itertools.chain([0], itertools.count(3 + dropout, 3))
    weights = list(itertools.takewhile(lambda t: t is not None, (tensors.get(f"main.{i}.weight") for i in indices)))
    if len(weights) < 3 or any(w.ndim != 4 or tuple(w.shape[2:]) != (4, 4) for w in weights):
        return None
    return dropout, weights


def _check_class_names(names: Sequence[str] | None, num_classes: int) -> tuple[str, ...]:
    """The class names as a tuple (empty: the defaults); one per class, all strings, or a ``CheckpointFormatError``."""
    if num_classes < 0:
        raise CheckpointFormatError(f"DCGAN num_classes must not be negative, got {num_classes}")
    if names is None:
        return ()
    if isinstance(names, str) or len(names) != num_classes or not all(isinstance(n, str) for n in names):
        raise CheckpointFormatError(f"DCGAN class_names must be {num_classes} strings, got {str(names)[:80]}")
    return tuple(names)
