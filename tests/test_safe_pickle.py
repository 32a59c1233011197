"""The restricted NVlabs pickle reader: same tensors as ``state_dict()``, no code from the file ever runs."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from nvlabs_pickle import (
    EasyDict,
    dump_network_pickle,
    networks_src,
    persistent_class,
    stand_in_modules,
    stylegan2_ada_state_dict,
    write_stylegan2_ada_pickle,
)

from steering.errors import CheckpointFormatError, UnsafeCheckpointError
from steering.sources import safe_pickle
from steering.sources.readers import read_checkpoint
from steering.sources.safe_pickle import read_network_pickle

PROTOCOLS = [2, 3, 4, 5]


def toy_generator(src: str) -> torch.nn.Module:
    """A small NVlabs-style G: nested persistent modules, a plain torch.nn container, numpy attributes."""
    torch.manual_seed(0)
    P = lambda name: persistent_class(name, src)  # noqa: E731
    G = P("Generator")(
        z_dim=8, w_dim=8, mapping_kwargs=EasyDict(num_layers=1), synthesis_kwargs=EasyDict(channel_base=64)
    )
    G.z_dim, G.w_dim, G.num_ws = 8, 8, 2
    G.synthesis = P("SynthesisNetwork")(w_dim=8, img_resolution=4, img_channels=3)
    b4 = G.synthesis.b4 = P("SynthesisBlock")(in_channels=0, out_channels=4)
    b4.const = torch.nn.Parameter(torch.randn(4, 4, 4))
    b4.register_buffer("resample_filter", torch.rand(4, 4))
    b4.register_buffer("scratch", torch.rand(3), persistent=False)  # not part of state_dict()
    conv1 = b4.conv1 = P("SynthesisLayer")(in_channels=4, out_channels=4)
    conv1.weight = torch.nn.Parameter(torch.randn(4, 4, 3, 3))
    conv1.noise_strength = torch.nn.Parameter(torch.zeros([]))
    conv1.register_buffer("noise_const", torch.randn(4, 4))
    conv1.in_size = np.broadcast_to(np.asarray(4), [2])  # numpy array attribute, as stylegan3 layers have
    conv1.affine = P("FullyConnectedLayer")(in_features=8, out_features=4)
    conv1.affine.weight = torch.nn.Parameter(torch.randn(4, 8))
    conv1.affine.bias = torch.nn.Parameter(torch.ones(4))
    conv1.affine.weight_gain = np.float64(8**-0.5)
    G.synthesis.extra = torch.nn.Sequential(  # plain torch.nn containers inside persistent objects
        torch.nn.Linear(4, 4, bias=False),
        torch.nn.LeakyReLU(0.2),
        torch.nn.ModuleList([torch.nn.Conv2d(2, 2, 1)]),
    )
    G.mapping = P("MappingNetwork")(z_dim=8, c_dim=0, w_dim=8, num_ws=2)
    G.mapping.fc0 = P("FullyConnectedLayer")(in_features=8, out_features=8)
    G.mapping.fc0.weight = torch.nn.Parameter(torch.randn(8, 8))
    G.mapping.fc0.bias = torch.nn.Parameter(torch.randn(8))
    G.mapping.register_buffer("w_avg", torch.randn(8))
    return G


def write_toy(path: Path, marker: Path, protocol: int = 4) -> dict[str, torch.nn.Module]:
    src = networks_src(marker)
    G_ema = toy_generator(src)
    D = persistent_class("Discriminator", src)(c_dim=0, img_resolution=4, img_channels=3)
    D.register_parameter("b4_out", torch.nn.Parameter(torch.randn(1, 4)))
    pipe = persistent_class("AugmentPipe", src)(xflip=1)
    pipe.register_buffer("p", torch.zeros([]))
    data = dict(
        training_set_kwargs=EasyDict(resolution=4, use_labels=False, path="x.zip"),
        G=toy_generator(src),
        D=D,
        G_ema=G_ema,
        augment_pipe=pipe,
    )
    dump_network_pickle(path, data, protocol=protocol)
    return data


def assert_same_tensors(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_reads_state_dicts_and_init_kwargs(tmp_path, protocol):
    marker = tmp_path / "executed"
    data = write_toy(tmp_path / "net.pkl", marker, protocol)
    ckpt = read_network_pickle(tmp_path / "net.pkl")
    assert not marker.exists()
    assert ckpt.format == "nvlabs-pkl"
    for name in ("G", "G_ema", "D"):
        assert_same_tensors(ckpt.sub(f"{name}."), data[name].state_dict())
    assert "G_ema.synthesis.b4.scratch" not in ckpt.tensors  # non-persistent buffer
    assert "G_ema.synthesis.extra.2.0.weight" in ckpt.tensors  # plain torch.nn containers walked too
    assert not any(k.startswith("augment_pipe.") for k in ckpt.tensors)
    assert all(not t.requires_grad for t in ckpt.tensors.values())
    extras = ckpt.extras
    assert extras["G_ema.class_name"] == "Generator" and extras["D.class_name"] == "Discriminator"
    assert extras["G_ema.init_kwargs"] == {
        "z_dim": 8,
        "w_dim": 8,
        "mapping_kwargs": {"num_layers": 1},
        "synthesis_kwargs": {"channel_base": 64},
    }
    assert type(extras["G_ema.init_kwargs"]["mapping_kwargs"]) is dict
    assert extras["training_set_kwargs"] == {"resolution": 4, "use_labels": False, "path": "x.zip"}
    assert extras["augment_pipe.class_name"] == "AugmentPipe"
    assert json.loads(json.dumps(extras)) == extras


def test_numpy_values_are_plain_numbers():
    f8 = np.float64(0.125)
    assert safe_pickle._numpy_scalar(safe_pickle.NumpyDType("f8"), f8.tobytes()) == 0.125
    buf = pickle.dumps({"gain": np.float64(0.125), "size": np.broadcast_to(np.asarray(4), [2]), "n": np.int32(7)})
    obj = safe_pickle._RestrictedUnpickler(io.BytesIO(buf), "buf").load()
    assert obj["gain"] == 0.125 and type(obj["gain"]) is float
    assert obj["n"] == 7 and type(obj["n"]) is int
    assert safe_pickle.to_jsonable(obj) == {"gain": 0.125, "size": [4, 4], "n": 7}


def test_stylegan2_ada_layout(tmp_path):
    state, init_kwargs = stylegan2_ada_state_dict()
    assert len(state) == 75  # the size-32 / 2-mapping-layer G_ema that checkpoints.md §3 counted
    path = write_stylegan2_ada_pickle(tmp_path / "sg2.pkl", state, init_kwargs)
    ckpt = read_network_pickle(path)
    assert_same_tensors(ckpt.sub("G_ema."), state)
    assert_same_tensors(ckpt.sub("G."), state)
    assert ckpt.tensors["G_ema.synthesis.b4.const"].shape == (32, 4, 4)
    assert ckpt.tensors["G_ema.synthesis.b32.conv0.weight"].shape == (16, 32, 3, 3)
    assert ckpt.tensors["G_ema.mapping.fc1.weight"].shape == (64, 64)
    assert ckpt.tensors["G_ema.synthesis.b4.conv1.noise_strength"].shape == ()
    assert ckpt.extras["G_ema.init_kwargs"] == json.loads(json.dumps(init_kwargs))
    assert ckpt.extras["G_ema.init_kwargs"]["synthesis_kwargs"]["channel_base"] == 512
    assert not (tmp_path / "sg2.pkl.module_src-executed").exists()


def test_generic_entry_point(tmp_path):
    write_toy(tmp_path / "net.pkl", tmp_path / "executed")
    direct = read_network_pickle(tmp_path / "net.pkl")
    generic = read_checkpoint(tmp_path / "net.pkl")
    assert generic.format == direct.format == "nvlabs-pkl"
    assert_same_tensors(generic.tensors, direct.tensors)
    assert generic.extras == direct.extras
    assert not (tmp_path / "executed").exists()


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.5, 0.9, 0.999])
def test_truncated_pickle_is_a_format_error(tmp_path, fraction):
    write_toy(tmp_path / "net.pkl", tmp_path / "executed")
    data = (tmp_path / "net.pkl").read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointFormatError) as info:
        read_checkpoint(cut)
    assert not isinstance(info.value, UnsafeCheckpointError)
    assert str(cut) in str(info.value)


def test_stock_loading_would_run_module_src(tmp_path):
    """Positive control: what NVlabs' loader does with our file (exec module_src) does create the marker."""
    marker = tmp_path / "executed"
    write_toy(tmp_path / "net.pkl", marker)

    def reconstruct_like_nvlabs(meta):
        exec(compile(meta["module_src"], "<module_src>", "exec"), {})  # persistence._src_to_module
        return meta["state"]

    with stand_in_modules():
        sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj = reconstruct_like_nvlabs
        with open(tmp_path / "net.pkl", "rb") as handle:
            pickle.load(handle)  # our own file, written above
    assert marker.exists()


