"""StyleGAN2's building blocks in plain PyTorch (rosinality's math): equalised-LR linear layers, the mapping
network, modulated convolutions with demodulation and noise, ToRGB, the [1, 3, 3, 1] blur. ``stylegan2`` composes
them into the generator; ``stylegan2_layouts`` reads checkpoints into their key names."""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SQRT2 = math.sqrt(2.0)
#: z samples averaged for w̄ when a checkpoint carries no ``latent_avg``.
LATENT_AVG_SAMPLES = 10_000


def rosinality_channels(size: int, channel_multiplier: int) -> list[int]:
    """Feature channels at 4, 8, …, ``size`` px in rosinality's ``Generator``."""
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    out = []
    for r in resolutions(size):
        base = table.get(r, 16 * 1024 // r)  # beyond 1024 px rosinality has no entry; continue the halving
        out.append(base if r <= 32 else base * channel_multiplier)
    return out


def resolutions(size: int) -> list[int]:
    return [2**i for i in range(2, int(math.log2(size)) + 1)]


def make_kernel(taps: Sequence[float]) -> Tensor:
    """2-D FIR kernel: outer product of ``taps`` with itself, normalised to sum 1."""
    k = torch.as_tensor(list(taps), dtype=torch.float32)
    k = k[None, :] * k[:, None] if k.ndim == 1 else k
    return k / k.sum()


def upfirdn2d(x: Tensor, kernel: Tensor, up: int = 1, pad: tuple[int, int] = (0, 0)) -> Tensor:
    """Zero-insert upsampling by ``up``, zero padding ``pad`` (before, after) on both axes, then 2-D FIR filtering.

    Same result as rosinality's ``upfirdn2d(x, kernel, up=up, pad=pad)`` (true convolution: the kernel is flipped).
    """
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = kernel.flip([0, 1]).to(x.dtype)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, weight, groups=c)


class PixelNorm(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Equalised-LR linear layer: raw ``weight`` [out, in] scaled by ``lr_mul/√in`` at run time, bias by ``lr_mul``.

    ``activation=True``: ``leaky_relu(x + b, 0.2)·√2`` (rosinality's fused leaky ReLU).
    """

    def __init__(
        self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0, activation: bool = False
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def effective(self) -> tuple[Tensor, Tensor]:
        """The weight and bias actually applied: ``y = x @ A.T + b``."""
        return self.weight * self.scale, self.bias * self.lr_mul

    def forward(self, x: Tensor) -> Tensor:
        weight, bias = self.effective()
        if self.activation:
            return F.leaky_relu(F.linear(x, weight) + bias, 0.2) * SQRT2
        return F.linear(x, weight, bias)


class NamedTensor(nn.Module):
    """Holds one named tensor (keeps rosinality's key names such as ``conv.blur.kernel``)."""

    def __init__(self, name: str, value: Tensor, parameter: bool = False):
        super().__init__()
        if parameter:
            self.register_parameter(name, nn.Parameter(value))
        else:
            self.register_buffer(name, value)


class ModulatedConv(nn.Module):
    """Modulated conv: per-sample input scaling by the style, shared conv, optional demodulation.

    Equals scaling the weight per sample (rosinality's fused path) but runs one ordinary convolution for the batch.
    ``up=True``: stride-2 transposed conv followed by the blur kernel (×4) with padding (1, 1).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        up: bool = False,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
    ):
        super().__init__()
        self.in_ch, self.out_ch, self.kernel_size = in_ch, out_ch, kernel_size
        self.demodulate, self.up = demodulate, up
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size**2)
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        if up:
            self.blur = NamedTensor("kernel", make_kernel(blur_kernel) * 4)
            p = (len(blur_kernel) - 2) - (kernel_size - 1)
            self.blur_pad = ((p + 1) // 2 + 1, p // 2 + 1)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        style = self.modulation(w)  # [N, in_ch]
        weight = self.weight[0] * self.scale  # [out, in, k, k]
        x = x * style[:, :, None, None]
        if self.up:
            x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
            x = upfirdn2d(x, self.blur.kernel, pad=self.blur_pad)
        else:
            x = F.conv2d(x, weight, padding=self.kernel_size // 2)
        if self.demodulate:
            # Σ_{i,k} (W[o,i,k]·s_i)² = s² @ (Σ_k W²)ᵀ
            demod = torch.rsqrt(style.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8)  # [N, out]
            x = x * demod[:, :, None, None]
        return x


class StyledConv(nn.Module):
    """Modulated conv, noise injection, biased leaky ReLU (×√2), optional clamp (NVlabs ``conv_clamp``)."""

    def __init__(
        self, in_ch: int, out_ch: int, style_dim: int, up: bool, blur_kernel: Sequence[int], conv_clamp: float | None
    ):
        super().__init__()
        self.conv = ModulatedConv(in_ch, out_ch, 3, style_dim, demodulate=True, up=up, blur_kernel=blur_kernel)
        self.noise = NamedTensor("weight", torch.zeros(1), parameter=True)
        self.activate = NamedTensor("bias", torch.zeros(out_ch), parameter=True)
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None) -> Tensor:
        x = self.conv(x, w)
        if noise is not None:
            x = x + self.noise.weight * noise
        x = F.leaky_relu(x + self.activate.bias[None, :, None, None], 0.2) * SQRT2
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return x


class ToRGB(nn.Module):
    """Modulated 1×1 conv without demodulation, plus bias; adds the (upsampled) RGB skip."""

    def __init__(
        self,
        in_ch: int,
        style_dim: int,
        image_channels: int,
        upsample: bool,
        blur_kernel: Sequence[int],
        conv_clamp: float | None,
    ):
        super().__init__()
        self.conv = ModulatedConv(in_ch, image_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, image_channels, 1, 1))
        if upsample:
            self.upsample = NamedTensor("kernel", make_kernel(blur_kernel) * 4)
            p = len(blur_kernel) - 2
            self.up_pad = ((p + 1) // 2 + 1, p // 2)
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor, skip: Tensor | None) -> Tensor:
        out = self.conv(x, w) + self.bias
        if self.conv_clamp is not None:
            out = out.clamp(-self.conv_clamp, self.conv_clamp)
        if skip is not None:
            out = out + upfirdn2d(skip, self.upsample.kernel, up=2, pad=self.up_pad)
        return out


def make_mapping(z_dim: int, style_dim: int, n_mlp: int, lr_mlp: float) -> nn.Sequential:
    """PixelNorm + ``n_mlp`` equalised-LR layers (keys ``1.weight`` … ``{n_mlp}.bias``)."""
    dims = [z_dim] + [style_dim] * n_mlp
    layers = [EqualLinear(a, b, lr_mul=lr_mlp, activation=True) for a, b in itertools.pairwise(dims)]
    return nn.Sequential(PixelNorm(), *layers)
