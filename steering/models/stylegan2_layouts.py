"""StyleGAN2 checkpoint layouts → our state dict (rosinality key names, see ``stylegan2.py``).

* **rosinality** ``.pt``: ``g_ema.*`` (preferred over ``g.*``) plus a top-level ``latent_avg``, or a bare generator
  state dict (``style.1.weight``, ``input.input``, …). Size, widths, ``style_dim``, ``n_mlp`` and image channels come
  from the shapes; ``lr_mlp`` cannot be read from weights and stays 0.01.
* **NVlabs stylegan2-ada-pytorch** (``G_ema.synthesis.b4.const``, ``G_ema.mapping.fc0.weight``, …; ``init_kwargs``
  from the pickle in ``checkpoint.extras``). Both codebases store raw weights and apply the equalised-LR gains at
  run time with the same gains, so tensors copy over unchanged: no spatial flip, no ``+1`` on the affine biases
  (both only apply to TF weights), ``noise_const`` → ``noises``, blur/upsample kernels = 4 × ``resample_filter``.
  Only the default ``architecture='skip'`` and unconditional models (``c_dim = 0``) are supported.

Filled in when absent: blur/upsample kernels (from ``blur_kernel``), noise buffers (one fixed realisation,
``torch.Generator`` seed 0, in layer order) and ``latent_avg`` (mean of the mapping over
``LATENT_AVG_SAMPLES`` standard-normal z, seed 0; computed once at conversion, then stored).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor

from ..errors import CheckpointFormatError
from .checkpoint import Checkpoint
from .stylegan2_blocks import LATENT_AVG_SAMPLES, make_kernel, make_mapping, rosinality_channels

Match = tuple[dict[str, Any], dict[str, Tensor]]


def match(cls: type, checkpoint: Checkpoint) -> Match | None:
    prefix = _find_prefix(checkpoint, "input.input", "g_ema.")
    if prefix is not None:
        return _from_rosinality(cls, checkpoint, prefix)
    prefix = _find_prefix(checkpoint, "synthesis.b4.const", "G_ema.")
    if prefix is not None:
        return _from_nvlabs(cls, checkpoint, prefix)
    return None


def _find_prefix(checkpoint: Checkpoint, key: str, preferred: str) -> str | None:
    """The prefix of ``key``; the EMA generator's (``preferred``) wins over a shorter one such as ``g.``."""
    if preferred + key in checkpoint.tensors:
        return preferred
    return checkpoint.prefix_of(key)


def _count(tensors: Mapping[str, Tensor], pattern: str, start: int = 0) -> int:
    n = start
    while pattern.format(n) in tensors:
        n += 1
    return n - start


# ----- rosinality ------------------------------------------------------------------------------------
def _from_rosinality(cls: type, checkpoint: Checkpoint, prefix: str) -> Match:
    tensors = checkpoint.sub(prefix)
    where = f"a rosinality StyleGAN2 ({prefix}input.input)"
    for key in ("style.1.weight", "conv1.conv.weight", "to_rgb1.conv.weight"):
        if key not in tensors:
            raise CheckpointFormatError(f"the checkpoint looks like {where} but lacks {prefix}{key}")
    style_dim, z_dim = tensors["style.1.weight"].shape
    n_mlp = _count(tensors, "style.{}.weight", start=1)
    n_blocks = _count(tensors, "to_rgbs.{}.conv.weight")
    widths = [int(tensors["input.input"].shape[1])]
    for k in range(n_blocks):
        key = f"convs.{2 * k}.conv.weight"
        if key not in tensors:
            raise CheckpointFormatError(f"the checkpoint looks like {where} but lacks {prefix}{key}")
        widths.append(int(tensors[key].shape[1]))
    config = _config(
        4 * 2**n_blocks,
        int(style_dim),
        int(z_dim),
        n_mlp,
        widths,
        image_channels=int(tensors["to_rgb1.conv.weight"].shape[1]),
    )
    latent_avg = None
    for key in (prefix + "latent_avg", "latent_avg"):
        if key in checkpoint.tensors:
            latent_avg = checkpoint.tensors[key]
            break
    return _finish(cls, config, tensors, latent_avg, where)


def _config(size: int, style_dim: int, z_dim: int, n_mlp: int, widths: list[int], **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"size": size, "style_dim": style_dim, "n_mlp": n_mlp, "channel_multiplier": 2}
    if z_dim != style_dim:
        config["z_dim"] = z_dim
    for cm in (2, 1, 4, 8):
        if rosinality_channels(size, cm) == widths:
            config["channel_multiplier"] = cm
            break
    else:
        config["channels"] = widths
    config.update(extra)
    return config


