"""Reading NVlabs network pickles (stylegan2-ada-pytorch, stylegan3) without running the code they carry.

An NVlabs ``.pkl`` is a plain pickle of ``{"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}`` whose
networks reduce to ``torch_utils.persistence._reconstruct_persistent_obj(meta)``; the stock loader ``exec``s
``meta["module_src"]``, the source code embedded in the file. ``_RestrictedUnpickler`` resolves every global through
an explicit allow-table instead:

* persistent objects and plain ``torch.nn`` modules become inert ``ModuleRecord``\\ s (class name + ``__dict__``);
  the embedded source is dropped unread;
* tensors are rebuilt from storages that are loaded with ``torch.load(weights_only=True)`` (torch's own
  ``_load_from_bytes`` uses ``weights_only=False``, a code-execution gadget we never call);
* ``OrderedDict``, ``set``, ``EasyDict`` and numeric numpy scalars / arrays become plain Python values;
* anything else raises ``UnsafeCheckpointError`` naming the refused global. TensorFlow-era pickles
  (``dnnlib.tflib.network.Network``) raise ``CheckpointFormatError``: not supported yet.

The records are then walked like ``nn.Module.state_dict()`` into a ``Checkpoint`` with dotted keys
(``G_ema.synthesis.b4.const``) and JSON-able extras (``G_ema.init_kwargs``, ``G_ema.class_name``). Every top-level
network is flattened except ``augment_pipe`` (training-only; only its class name and init kwargs are kept).

Memory: storages are read one at a time and their raw bytes are dropped from the unpickler's memo as soon as the tensor
storage is built, so the file's contents are not held twice (raw bytes + tensors) until the end of the load.
"""

from __future__ import annotations

import io
import itertools
import math
import pickle
import sys
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np
import torch

from ..errors import CheckpointFormatError, SteeringError, UnsafeCheckpointError
from ..models.checkpoint import Checkpoint, flatten_tensors

FORMAT = "nvlabs-pkl"

# Top-level entries that are networks but not worth reading as weights.
SKIPPED_NETWORKS = frozenset({"augment_pipe"})

# numpy dtypes a pickle may name: plain numbers only (no objects, strings, records, datetimes).
_NUMPY_CODES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"})


class _Sealed(type):
    """Metaclass of every class the unpickler hands out: a pickle's ``BUILD`` cannot set attributes on it."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise UnsafeCheckpointError(f"the pickle tries to modify {cls.__name__}.{name}; refused")


class _Allowed:
    """An allowed function as the unpickler hands it out: callable, but a pickle cannot modify it."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        raise UnsafeCheckpointError(f"the pickle tries to modify {self}; refused")

    def __setstate__(self, state: Any) -> None:
        raise UnsafeCheckpointError(f"the pickle tries to modify {self}; refused")

    def __repr__(self) -> str:
        return f"<allowed {getattr(self._fn, '__qualname__', self._fn)}>"


class ModuleRecord(metaclass=_Sealed):
    """What a pickled network object becomes: its class name and its ``__dict__``, nothing runnable.

    ``class_name`` is the NVlabs class name (``"Generator"``) or the dotted path of a plain ``torch.nn`` module.
    """

    __slots__ = ("class_name", "state")

    def __init__(self, class_name: str, state: Mapping[str, Any] | None = None) -> None:
        self.class_name = class_name
        self.state: Mapping[str, Any] = state if state is not None else {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]  # (dict_state, slot_state) as object.__reduce_ex__ writes it
        if not isinstance(state, Mapping):
            raise CheckpointFormatError(f"{self.class_name} object has state of type {type(state).__name__}")
        self.state = state

    def __repr__(self) -> str:
        return f"ModuleRecord({self.class_name!r})"


class _TorchModuleRecord(ModuleRecord):
    """Base of the inert stand-ins for plain ``torch.nn`` classes (built by ``NEWOBJ`` + ``BUILD``)."""

    __slots__ = ()
    torch_class = "torch.nn.Module"

    def __new__(cls, *args: Any, **kwargs: Any) -> _TorchModuleRecord:
        obj = super().__new__(cls)
        ModuleRecord.__init__(obj, cls.torch_class)
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass


class EasyDict(dict, metaclass=_Sealed):
    """Stand-in for ``dnnlib.util.EasyDict``: a plain dict (attribute access is not needed here)."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, Mapping):
            self.update(state)


class _NdarrayMarker(metaclass=_Sealed):
    """What ``numpy.ndarray`` resolves to: only usable as the first argument of ``_reconstruct``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsafeCheckpointError("the pickle calls numpy.ndarray directly; only array reconstruction is allowed")