# --- hostile files -------------------------------------------------------------------------------------------------


class Payload:
    """Pickles as ``func(*args)``: what an attacker would put into a .pkl."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def legacy_torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def payloads(marker: Path) -> dict[str, Payload]:
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": Payload(os.system, f'"{sys.executable}" -c "{touch}"'),
        "eval": Payload(eval, touch),
        "exec": Payload(exec, touch),
        "subprocess.Popen": Payload(subprocess.Popen, [sys.executable, "-c", touch]),
        # torch's own _load_from_bytes is torch.load(weights_only=False): a nested pickle runs code
        "nested torch pickle": Payload(torch.storage._load_from_bytes, legacy_torch_bytes(Payload(exec, touch))),
    }


PAYLOADS = list(payloads(Path("x")))


def wait_for(path: Path, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return path.exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_payloads_are_live(tmp_path, name):
    """Positive control: plain pickle.loads of each (self-made) payload really does create the marker."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(payloads(marker)[name]))
    assert wait_for(marker)


@pytest.mark.parametrize("where", ["top-level", "inside G_ema", "inside training_set_kwargs"])
@pytest.mark.parametrize("name", PAYLOADS)
def test_hostile_pickles_are_refused(tmp_path, name, where):
    marker = tmp_path / "pwned"
    payload = payloads(marker)[name]
    path = tmp_path / "evil.pkl"
    if where == "top-level":
        dump_network_pickle(path, payload)
    else:
        src = networks_src(tmp_path / "executed")
        G = toy_generator(src)
        kwargs = EasyDict(resolution=4)
        if where == "inside G_ema":
            G.synthesis.b4.conv1.evil = payload
        else:
            kwargs.path = payload
        dump_network_pickle(path, dict(training_set_kwargs=kwargs, G_ema=G))
    with pytest.raises(UnsafeCheckpointError) as info:
        read_checkpoint(path)
    time.sleep(0.1)  # a spawned process would have had time to touch the marker
    assert not marker.exists()
    assert not (tmp_path / "executed").exists()
    assert str(path) in str(info.value)


