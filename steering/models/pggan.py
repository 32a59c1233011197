"""PGGAN (progressive growing of GANs) generator in genforce's layout, e.g. ``huggan/pggan-celebahq-1024``.

Keys as genforce names them (``genforce/sefa`` and ``genforce/genforce`` ``models/pggan_generator.py``), with
``C_r`` the width at ``r`` px and blocks ``b = 0 … log2(resolution) − 2``:

* ``layer0.{weight [C_4, z_dim, 4, 4], bias}``: the "dense" layer, a 4×4 conv with padding 3 over the 1×1 z;
* ``layer{2b}.{weight [C_r, C_r/2, 3, 3], bias}`` (b ≥ 1): nearest ×2 upsampling, then a 3×3 conv
  (``fused_scale``: one stride-2 transposed conv instead, weight stored ``[C_r/2, C_r, 3, 3]``; inferred from
  the shapes where widths change, else off as in every genforce PGGAN);
* ``layer{2b+1}.{weight [C_r, C_r, 3, 3], bias}``: a 3×3 conv;
* ``output{b}.{weight [3, C_r, 1, 1], bias}``: ToRGB per resolution; a fully grown model (``lod`` = 0) uses only the
  last, so only that one is kept. ``lod`` (progressive-training level of detail) must be 0.

Forward: z is pixel-normalised (and normalised again at the input of ``layer0``, as genforce does); every conv
block is pixel norm → (upsampling) → conv with equalised learning rate (raw weight × gain/√fan_in at run time, gain
√2, 1 for ToRGB) + bias → leaky ReLU 0.2 (none for ToRGB). No final tanh in released models (``final_tanh`` False):
images are roughly, not strictly, in [-1, 1].

The generator normalises z, so truncation by scaling z would change nothing: ψ has no effect on PGGAN. ``sample``
returns pixel-normalised z (as SeFa's interface does), and edits add to it.

Small helpers shared with ``stylegan.py`` (StyleGAN v1 is PGGAN's descendant in the same codebase) live here too.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import CheckpointFormatError, InvalidValueError
from .base import Generator, LatentProjection, Latents, Z
from .checkpoint import Checkpoint

SQRT2 = math.sqrt(2.0)
#: Where a genforce training checkpoint keeps its generators, best first (genforce loads ``generator_smooth``).
GENFORCE_PREFERRED = ("generator_smooth.", "generator.", "")
CONV_MODES = ("dense", "conv", "up", "up-fused", "torgb")


# ----- helpers shared with stylegan.py ---------------------------------------------------------------
def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Divide each position's feature vector (dim 1) by its root mean square."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def fused_up_kernel(weight: Tensor) -> Tensor:
    """genforce's fused upsampling: a 3×3 kernel → the 4×4 kernel of a stride-2, padding-1 transposed conv.

    Every 4×4 tap is the sum of a 2×2 window of the zero-padded 3×3 kernel. The result equals nearest ×2 upsampling
    followed by a 3×3 conv with the spatially flipped kernel (a transposed conv is a true convolution).
    """
    p = F.pad(weight, [1, 1, 1, 1])  # [..., 5, 5]
    return p[..., :4, :4] + p[..., 1:, :4] + p[..., :4, 1:] + p[..., 1:, 1:]


def genforce_channels(resolution: int, fmaps_base: int = 16 << 10, fmaps_max: int = 512) -> list[int]:
    """genforce's widths at 4, 8, …, ``resolution`` px: ``min(fmaps_base // r, fmaps_max)``."""
    return [min(fmaps_base // r, fmaps_max) for r in resolutions(resolution)]


def resolutions(resolution: int) -> list[int]:
    return [2**i for i in range(2, int(math.log2(resolution)) + 1)]


def check_resolution(resolution: int, name: str) -> int:
    if resolution < 4 or 2 ** int(math.log2(resolution)) != resolution:
        raise InvalidValueError(f"{name} resolution must be a power of two ≥ 4, got {resolution}")
    return int(resolution)


def genforce_prefix(checkpoint: Checkpoint, key: str, companion: str) -> str | None:
    """The prefix under which ``key`` and ``companion`` both appear; ``generator_smooth.`` (the EMA generator) wins
    over ``generator.``, then the top level, then the shortest other prefix. ``None`` if there is none."""
    found = [k[: -len(key)] for k in checkpoint.tensors if k == key or k.endswith("." + key)]
    found = [p for p in found if p + companion in checkpoint.tensors and not p.startswith("discriminator")]
    for prefix in GENFORCE_PREFERRED:
        if prefix in found:
            return prefix
    return min(found, key=len) if found else None


def count_indexed(tensors: Mapping[str, Tensor], pattern: str) -> int:
    """How many of ``pattern.format(0)``, ``pattern.format(1)``, … exist, counting from 0 without gaps."""
    n = 0
    while pattern.format(n) in tensors:
        n += 1
    return n


def check_lod(tensors: Mapping[str, Tensor], key: str, where: str) -> None:
    """genforce's ``lod`` buffer must be 0: a model saved mid progressive training is not fully grown."""
    lod = tensors.get(key)
    if lod is not None and lod.numel() == 1 and float(lod) != 0.0:
        raise CheckpointFormatError(
            f"{where} was saved during progressive training ({key} = {float(lod):g}); only fully grown models "
            "(lod 0) can be loaded: use the final checkpoint"
        )


def shape_problems(expected: Mapping[str, Tensor], tensors: Mapping[str, Tensor], prefix: str) -> list[str]:
    """Missing keys and shape mismatches of ``tensors`` against ``expected``, worded for an error message."""
    missing = [f"{prefix}{k}" for k in expected if k not in tensors]
    wrong = [
        f"{prefix}{k} {list(tensors[k].shape)} (expected {list(v.shape)})"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    problems = []
    if missing:
        problems.append(f"lacks {missing[:5]}" + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    if wrong:
        problems.append(f"has wrong shapes {wrong[:5]}" + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""))
    return problems


class EqualConv(nn.Module):
    """A conv with equalised learning rate: raw ``weight`` × ``gain/√fan_in`` at run time, plus ``bias``.

    ``mode``: ``"dense"`` (4×4 kernel, padding 3: a 1×1 input becomes 4×4), ``"conv"`` (3×3, padding 1),
    ``"up"`` (nearest ×2 upsampling, then 3×3), ``"up-fused"`` (one stride-2 transposed conv, see
    ``fused_up_kernel``; weight stored ``[in, out, 3, 3]`` as in genforce's PGGAN), ``"torgb"`` (1×1).
    """

    def __init__(self, in_ch: int, out_ch: int, mode: str, gain: float = SQRT2, bias: bool = True):
        super().__init__()
        if mode not in CONV_MODES:
            raise InvalidValueError(f"conv mode must be one of {CONV_MODES}, got {mode!r}")
        self.mode, self.in_ch, self.out_ch = mode, int(in_ch), int(out_ch)
        self.kernel = {"dense": 4, "torgb": 1}.get(mode, 3)
        shape = (in_ch, out_ch) if mode == "up-fused" else (out_ch, in_ch)
        self.weight = nn.Parameter(torch.randn(*shape, self.kernel, self.kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = gain / math.sqrt(in_ch * self.kernel**2)

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight * self.scale
        if self.mode == "up-fused":
            return F.conv_transpose2d(x, fused_up_kernel(weight), self.bias, stride=2, padding=1)
        if self.mode == "up":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        padding = {"dense": 3, "torgb": 0}.get(self.mode, 1)
        return F.conv2d(x, weight, self.bias, padding=padding)


# ----- the generator ---------------------------------------------------------------------------------
class PGGAN(Generator):
    """genforce's ``PGGANGenerator`` at full resolution (``lod`` 0), unconditional."""

    architecture = "pggan"
    latent_spaces = (Z,)

    def __init__(
        self,
        resolution: int = 1024,
        z_dim: int = 512,
        channels: Sequence[int] | None = None,
        fmaps_base: int = 16 << 10,
        fmaps_max: int = 512,
        image_channels: int = 3,
        fused_scale: bool = False,
        final_tanh: bool = False,
    ) -> None:
        """``channels``: widths at 4, 8, …, ``resolution`` px (default ``min(fmaps_base // r, fmaps_max)``)."""
        super().__init__()
        self.resolution = check_resolution(resolution, "PGGAN")
        self.z_dim, self.image_channels = int(z_dim), int(image_channels)
        widths = (
            [int(c) for c in channels] if channels is not None else genforce_channels(resolution, fmaps_base, fmaps_max)
        )
        if len(widths) != len(resolutions(resolution)):
            raise InvalidValueError(f"channels needs one width per resolution 4 … {resolution}, got {widths}")
        self.channels = widths
        self.fused_scale, self.final_tanh = bool(fused_scale), bool(final_tanh)
        for b, width in enumerate(widths):
            first = (
                EqualConv(self.z_dim, width, "dense")
                if b == 0
                else EqualConv(widths[b - 1], width, "up-fused" if self.fused_scale else "up")
            )
            self.add_module(f"layer{2 * b}", first)
            self.add_module(f"layer{2 * b + 1}", EqualConv(width, width, "conv"))
        self.add_module(f"output{len(widths) - 1}", EqualConv(widths[-1], self.image_channels, "torgb", gain=1.0))
        self.eval()

    # ----- configuration -------------------------------------------------------------------------
    @property
    def config(self) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "channels": list(self.channels),
            "image_channels": self.image_channels,
            "fused_scale": self.fused_scale,
            "final_tanh": self.final_tanh,
        }

    @property
    def num_blocks(self) -> int:
        return len(self.channels)

    @property
    def to_rgb(self) -> EqualConv:
        return getattr(self, f"output{self.num_blocks - 1}")

    @property
    def layer_names(self) -> list[str]:
        return ["z → 4×4"]

    @property
    def layer_resolutions(self) -> list[int]:
        return [4]

    # ----- latents -------------------------------------------------------------------------------
    def normalize_z(self, z: Tensor) -> Tensor:
        """What ``layer0``'s conv reads: z pixel-normalised twice (genforce's forward, then ``layer0``'s block)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InvalidValueError(f"PGGAN z must have shape [N, {self.z_dim}], got {list(z.shape)}")
        return pixel_norm(pixel_norm(z))

    def truncate_z(self, latents: Latents) -> Latents:
        """Pixel-normalised z (SeFa's PGGAN latents). ψ has no effect: the generator normalises z anyway."""
        return latents.replace(codes=pixel_norm(latents.codes))

    # ----- synthesis -----------------------------------------------------------------------------
    def _run(self, latents: Latents, wanted: set[str]) -> dict[str, Tensor]:
        """One forward pass; returns the wanted features and stops as soon as it has them."""
        if latents.space != Z:
            raise InvalidValueError(f"PGGAN synthesises from z, got latents in {latents.space!r}")
        out: dict[str, Tensor] = {}
        x = self.normalize_z(latents.codes.to(self.dtype))[:, :, None, None]
        out["layer0"] = self.layer0(x)
        x = F.leaky_relu(out["layer0"], 0.2)
        for b, res in enumerate(resolutions(self.resolution)):
            if wanted <= set(out):
                break
            if b > 0:
                x = F.leaky_relu(getattr(self, f"layer{2 * b}")(pixel_norm(x)), 0.2)
            x = F.leaky_relu(getattr(self, f"layer{2 * b + 1}")(pixel_norm(x)), 0.2)
            out[f"b{res}"] = x
        if "image" in wanted:
            image = self.to_rgb(pixel_norm(x))
            out["image"] = torch.tanh(image) if self.final_tanh else image
        return {name: out[name] for name in wanted}

    def synthesize(self, latents: Latents) -> Tensor:
        image = self._run(latents, {"image"})["image"]
        assert image.shape[1:] == (self.image_channels, self.resolution, self.resolution), image.shape
        return image

    def feature_names(self) -> list[str]:
        return ["layer0", *(f"b{r}" for r in resolutions(self.resolution)), "image"]

    def features(self, latents: Latents, names: Sequence[str]) -> dict[str, Tensor]:
        """``layer0``: the 4×4 map before its leaky ReLU (the affine map of normalised z); ``b{r}``: block outputs
        (after activation); ``image``."""
        self.check_features(names)
        result = self._run(latents, set(names))
        return {name: result[name] for name in names}

    # ----- what methods read ---------------------------------------------------------------------
    def latent_projections(self) -> list[LatentProjection]:
        """``layer0`` as ``y = A ẑ + b`` on the normalised z ẑ (``normalize_z``), y flattened channel-major.

        A 4×4 conv with padding 3 on a 1×1 input puts tap ``(3 − i, 3 − j)`` at output pixel ``(i, j)``:
        ``y[c, i, j] = Σ_k W[c, k, 3 − i, 3 − j] ẑ_k + b_c`` (hence SeFa's spatial flip).
        """
        conv = self.layer0
        weight = (conv.weight * conv.scale).flip(2, 3)  # [C, z_dim, 4, 4], now indexed by output pixel
        channels = weight.shape[0]
        return [
            LatentProjection(
                name="layer0",
                weight=weight.permute(0, 2, 3, 1).reshape(channels * 16, self.z_dim).detach(),
                bias=conv.bias[:, None].expand(-1, 16).reshape(-1).detach(),
                space=Z,
                layers=(0,),
                shape=(channels, 4, 4),
                resolution=4,
            )
        ]

    # ----- checkpoint layout ---------------------------------------------------------------------
    @classmethod
    def match_checkpoint(cls, checkpoint: Checkpoint) -> tuple[dict[str, Any], dict[str, Tensor]] | None:
        """A genforce PGGAN generator state dict (bare, or under ``generator_smooth.`` / ``generator.``)."""
        prefix = genforce_prefix(checkpoint, "layer0.weight", "output0.weight")
        if prefix is None:
            return None
        tensors = checkpoint.sub(prefix)
        first = tensors["layer0.weight"]
        if first.ndim != 4 or tuple(first.shape[2:]) != (4, 4):
            return None  # e.g. a StyleGAN2 synthesis network or a discriminator
        if any(re.search(r"\.(style|apply_noise)\.", k) for k in tensors):
            return None  # a style-based synthesis network (genforce StyleGAN without a constant input)
        where = f"a genforce PGGAN generator ({prefix}layer0.weight {list(first.shape)})"
        check_lod(tensors, "lod", where)
        num_blocks = count_indexed(tensors, "output{}.weight")
        channels = []
        for b in range(num_blocks):
            key = f"layer{2 * b + 1}.weight"
            if key not in tensors or tensors[key].ndim != 4:
                raise CheckpointFormatError(f"the checkpoint looks like {where} but lacks {prefix}{key}")
            channels.append(int(tensors[key].shape[0]))
        last = tensors[f"output{num_blocks - 1}.weight"]
        # Fused upsampling stores [in, out, 3, 3]: visible wherever the width changes (else genforce's default, off).
        fused = any(
            tuple(tensors.get(f"layer{2 * b}.weight", first).shape[:2]) == (channels[b - 1], channels[b])
            for b in range(1, num_blocks)
            if channels[b - 1] != channels[b]
        )
        config: dict[str, Any] = {
            "resolution": 4 * 2 ** (num_blocks - 1),
            "z_dim": int(first.shape[1]),
            "channels": channels,
            "image_channels": int(last.shape[0]),
            "fused_scale": fused,
            "final_tanh": False,
        }
        expected = cls.expected_state(config)
        problems = shape_problems(expected, tensors, prefix)
        if problems:
            raise CheckpointFormatError(
                f"the checkpoint looks like {where} but {' and '.join(problems)}; found {checkpoint.summary()}"
            )
        return config, {k: tensors[k] for k in expected}
