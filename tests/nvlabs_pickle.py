"""Writing pickles in the NVlabs network-pickle structure without NVlabs code (a test helper).

NVlabs (stylegan2-ada-pytorch, stylegan3) pickles ``{"training_set_kwargs", "G", "D", "G_ema", "augment_pipe"}``;
each network object of a ``@persistence.persistent_class`` reduces to
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with
``meta = {type: "class", version: 6, module_src: <source of the defining module>, class_name: "Generator",
state: <the module's __dict__>}``; tensors inside are pickled by torch itself (``_rebuild_parameter`` /
``_rebuild_tensor_v2`` over ``torch.storage._load_from_bytes``), constructor settings are ``dnnlib.util.EasyDict``\\ s
and numpy scalars.

Here ``persistent_class(name, module_src)`` makes ``torch.nn.Module`` subclasses that pickle exactly that way; the
globals ``torch_utils.persistence._reconstruct_persistent_obj`` and ``dnnlib.util.EasyDict`` are stand-ins that exist
in ``sys.modules`` only while ``dump_network_pickle`` runs. The embedded ``module_src`` is real-looking source whose
first statement creates a marker file, so a test can prove nobody executed it.

``stylegan2_ada_state_dict`` + ``write_stylegan2_ada_pickle`` build a small StyleGAN2-ADA ``G_ema`` in the exact
NVlabs layout (checkpoints.md §2.2) for end-to-end tests of the StyleGAN2 architecture.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import re
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np
import torch

NETWORKS_SRC = '''\
"""Generator architectures (stand-in for NVlabs training/networks.py, as embedded in network pickles)."""

import numpy as np
import torch

# torch_utils.persistence executes this source when the pickle is loaded; this line proves whether it ran.
open({marker!r}, "w").write("module_src of a network pickle was executed")


class FullyConnectedLayer(torch.nn.Module):
    def __init__(self, in_features, out_features, bias=True, activation="linear", lr_multiplier=1, bias_init=0):
        super().__init__()
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], np.float32(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x):
        w = self.weight * self.weight_gain
        return torch.addmm(self.bias.unsqueeze(0) * self.bias_gain, x, w.t())
'''


def networks_src(marker: str | Path) -> str:
    """Module source whose execution creates ``marker``."""
    return NETWORKS_SRC.format(marker=str(marker))


def _reconstruct_persistent_obj(meta: Any) -> Any:
    """Stand-in for ``torch_utils.persistence._reconstruct_persistent_obj``: only its name is pickled."""
    raise RuntimeError("stand-in for NVlabs code; never called")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access), pickled under that name."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


EasyDict.__module__ = "dnnlib.util"


class PersistentModule(torch.nn.Module):
    """Base of the stand-ins for NVlabs ``@persistent_class`` modules; see ``persistent_class``."""

    _orig_class_name: ClassVar[str] = "Module"
    _orig_module_src: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._init_args = copy.deepcopy(args)
        self._init_kwargs = copy.deepcopy(kwargs)

    def __reduce_ex__(self, protocol: int) -> tuple[Any, ...]:
        meta = dict(
            type="class",
            version=6,
            module_src=self._orig_module_src,
            class_name=self._orig_class_name,
            state=self.__getstate__(),
        )
        return (_reconstruct_persistent_obj, (meta,))


_CLASSES: dict[tuple[str, str], type[PersistentModule]] = {}


def persistent_class(class_name: str, module_src: str) -> type[PersistentModule]:
    """A module class that pickles as NVlabs persistent ``class_name`` defined by ``module_src``."""
    key = (class_name, module_src)
    if key not in _CLASSES:
        _CLASSES[key] = type(
            class_name, (PersistentModule,), {"_orig_class_name": class_name, "_orig_module_src": module_src}
        )
    return _CLASSES[key]


@contextlib.contextmanager
def stand_in_modules() -> Iterator[None]:
    """``torch_utils.persistence`` and ``dnnlib.util`` in ``sys.modules`` while pickling, so globals resolve."""
    modules = {
        "torch_utils": {},
        "torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
        "dnnlib": {"EasyDict": EasyDict},
        "dnnlib.util": {"EasyDict": EasyDict},
    }
    saved = {name: sys.modules.get(name) for name in modules}
    try:
        for name, attrs in modules.items():
            module = types.ModuleType(name)
            module.__dict__.update(attrs)
            sys.modules[name] = module
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def dump_network_pickle(path: str | Path, data: Any, protocol: int = 4) -> Path:
    """Pickle ``data`` (normally the NVlabs top-level dict) to ``path`` as NVlabs' training loop does."""
    path = Path(path)
    with stand_in_modules(), open(path, "wb") as handle:
        pickle.dump(data, handle, protocol=protocol)
    return path