def test_numpy_object_dtypes_are_refused(tmp_path):
    """Object scalars/arrays would carry arbitrary objects instead of numbers."""
    scalar = np.float64(0).__reduce__()[0]  # numpy._core.multiarray.scalar (numpy.core.… under numpy 1.x)
    path = dump_network_pickle(tmp_path / "obj.pkl", {"G_ema": Payload(scalar, np.dtype("O"), "not a number")})
    with pytest.raises(UnsafeCheckpointError, match="'O8'"):
        read_network_pickle(path)
    path = dump_network_pickle(tmp_path / "arr.pkl", {"x": np.array(["a", None], dtype=object)})
    with pytest.raises(UnsafeCheckpointError, match="'O8'"):
        read_network_pickle(path)


def test_refusal_names_the_global(tmp_path):
    path = dump_network_pickle(tmp_path / "evil.pkl", Payload(os.system, "true"))
    with pytest.raises(UnsafeCheckpointError, match=r"posix\.system|nt\.system"):
        read_network_pickle(path)


def test_serialized_hooks_are_refused(tmp_path):
    G = toy_generator(networks_src(tmp_path / "executed"))
    G.mapping.register_forward_hook(print)
    path = dump_network_pickle(tmp_path / "hooked.pkl", dict(G_ema=G))
    with pytest.raises(UnsafeCheckpointError, match=r"builtins\.print"):
        read_network_pickle(path)