# ----- NVlabs ----------------------------------------------------------------------------------------
def _init_kwargs(checkpoint: Checkpoint, prefix: str) -> dict[str, Any]:
    """NVlabs ``init_kwargs`` of the generator object, wherever the reader put them (empty if unknown)."""
    path = prefix.rstrip(".")
    extras = checkpoint.extras
    candidates = [extras.get(f"{path}.init_kwargs"), extras.get(f"{path}._init_kwargs"), extras.get("init_kwargs")]
    nested = extras.get(path)
    if isinstance(nested, Mapping):
        candidates += [nested.get("init_kwargs"), nested.get("_init_kwargs"), nested]
    for value in candidates:
        if isinstance(value, Mapping) and ("img_resolution" in value or "z_dim" in value):
            return dict(value)
    return {}


def _from_nvlabs(cls: type, checkpoint: Checkpoint, prefix: str) -> Match:
    t = checkpoint.sub(prefix)
    where = f"an NVlabs StyleGAN2 ({prefix}synthesis.b4.const)"
    kwargs = _init_kwargs(checkpoint, prefix)
    syn_kw = dict(kwargs.get("synthesis_kwargs") or {})
    map_kw = dict(kwargs.get("mapping_kwargs") or {})

    def get(key: str) -> Tensor:
        if key not in t:
            raise CheckpointFormatError(f"the checkpoint looks like {where} but lacks {prefix}{key}")
        return t[key]

    architecture = syn_kw.get("architecture", "skip")
    if architecture == "resnet" or any(k.endswith(".skip.weight") for k in t):
        raise CheckpointFormatError(
            f"{where} uses architecture='resnet'; only the default 'skip' generator is supported"
        )
    if architecture == "orig" or "synthesis.b4.torgb.weight" not in t:
        raise CheckpointFormatError(
            f"{where} uses architecture='orig' (ToRGB only at the last block); only 'skip' is supported"
        )
    if architecture != "skip":
        raise CheckpointFormatError(f"{where} has unknown architecture {architecture!r}; only 'skip' is supported")
    if int(kwargs.get("c_dim", 0) or 0) > 0 or "mapping.embed.weight" in t:
        raise CheckpointFormatError(
            f"{where} is class-conditional (c_dim > 0, mapping.embed); only unconditional StyleGAN2 is supported"
        )
    for name, kw in (("mapping", map_kw), ("synthesis", syn_kw)):
        if kw.get("activation", "lrelu") != "lrelu":
            raise CheckpointFormatError(f"{where} uses {name} activation {kw['activation']!r}; only 'lrelu' works")

    n_fc = _count(t, "mapping.fc{}.weight")
    if n_fc == 0:
        raise CheckpointFormatError(f"the checkpoint looks like {where} but has no {prefix}mapping.fc0.weight")
    w_dim, z_dim = get("mapping.fc0.weight").shape
    for i in range(1, n_fc):
        if tuple(t[f"mapping.fc{i}.weight"].shape) != (w_dim, w_dim):
            raise CheckpointFormatError(
                f"{where}: mapping layer fc{i} is {list(t[f'mapping.fc{i}.weight'].shape)}, expected "
                f"[{w_dim}, {w_dim}] (mapping layer_features other than w_dim are not supported)"
            )
    resolutions = [4]
    while f"synthesis.b{resolutions[-1] * 2}.conv0.weight" in t:
        resolutions.append(resolutions[-1] * 2)
    size = resolutions[-1]
    if int(kwargs.get("img_resolution", size)) != size:
        raise CheckpointFormatError(f"{where}: init_kwargs say {kwargs['img_resolution']} px, weights {size} px")
    widths = [int(get("synthesis.b4.const").shape[0])] + [
        int(get(f"synthesis.b{r}.conv0.weight").shape[0]) for r in resolutions[1:]
    ]
    extra: dict[str, Any] = {
        "blur_kernel": [int(v) for v in syn_kw.get("resample_filter", [1, 3, 3, 1])],
        "lr_mlp": float(map_kw.get("lr_multiplier", 0.01)),
        "image_channels": int(get("synthesis.b4.torgb.weight").shape[0]),
    }
    if syn_kw.get("conv_clamp") is not None:
        extra["conv_clamp"] = float(syn_kw["conv_clamp"])
    config = _config(size, int(w_dim), int(z_dim), n_fc, widths, **extra)

    state: dict[str, Tensor] = {}
    for i in range(n_fc):
        state[f"style.{i + 1}.weight"] = get(f"mapping.fc{i}.weight")
        state[f"style.{i + 1}.bias"] = get(f"mapping.fc{i}.bias")
    state["input.input"] = get("synthesis.b4.const")[None]

    def conv(dst: str, src: str, noise_index: int, up: bool) -> None:
        state[f"{dst}.conv.weight"] = get(f"{src}.weight")[None]
        state[f"{dst}.conv.modulation.weight"] = get(f"{src}.affine.weight")
        state[f"{dst}.conv.modulation.bias"] = get(f"{src}.affine.bias")
        strength = t.get(f"{src}.noise_strength")  # absent when use_noise=False
        state[f"{dst}.noise.weight"] = strength.reshape(1) if strength is not None else torch.zeros(1)
        state[f"{dst}.activate.bias"] = get(f"{src}.bias")
        if f"{src}.noise_const" in t:
            state[f"noises.noise_{noise_index}"] = t[f"{src}.noise_const"][None, None]
        if up and f"{src}.resample_filter" in t:
            state[f"{dst}.conv.blur.kernel"] = 4 * t[f"{src}.resample_filter"]

    def torgb(dst: str, src: str, block_filter: str | None) -> None:
        state[f"{dst}.conv.weight"] = get(f"{src}.weight")[None]
        state[f"{dst}.conv.modulation.weight"] = get(f"{src}.affine.weight")
        state[f"{dst}.conv.modulation.bias"] = get(f"{src}.affine.bias")
        state[f"{dst}.bias"] = get(f"{src}.bias").reshape(1, -1, 1, 1)
        if block_filter is not None and block_filter in t:
            state[f"{dst}.upsample.kernel"] = 4 * t[block_filter]

    conv("conv1", "synthesis.b4.conv1", 0, up=False)
    torgb("to_rgb1", "synthesis.b4.torgb", None)
    for k, r in enumerate(resolutions[1:]):
        conv(f"convs.{2 * k}", f"synthesis.b{r}.conv0", 2 * k + 1, up=True)
        conv(f"convs.{2 * k + 1}", f"synthesis.b{r}.conv1", 2 * k + 2, up=False)
        torgb(f"to_rgbs.{k}", f"synthesis.b{r}.torgb", f"synthesis.b{r}.resample_filter")
    return _finish(cls, config, state, t.get("mapping.w_avg"), where)


