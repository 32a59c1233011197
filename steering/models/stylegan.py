"""StyleGAN (v1) generator in genforce's layout, e.g. ``huggan/stylegan_{animeface512,car512,cat256}``.

Keys as genforce names them (``genforce/sefa`` and ``genforce/genforce`` ``models/stylegan_generator.py``), with
``L = 2·log2(resolution) − 2`` synthesis layers, layer ``l`` working at ``4·2^(l // 2)`` px:

* ``mapping.dense{i}.{weight, bias}``: pixel norm on z, then ``mapping_layers`` equalised-LR dense layers with leaky
  ReLU 0.2 (gain √2, learning-rate multiplier ``mapping_lr_mul`` = 0.01 for weights and biases);
* ``truncation.w_avg`` [w_dim]: the truncation centre w̄;
* ``synthesis.layer0.const`` [1, C_4, 4, 4]: the learned constant input;
* ``synthesis.layer{l}.weight`` [C, C_in, 3, 3] (l ≥ 1): 3×3 conv; even l also upsample ×2 first (nearest, or at
  ≥ 128 px with ``fused_scale='auto'`` one stride-2 transposed conv) and blur ([1, 2, 1]⊗[1, 2, 1]/16) after;
* ``synthesis.layer{l}.{bias, apply_noise.weight, apply_noise.noise, style.weight [2C, w_dim], style.bias [2C]}``;
  each layer: conv → noise·weight → + bias → leaky ReLU 0.2 → instance norm → AdaIN with the style
  ``s = A w_l + b``: ``x·(1 + s[:C]) + s[C:]`` (A = ``style.weight``/√w_dim);
* ``synthesis.output{b}.{weight [3, C, 1, 1], bias}``: ToRGB per resolution; a fully grown model (``synthesis.lod``
  = 0) uses only the last one, which is all we keep (blur kernels, ``lod`` and the other ToRGBs are dropped).

No final tanh in released models: images are roughly, not strictly, in [-1, 1].

Truncation (genforce / NVlabs v1): ``w̄ + ψ·(w − w̄)`` on the first ``truncation_layers`` (8) W+ layers only. One
``w`` cannot carry a per-layer truncation, so: z → w+ applies exactly genforce's layer-limited truncation; z → w
truncates the single w by ψ (every layer, as StyleGAN2 does), and w → w+ copies it to every layer. Sample in
``w+`` to reproduce genforce's images with ψ < 1; edits in W+ (SeFa's) are added after truncation either way.

Noise: chosen per request by ``Latents.noise`` (see ``style_based``): the stored ``apply_noise.noise`` buffers
(genforce's default), one fixed realisation from a seed, or none.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import CheckpointFormatError, InvalidValueError
from .base import WPLUS, LatentProjection, Latents, W, Z
from .checkpoint import Checkpoint
from .pggan import (
    SQRT2,
    EqualConv,
    check_lod,
    check_resolution,
    count_indexed,
    fused_up_kernel,
    genforce_channels,
    genforce_prefix,
    pixel_norm,
    resolutions,
    shape_problems,
)
from .style_based import StyleBasedGenerator

NOISE_TYPES = ("spatial", "channel")
#: genforce's ``fused_scale='auto'`` fuses upsampling and conv from this resolution on.
AUTO_FUSED_SCALE_MIN_RES = 128
#: z samples averaged for w̄ when a checkpoint carries none.
W_AVG_SAMPLES = 10_000


def blur_kernel() -> Tensor:
    """StyleGAN v1's blur: [1, 2, 1] ⊗ [1, 2, 1], normalised to sum 1."""
    taps = torch.tensor([1.0, 2.0, 1.0])
    kernel = taps[:, None] * taps[None, :]
    return kernel / kernel.sum()


def instance_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + eps)


