"""BigGAN-deep in the pytorch-pretrained-biggan layout (HF ``pytorch_model.bin`` + ``config.json``).

The state-dict keys are the HF ones (``embeddings.weight``, ``generator.gen_z.weight_orig``,
``generator.layers.N.bn_0.scale.weight_u``, …), so those files load without renaming.

Forward (eval semantics of the reference package, written functionally so ``torch.func`` works):

* cond = [z; E y] with E = ``embeddings.weight`` [z_dim, num_classes] and y the (one-hot or soft) class vector.
* Spectral norm with the stored vectors, no power iteration: W = W_orig / (u · (W_mat v)).
* ``gen_z``: linear cond → 4·4·16ch, read channel-last (B, 4, 4, 16ch) and permuted to NCHW.
* ``config.layers`` GenBlocks (bottleneck residual blocks with four class-conditional batch norms); a self-attention
  layer sits before block ``attention_layer_position``.
* Batch-norm statistics come from ``n_stats`` precomputed sets indexed by the truncation ψ (``Latents.truncation``).
* Final batch norm, ReLU, 3×3 conv, first three channels, tanh.

Sampling: z is a standard normal truncated to [-2, 2] (``sample_z``), then scaled by ψ (``truncate_z``), as the
reference ``truncated_noise_sample`` does; the draws come from torch's seeded CPU generator, not scipy's.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import CheckpointFormatError, InvalidValueError
from ..values import check_seed, check_truncation
from .base import Generator, LatentProjection, Latents, Z
from .checkpoint import Checkpoint

#: pytorch-pretrained-biggan's ``BigGANConfig`` defaults (the 128×128 model); config.json keys missing from a file
#: take these values, as ``BigGANConfig.from_dict`` does.
DEFAULT_CONFIG: dict[str, Any] = {
    "attention_layer_position": 8,
    "channel_width": 128,
    "class_embed_dim": 128,  # unused by the model (the embedding is num_classes -> z_dim); kept for round trips
    "eps": 1e-4,
    "layers": [
        [False, 16, 16],
        [True, 16, 16],
        [False, 16, 16],
        [True, 16, 8],
        [False, 8, 8],
        [True, 8, 4],
        [False, 4, 4],
        [True, 4, 2],
        [False, 2, 2],
        [True, 2, 1],
    ],
    "n_stats": 51,
    "num_classes": 1000,
    "output_dim": 128,
    "z_dim": 128,
}
#: Batch-norm epsilon of every released BigGAN-deep; used when a checkpoint comes without its config.json.
DEFAULT_EPS = 1e-4
_NEEDS_CONFIG = "pass the config.json that came with the weights (pytorch-pretrained-biggan repos ship one)"


# ----- spectrally normalised layers ------------------------------------------------------------------
def spectral_normalised(weight_orig: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """Eval-mode spectral norm: ``W_orig / (u · (W_mat v))`` with the stored u, v (no power iteration)."""
    sigma = torch.dot(u, torch.mv(weight_orig.reshape(weight_orig.shape[0], -1), v))
    return weight_orig / sigma


class _SpectralNormed(nn.Module):
    """``weight_orig`` + ``weight_u``/``weight_v`` buffers (+ optional ``bias``), as torch's legacy spectral_norm."""

    def __init__(self, shape: tuple[int, ...], bias: bool) -> None:
        super().__init__()
        out_features, in_size = shape[0], math.prod(shape[1:])
        self.weight_orig = nn.Parameter(torch.randn(shape) / math.sqrt(in_size))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.register_buffer("weight_u", F.normalize(torch.randn(out_features), dim=0))
        self.register_buffer("weight_v", F.normalize(torch.randn(in_size), dim=0))

    def weight(self) -> Tensor:
        return spectral_normalised(self.weight_orig, self.weight_u, self.weight_v)


class _SNLinear(_SpectralNormed):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__((out_features, in_features), bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight(), self.bias)


class _SNConv2d(_SpectralNormed):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__((out_channels, in_channels, kernel_size, kernel_size), bias)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