# NVlabs class of each submodule of a stylegan2-ada-pytorch Generator / Discriminator, by attribute name.
_NVLABS_CLASSES = [
    (r"synthesis", "SynthesisNetwork"),
    (r"mapping", "MappingNetwork"),
    (r"b\d+", "SynthesisBlock"),
    (r"conv[01]", "SynthesisLayer"),
    (r"torgb", "ToRGBLayer"),
    (r"affine|embed|fc\d+|out", "FullyConnectedLayer"),
    (r"skip|fromrgb|conv", "Conv2dLayer"),
    (r"epilogue", "DiscriminatorEpilogue"),
]
_NVLABS_BUFFERS = frozenset({"resample_filter", "noise_const", "w_avg", "p"})


def nvlabs_class_name(path: str, discriminator: bool = False) -> str:
    """The NVlabs class of the submodule at ``path`` (``"synthesis.b4.conv1"`` → ``"SynthesisLayer"``)."""
    leaf = path.rsplit(".", 1)[-1]
    if discriminator and re.fullmatch(r"b\d+", leaf):
        return "DiscriminatorBlock"
    return next((cls for pattern, cls in _NVLABS_CLASSES if re.fullmatch(pattern, leaf)), "Module")


def network_from_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    root: PersistentModule,
    module_src: str,
    class_name_of: Callable[[str], str] = nvlabs_class_name,
    is_buffer: Callable[[str], bool] = lambda key: key.rsplit(".", 1)[-1] in _NVLABS_BUFFERS,
) -> PersistentModule:
    """Fill ``root`` with persistent submodules, parameters and buffers so that ``root.state_dict()`` == input.

    Tensors are cloned (the pickle must not depend on the caller's storages); submodules get NVlabs-like
    ``_init_kwargs`` and, for fully connected layers, the numpy ``weight_gain`` scalar the real ones carry.
    """
    for key, tensor in state_dict.items():
        *path, leaf = key.split(".")
        module: torch.nn.Module = root
        for depth, part in enumerate(path):
            if part not in module._modules:
                child_path = ".".join(path[: depth + 1])
                child = persistent_class(class_name_of(child_path), module_src)()
                module.add_module(part, child)
            module = module._modules[part]  # type: ignore[assignment]
        value = tensor.detach().clone()
        if is_buffer(key):
            module.register_buffer(leaf, value)
        else:
            module.register_parameter(leaf, torch.nn.Parameter(value))
        if leaf == "weight" and getattr(module, "_orig_class_name", "") == "FullyConnectedLayer":
            out_features, in_features = value.shape
            module._init_kwargs = dict(in_features=in_features, out_features=out_features, activation="linear")
            module.weight_gain = np.float64(1.0 / math.sqrt(in_features))  # a numpy scalar, as in NVlabs
    return root