class EqualDense(nn.Module):
    """Mapping layer: raw ``weight`` × ``lr_mul·√2/√in`` and ``bias`` × ``lr_mul`` at run time, then leaky ReLU 0.2."""

    def __init__(self, in_dim: int, out_dim: int, lr_mul: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.scale, self.lr_mul = SQRT2 / math.sqrt(in_dim) * lr_mul, lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(F.linear(x, self.weight * self.scale, self.bias * self.lr_mul), 0.2)


class StyleAffine(nn.Module):
    """``style = A w + b`` with ``A`` = raw ``weight`` [2C, w_dim] / √w_dim: AdaIN scale offsets, then shifts."""

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(2 * channels, w_dim))
        self.bias = nn.Parameter(torch.zeros(2 * channels))
        self.scale = 1.0 / math.sqrt(w_dim)

    def effective(self) -> tuple[Tensor, Tensor]:
        return self.weight * self.scale, self.bias

    def forward(self, w: Tensor) -> Tensor:
        return F.linear(w, *self.effective())


class NoiseInput(nn.Module):
    """Per-layer noise: ``noise`` buffer times learned ``weight``; spatial ([1, 1, r, r] × [C]) or channel-wise
    ([1, C, 1, 1] × [r, r], genforce/genforce's ``noise_type='channel'``)."""

    def __init__(self, resolution: int, channels: int, noise_type: str):
        super().__init__()
        if noise_type not in NOISE_TYPES:
            raise InvalidValueError(f"noise_type must be one of {NOISE_TYPES}, got {noise_type!r}")
        self.noise_type = noise_type
        spatial = noise_type == "spatial"
        self.register_buffer(
            "noise", torch.randn(1, 1, resolution, resolution) if spatial else torch.randn(1, channels, 1, 1)
        )
        self.weight = nn.Parameter(torch.zeros(channels) if spatial else torch.zeros(resolution, resolution))

    def forward(self, x: Tensor, noise: Tensor | None) -> Tensor:
        if noise is None:
            return x
        weight = self.weight[None, :, None, None] if self.noise_type == "spatial" else self.weight[None, None]
        return x + noise * weight


