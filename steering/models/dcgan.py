"""DCGAN (the PyTorch-tutorial generator), e.g. the 64×64 faces model embedded in ``gan-face-generate``.

Layout (keys ``main.{0,1,3,4,6,7,9,10,12}.*``): ConvTranspose(nz → 8·ngf, 4×4 from 1×1) + BatchNorm + ReLU,
three ×2 ConvTranspose + BatchNorm + ReLU blocks, a final ×2 ConvTranspose to ``nc`` channels and tanh.
In eval mode the first ConvTranspose followed by BatchNorm is an affine map of z, exposed folded as
``LatentProjection("fc", A, b, shape=(8·ngf, 4, 4))``.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from ..errors import CheckpointFormatError, InvalidValueError
from .base import Generator, LatentProjection, Latents, Z
from .checkpoint import Checkpoint

FEATURES = ("fc", "block1", "block2", "block3", "image")


class DCGAN(Generator):
    architecture = "dcgan"
    latent_spaces = (Z,)

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.z_dim, self.ngf, self.image_channels, self.bn_eps = int(nz), int(ngf), int(nc), float(bn_eps)
        self.resolution = 64
        widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False)]
        for c_in, c_out in itertools.pairwise(widths):
            layers += [
                nn.BatchNorm2d(c_in, eps=bn_eps),
                nn.ReLU(),
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
            ]
        layers += [
            nn.BatchNorm2d(widths[-1], eps=bn_eps),
            nn.ReLU(),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        ]
        self.main = nn.Sequential(*layers)
        self.eval()

    @property
    def config(self) -> dict[str, Any]:
        return {"nz": self.z_dim, "ngf": self.ngf, "nc": self.image_channels, "bn_eps": self.bn_eps}

    @property
    def layer_names(self) -> list[str]:
        return ["z → 4×4"]

    @property
    def layer_resolutions(self) -> list[int]:
        return [4]

    def train(self, mode: bool = True) -> DCGAN:
        # Batch norm must use its running statistics: synthesis stays a function of z alone.
        return super().train(False)

    # ----- synthesis -----------------------------------------------------------------------------
    def _stages(self, z: Tensor, wanted: set[str]) -> dict[str, Tensor]:
        """The ``wanted`` named stages; the forward stops after the last of them."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InvalidValueError(f"DCGAN expects z of shape [N, {self.z_dim}], got {list(z.shape)}")
        x = z[:, :, None, None]
        out: dict[str, Tensor] = {}
        names = iter(FEATURES)
        for index, module in enumerate(self.main):
            x = module(x)
            if (isinstance(module, nn.BatchNorm2d) and index == 1) or (isinstance(module, nn.ReLU) and index > 2):
                name = next(names)  # "fc" is the affine map of z (before its ReLU), then each block's output
                if name in wanted:
                    out[name] = x
                    if len(out) == len(wanted):
                        return out
        out["image"] = x
        return out

    def synthesize(self, latents: Latents) -> Tensor:
        self._check(latents)
        return self.main(latents.codes[:, :, None, None])

    def feature_names(self) -> list[str]:
        return list(FEATURES)

    def features(self, latents: Latents, names: Sequence[str]) -> dict[str, Tensor]:
        self.check_features(names)
        self._check(latents)
        stages = self._stages(latents.codes, set(names))
        return {name: stages[name] for name in names}

    def _check(self, latents: Latents) -> None:
        if latents.space != Z:
            raise InvalidValueError(f"DCGAN synthesises from z, got latents in {latents.space!r}")

    # ----- what methods read ---------------------------------------------------------------------
    def latent_projections(self) -> list[LatentProjection]:
        conv, bn = self.main[0], self.main[1]
        # ConvTranspose on a 1×1 input: y[c, i, j] = Σ_k z_k W[k, c, i, j]; then eval-mode batch norm.
        gain = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # [C]
        weight = conv.weight * gain[None, :, None, None]  # [nz, C, 4, 4]
        bias = (bn.bias - bn.running_mean * gain)[:, None, None].expand(-1, 4, 4)
        channels = weight.shape[1]
        return [
            LatentProjection(
                name="fc",
                weight=weight.reshape(self.z_dim, -1).T.detach(),  # [C·16, nz], flat index c·16 + 4·row + col
                bias=bias.reshape(-1).detach(),
                space=Z,
                layers=(0,),
                shape=(channels, 4, 4),
                resolution=4,
            )
        ]

    # ----- checkpoint layout ---------------------------------------------------------------------
    @classmethod
    def match_checkpoint(cls, checkpoint: Checkpoint) -> tuple[dict[str, Any], dict[str, Tensor]] | None:
        """``(config, state_dict)`` for a PyTorch-tutorial DCGAN state dict, ``None`` if the keys do not fit."""
        prefix = checkpoint.prefix_of("main.0.weight")
        if prefix is None:
            return None
        tensors = checkpoint.sub(prefix)
        first, last = tensors.get("main.0.weight"), tensors.get("main.12.weight")
        if first is None or last is None or first.ndim != 4 or last.ndim != 4:
            return None
        if first.shape[1] % 8 or tuple(first.shape[2:]) != (4, 4):
            return None
        config = {"nz": int(first.shape[0]), "ngf": int(first.shape[1]) // 8, "nc": int(last.shape[1])}
        expected = cls.expected_state(config)
        missing = sorted(set(expected) - set(tensors))
        if missing:
            raise CheckpointFormatError(f"looks like a DCGAN (main.0 … main.12) but lacks {missing[:5]}")
        return config, {k: tensors[k] for k in expected}
