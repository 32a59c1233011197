"""An optional perceptual loss (LPIPS on VGG16 features), used only when its weights are already on this machine.

Nothing is ever downloaded. The VGG16 weights are looked for, in order, at ``$GAN_STEERING_VGG16`` (torchvision's
``vgg16-397923af.pth`` state dict, or the same tensors as ``.safetensors``), torch's hub cache
(``<torch hub dir>/checkpoints/vgg16-397923af.pth``, where torchvision leaves them) and
``$GAN_STEERING_HOME/perceptual/vgg16.safetensors``. LPIPS's learned channel weights come from
``$GAN_STEERING_LPIPS`` or an installed ``lpips`` package (``weights/v0.1/vgg.pth``, shipped inside its wheel); without
them every channel counts the same (LPIPS's "baseline" variant). Files are read with ``weights_only`` loading: no code
from them runs.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import paths
from ..errors import CorruptFileError, InvalidValueError
from ..io import load_safetensors

VGG_ENV, LPIPS_ENV = "GAN_STEERING_VGG16", "GAN_STEERING_LPIPS"
VGG_FILE = "vgg16-397923af.pth"
#: torchvision's ``vgg16().features`` convolutions: (index, in channels, out channels); ReLUs follow each.
_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256)]
_CONVS += [(17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512)]
_POOLS = (4, 9, 16, 23)
#: LPIPS taps: the ReLU outputs relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (after these conv indices).
_TAPS = (2, 7, 14, 21, 28)
_SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
_SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)


def vgg_candidates() -> list[Path]:
    """Where the VGG16 weights are looked for, in order (the environment variable first)."""
    found = [Path(os.environ[VGG_ENV]).expanduser()] if os.environ.get(VGG_ENV) else []
    hub = Path(torch.hub.get_dir()) / "checkpoints" / VGG_FILE
    return [*found, hub, paths.home() / "perceptual" / "vgg16.safetensors"]


def lpips_weights_file() -> Path | None:
    """LPIPS's channel weights for VGG: ``$GAN_STEERING_LPIPS``, else inside an installed ``lpips`` (not imported)."""
    if os.environ.get(LPIPS_ENV):
        return Path(os.environ[LPIPS_ENV]).expanduser()
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / "vgg.pth"
    return path if path.is_file() else None


def _read(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        return load_safetensors(path)[0]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise CorruptFileError(f"{path.name} cannot be read as weights ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise CorruptFileError(f"{path.name} is not a state dict")
    return state


class Perceptual(nn.Module):
    """LPIPS distance per image (VGG16 features, unit-normalised per position, squared differences weighted by the
    LPIPS channel weights or equally, averaged over positions and summed over the five taps)."""

    def __init__(self, vgg: dict[str, Tensor], lin: dict[str, Tensor] | None = None, source: str = "") -> None:
        super().__init__()
        self.source = source
        self.convs = nn.ModuleDict()
        for index, cin, cout in _CONVS:
            weight, bias = vgg.get(f"features.{index}.weight"), vgg.get(f"features.{index}.bias")
            shapes = None if weight is None or bias is None else (tuple(weight.shape), tuple(bias.shape))
            if shapes != ((cout, cin, 3, 3), (cout,)):
                raise CorruptFileError(f"{source or 'VGG16 weights'}: not torchvision's vgg16 (features.{index})")
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            conv.weight.data.copy_(weight.float())
            conv.bias.data.copy_(bias.float())
            self.convs[str(index)] = conv
        self.lin = nn.ParameterList()
        if lin is not None:
            for k, (_, _, channels) in enumerate(_CONVS[i] for i in (1, 3, 6, 9, 12)):
                weight = lin.get(f"lin{k}.model.1.weight")
                if weight is None or weight.numel() != channels:
                    raise CorruptFileError("the LPIPS weights do not fit VGG16")
                self.lin.append(nn.Parameter(weight.float().reshape(1, channels, 1, 1), requires_grad=False))
        self.requires_grad_(False).eval()

    def features(self, images: Tensor) -> list[Tensor]:
        x = (images - _SHIFT.to(images)) / _SCALE.to(images)
        taps = []
        for index in range(29):
            if str(index) in self.convs:
                x = F.relu(self.convs[str(index)](x))
                if index in _TAPS:
                    taps.append(x)
            elif index in _POOLS:
                x = F.max_pool2d(x, 2)
        return taps

    def forward(self, images: Tensor, target: Tensor) -> Tensor:
        total = images.new_zeros(images.shape[0])
        for k, (a, b) in enumerate(zip(self.features(images), self.features(target), strict=True)):
            a = a / (a.square().sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.square().sum(1, keepdim=True).sqrt() + 1e-10)
            diff = (a - b).square()
            per_position = (diff * self.lin[k]).sum(1) if len(self.lin) else diff.mean(1)
            total = total + per_position.flatten(1).mean(1)
        return total


def load_perceptual(device: torch.device | str = "cpu") -> Perceptual | None:
    """The perceptual loss if VGG16 weights are on this machine, else ``None`` (an explicit ``$GAN_STEERING_VGG16``
    that does not exist is an error; nothing is downloaded)."""
    explicit = os.environ.get(VGG_ENV)
    for path in vgg_candidates():
        if path.is_file():
            lin_path = lpips_weights_file()
            lin = _read(lin_path) if lin_path is not None and lin_path.is_file() else None
            return Perceptual(_read(path), lin, source=path.name).to(device)
        if explicit and path == Path(explicit).expanduser():
            raise InvalidValueError(f"{VGG_ENV} names {path.name}, which does not exist")
    return None


__all__ = ["LPIPS_ENV", "VGG_ENV", "Perceptual", "load_perceptual", "lpips_weights_file", "vgg_candidates"]