class StyleLayer(nn.Module):
    """One synthesis layer: the constant (``mode="const"``) or a (upsampling) conv; noise, bias, leaky ReLU,
    instance norm, AdaIN. Returns the features and the style it used."""

    def __init__(self, in_ch: int, out_ch: int, resolution: int, w_dim: int, mode: str, noise_type: str):
        super().__init__()
        if mode not in ("const", "conv", "up", "up-fused"):
            raise InvalidValueError(f"unknown StyleGAN layer mode {mode!r}")
        self.mode, self.channels = mode, int(out_ch)
        if mode == "const":
            self.const = nn.Parameter(torch.ones(1, out_ch, resolution, resolution))
        else:
            self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
            self.scale = SQRT2 / math.sqrt(in_ch * 9)
        if mode.startswith("up"):
            self.register_buffer("blur", blur_kernel().expand(out_ch, 1, 3, 3).clone(), persistent=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.apply_noise = NoiseInput(resolution, out_ch, noise_type)
        self.style = StyleAffine(w_dim, out_ch)

    def forward(self, x: Tensor | None, w: Tensor, noise: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.mode == "const":
            x = self.const.expand(w.shape[0], -1, -1, -1)
        else:
            assert x is not None
            weight = self.weight * self.scale
            if self.mode == "up-fused":
                x = F.conv_transpose2d(x, fused_up_kernel(weight).transpose(0, 1), stride=2, padding=1)
            else:
                if self.mode == "up":
                    x = F.interpolate(x, scale_factor=2, mode="nearest")
                x = F.conv2d(x, weight, padding=1)
            if self.mode != "conv":
                x = F.conv2d(x, self.blur.to(x.dtype), padding=1, groups=self.channels)
        x = self.apply_noise(x, noise)
        x = F.leaky_relu(x + self.bias[None, :, None, None], 0.2)
        x = instance_norm(x)
        style = self.style(w)  # [N, 2C]
        scale, shift = style[:, : self.channels], style[:, self.channels :]
        return x * (1.0 + scale[:, :, None, None]) + shift[:, :, None, None], style


class StyleGAN(StyleBasedGenerator):
    """genforce's ``StyleGANGenerator`` at full resolution (``lod`` 0): unconditional, constant input, ``repeat_w``."""

    architecture = "stylegan"
    latent_spaces = (Z, W, WPLUS)

    def __init__(
        self,
        resolution: int = 1024,
        z_dim: int = 512,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_fmaps: int = 512,
        mapping_lr_mul: float = 0.01,
        channels: Sequence[int] | None = None,
        fmaps_base: int = 16 << 10,
        fmaps_max: int = 512,
        image_channels: int = 3,
        fused_scale: bool | str = "auto",
        noise_type: str = "spatial",
        final_tanh: bool = False,
        truncation_layers: int = 8,
    ) -> None:
        """``channels``: widths at 4, 8, …, ``resolution`` px; default ``min(fmaps_base // r, fmaps_max)``.
        ``fused_scale``: ``"auto"`` (fused from 128 px, genforce's default), ``True`` or ``False``."""
        super().__init__()
        self.resolution = check_resolution(resolution, "StyleGAN")
        self.z_dim, self.w_dim, self.image_channels = int(z_dim), int(w_dim), int(image_channels)
        self.mapping_layers, self.mapping_fmaps = int(mapping_layers), int(mapping_fmaps)
        self.mapping_lr_mul = float(mapping_lr_mul)
        widths = (
            [int(c) for c in channels] if channels is not None else genforce_channels(resolution, fmaps_base, fmaps_max)
        )
        if len(widths) != len(resolutions(resolution)):
            raise InvalidValueError(f"channels needs one width per resolution 4 … {resolution}, got {widths}")
        if fused_scale not in ("auto", True, False):
            raise InvalidValueError(f"fused_scale must be 'auto', true or false, got {fused_scale!r}")
        if self.mapping_layers < 1:
            raise InvalidValueError(f"mapping_layers must be at least 1, got {mapping_layers}")
        self.channels, self.fused_scale, self.noise_type = widths, fused_scale, noise_type
        self.final_tanh, self.truncation_layers = bool(final_tanh), int(truncation_layers)

        self.mapping = nn.Module()
        dims = [self.z_dim] + [self.mapping_fmaps] * (self.mapping_layers - 1) + [self.w_dim]
        for i, (a, b) in enumerate(itertools.pairwise(dims)):
            self.mapping.add_module(f"dense{i}", EqualDense(a, b, self.mapping_lr_mul))
        self.truncation = nn.Module()
        self.truncation.register_buffer("w_avg", torch.zeros(self.w_dim))
        self.synthesis = nn.Module()
        for li, res in enumerate(self.layer_resolutions):
            b = li // 2
            if li == 0:
                mode = "const"
            elif li % 2:
                mode = "conv"
            else:
                fused = res >= AUTO_FUSED_SCALE_MIN_RES if fused_scale == "auto" else bool(fused_scale)
                mode = "up-fused" if fused else "up"
            c_in = widths[b - 1] if mode.startswith("up") else widths[b]
            self.synthesis.add_module(f"layer{li}", StyleLayer(c_in, widths[b], res, self.w_dim, mode, noise_type))
        to_rgb = EqualConv(widths[-1], self.image_channels, "torgb", gain=1.0)
        self.synthesis.add_module(f"output{len(widths) - 1}", to_rgb)
        self.eval()

    # ----- configuration -------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "mapping_layers": self.mapping_layers,
            "mapping_fmaps": self.mapping_fmaps,
            "mapping_lr_mul": self.mapping_lr_mul,
            "channels": list(self.channels),
            "image_channels": self.image_channels,
            "fused_scale": self.fused_scale,
            "noise_type": self.noise_type,
            "final_tanh": self.final_tanh,
            "truncation_layers": self.truncation_layers,
        }

    # ----- layout --------------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return 2 * len(resolutions(self.resolution))

    @property
    def layer_resolutions(self) -> list[int]:
        return [4 * 2 ** (li // 2) for li in range(self.num_layers)]

    @property
    def layer_names(self) -> list[str]:
        kinds = {"const": "const", "conv": "conv", "up": "up-conv", "up-fused": "up-conv"}
        return [f"{r}×{r} {kinds[self.layer(li).mode]}" for li, r in enumerate(self.layer_resolutions)]

    def layer(self, index: int) -> StyleLayer:
        return getattr(self.synthesis, f"layer{index}")

    @property
    def to_rgb(self) -> EqualConv:
        return getattr(self.synthesis, f"output{len(self.channels) - 1}")

    # ----- latent spaces -------------------------------------------------------------------------
    def mapping_network(self, z: Tensor) -> Tensor:
        """w = f(z), without truncation."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InvalidValueError(f"z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        x = pixel_norm(z)
        for i in range(self.mapping_layers):
            x = getattr(self.mapping, f"dense{i}")(x)
        return x

    def truncate(self, codes: Tensor, psi: float) -> Tensor:
        """Pull codes towards w̄ by ψ. w [N, w_dim]: every layer; w+ [N, L, w_dim]: the first ``truncation_layers``."""
        if psi == 1.0:
            return codes
        w_avg = self.truncation.w_avg
        if codes.ndim == 2:
            return w_avg + psi * (codes - w_avg)
        coef = torch.ones(self.num_layers, 1, dtype=codes.dtype, device=codes.device)
        coef[: self.truncation_layers] = psi
        return w_avg + coef * (codes - w_avg)

    def to_space(self, latents: Latents, space: str) -> Latents:
        """z → w (mapping, truncation by ψ) → w+ (copies); z → w+ directly: genforce's layer-limited truncation."""
        self.check_space(space)
        self.check_space(latents.space)
        if latents.space == space:
            return latents
        if latents.space == WPLUS or (latents.space == W and space == Z):
            raise InvalidValueError(f"{latents.space} latents cannot be mapped back to {space!r}")
        codes, psi = latents.codes, float(latents.truncation)
        if latents.space == Z:
            w = self.mapping_network(codes.to(self.dtype))
            if space == W:
                return latents.replace(codes=self.truncate(w, psi), space=W)
            wplus = w[:, None, :].repeat(1, self.num_layers, 1)
            return latents.replace(codes=self.truncate(wplus, psi), space=WPLUS)
        if codes.ndim != 2 or codes.shape[1] != self.w_dim:
            raise InvalidValueError(f"w must have shape [N, {self.w_dim}], got {list(codes.shape)}")
        return latents.replace(codes=codes[:, None, :].repeat(1, self.num_layers, 1), space=WPLUS)

    # ----- synthesis -----------------------------------------------------------------------------
    def noise_buffers(self) -> list[Tensor]:
        return [self.layer(li).apply_noise.noise for li in range(self.num_layers)]

    def _run(self, wplus: Tensor, wanted: set[str], noise: list[Tensor | None]) -> dict[str, Tensor]:
        """One synthesis pass: block outputs ``b{r}``, ``style{l}`` (AdaIN styles [N, 2C]), ``image``; stops early."""
        out: dict[str, Tensor] = {}
        x: Tensor | None = None
        for li, res in enumerate(self.layer_resolutions):
            if wanted <= set(out):
                break
            x, out[f"style{li}"] = self.layer(li)(x, wplus[:, li], noise[li])
            if li % 2:
                out[f"b{res}"] = x
        if "image" in wanted:
            assert x is not None
            image = self.to_rgb(x)
            out["image"] = torch.tanh(image) if self.final_tanh else image
        return {name: out[name] for name in wanted}

    def styles(self, latents: Latents) -> list[Tensor]:
        """The AdaIN styles [N, 2·C_l] each synthesis layer computes from its w (what ``latent_projections`` map)."""
        names = [f"style{li}" for li in range(self.num_layers)]
        found = self._run(self._wplus(latents), set(names), self.noise_inputs(latents.noise))
        return [found[name] for name in names]

    def block_resolutions(self) -> list[int]:
        return resolutions(self.resolution)

    # ----- what methods read ---------------------------------------------------------------------
    def latent_projections(self) -> list[LatentProjection]:
        """Per W+ layer its style affine: weight [2C, w_dim] (with the 1/√w_dim gain), bias [2C]; rows are the
        AdaIN scale offsets then shifts (the layer multiplies by ``1 + scale``). SeFa's StyleGAN matrix."""
        projections = []
        for li, res in enumerate(self.layer_resolutions):
            weight, bias = self.layer(li).style.effective()
            projections.append(
                LatentProjection(
                    name=self.layer_names[li],
                    weight=weight.detach(),
                    bias=bias.detach(),
                    space=W,
                    layers=(li,),
                    resolution=res,
                )
            )
        return projections

    def estimate_w_avg(self, samples: int = W_AVG_SAMPLES, seed: int = 0) -> Tensor:
        """Mean of the mapping over ``samples`` standard-normal z (for checkpoints without ``w_avg``)."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            z = torch.randn(samples, self.z_dim, generator=gen).to(self.device)
            return torch.cat([self.mapping_network(chunk) for chunk in z.split(2048)]).mean(dim=0)

    # ----- checkpoint layout ---------------------------------------------------------------------
    @classmethod
    def match_checkpoint(cls, checkpoint: Checkpoint) -> tuple[dict[str, Any], dict[str, Tensor]] | None:
        """A genforce StyleGAN generator state dict (bare, or under ``generator_smooth.`` / ``generator.``)."""
        prefix = genforce_prefix(checkpoint, "synthesis.layer0.const", "mapping.dense0.weight")
        if prefix is None:
            return None
        tensors = checkpoint.sub(prefix)
        where = f"a genforce StyleGAN generator ({prefix}synthesis.layer0.const)"

        def fail(why: str) -> CheckpointFormatError:
            return CheckpointFormatError(f"the checkpoint looks like {where} but {why}; found {checkpoint.summary()}")

        if "mapping.label_weight" in tensors:
            raise fail("is class-conditional (mapping.label_weight); only unconditional StyleGAN is supported")
        check_lod(tensors, "synthesis.lod", where)
        mapping_layers = count_indexed(tensors, "mapping.dense{}.weight")
        first, last = tensors["mapping.dense0.weight"], tensors[f"mapping.dense{mapping_layers - 1}.weight"]
        if first.ndim != 2 or last.ndim != 2:
            raise fail(f"mapping.dense0.weight has shape {list(first.shape)}")
        w_dim = int(last.shape[0])
        const = tensors["synthesis.layer0.const"]
        num_blocks = count_indexed(tensors, "synthesis.output{}.weight")
        if const.ndim != 4 or num_blocks < 1:
            raise fail("its synthesis network has no ToRGB (synthesis.output0.weight) or a malformed constant")
        channels = [int(const.shape[1])]
        for b in range(1, num_blocks):
            key = f"synthesis.layer{2 * b + 1}.weight"
            if key not in tensors or tensors[key].ndim != 4:
                raise fail(f"lacks {prefix}{key}")
            channels.append(int(tensors[key].shape[0]))
        noise = tensors.get("synthesis.layer0.apply_noise.noise")
        noise_type = "channel" if noise is not None and noise.ndim == 4 and noise.shape[1] > 1 else "spatial"
        config: dict[str, Any] = {
            "resolution": 4 * 2 ** (num_blocks - 1),
            "z_dim": int(first.shape[1]),
            "w_dim": w_dim,
            "mapping_layers": mapping_layers,
            "mapping_fmaps": int(first.shape[0]) if mapping_layers > 1 else w_dim,
            "mapping_lr_mul": 0.01,  # not stored in weights; genforce's and NVlabs' default
            "channels": channels,
            "image_channels": int(tensors[f"synthesis.output{num_blocks - 1}.weight"].shape[0]),
            "fused_scale": "auto",  # not visible in weights; genforce's default
            "noise_type": noise_type,
            "final_tanh": False,
            "truncation_layers": 8,
        }
        w_avg = tensors.get("truncation.w_avg")
        if w_avg is None:
            w_avg = checkpoint.tensors.get(prefix + "latent_avg", checkpoint.tensors.get("latent_avg"))
        if w_avg is not None and tuple(w_avg.shape) != (w_dim,):
            raise fail(f"its w̄ has shape {list(w_avg.shape)}, not [{w_dim}] (repeat_w=False is not supported)")
        expected = cls.expected_state(config)
        problems = shape_problems({k: v for k, v in expected.items() if k != "truncation.w_avg"}, tensors, prefix)
        if problems:
            raise fail(" and ".join(problems))
        model = cls.from_config(config)  # the checkpoint's tensors fit it: as large as the file, no larger
        for li in range(model.num_layers):
            key = f"synthesis.layer{li}.blur.kernel"
            if key in tensors and not torch.allclose(tensors[key].float(), model.layer(li).blur.float()):
                problems.append(f"has a blur kernel {key} other than [1, 2, 1]⊗[1, 2, 1]/16")
        if problems:
            raise fail(" and ".join(problems))
        state = {k: tensors[k] for k in expected if k != "truncation.w_avg"}
        if w_avg is None:
            model.load_state_dict(state, strict=False)
            w_avg = model.estimate_w_avg()
        state["truncation.w_avg"] = w_avg
        return config, state