# ----- batch norm with truncation-indexed statistics --------------------------------------------------
def stats_position(truncation: float, n_stats: int) -> tuple[int, float]:
    """``(index, coef)`` of the precomputed statistics for ψ, computed as the reference package does."""
    coef, start = math.modf(float(truncation) / (1.0 / (n_stats - 1)))
    return int(start), coef


def _pick_stats(table: Tensor, position: tuple[int, float]) -> Tensor:
    index, coef = position
    if coef != 0.0:
        # The reference weights row ``index`` by coef and ``index + 1`` by 1 - coef (reversed with respect to
        # ordinary interpolation); copied as it is so that outputs match the released model.
        return table[index] * coef + table[index + 1] * (1 - coef)
    return table[index]


class _ConditionalBatchNorm(nn.Module):
    def __init__(self, channels: int, cond_dim: int, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.scale = _SNLinear(cond_dim, channels, bias=False)
        self.offset = _SNLinear(cond_dim, channels, bias=False)

    def forward(self, x: Tensor, cond: Tensor, position: tuple[int, float]) -> Tensor:
        mean = _pick_stats(self.running_means, position)[None, :, None, None]
        var = _pick_stats(self.running_vars, position)[None, :, None, None]
        gain = 1 + self.scale(cond)[:, :, None, None]
        shift = self.offset(cond)[:, :, None, None]
        return (x - mean) / torch.sqrt(var + self.eps) * gain + shift


class _BatchNorm(nn.Module):
    """The final, unconditional batch norm (affine weight and bias, truncation-indexed statistics)."""

    def __init__(self, channels: int, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))

    def forward(self, x: Tensor, position: tuple[int, float]) -> Tensor:
        mean, var = _pick_stats(self.running_means, position), _pick_stats(self.running_vars, position)
        return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps)


