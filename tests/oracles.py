"""Reference implementations from PyPI packages, imported without their heavy package-level dependencies."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
import sys
import types
from pathlib import Path

SQRT2 = math.sqrt(2.0)


@functools.cache
def load_basicsr_stylegan2() -> types.ModuleType:
    """``basicsr.archs.stylegan2_arch`` (rosinality's StyleGAN2 math) on CPU, without cv2/torchvision.

    ``basicsr/__init__.py`` and ``basicsr/archs/__init__.py`` import cv2, torchvision and every architecture, so the
    packages ``basicsr``, ``basicsr.ops``, ``basicsr.utils``, ``basicsr.archs`` are registered as bare modules while
    the three needed files are imported, then removed again from ``sys.modules``. basicsr's ``fused_leaky_relu``
    has no CPU path; it is replaced by its definition, ``leaky_relu(x + bias, 0.2) · √2``.
    Raises ``ModuleNotFoundError`` if basicsr is not installed (``pip install --no-deps basicsr==1.4.2``).
    """
    import torch.nn.functional as F

    spec = importlib.util.find_spec("basicsr")  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("basicsr is not installed: pip install --no-deps --no-build-isolation basicsr==1.4.2")
    root = Path(next(iter(spec.submodule_search_locations)))
    bare = ["basicsr", "basicsr.ops", "basicsr.utils", "basicsr.archs"]
    added = []
    try:
        for name in bare:
            if name not in sys.modules:
                module = types.ModuleType(name)
                module.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
                sys.modules[name] = module
                added.append(name)
        before = set(sys.modules)
        fused_act = importlib.import_module("basicsr.ops.fused_act.fused_act")
        arch = importlib.import_module("basicsr.archs.stylegan2_arch")
        added += sorted(set(sys.modules) - before)
    finally:
        for name in added:
            sys.modules.pop(name, None)

    def fused_leaky_relu(x, bias, negative_slope=0.2, scale=SQRT2):
        return F.leaky_relu(x + bias.view(1, -1, *[1] * (x.ndim - 2)), negative_slope) * scale

    fused_act.fused_leaky_relu = fused_leaky_relu  # used by FusedLeakyReLU.forward
    arch.fused_leaky_relu = fused_leaky_relu  # used by EqualLinear
    return arch


def load_biggan_oracle() -> tuple[type, type]:
    """``(BigGAN, BigGANConfig)`` from ``pytorch-pretrained-biggan==0.1.1`` (install with ``--no-deps``).

    Its download helpers import boto3, botocore, requests, tqdm and scipy at module level; the model needs none of
    them. They are stubbed in ``sys.modules`` only while the package imports, then the previous entries come back.
    """
    if "pytorch_pretrained_biggan" in sys.modules:
        package = sys.modules["pytorch_pretrained_biggan"]
        return package.BigGAN, package.BigGANConfig

    def stub(name: str, **attrs: object) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        return module

    class ClientError(Exception):
        pass

    stubs = {
        "boto3": stub("boto3"),
        "botocore": stub("botocore"),
        "botocore.exceptions": stub("botocore.exceptions", ClientError=ClientError),
        "requests": stub("requests"),
        "tqdm": stub("tqdm", tqdm=lambda *args, **kwargs: None),
        "scipy": stub("scipy"),
        "scipy.stats": stub("scipy.stats", truncnorm=None),
    }
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        package = importlib.import_module("pytorch_pretrained_biggan")
    except ModuleNotFoundError as exc:
        if exc.name != "pytorch_pretrained_biggan":
            raise
        raise ModuleNotFoundError(
            "the BigGAN oracle needs: pip install --no-deps pytorch-pretrained-biggan==0.1.1"
        ) from None
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return package.BigGAN, package.BigGANConfig


# Two blocks per resolution (plain, then upsampling), like the released models; attention at 16×16 on 32 channels.
TINY = {
    "attention_layer_position": 4,
    "channel_width": 8,
    "class_embed_dim": 20,
    "eps": 1e-4,
    "layers": [
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
    "num_classes": 10,
    "output_dim": 64,
    "z_dim": 20,
}


def random_biggan_deep():
    """pytorch-pretrained-biggan's BigGAN-deep in the ``TINY`` layout with random weights, fixed up so every part of
    the network matters."""
    import copy

    import torch

    big_gan, big_gan_config = load_biggan_oracle()
    torch.manual_seed(0)
    model = big_gan(big_gan_config.from_dict(copy.deepcopy(TINY)))
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("running_means"):
                buffer.copy_(0.2 * torch.randn_like(buffer))
            elif name.endswith("running_vars"):
                buffer.copy_(0.5 + torch.rand_like(buffer))
        bn = model.generator.bn  # created from uninitialised memory
        bn.weight.copy_(1 + 0.2 * torch.randn_like(bn.weight))
        bn.bias.copy_(0.2 * torch.randn_like(bn.bias))
        model.generator.layers[TINY["attention_layer_position"]].gamma.fill_(0.8)  # 0 would make attention a no-op
        model.train()  # one power iteration makes the random weight_u / weight_v consistent
        model(torch.randn(2, TINY["z_dim"]), torch.eye(TINY["num_classes"])[:2], 1.0)
    return model.eval()


def our_biggan_deep(oracle):
    """Our BigGAN-deep loaded from ``oracle``'s weights (its config in the ``TINY`` layout)."""
    import copy

    from steering.models.biggan import BigGANDeep
    from steering.models.checkpoint import Checkpoint

    state = {k: v.clone() for k, v in oracle.state_dict().items()}
    config, weights = BigGANDeep.match_checkpoint(Checkpoint(state, {"config.json": copy.deepcopy(TINY)}))
    model = BigGANDeep.from_config(config)
    model.load_state_dict(weights, strict=True)
    return model.eval()