# ----- shared ----------------------------------------------------------------------------------------
def _finish(
    cls: type, config: dict[str, Any], tensors: Mapping[str, Tensor], latent_avg: Tensor | None, where: str
) -> Match:
    """Check every tensor against the model built from ``config``; fill kernels, noise and ``latent_avg``."""
    with torch.device("meta"):
        model = cls.from_config(config)
    config, expected = model.config, model.state_dict()  # the config in canonical form, defaults spelled out
    noise_gen = torch.Generator().manual_seed(0)
    state: dict[str, Tensor] = {}
    missing, wrong = [], []
    for key, ref in expected.items():
        value = latent_avg if key == "latent_avg" else tensors.get(key)
        if value is None:
            if key.endswith(".kernel"):
                value = make_kernel(config.get("blur_kernel", [1, 3, 3, 1])) * 4
            elif key.startswith("noises."):
                value = torch.randn(ref.shape, generator=noise_gen)
            elif key == "latent_avg":
                continue  # computed below, once the mapping weights are known
            else:
                missing.append(key)
                continue
        if key == "latent_avg":
            value = value.reshape(-1)
        if tuple(value.shape) != tuple(ref.shape):
            wrong.append(f"{key} {list(value.shape)} (expected {list(ref.shape)})")
            continue
        state[key] = value.detach().to(torch.float32).contiguous()
    if missing or wrong:
        problems = (f"lacks {missing[:5]}" if missing else "") + (f" has wrong shapes {wrong[:3]}" if wrong else "")
        raise CheckpointFormatError(f"the checkpoint looks like {where} ({config}) but {problems.strip()}")
    if "latent_avg" not in state:
        state["latent_avg"] = mean_latent(config, state)
    return config, state


@torch.no_grad()
def mean_latent(config: Mapping[str, Any], state: Mapping[str, Tensor], n: int = LATENT_AVG_SAMPLES) -> Tensor:
    """w̄ ≈ mean of f(z) over ``n`` standard-normal z (seed 0), for checkpoints that carry no ``latent_avg``."""
    style_dim = int(config["style_dim"])
    z_dim = int(config.get("z_dim", style_dim))
    mapping = make_mapping(z_dim, style_dim, int(config["n_mlp"]), float(config.get("lr_mlp", 0.01)))
    mapping.load_state_dict({k[len("style.") :]: v for k, v in state.items() if k.startswith("style.")})
    gen = torch.Generator().manual_seed(0)
    total = torch.zeros(style_dim, dtype=torch.float64)
    for start in range(0, n, 2000):
        z = torch.randn(min(2000, n - start), z_dim, generator=gen)
        total += mapping(z).sum(0).double()
    return (total / n).float()
