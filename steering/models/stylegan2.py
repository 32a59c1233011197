"""StyleGAN2 generator in plain PyTorch (no custom CUDA ops): rosinality's math, rosinality's and NVlabs' weights.

Mapping: PixelNorm, then ``n_mlp`` equalised-LR linear layers with leaky ReLU (slope 0.2, gain √2, learning-rate
multiplier ``lr_mlp``) turn z into w. Synthesis: a learned 4×4 constant; per resolution an upsampling modulated conv
(transposed conv + [1,3,3,1] blur) and a modulated conv, each with demodulation, noise and biased leaky ReLU; a ToRGB
(modulated 1×1 conv, no demodulation) per resolution whose output is added to the upsampled RGB skip.

W+ layer ``l`` (``num_layers = 2·log2(size) − 2``) feeds: ``l = 0`` the 4×4 conv; odd ``l`` the ToRGB of the
previous resolution and the upsampling conv of the next; even ``l ≥ 2`` the second conv of a resolution; the last
index only the final ToRGB (rosinality's and NVlabs' order).

State dict = rosinality's key names (``style.1.weight``, ``input.input``, ``conv1.conv.modulation.weight``,
``convs.N.*``, ``to_rgbs.N.*``, ``noises.noise_N``) plus ``latent_avg`` (w̄, the truncation centre). Weights are
stored raw; equalised-LR gains are applied at run time (NVlabs stores them the same way, so its tensors copy over).

Noise: chosen per request by ``Latents.noise`` (see ``style_based``): the stored ``noises`` buffers (default), one
fixed realisation from a seed, or none; all keep synthesis a pure function of the latents (``jacrev`` / ``vmap``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from ..errors import InvalidValueError
from . import stylegan2_layouts
from .base import WPLUS, LatentProjection, Latents, W, Z
from .checkpoint import Checkpoint
from .style_based import StyleBasedGenerator
from .stylegan2_blocks import NamedTensor, StyledConv, ToRGB, make_mapping, resolutions, rosinality_channels


class StyleGAN2(StyleBasedGenerator):
    architecture = "stylegan2"
    latent_spaces = (Z, W, WPLUS)

    def __init__(
        self,
        size: int = 1024,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
        lr_mlp: float = 0.01,
        image_channels: int = 3,
        z_dim: int | None = None,
        channels: Sequence[int] | None = None,
        conv_clamp: float | None = None,
    ) -> None:
        """``channels``: explicit widths at 4, 8, …, ``size`` px (overrides ``channel_multiplier``); ``z_dim``
        defaults to ``style_dim``; ``conv_clamp``: NVlabs' activation clamp (``None``: none, as in rosinality)."""
        super().__init__()
        log_size = int(math.log2(size))
        if size < 8 or 2**log_size != size:
            raise InvalidValueError(f"StyleGAN2 size must be a power of two ≥ 8, got {size}")
        self.size = self.resolution = int(size)
        self.style_dim = self.w_dim = int(style_dim)
        self.z_dim = int(z_dim) if z_dim is not None else self.style_dim
        self.n_mlp, self.channel_multiplier = int(n_mlp), int(channel_multiplier)
        self.blur_kernel = [int(v) for v in blur_kernel]
        self.lr_mlp, self.image_channels = float(lr_mlp), int(image_channels)
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)
        default = rosinality_channels(size, channel_multiplier)
        widths = [int(c) for c in channels] if channels is not None else default
        if len(widths) != len(default):
            raise InvalidValueError(f"channels needs {len(default)} widths (4 … {size} px), got {len(widths)}")
        self.channels = widths
        self._explicit_channels = channels is not None and widths != default

        self.style = make_mapping(self.z_dim, self.style_dim, self.n_mlp, self.lr_mlp)
        self.input = NamedTensor("input", torch.randn(1, widths[0], 4, 4), parameter=True)
        args = dict(style_dim=self.style_dim, blur_kernel=self.blur_kernel, conv_clamp=self.conv_clamp)
        self.conv1 = StyledConv(widths[0], widths[0], up=False, **args)
        self.to_rgb1 = ToRGB(widths[0], image_channels=self.image_channels, upsample=False, **args)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        for c_in, c_out in itertools.pairwise(widths):
            self.convs.append(StyledConv(c_in, c_out, up=True, **args))
            self.convs.append(StyledConv(c_out, c_out, up=False, **args))
            self.to_rgbs.append(ToRGB(c_out, image_channels=self.image_channels, upsample=True, **args))
        self.noises = nn.Module()
        for j, shape in enumerate(self.noise_shapes()):
            self.noises.register_buffer(f"noise_{j}", torch.randn(shape))
        self.register_buffer("latent_avg", torch.zeros(self.style_dim))
        self.eval()

    # ----- configuration -------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "size": self.size,
            "style_dim": self.style_dim,
            "n_mlp": self.n_mlp,
            "channel_multiplier": self.channel_multiplier,
            "blur_kernel": list(self.blur_kernel),
            "lr_mlp": self.lr_mlp,
            "image_channels": self.image_channels,
        }
        if self.z_dim != self.style_dim:
            config["z_dim"] = self.z_dim
        if self._explicit_channels:
            config["channels"] = list(self.channels)
        if self.conv_clamp is not None:
            config["conv_clamp"] = self.conv_clamp
        return config

    def noise_shapes(self) -> list[tuple[int, int, int, int]]:
        """Shapes of the per-conv noise inputs: one at 4 px, two per higher resolution."""
        return [(1, 1, 2 ** ((j + 5) // 2), 2 ** ((j + 5) // 2)) for j in range(2 * int(math.log2(self.size)) - 3)]

    # ----- layout --------------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return 2 * int(math.log2(self.size)) - 2

    @property
    def layer_resolutions(self) -> list[int]:
        res = [2 ** ((i + 1) // 2 + 2) for i in range(self.num_layers - 1)]
        return [*res, self.size]

    @property
    def layer_names(self) -> list[str]:
        names = []
        for i, r in enumerate(self.layer_resolutions):
            if i == self.num_layers - 1:
                kind = "to-RGB"
            else:
                kind = "up-conv" if i % 2 else "conv"
            names.append(f"{r}×{r} {kind}")
        return names

    # ----- latent spaces -------------------------------------------------------------------------
    def mapping(self, z: Tensor) -> Tensor:
        """w = f(z), without truncation."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InvalidValueError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        return self.style(z.to(self.latent_avg.dtype))

    def truncate(self, w: Tensor, psi: float) -> Tensor:
        """Pull w towards w̄ by ψ: ``w̄ + ψ·(w − w̄)`` (ψ = 1: unchanged)."""
        if psi == 1.0:
            return w
        return self.latent_avg + psi * (w - self.latent_avg)

    def to_space(self, latents: Latents, space: str) -> Latents:
        """z → w (mapping, then truncation by ``latents.truncation`` in W) → w+ (one copy per layer)."""
        self.check_space(space)
        self.check_space(latents.space)
        if latents.space == space:
            return latents
        codes = latents.codes
        if latents.space == WPLUS:
            raise InvalidValueError(f"W+ latents cannot be mapped back to {space!r}")
        if latents.space == Z:
            codes = self.truncate(self.mapping(codes.to(self.dtype)), float(latents.truncation))
            if space == W:
                return latents.replace(codes=codes, space=W)
        if latents.space == W and space == Z:
            raise InvalidValueError("w latents cannot be mapped back to z")
        if codes.ndim != 2 or codes.shape[1] != self.w_dim:
            raise InvalidValueError(f"w must have shape [N, {self.w_dim}], got {list(codes.shape)}")
        return latents.replace(codes=codes[:, None, :].repeat(1, self.num_layers, 1), space=WPLUS)

    # ----- synthesis -----------------------------------------------------------------------------
    def noise_buffers(self) -> list[Tensor]:
        return [getattr(self.noises, f"noise_{j}") for j in range(len(self.noise_shapes()))]

    def _run(self, wplus: Tensor, wanted: set[str], noise: list[Tensor | None]) -> dict[str, Tensor]:
        """One synthesis pass; returns the wanted block outputs (``b4`` …) and ``image``; stops when all are done."""
        out: dict[str, Tensor] = {}
        need_image = "image" in wanted
        blocks = {name for name in wanted if name.startswith("b")}
        x = self.input.input.expand(wplus.shape[0], -1, -1, -1)
        x = self.conv1(x, wplus[:, 0], noise[0])
        out["b4"] = x
        skip = self.to_rgb1(x, wplus[:, 1], None) if need_image else None
        for k, to_rgb in enumerate(self.to_rgbs):
            if not need_image and blocks <= set(out):
                break
            x = self.convs[2 * k](x, wplus[:, 2 * k + 1], noise[2 * k + 1])
            x = self.convs[2 * k + 1](x, wplus[:, 2 * k + 2], noise[2 * k + 2])
            out[f"b{2 ** (k + 3)}"] = x
            if need_image:
                skip = to_rgb(x, wplus[:, 2 * k + 3], skip)
        if need_image:
            out["image"] = skip
        return {name: out[name] for name in wanted}

    def block_resolutions(self) -> list[int]:
        return resolutions(self.size)

    # ----- what methods read ---------------------------------------------------------------------
    def _readers(self, include_torgb: bool) -> list[list[nn.Module]]:
        """Per W+ index, the modulations that read it: the conv's first, then a ToRGB's."""
        readers: list[list[nn.Module]] = [[] for _ in range(self.num_layers)]
        readers[0].append(self.conv1.conv.modulation)
        for i, conv in enumerate(self.convs):
            readers[i + 1].append(conv.conv.modulation)
        for k, to_rgb in enumerate([self.to_rgb1, *self.to_rgbs]):
            if include_torgb or 2 * k + 1 == self.num_layers - 1:
                readers[2 * k + 1].append(to_rgb.conv.modulation)
        return readers

    def latent_projections(self, include_torgb: bool = True) -> list[LatentProjection]:
        """Per W+ index the style affine(s) reading it: weight [C, w_dim], bias [C] (equalised-LR gain applied).

        Where an index feeds a conv and a ToRGB, the conv's rows come first. ``include_torgb=False`` keeps only
        the convs' affines except at the last index, which has only the final ToRGB (genforce SeFa's choice).
        """
        projections = []
        for index, modules in enumerate(self._readers(include_torgb)):
            pairs = [m.effective() for m in modules]
            projections.append(
                LatentProjection(
                    name=self.layer_names[index],
                    weight=torch.cat([p[0] for p in pairs]).detach(),
                    bias=torch.cat([p[1] for p in pairs]).detach(),
                    space=W,
                    layers=(index,),
                    resolution=self.layer_resolutions[index],
                )
            )
        return projections

    # ----- checkpoint layouts --------------------------------------------------------------------
    @classmethod
    def match_checkpoint(cls, checkpoint: Checkpoint) -> tuple[dict[str, Any], dict[str, Tensor]] | None:
        """rosinality (``g_ema.*`` + ``latent_avg``, or a bare state dict) or NVlabs stylegan2-ada-pytorch
        (``G_ema.synthesis.*``, ``G_ema.mapping.*``) → ``(config, state_dict in our layout)``; ``None`` otherwise."""
        return stylegan2_layouts.match(cls, checkpoint)