def test_tensorflow_pickles_are_a_clear_format_error(tmp_path):
    tf = types.ModuleType("dnnlib.tflib.network")

    class Network:
        def __getstate__(self):
            return {"version": 4, "name": "G_synthesis", "variables": []}

    Network.__module__, Network.__qualname__, tf.Network = "dnnlib.tflib.network", "Network", Network
    sys.modules["dnnlib.tflib.network"] = tf
    try:
        path = dump_network_pickle(tmp_path / "tf.pkl", (Network(), Network(), Network()))
    finally:
        del sys.modules["dnnlib.tflib.network"]
    with pytest.raises(CheckpointFormatError, match="TensorFlow") as info:
        read_checkpoint(path)
    assert not isinstance(info.value, UnsafeCheckpointError)


def test_allowed_objects_cannot_be_modified_by_a_pickle(tmp_path):
    """BUILD on a global sets attributes on it; the objects we hand out refuse that (state would outlive the load)."""
    before = safe_pickle._rebuild_tensor_v2.__defaults__
    path = tmp_path / "build.pkl"
    for module, name in [("torch._utils", "_rebuild_tensor_v2"), ("numpy", "ndarray"), ("dnnlib.util", "EasyDict")]:
        # protocol 2: GLOBAL module name; (None, {"__defaults__": 1}); BUILD → setattr(global, "__defaults__", 1)
        path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"N}X\x0c\x00\x00\x00__defaults__K\x01s\x86b.")
        with pytest.raises(CheckpointFormatError):
            read_network_pickle(path)
    assert safe_pickle._rebuild_tensor_v2.__defaults__ == before
    assert "__defaults__" not in vars(safe_pickle._NdarrayMarker) and "__defaults__" not in vars(safe_pickle.EasyDict)


def test_allow_table_hands_out_only_inert_objects():
    """Every global resolves to a sealed stand-in, a wrapped function of ours, or OrderedDict: never the real thing."""
    for (module, name), value in safe_pickle._ALLOWED.items():
        if isinstance(value, safe_pickle._Allowed):
            assert value._fn.__module__ == safe_pickle.__name__, (module, name)
        else:
            assert value is OrderedDict or type(value) is safe_pickle._Sealed, (module, name)


def test_real_load_from_bytes_is_never_handed_out():
    unpickler = safe_pickle._RestrictedUnpickler(io.BytesIO(), "buf")
    assert unpickler.find_class("torch.storage", "_load_from_bytes") is not torch.storage._load_from_bytes
    with pytest.raises(UnsafeCheckpointError):
        unpickler.find_class("builtins", "getattr")
    with pytest.raises(UnsafeCheckpointError):
        unpickler.find_class("torch.nn.modules.module", "register_module_forward_hook")
    with pytest.raises(UnsafeCheckpointError, match="'O8'"):
        safe_pickle.NumpyDType("O8", False, True)


# --- memory --------------------------------------------------------------------------------------------------------


def _peak_python_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        read_network_pickle(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_raw_storage_bytes_are_not_held_alongside_the_tensors(tmp_path, monkeypatch):
    """Pickle memoizes every storage's raw bytes; the reader drops them instead of holding the file twice."""
    mib = 1 << 20
    G = persistent_class("Generator", networks_src(tmp_path / "executed"))()
    for i in range(8):
        G.register_parameter(f"w{i}", torch.nn.Parameter(torch.randn(mib // 4)))  # 1 MiB each
    path = dump_network_pickle(tmp_path / "big.pkl", OrderedDict(G_ema=G))
    pruned = _peak_python_bytes(path)
    monkeypatch.setattr(safe_pickle._RestrictedUnpickler, "_forget", lambda self, payload: None)
    held = _peak_python_bytes(path)
    assert held > 8 * mib  # the control: without pruning all raw bytes stay in the memo until the end
    assert pruned < 3 * mib