def resample_filter() -> torch.Tensor:
    """NVlabs ``upfirdn2d.setup_filter([1, 3, 3, 1])``: the normalised 4×4 outer product."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = f[:, None] * f[None, :]
    return f / f.sum()


def stylegan2_ada_state_dict(
    *,
    z_dim: int = 64,
    w_dim: int = 64,
    c_dim: int = 0,
    img_resolution: int = 32,
    img_channels: int = 3,
    channel_base: int = 512,
    channel_max: int = 32,
    num_mapping_layers: int = 2,
    seed: int = 0,
) -> tuple[OrderedDict[str, torch.Tensor], dict[str, Any]]:
    """A random ``G_ema.state_dict()`` in the NVlabs stylegan2-ada-pytorch layout and the matching init kwargs.

    Keys, shapes and order follow ``training/networks.py`` (checkpoints.md §2.2): synthesis first
    (``b4.const``, ``b{r}.conv0/conv1/torgb``, ``architecture='skip'``), then mapping (``w_avg``, ``embed``,
    ``fc{i}``). C_r = min(channel_base // r, channel_max). The defaults give the 75-entry, 32-px test model.
    """
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * scale

    def channels(res: int) -> int:
        return min(channel_base // res, channel_max)

    def affine(prefix: str, in_channels: int) -> None:
        sd[f"{prefix}.affine.weight"] = randn(in_channels, w_dim)
        sd[f"{prefix}.affine.bias"] = 1.0 + randn(in_channels, scale=0.1)

    def layer(prefix: str, in_channels: int, out_channels: int, res: int) -> None:
        sd[f"{prefix}.weight"] = randn(out_channels, in_channels, 3, 3)
        sd[f"{prefix}.noise_strength"] = randn(scale=0.1)
        sd[f"{prefix}.bias"] = randn(out_channels, scale=0.1)
        sd[f"{prefix}.resample_filter"] = resample_filter()
        sd[f"{prefix}.noise_const"] = randn(res, res)
        affine(prefix, in_channels)

    def torgb(prefix: str, in_channels: int) -> None:
        sd[f"{prefix}.weight"] = randn(img_channels, in_channels, 1, 1)
        sd[f"{prefix}.bias"] = randn(img_channels, scale=0.1)
        affine(prefix, in_channels)

    assert img_resolution >= 4 and img_resolution & (img_resolution - 1) == 0, "img_resolution must be a power of 2"
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    c4 = channels(4)
    sd["synthesis.b4.const"] = randn(c4, 4, 4)
    sd["synthesis.b4.resample_filter"] = resample_filter()
    layer("synthesis.b4.conv1", c4, c4, 4)
    torgb("synthesis.b4.torgb", c4)
    for log2 in range(3, int(math.log2(img_resolution)) + 1):
        res = 2**log2
        block = f"synthesis.b{res}"
        sd[f"{block}.resample_filter"] = resample_filter()
        layer(f"{block}.conv0", channels(res // 2), channels(res), res)
        layer(f"{block}.conv1", channels(res), channels(res), res)
        torgb(f"{block}.torgb", channels(res))
    sd["mapping.w_avg"] = randn(w_dim)
    embed_features = w_dim if c_dim else 0
    if c_dim:
        sd["mapping.embed.weight"] = randn(embed_features, c_dim)
        sd["mapping.embed.bias"] = randn(embed_features, scale=0.1)
    features = [z_dim + embed_features] + [w_dim] * num_mapping_layers
    for i in range(num_mapping_layers):
        sd[f"mapping.fc{i}.weight"] = randn(features[i + 1], features[i])
        sd[f"mapping.fc{i}.bias"] = randn(features[i + 1], scale=0.1)
    init_kwargs = dict(
        z_dim=z_dim,
        w_dim=w_dim,
        mapping_kwargs=EasyDict(num_layers=num_mapping_layers),
        synthesis_kwargs=EasyDict(channel_base=channel_base, channel_max=channel_max, num_fp16_res=0, conv_clamp=None),
        c_dim=c_dim,
        img_resolution=img_resolution,
        img_channels=img_channels,
    )
    return sd, init_kwargs


def _generator(state_dict: Mapping[str, torch.Tensor], init_kwargs: Mapping[str, Any], src: str) -> PersistentModule:
    G = persistent_class("Generator", src)(**init_kwargs)
    for name in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if name in init_kwargs:
            setattr(G, name, init_kwargs[name])
    if "img_resolution" in init_kwargs:
        G.num_ws = 2 * int(math.log2(init_kwargs["img_resolution"])) - 2
    return network_from_state_dict(state_dict, G, src)


def write_stylegan2_ada_pickle(
    path: str | Path,
    state_dict: Mapping[str, torch.Tensor],
    init_kwargs: Mapping[str, Any],
    *,
    g_state_dict: Mapping[str, torch.Tensor] | None = None,
    marker: str | Path | None = None,
    protocol: int = 4,
) -> Path:
    """Write ``path`` as stylegan2-ada-pytorch's training loop would: G, D, G_ema, augment_pipe, dataset kwargs.

    ``state_dict`` / ``init_kwargs`` describe ``G_ema`` (e.g. from ``stylegan2_ada_state_dict``); ``G`` gets
    ``g_state_dict`` or a copy of ``G_ema``'s. ``D`` and ``augment_pipe`` are small stand-ins. The embedded
    module source would create ``marker`` (default: ``<path>.module_src-executed``) if anyone executed it.
    """
    path = Path(path)
    src = networks_src(marker if marker is not None else path.with_name(path.name + ".module_src-executed"))
    img_channels = int(init_kwargs.get("img_channels", 3))
    resolution = int(init_kwargs.get("img_resolution", 32))
    gen = torch.Generator().manual_seed(1)
    d_state = OrderedDict(
        [
            (f"b{resolution}.fromrgb.weight", torch.randn(8, img_channels, 1, 1, generator=gen)),
            (f"b{resolution}.fromrgb.bias", torch.zeros(8)),
            (f"b{resolution}.resample_filter", resample_filter()),
            ("b4.out.weight", torch.randn(1, 8, generator=gen)),
            ("b4.out.bias", torch.zeros(1)),
        ]
    )
    D = persistent_class("Discriminator", src)(
        c_dim=int(init_kwargs.get("c_dim", 0)), img_resolution=resolution, img_channels=img_channels
    )
    network_from_state_dict(d_state, D, src, class_name_of=lambda p: nvlabs_class_name(p, discriminator=True))
    augment_pipe = persistent_class("AugmentPipe", src)(xflip=1, rotate90=1, xint=1)
    augment_pipe.register_buffer("p", torch.zeros([]))
    data = dict(
        training_set_kwargs=dict(
            class_name="training.dataset.ImageFolderDataset",
            path="~/datasets/tiny.zip",
            use_labels=False,
            max_size=100,
            xflip=False,
            resolution=resolution,
        ),
        G=_generator(g_state_dict if g_state_dict is not None else state_dict, init_kwargs, src),
        D=D,
        G_ema=_generator(state_dict, init_kwargs, src),
        augment_pipe=augment_pipe,
    )
    return dump_network_pickle(path, data, protocol=protocol)
