"""Recent results kept in memory by a key of what they were made from: small thread-safe LRU caches for work a user
repeats with the same inputs (scored samples, SC²GAN's re-projected rare sets). Disk caches are ``steering.cache``."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Generic, Iterable, TypeVar

import torch
from torch import Tensor

T = TypeVar("T")


class Recent(Generic[T]):
    """The ``size`` most recently used values by key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: str, value: T) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def digest(header: object, tensors: Iterable[Tensor] = ()) -> str:
    """sha256 of ``header`` (as sorted JSON) and of each tensor's dtype, shape and bytes."""
    found = hashlib.sha256(json.dumps(header, sort_keys=True, default=str).encode())
    for tensor in tensors:
        found.update(f"{tensor.dtype}{list(tensor.shape)}".encode())
        found.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return found.hexdigest()


__all__ = ["Recent", "digest"]