class _TensorMarker(metaclass=_Sealed):
    """What ``torch.Tensor`` resolves to: only usable as the type argument of ``_rebuild_from_type_v2``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsafeCheckpointError("the pickle calls torch.Tensor directly; only tensor rebuilding is allowed")


class NumpyDType(metaclass=_Sealed):
    """A numeric numpy dtype named by a plain code (``"f8"``); refuses object, string and structured dtypes."""

    def __init__(self, code: Any, align: Any = False, copy: Any = False) -> None:
        if not isinstance(code, str) or code not in _NUMPY_CODES:
            raise UnsafeCheckpointError(f"numpy dtype {code!r} refused: only plain numeric dtypes are allowed")
        if not isinstance(align, bool) or not isinstance(copy, bool):
            raise CheckpointFormatError("malformed numpy dtype in the pickle")
        self.dtype = np.dtype(code)

    def __setstate__(self, state: Any) -> None:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise CheckpointFormatError("malformed numpy dtype state in the pickle")
        byteorder = state[1]
        if byteorder not in ("<", ">", "|", "=") or any(part is not None for part in state[2:5]):
            raise UnsafeCheckpointError("numpy dtype with sub-arrays or fields refused: only plain numbers are allowed")
        if byteorder in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(byteorder)


class NumpyArray(metaclass=_Sealed):
    """A numeric numpy array rebuilt from raw bytes (``numpy.core.multiarray._reconstruct`` + ``BUILD``)."""

    def __init__(self, array: np.ndarray | None = None) -> None:
        self.array = array

    def __setstate__(self, state: Any) -> None:
        if self.array is not None or not isinstance(state, tuple) or len(state) not in (4, 5):
            raise CheckpointFormatError("malformed numpy array state in the pickle")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _array_from_bytes(raw, dtype, shape, "F" if fortran else "C")


def _numeric(dtype: Any) -> np.dtype:
    """The numpy dtype of a ``NumpyDType``, checked again at the point of use: numbers only, never objects."""
    if not isinstance(dtype, NumpyDType) or not isinstance(dtype.dtype, np.dtype) or dtype.dtype.kind not in "biufc":
        raise UnsafeCheckpointError("numpy data with a non-numeric dtype refused")
    return dtype.dtype


def _array_from_bytes(raw: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    dtype = _numeric(dtype)
    if isinstance(raw, pickle.PickleBuffer):
        raw = raw.raw()
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise UnsafeCheckpointError(f"numpy array data of type {type(raw).__name__} refused: only raw bytes allowed")
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape) or order not in "CF":
        raise CheckpointFormatError("malformed numpy array shape in the pickle")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise CheckpointFormatError("numpy array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy()


def _numpy_reconstruct(subtype: Any, shape: Any, typecode: Any) -> NumpyArray:
    if subtype is not _NdarrayMarker:
        raise UnsafeCheckpointError("numpy array reconstruction of a type other than numpy.ndarray refused")
    return NumpyArray()


def _numpy_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> NumpyArray:
    return NumpyArray(_array_from_bytes(buffer, dtype, shape, order))


def _numpy_scalar(dtype: Any, data: Any = None) -> int | float | bool | complex:
    """A numpy scalar as the plain Python number it holds (``np.float64`` → ``float``)."""
    dtype = _numeric(dtype)
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafeCheckpointError("numpy scalar whose value is not raw bytes refused")
    return np.frombuffer(data, dtype=dtype)[0].item()


def _make_set(items: Any = ()) -> set:
    if not isinstance(items, (list, tuple)):
        raise CheckpointFormatError("malformed set in the pickle")
    return set(items)


def _make_frozenset(items: Any = ()) -> frozenset:
    return frozenset(_make_set(items))


def _reconstruct_persistent_obj(meta: Any) -> ModuleRecord:
    """``torch_utils.persistence._reconstruct_persistent_obj`` without importing ``meta["module_src"]``."""
    if not isinstance(meta, Mapping) or meta.get("type") != "class":
        raise CheckpointFormatError("malformed NVlabs persistent object (meta is not a class record)")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or not (state is None or isinstance(state, Mapping)):
        raise CheckpointFormatError("malformed NVlabs persistent object (class_name / state)")
    return ModuleRecord(class_name, state)


def _check_hooks(hooks: Any) -> None:
    if hooks is not None and not (isinstance(hooks, Mapping) and not hooks):
        raise UnsafeCheckpointError("tensor with serialized hooks refused")


def _rebuild_tensor_v2(
    storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any, hooks: Any, metadata: Any = None
) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` for storages we loaded ourselves; hooks and metadata must be empty."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise UnsafeCheckpointError(f"tensor storage of type {type(storage).__name__} refused")
    if not isinstance(offset, int) or not _int_tuple(size) or not _int_tuple(stride) or len(size) != len(stride):
        raise CheckpointFormatError("malformed tensor geometry in the pickle")
    _check_hooks(hooks)
    if metadata:
        raise CheckpointFormatError("tensors with extra metadata (conjugate/negative views) are not supported")
    tensor = torch.empty((0,), dtype=storage.dtype, device=storage._untyped_storage.device)
    try:
        return tensor.set_(storage._untyped_storage, offset, size, stride)
    except RuntimeError as exc:
        raise CheckpointFormatError(f"tensor does not fit its storage: {exc}") from exc


def _int_tuple(value: Any) -> bool:
    return isinstance(value, (tuple, torch.Size)) and all(isinstance(n, int) and n >= 0 for n in value)


def _rebuild_parameter(data: Any, requires_grad: Any, hooks: Any) -> torch.Tensor:
    """A parameter as its plain tensor (no ``nn.Parameter``, no gradient)."""
    if not isinstance(data, torch.Tensor):
        raise CheckpointFormatError("malformed parameter in the pickle")
    _check_hooks(hooks)
    return data


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, hooks: Any, state: Any) -> torch.Tensor:
    return _rebuild_parameter(data, requires_grad, hooks)  # Python attributes on parameters are dropped


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> torch.Tensor:
    """Tensors that carried Python attributes: rebuilt as plain tensors, attributes dropped."""
    if not (func is _REBUILD_TENSOR or func is _REBUILD_PARAMETER) or new_type is not _TensorMarker:
        raise UnsafeCheckpointError("tensor subclass reconstruction refused")
    if not isinstance(args, tuple):
        raise CheckpointFormatError("malformed tensor in the pickle")
    return func(*args)


_REBUILD_TENSOR = _Allowed(_rebuild_tensor_v2)
_REBUILD_PARAMETER = _Allowed(_rebuild_parameter)
_NUMPY_SCALAR = _Allowed(_numpy_scalar)
_NUMPY_RECONSTRUCT = _Allowed(_numpy_reconstruct)
_NUMPY_FROMBUFFER = _Allowed(_numpy_frombuffer)
_SET, _FROZENSET = _Allowed(_make_set), _Allowed(_make_frozenset)

# The allow-table: (module, name) as written in the pickle → what it resolves to. Classes are ``_Sealed``,
# functions ``_Allowed``: nothing here runs code from the file or can be modified by it.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _Allowed(_reconstruct_persistent_obj),
    ("torch._utils", "_rebuild_tensor_v2"): _REBUILD_TENSOR,
    ("torch._utils", "_rebuild_parameter"): _REBUILD_PARAMETER,
    ("torch._utils", "_rebuild_parameter_with_state"): _Allowed(_rebuild_parameter_with_state),
    ("torch._tensor", "_rebuild_from_type_v2"): _Allowed(_rebuild_from_type_v2),
    ("torch", "Tensor"): _TensorMarker,
    ("torch._tensor", "Tensor"): _TensorMarker,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): _SET,
    ("__builtin__", "set"): _SET,
    ("builtins", "frozenset"): _FROZENSET,
    ("__builtin__", "frozenset"): _FROZENSET,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("numpy", "dtype"): NumpyDType,
    ("numpy", "ndarray"): _NdarrayMarker,
    ("numpy.core.multiarray", "scalar"): _NUMPY_SCALAR,
    ("numpy._core.multiarray", "scalar"): _NUMPY_SCALAR,
    ("numpy.core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _NUMPY_FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _NUMPY_FROMBUFFER,
}


class _RestrictedUnpickler(pickle._Unpickler):
    """Resolves globals only through ``_ALLOWED`` (plus inert ``torch.nn`` stand-ins and two memo-aware loaders).

    Built on the pure-Python unpickler: its memo is a plain dict that ``_forget`` can edit (assigning a dict to the C
    unpickler's ``memo`` empties it on CPython 3.11.7). Network pickles hold few opcodes and large payloads, so it is
    fast enough (a 265 MB G + D + G_ema pickle reads in about a second).
    """

    def __init__(self, file: BinaryIO, source: str) -> None:
        super().__init__(file)
        self.source = source
        self._torch_classes: dict[str, type[_TorchModuleRecord]] = {}
        self._storage_loader, self._bytes_decoder = _Allowed(self._load_storage), _Allowed(self._latin1_bytes)

    def find_class(self, module: str, name: str) -> Any:
        sys.audit("pickle.find_class", module, name)
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return self._storage_loader
        if (module, name) in (("_codecs", "encode"), ("codecs", "encode")):
            return self._bytes_decoder
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module.startswith("torch.nn.modules.") and name.isidentifier() and name[:1].isupper():
            return self._torch_class(f"{module}.{name}")
        if module.startswith("dnnlib.tflib"):
            raise CheckpointFormatError(
                f"{self.source} is a TensorFlow-era StyleGAN pickle ({module}.{name}); these are not supported yet. "
                "Use a PyTorch-era NVlabs .pkl (stylegan2-ada-pytorch / stylegan3), or convert this one with NVlabs' "
                "legacy.py in an environment you trust and save the generator's state_dict as safetensors."
            )
        raise UnsafeCheckpointError(
            f"{self.source} refers to {module}.{name}, which network pickles have no business calling, so it was not "
            "loaded. Only tensors, NVlabs network records and plain containers are read from .pkl files; if you "
            "trust the file, export the generator's state_dict to safetensors with the code that trained it."
        )

    def _torch_class(self, dotted: str) -> type[_TorchModuleRecord]:
        if dotted not in self._torch_classes:
            namespace = {"__slots__": (), "torch_class": dotted}
            self._torch_classes[dotted] = _Sealed(dotted.rsplit(".", 1)[1], (_TorchModuleRecord,), namespace)
        return self._torch_classes[dotted]

    def _load_storage(self, data: Any) -> torch.storage.TypedStorage:
        """``torch.storage._load_from_bytes`` with ``weights_only=True``; the payload must be one storage."""
        if not isinstance(data, bytes):
            raise UnsafeCheckpointError(f"{self.source}: storage payload of type {type(data).__name__} refused")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            message = str(exc)
            if "GLOBAL" in message or "Unsupported" in message:
                detail = next((ln for ln in message.splitlines() if "GLOBAL" in ln or "Unsupported" in ln), message)
                raise UnsafeCheckpointError(
                    f"{self.source} hides a torch pickle that weights-only loading refuses ({detail.strip()}); "
                    "it was not loaded."
                ) from exc
            raise CheckpointFormatError(f"{self.source}: a tensor storage is corrupt ({message})") from exc
        except Exception as exc:
            raise CheckpointFormatError(
                f"{self.source}: a tensor storage is corrupt or truncated ({type(exc).__name__}: {exc})"
            ) from exc
        if not isinstance(storage, torch.storage.TypedStorage):
            raise UnsafeCheckpointError(
                f"{self.source}: a storage payload holds a {type(storage).__name__} instead of a storage"
            )
        self._forget(data)
        return storage

    def _latin1_bytes(self, text: Any, encoding: Any = "latin1") -> bytes:
        """``_codecs.encode(text, "latin1")``: how protocol-2 pickles written by Python 3 spell ``bytes``."""
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise UnsafeCheckpointError(f"{self.source}: codecs.encode other than str → latin1 bytes refused")
        data = text.encode("latin1")
        self._forget(text)
        return data

    def _forget(self, payload: object) -> None:
        """Replace a large raw payload (and the argument tuple holding it) in the memo by ``None``.

        Pickle memoizes every ``bytes`` it reads, so otherwise all raw storage bytes would live beside the rebuilt
        tensors until the load ends. The payload was memoized just before this call: look at the newest entries.
        Entries are replaced, not deleted: ``MEMOIZE`` numbers new entries by the memo's length.
        """
        if len(payload) < (1 << 16):  # type: ignore[arg-type]
            return
        memo = self.memo
        for key in list(itertools.islice(reversed(memo), 8)):
            value = memo[key]
            if value is payload or (isinstance(value, tuple) and any(item is payload for item in value)):
                memo[key] = None


def _unpickle(path: Path) -> Any:
    with open(path, "rb") as handle:
        return _RestrictedUnpickler(handle, str(path)).load()  # the unpickler (and its memo) dies here


def read_network_pickle(path: str | Path) -> Checkpoint:
    """Read an NVlabs network pickle into flattened tensors and JSON-able extras, running none of its code."""
    path = Path(path)
    try:
        obj = _unpickle(path)
    except SteeringError:
        raise
    except RecursionError as exc:
        raise CheckpointFormatError(f"{path} nests objects too deeply to be a network pickle") from exc
    except Exception as exc:
        raise CheckpointFormatError(
            f"{path} is not a readable network pickle: it is corrupt or truncated ({type(exc).__name__}: {exc})"
        ) from exc
    try:
        tensors, extras = _flatten(obj, path)
    except RecursionError as exc:
        raise CheckpointFormatError(f"{path} nests networks too deeply to be a network pickle") from exc
    del obj  # the records are no longer needed; the tensors they shared live on in ``tensors``
    if not tensors:
        raise CheckpointFormatError(f"{path} is a pickle without any network weights (extras: {sorted(extras)})")
    return Checkpoint(tensors=tensors, extras=extras, format=FORMAT)


def _flatten(obj: Any, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors of every top-level network (``G.…``, ``D.…``, ``G_ema.…``) and JSON-able extras."""
    tensors: dict[str, torch.Tensor] = {}
    extras: dict[str, Any] = {}
    if isinstance(obj, ModuleRecord):
        _add_network(obj, "", tensors, extras)
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            name = str(key)
            if isinstance(value, ModuleRecord):
                _add_network(value, name, tensors, extras, with_tensors=name not in SKIPPED_NETWORKS)
            elif isinstance(value, (torch.Tensor, Mapping)) and flatten_tensors(value):
                flatten_tensors(value, f"{name}.", tensors)
            elif value is not None:
                extras[name] = to_jsonable(value)
    else:
        raise CheckpointFormatError(f"{path} holds a {type(obj).__name__}, not a dict of networks")
    return tensors, extras


def _add_network(
    record: ModuleRecord, name: str, tensors: dict[str, torch.Tensor], extras: dict[str, Any], with_tensors: bool = True
) -> None:
    prefix = f"{name}." if name else ""
    extras[f"{prefix}class_name"] = record.class_name
    for attr, key in (("_init_kwargs", "init_kwargs"), ("_init_args", "init_args")):
        value = record.state.get(attr)
        if value is not None and (attr == "_init_kwargs" or value):
            extras[f"{prefix}{key}"] = to_jsonable(value)
    if with_tensors:
        module_state_dict(record, prefix, tensors)


def module_state_dict(
    record: ModuleRecord, prefix: str = "", out: dict[str, torch.Tensor] | None = None, _path: tuple[int, ...] = ()
) -> dict[str, torch.Tensor]:
    """``nn.Module.state_dict()`` of a record: parameters, persistent buffers, then submodules with ``name.``."""
    out = {} if out is None else out
    if id(record) in _path:
        raise CheckpointFormatError(f"network {prefix.rstrip('.')!r} contains itself")
    state = record.state
    skip = state.get("_non_persistent_buffers_set") or ()
    if not isinstance(skip, (set, frozenset, list, tuple)):
        raise CheckpointFormatError(f"{prefix or 'network'}: malformed _non_persistent_buffers_set")
    for table, excluded in (("_parameters", ()), ("_buffers", skip)):
        for key, tensor in _named(state, table, prefix):
            if tensor is None or key in excluded:
                continue
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointFormatError(f"{prefix}{key} is a {type(tensor).__name__}, not a tensor")
            out[prefix + key] = tensor.detach()
    for key, child in _named(state, "_modules", prefix):
        if child is None:
            continue
        if not isinstance(child, ModuleRecord):
            raise CheckpointFormatError(f"{prefix}{key} is a {type(child).__name__}, not a network module")
        module_state_dict(child, f"{prefix}{key}.", out, (*_path, id(record)))
    return out


def _named(state: Mapping[str, Any], table: str, prefix: str) -> list[tuple[str, Any]]:
    entries = state.get(table) or {}
    if not isinstance(entries, Mapping) or not all(isinstance(k, str) for k in entries):
        raise CheckpointFormatError(f"{prefix or 'network'}: malformed {table}")
    return list(entries.items())


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Constructor settings as JSON values: numbers, strings, lists, dicts (``EasyDict`` → dict)."""
    if _depth > 32:
        raise CheckpointFormatError("constructor settings nest too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v, _depth + 1) for v in items]
    if isinstance(value, NumpyArray) and value.array is not None:
        return to_jsonable(value.array.tolist(), _depth + 1)
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, torch.Tensor):
        return value.tolist() if value.numel() <= 64 else f"<tensor {list(value.shape)} {value.dtype}>"
    if isinstance(value, NumpyDType):
        return str(value.dtype)
    if isinstance(value, ModuleRecord):
        return {"class_name": value.class_name}
    return repr(value)


__all__ = ["FORMAT", "SKIPPED_NETWORKS", "ModuleRecord", "module_state_dict", "read_network_pickle", "to_jsonable"]
