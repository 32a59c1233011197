"""Where a job's results live: a folder of atomic safetensors shards, or memory.

A folder holds ``job.json`` (what the job is: its description and fingerprint, written first) and one
``shard-NNNNN.safetensors`` per shard, each written atomically (a killed job leaves whole shards and at most a
temporary, cleaned on the next run). A shard counts as done when its header names this job's fingerprint and its
index; anything else (a damaged file, a shard of another job) is computed again. A folder that holds another job is
refused rather than mixed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from safetensors.torch import load as load_bytes
from torch import Tensor

from ..errors import CorruptFileError, InvalidValueError
from ..io import atomic_path, create_exclusively, load_safetensors, read_safetensors_metadata, tidy
from .job import shard_header

JOB_FILE = "job.json"


class JobFolderError(InvalidValueError):
    """A job folder that holds another job's results."""


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.safetensors"


def _fingerprint(path: Path) -> str | None:
    """The fingerprint ``job.json`` names; None when it is missing or damaged."""
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


class ShardStore:
    """Shards of one job in ``folder`` (``None``: in memory, nothing survives the process)."""

    def __init__(self, folder: str | os.PathLike[str] | None, fingerprint: str, description: dict[str, Any]) -> None:
        self.folder = None if folder is None else Path(folder)
        self.fingerprint, self.description = fingerprint, description
        self._memory: dict[int, bytes] = {}
        if self.folder is not None:
            self._claim()

    def _claim(self) -> None:
        """Take the folder for this job: ``job.json`` is created exclusively (a complete file linked into place), so of
        two jobs claiming one folder at the same moment only one gets it; the other is refused, as a later one is."""
        assert self.folder is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        tidy(self.folder)
        path = self.folder / JOB_FILE
        text = json.dumps({"fingerprint": self.fingerprint, "job": self.description}, indent=1, sort_keys=True)
        for _ in range(3):
            if create_exclusively(path, (text + "\n").encode()):
                return
            found = _fingerprint(path)
            if found == self.fingerprint:
                return
            if found is not None:
                raise JobFolderError(
                    f"{self.folder} holds the results of another job (another model, latents, measure or grouping): "
                    "choose another folder, or empty this one"
                )
            if path.exists() or path.is_symlink():  # damaged (not a job file): replaced, as before
                with atomic_path(path, follow_symlinks=False) as tmp:
                    tmp.write_text(text + "\n", encoding="utf-8")
                if _fingerprint(path) == self.fingerprint:
                    return
        raise JobFolderError(f"{self.folder}: another job keeps claiming this folder; choose another one")

    # ----- state ---------------------------------------------------------------------------------------------------
    def done(self, num_shards: int) -> set[int]:
        """Indices of the shards already stored for this job."""
        if self.folder is None:
            return set(self._memory)
        return {i for i in range(num_shards) if self._valid(i)}

    def _valid(self, index: int) -> bool:
        assert self.folder is not None
        path = self.folder / shard_name(index)
        if not path.is_file():
            return False
        try:
            meta = read_safetensors_metadata(path)
        except CorruptFileError:
            return False
        header = shard_header(meta)
        return header.get("fingerprint") == self.fingerprint and header.get("index") == index

    # ----- writing and reading -------------------------------------------------------------------------------------
    def write(self, index: int, payload: bytes) -> None:
        """Store one shard's safetensors bytes (atomically, in a folder)."""
        if self.folder is None:
            self._memory[index] = payload
            return
        with atomic_path(self.folder / shard_name(index), follow_symlinks=False) as tmp:
            tmp.write_bytes(payload)

    def read(self, index: int) -> dict[str, Tensor]:
        if self.folder is None:
            return load_bytes(self._memory[index])
        tensors, meta = load_safetensors(self.folder / shard_name(index))
        if shard_header(meta).get("fingerprint") != self.fingerprint:
            raise JobFolderError(f"shard {index} in {self.folder} belongs to another job")
        return tensors

    def shards(self, num_shards: int) -> Iterator[dict[str, Tensor]]:
        for index in range(num_shards):
            yield self.read(index)


__all__ = ["JOB_FILE", "JobFolderError", "ShardStore", "shard_name"]