# ----- blocks ---------------------------------------------------------------------------------------
class _GenBlock(nn.Module):
    """Bottleneck residual block: 4 × (CBN, ReLU, conv) with 1×1 / 3×3 / 3×3 / 1×1 kernels."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, upsample: bool, n_stats: int, eps: float) -> None:
        super().__init__()
        mid = c_in // 4
        self.upsample = upsample
        self.c_in, self.c_out = c_in, c_out
        for i, (a, b, k) in enumerate([(c_in, mid, 1), (mid, mid, 3), (mid, mid, 3), (mid, c_out, 1)]):
            self.add_module(f"bn_{i}", _ConditionalBatchNorm(a, cond_dim, n_stats, eps))
            self.add_module(f"conv_{i}", _SNConv2d(a, b, k))

    def forward(self, x: Tensor, cond: Tensor, position: tuple[int, float]) -> Tensor:
        h = x
        for i in range(4):
            h = F.relu(getattr(self, f"bn_{i}")(h, cond, position))
            if i == 1 and self.upsample:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = getattr(self, f"conv_{i}")(h)
        skip = x[:, : self.c_in // 2] if self.c_in != self.c_out else x
        if self.upsample:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return h + skip


class _SelfAttention(nn.Module):
    """SAGAN self-attention; keys and values are 2×2 max-pooled; ``gamma`` scales the residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.snconv1x1_theta = _SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_phi = _SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_g = _SNConv2d(channels, channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = _SNConv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        theta = self.snconv1x1_theta(x).reshape(n, c // 8, h * w)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).reshape(n, c // 8, h * w // 4)
        g = F.max_pool2d(self.snconv1x1_g(x), 2).reshape(n, c // 2, h * w // 4)
        attention = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # [n, hw, hw/4]
        mixed = (g @ attention.transpose(1, 2)).reshape(n, c // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(mixed)


class _Trunk(nn.Module):
    """The ``generator.*`` part of the HF model."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        ch, cond_dim = config["channel_width"], 2 * config["z_dim"]
        n_stats, eps = config["n_stats"], config["eps"]
        self.gen_z = _SNLinear(cond_dim, 4 * 4 * 16 * ch)
        layers: list[nn.Module] = []
        for i, (up, m_in, m_out) in enumerate(config["layers"]):
            if i == config["attention_layer_position"]:
                layers.append(_SelfAttention(ch * m_in))
            layers.append(_GenBlock(ch * m_in, ch * m_out, cond_dim, up, n_stats, eps))
        self.layers = nn.ModuleList(layers)
        self.bn = _BatchNorm(ch, n_stats, eps)
        self.conv_to_rgb = _SNConv2d(ch, ch, 3)


# ----- config ---------------------------------------------------------------------------------------
def normalise_config(raw: Mapping[str, Any] | str) -> dict[str, Any]:
    """A config.json (dict or text) as our config: defaults filled in, types fixed, structure checked."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise CheckpointFormatError(f"BigGAN config.json is not valid JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise CheckpointFormatError(f"BigGAN config.json must be a JSON object, got {type(raw).__name__}")
    merged = {**copy.deepcopy(DEFAULT_CONFIG), **{k: raw[k] for k in DEFAULT_CONFIG if k in raw}}
    try:
        config = {k: int(merged[k]) for k in DEFAULT_CONFIG if k not in ("eps", "layers")}
        config["eps"] = float(merged["eps"])
        config["layers"] = [[bool(up), int(a), int(b)] for up, a, b in merged["layers"]]
    except (TypeError, ValueError) as exc:
        raise CheckpointFormatError(f"BigGAN config has malformed values ({exc}): {dict(raw)}") from None
    validate_config(config)
    return dict(sorted(config.items()))


def validate_config(config: Mapping[str, Any]) -> None:
    """Raise CheckpointFormatError if the config cannot describe a working BigGAN-deep."""

    def fail(why: str) -> None:
        raise CheckpointFormatError(f"invalid BigGAN-deep config: {why} (config {dict(config)})")

    ch, layers = config["channel_width"], config["layers"]
    if min(config["z_dim"], config["num_classes"], ch) < 1:
        fail("z_dim, num_classes and channel_width must be positive")
    if ch < 3:
        fail("channel_width must be at least 3 (the image is the first three output channels)")
    if config["n_stats"] < 2 or not config["eps"] > 0:
        fail("n_stats must be at least 2 and eps positive")
    if not layers:
        fail("layers is empty")
    if layers[0][1] != 16:
        fail("the first layer must take 16·channel_width channels (gen_z's output)")
    if layers[-1][2] != 1:
        fail("the last layer must output channel_width channels")
    for i, (_, m_in, m_out) in enumerate(layers):
        if i and layers[i - 1][2] != m_in:
            fail(f"layer {i} takes {m_in}·ch channels but layer {i - 1} gives {layers[i - 1][2]}·ch")
        if m_out not in (m_in, m_in / 2) or ch * m_in < 4:
            fail(f"layer {i} maps {m_in}·ch → {m_out}·ch channels; blocks keep or halve them (and need ≥ 4)")
    position = config["attention_layer_position"]
    if 0 <= position < len(layers) and (ch * layers[position][1]) % 8:
        fail(f"self-attention channels {ch * layers[position][1]} are not divisible by 8")
    resolution = 4 * 2 ** sum(bool(up) for up, _, _ in layers)
    if config["output_dim"] != resolution:
        fail(f"output_dim {config['output_dim']} differs from the {resolution} px its upsampling layers give")


def infer_config(tensors: Mapping[str, Tensor]) -> dict[str, Any]:
    """The config from tensor shapes alone (for checkpoints without config.json).

    Shapes give every size except which blocks upsample. BigGAN-deep has two blocks per resolution, the second
    one upsampling (and changing the width), as in all released models; other layouts need their config.json.
    ``eps`` cannot be read from weights: the released value 1e-4 is assumed.
    """
    z_dim, num_classes = tensors["embeddings.weight"].shape
    rgb = tensors.get("generator.conv_to_rgb.weight_orig")
    stats = tensors.get("generator.bn.running_means")
    if rgb is None or stats is None or rgb.ndim != 4:
        raise CheckpointFormatError("BigGAN checkpoint lacks generator.conv_to_rgb.weight_orig or generator.bn.*")
    ch, n_stats = int(rgb.shape[1]), int(stats.shape[0])
    indices = sorted({int(m.group(1)) for k in tensors if (m := re.match(r"generator\.layers\.(\d+)\.", k))})
    if indices != list(range(len(indices))) or not indices:
        raise CheckpointFormatError(f"BigGAN checkpoint has non-contiguous generator.layers indices {indices[:20]}")
    attention = [j for j in indices if f"generator.layers.{j}.gamma" in tensors]
    if len(attention) > 1:
        raise CheckpointFormatError(f"BigGAN checkpoint has several self-attention layers {attention}")
    layers = []
    for j in indices:
        if j in attention:
            continue
        c_in = tensors.get(f"generator.layers.{j}.bn_0.running_means")
        c_out = tensors.get(f"generator.layers.{j}.conv_3.weight_orig")
        if c_in is None or c_out is None:
            raise CheckpointFormatError(f"BigGAN layer generator.layers.{j} is neither a GenBlock nor attention")
        c_in, c_out = int(c_in.shape[1]), int(c_out.shape[0])
        if c_in % ch or c_out % ch:
            raise CheckpointFormatError(f"BigGAN layer {j} widths {c_in}→{c_out} are not multiples of {ch}")
        layers.append([len(layers) % 2 == 1, c_in // ch, c_out // ch])
    if len(layers) % 2 or any(not up and m_in != m_out for up, m_in, m_out in layers):
        raise CheckpointFormatError(
            f"cannot tell which of this BigGAN-deep checkpoint's {len(layers)} blocks upsample (they are not pairs "
            f"of a plain block and an upsampling one); {_NEEDS_CONFIG}"
        )
    config = {
        "attention_layer_position": attention[0] if attention else len(layers),
        "channel_width": ch,
        "class_embed_dim": int(z_dim),
        "eps": DEFAULT_EPS,
        "layers": layers,
        "n_stats": n_stats,
        "num_classes": int(num_classes),
        "output_dim": 4 * 2 ** (len(layers) // 2),
        "z_dim": int(z_dim),
    }
    try:
        return normalise_config(config)
    except CheckpointFormatError as exc:
        raise CheckpointFormatError(f"{exc}; {_NEEDS_CONFIG}") from None


# ----- the generator --------------------------------------------------------------------------------
class BigGANDeep(Generator):
    """Class-conditional BigGAN-deep; latent space ``z``, truncation ψ in (0, 1] selects batch-norm statistics."""

    architecture = "biggan-deep"
    latent_spaces = (Z,)

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._config = normalise_config(config if config is not None else DEFAULT_CONFIG)
        cfg = self._config
        self.z_dim, self.num_classes = cfg["z_dim"], cfg["num_classes"]
        self.channel_width, self.n_stats = cfg["channel_width"], cfg["n_stats"]
        self.resolution, self.image_channels = cfg["output_dim"], 3
        self.embeddings = nn.Linear(self.num_classes, self.z_dim, bias=False)
        self.generator = _Trunk(cfg)
        # Which entries of generator.layers are GenBlocks (index = config layer) and which one is attention.
        self._blocks = [j for j, m in enumerate(self.generator.layers) if isinstance(m, _GenBlock)]
        self.eval()

    @property
    def config(self) -> dict[str, Any]:
        return copy.deepcopy(self._config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BigGANDeep:
        return cls(config)

    @property
    def layer_names(self) -> list[str]:
        return ["z (gen_z and every block's batch norms)"]

    @property
    def layer_resolutions(self) -> list[int]:
        return [4]

    # ----- sampling ------------------------------------------------------------------------------
    def sample_z(self, n: int, seed: int) -> Tensor:
        """Standard normal truncated to [-2, 2] (rejection sampling on the CPU, seeded); ψ is applied by
        ``truncate_z`` afterwards, giving the reference ``truncated_noise_sample`` distribution."""
        if n < 1:
            raise InvalidValueError(f"number of samples must be at least 1, got {n}")
        gen = torch.Generator().manual_seed(check_seed(seed))
        z = torch.randn(n, self.z_dim, generator=gen)
        outside = z.abs() > 2
        while bool(outside.any()):
            z = z.masked_scatter(outside, torch.randn(int(outside.sum()), generator=gen))
            outside = z.abs() > 2
        return z.to(self.device)

    # ----- synthesis -----------------------------------------------------------------------------
    def _inputs(self, latents: Latents) -> tuple[Tensor, tuple[int, float]]:
        """The conditioning vector [z; E y] and the batch-norm statistics position for ψ."""
        if latents.space != Z:
            raise InvalidValueError(f"BigGAN-deep synthesises from z, got latents in {latents.space!r}")
        z = latents.codes.to(self.dtype)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InvalidValueError(f"BigGAN-deep expects z of shape [N, {self.z_dim}], got {list(z.shape)}")
        if latents.classes is None:
            raise InvalidValueError("BigGAN-deep is class-conditional: give Latents.classes (see sample_classes)")
        if tuple(latents.classes.shape) != (z.shape[0], self.num_classes):
            raise InvalidValueError(
                f"classes must have shape [{z.shape[0]}, {self.num_classes}], got {list(latents.classes.shape)}"
            )
        check_truncation(latents.truncation)
        embed = self.embeddings(latents.classes.to(z.dtype))
        return torch.cat([z, embed], dim=1), stats_position(latents.truncation, self.n_stats)

    def _gen_z(self, cond: Tensor) -> Tensor:
        """First layer, NCHW: the output is laid out channel-last (TF order) and permuted."""
        x = self.generator.gen_z(cond)
        return x.reshape(-1, 4, 4, 16 * self.channel_width).permute(0, 3, 1, 2)

    def _run(self, latents: Latents, wanted: Sequence[str]) -> dict[str, Tensor]:
        cond, position = self._inputs(latents)
        out: dict[str, Tensor] = {}
        remaining = set(wanted)
        x = self._gen_z(cond)
        if "gen_z" in remaining:
            out["gen_z"] = x
            remaining.discard("gen_z")
        block = 0
        for module in self.generator.layers:
            if not remaining:
                return out
            if isinstance(module, _GenBlock):
                x = module(x, cond, position)
                name = f"block{block}"
                block += 1
                if name in remaining:
                    out[name] = x
                    remaining.discard(name)
            else:
                x = module(x)
        if remaining:
            x = F.relu(self.generator.bn(x, position))
            out["image"] = torch.tanh(self.generator.conv_to_rgb(x)[:, :3])
        return out

    def synthesize(self, latents: Latents) -> Tensor:
        return self._run(latents, ["image"])["image"]

    def feature_names(self) -> list[str]:
        return ["gen_z", *(f"block{i}" for i in range(len(self._blocks))), "image"]

    def features(self, latents: Latents, names: Sequence[str]) -> dict[str, Tensor]:
        self.check_features(names)
        stages = self._run(latents, names)
        return {name: stages[name] for name in names}

    # ----- what methods read ---------------------------------------------------------------------
    def _gen_z_rows(self, rows: Tensor) -> Tensor:
        """Reorder gen_z outputs (dim 0) from channel-last (4·row + col)·C + c to channel-major c·16 + 4·row + col."""
        channels = 16 * self.channel_width
        return rows.reshape(16, channels, *rows.shape[1:]).transpose(0, 1).reshape(rows.shape)

    def latent_projections(self) -> list[LatentProjection]:
        """``gen_z`` restricted to z: weight = effective W[:, :z_dim], bias = b (class-independent part).

        The class adds ``W[:, z_dim:] E y`` to the bias; ``class_bias`` gives the full bias per class.
        """
        with torch.no_grad():
            weight = self.generator.gen_z.weight()[:, : self.z_dim]
            bias = self.generator.gen_z.bias
            return [
                LatentProjection(
                    name="gen_z",
                    weight=self._gen_z_rows(weight).detach().clone(),
                    bias=self._gen_z_rows(bias).detach().clone(),
                    space=Z,
                    layers=(0,),
                    shape=(16 * self.channel_width, 4, 4),
                    resolution=4,
                )
            ]

    def first_layer_bias(self, classes: Tensor | None = None) -> Tensor:
        """``class_bias`` (through the class embedding: no ``LatentProjection.class_bias`` here)."""
        return super().first_layer_bias() if classes is None else self.class_bias(classes)

    def scale_projections(self) -> list[LatentProjection]:
        """Per block, the z part of its four conditional batch norms' gains (``gain = 1 + W [z; e]``), stacked:
        weight [Σ C, z_dim]. BigGAN-deep feeds the same z to every block, so moving z along a block's principal
        directions changes that scale most, not that scale only."""
        projections = []
        with torch.no_grad():
            for number, index in enumerate(self._blocks):
                block = self.generator.layers[index]
                norms = [getattr(block, f"bn_{i}") for i in range(4)]
                weight = torch.cat([bn.scale.weight()[:, : self.z_dim] for bn in norms])
                projections.append(
                    LatentProjection(
                        name=f"block{number} gains",
                        weight=weight.detach().clone(),
                        bias=torch.ones(len(weight)),
                        space=Z,
                        layers=(0,),
                        resolution=self.block_resolution(number),
                    )
                )
        return projections

    def block_resolution(self, number: int) -> int:
        """The output resolution of block ``number``."""
        resolution = 4
        for up, _, _ in self._config["layers"][: number + 1]:
            resolution *= 2 if up else 1
        return resolution

    def class_bias(self, classes: Tensor) -> Tensor:
        """Class-dependent effective bias of ``gen_z``, b + W[:, z_dim:] E y, [N, 16·ch·16] in channel-major order.

        ``classes``: [N, num_classes] one-hot or soft vectors, or [N] class indices.
        """
        if classes.ndim == 1:
            if classes.dtype.is_floating_point:
                raise InvalidValueError("class indices must be an integer tensor")
            if bool((classes < 0).any()) or bool((classes >= self.num_classes).any()):
                raise InvalidValueError(f"class indices must be in [0, {self.num_classes})")
            classes = F.one_hot(classes.long(), self.num_classes)
        if classes.ndim != 2 or classes.shape[1] != self.num_classes:
            raise InvalidValueError(f"classes must be [N, {self.num_classes}] or [N], got {list(classes.shape)}")
        gen_z = self.generator.gen_z
        with torch.no_grad():
            embed = self.embeddings(classes.to(gen_z.weight_orig))
            full = F.linear(embed, gen_z.weight()[:, self.z_dim :], gen_z.bias)  # [N, m], channel-last order
            return self._gen_z_rows(full.T).T.contiguous()

    # ----- checkpoint layout ---------------------------------------------------------------------
    @classmethod
    def match_checkpoint(cls, checkpoint: Checkpoint) -> tuple[dict[str, Any], dict[str, Tensor]] | None:
        """``(config, state_dict)`` for a pytorch-pretrained-biggan state dict, ``None`` if the keys do not fit.

        The config is ``checkpoint.extras["config.json"]`` when present, else inferred from shapes.
        """
        prefix = checkpoint.prefix_of("generator.gen_z.weight_orig")
        if prefix is None:
            return None
        tensors = checkpoint.sub(prefix)
        if "embeddings.weight" not in tensors or tensors["embeddings.weight"].ndim != 2:
            raise CheckpointFormatError(
                f"looks like BigGAN (generator.gen_z.*) but lacks a 2-D {prefix}embeddings.weight"
            )
        raw = checkpoint.extras.get("config.json")
        config = normalise_config(raw) if raw is not None else infer_config(tensors)
        expected = cls.expected_state(config)
        source = "its config.json" if raw is not None else "the config inferred from shapes"
        missing = sorted(set(expected) - set(tensors))
        if missing:
            raise CheckpointFormatError(
                f"BigGAN-deep weights do not fit {source} {config}: the file lacks {len(missing)} tensors, "
                f"e.g. {missing[:5]}"
            )
        wrong = [
            f"{k} {list(tensors[k].shape)} (expected {list(v.shape)})"
            for k, v in expected.items()
            if tuple(tensors[k].shape) != tuple(v.shape)
        ]
        if wrong:
            raise CheckpointFormatError(f"BigGAN-deep weights do not fit {source} {config}: {wrong[:5]}")
        return config, {k: tensors[k] for k in expected}
