"""``load_generator``: from a model spec to a ready Generator, converting each checkpoint once."""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..errors import CheckpointFormatError, ModelNotFoundError
from ..io import sha256_file
from ..models import ARCHITECTURES, ModelIdentity, architecture_class
from ..models.base import Generator
from ..models.checkpoint import Checkpoint
from . import store
from .access import AccessChecker
from .catalog import CATALOG, DEFAULT_MODEL, CatalogEntry
from .embedded import embedded_weights_path, embedded_wheel
from .hub import is_offline
from .readers import read_checkpoint
from .spec import HubFile, is_commit, looks_like_path, parse_hub_spec


@dataclass(frozen=True)
class ResolvedFile:
    """A checkpoint file on disk and where it came from."""

    path: Path
    name: str
    source: str  # "pypi:…", "hub:repo", "file"
    source_key: str  # stable key for the converted-file index
    revision: str | None = None
    filename: str | None = None
    extras: Mapping[str, Any] | None = None


def resolve(
    spec: str,
    *,
    token: str | bool | None = None,
    local_files_only: bool = False,
    allow_local_paths: bool = True,
    log: Callable[[str], None] | None = None,
) -> tuple[ResolvedFile, CatalogEntry | None]:
    """Find (and download if needed) the file a spec names.

    ``allow_local_paths=False`` (an app serving the public): only catalog names and Hub files; anything else is
    refused with the same message whether or not such a path exists, before the file system is looked at."""
    spec = (spec or DEFAULT_MODEL).strip()
    entry = CATALOG.get(spec)
    if entry is not None and entry.repo_id is None:
        path = embedded_weights_path(entry.name)
        stat = path.stat()
        return ResolvedFile(
            path=path,
            name=entry.name,
            source=f"pypi:{embedded_wheel(entry.name).requirement}",
            source_key=f"embedded:{path}:{stat.st_size}:{stat.st_mtime_ns}",
            filename=path.name,
        ), entry
    hub_file = hub_source(spec)
    if hub_file is not None:
        return _resolve_hub(hub_file, entry, token=token, local_files_only=local_files_only, log=log), entry
    if not allow_local_paths:
        refuse_local_path(spec)
    path = local_path(spec)
    if path is not None:
        if not path.is_file():
            raise ModelNotFoundError(f"no such checkpoint file: {path}")
        stat = path.stat()
        return ResolvedFile(
            path=path,
            name=path.stem,
            source="file",
            source_key=f"file:{path}:{stat.st_size}:{stat.st_mtime_ns}",
            filename=path.name,
        ), None
    raise ModelNotFoundError(
        f"{spec!r} is not a catalog model ({', '.join(sorted(CATALOG))}), a Hub file 'owner/repo[@revision]:file' "
        f"or an existing local path"
    )


def refuse_local_path(spec: str) -> None:
    """Raise unless ``spec`` is a catalog name or a Hub file (decided from the text alone: no file is looked at)."""
    if CATALOG.get(spec.strip()) is None and hub_source(spec) is None:
        raise ModelNotFoundError(
            f"{spec.strip()[:200]!r} is not a catalog model ({', '.join(sorted(CATALOG))}) or a Hub file "
            "'owner/repo[@revision]:file' (local paths are not accepted here)"
        )


def hub_source(spec: str) -> HubFile | None:
    """The Hub file a spec names (a catalog entry with a repo, or ``owner/repo[@rev]:file``); ``None`` otherwise."""
    spec = (spec or DEFAULT_MODEL).strip()
    entry = CATALOG.get(spec)
    if entry is not None:
        return HubFile(entry.repo_id, entry.filename or "", entry.revision) if entry.repo_id else None
    return parse_hub_spec(spec)


def local_path(spec: str) -> Path | None:
    """The local file a model spec names (resolved); ``None`` for catalog names and Hub files."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec in CATALOG:
        return None
    try:
        if parse_hub_spec(spec) is not None:
            return None
    except ModelNotFoundError:  # an invalid repo id: not a path either (``resolve`` says why)
        return None
    return Path(spec).expanduser().resolve() if looks_like_path(spec) else None


def _resolve_hub(
    hub_file: HubFile,
    entry: CatalogEntry | None,
    *,
    token: str | bool | None,
    local_files_only: bool,
    log: Callable[[str], None] | None = None,
) -> ResolvedFile:
    from .hub import download

    if log is not None:
        log(f"fetching {hub_file} from the Hugging Face Hub (reused from the local HF cache when present)")
    main = download(hub_file, token=token, local_files_only=local_files_only)
    extras: dict[str, Any] = {}
    for extra in entry.extra_files if entry else ():
        extra_file = download(
            HubFile(hub_file.repo_id, extra, main.commit or hub_file.revision),
            token=token,
            local_files_only=local_files_only,
        )
        if extra.endswith(".json"):
            extras[extra] = json.loads(extra_file.path.read_text())
    commit = main.commit or hub_file.revision or "unknown"
    return ResolvedFile(
        path=main.path,
        name=entry.name if entry else f"{hub_file.repo_id}:{hub_file.filename}",
        source=f"hub:{hub_file.repo_id}",
        source_key=f"hub:{hub_file.repo_id}@{commit}:{hub_file.filename}",
        revision=commit,
        filename=hub_file.filename,
        extras=extras,
    )


def detect(
    checkpoint: Checkpoint, architecture: str | None = None
) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """Which architecture a checkpoint is: ``(name, config, state_dict)``; a clear error if none fits."""
    names = [architecture] if architecture else list(ARCHITECTURES)
    tried = []
    for name in names:
        try:
            cls = architecture_class(name)
        except ModuleNotFoundError:
            continue
        match = cls.match_checkpoint(checkpoint)
        tried.append(name)
        if match is not None:
            config, state = match
            return name, config, state
    wanted = f"the {architecture} layout" if architecture else f"any known layout ({', '.join(tried)})"
    raise CheckpointFormatError(f"the checkpoint does not fit {wanted}; it holds {checkpoint.summary()}")


def convert(
    resolved: ResolvedFile, entry: CatalogEntry | None = None, architecture: str | None = None
) -> store.Converted:
    """Read the original file once and turn it into our layout, with provenance."""
    checkpoint = read_checkpoint(resolved.path)
    checkpoint.extras.update(resolved.extras or {})
    arch = architecture or (entry.architecture if entry else None)
    name, config, state = detect(checkpoint, arch)
    if entry and entry.config:
        config = {**config, **entry.config}
    identity = ModelIdentity(
        architecture=name,
        name=resolved.name,
        sha256=sha256_file(resolved.path),
        source=resolved.source,
        revision=resolved.revision,
        filename=resolved.filename,
        config=config,
    )
    return store.Converted(architecture=name, config=config, state=state, identity=identity)


def load_generator(
    spec: str = DEFAULT_MODEL,
    *,
    device: str | torch.device = "cpu",
    architecture: str | None = None,
    token: str | bool | None = None,
    anonymous_default: bool = False,
    local_files_only: bool = False,
    allow_local_paths: bool = True,
    log: Callable[[str], None] | None = None,
) -> Generator:
    """Load a generator by catalog name, ``owner/repo[@rev]:file`` or local path; convert once, then reuse.

    ``token``: a Hub token; ``None`` is your saved login / ``HF_TOKEN``, ``False`` anonymous. ``anonymous_default``
    makes ``None`` anonymous too (apps serving the public never lend their own login). ``log(message)`` hears about
    the slow steps (Hub download, first-use conversion). ``allow_local_paths=False`` accepts only catalog names and
    Hub files. Where several users share a process, use ``GeneratorCache``: it checks each caller's access.
    A models folder that cannot be written (read-only, full) only costs the reuse: the model is built in memory.
    """
    if token is None and anonymous_default:
        token = False
    resolved, entry = resolve(
        spec, token=token, local_files_only=local_files_only, allow_local_paths=allow_local_paths, log=log
    )
    key = resolved.source_key + (f"#{architecture}" if architecture else "")
    converted_file = store.lookup(key)
    if converted_file is not None:
        try:
            return _named(store.build_generator(store.load_converted(converted_file), device), resolved)
        except CheckpointFormatError:
            try:
                converted_file.unlink(missing_ok=True)  # a broken cache entry is dropped and rebuilt
                store.forget(key)
            except OSError as exc:  # a read-only models folder: rebuilt in memory, the entry stays (and is skipped)
                if log is not None:
                    log(f"cannot remove the damaged converted model {converted_file} ({exc.strerror or exc})")
    if log is not None:
        log(f"converting {resolved.name} ({resolved.path.name}) to safetensors: done once, then reused")
    converted = convert(resolved, entry, architecture)
    sha256 = converted.identity.sha256
    try:
        path = store.save_converted(converted)  # atomic: no reader ever sees half a file
    except OSError as exc:
        if log is not None:
            log(f"cannot keep the converted model ({exc.strerror or exc}): using it without saving a copy")
        return store.build_generator(converted, device)
    del converted  # the original checkpoint is freed here: the model is built from the converted file alone
    try:
        generator = store.build_generator(store.load_converted(path), device)
    except CheckpointFormatError:
        path.unlink(missing_ok=True)  # weights that fit no model are not kept, and no index entry points at them
        raise
    if log is not None:
        log(f"saved the converted model to {path}")
    try:
        store.record(key, path, {"sha256": sha256})
    except OSError:
        pass  # without an index entry the next load converts again: slower, never wrong
    return generator


def _named(generator: Generator, resolved: ResolvedFile) -> Generator:
    """The generator named after the file it was loaded from. One converted file serves every spec of the same
    weights (a catalog name, a Hub copy, a local path: same sha256), so its name and source come from the spec used
    now, not from whichever spec converted it first."""
    generator.identity = dataclasses.replace(
        generator.identity,
        name=resolved.name,
        source=resolved.source,
        revision=resolved.revision,
        filename=resolved.filename,
    )
    return generator


#: What a ``GeneratorCache`` keeps a model under: the spec, the device and, for a local file, its size and mtime.
CacheKey = tuple[str, str, tuple[int, int] | None]


class GeneratorCache:
    """Process-level cache of loaded generators keyed by (spec, device): one load per model, shared by users.

    A local file is keyed by its size and modification time too (as the converted-model index is): a file replaced
    at the same path (a retrained checkpoint) is loaded again, and the old weights are dropped.

    A Hub model is handed out only to callers whose own token may read it: every ``get`` asks ``access`` (one
    metadata request, answers remembered ``access.ttl`` seconds per token; offline, only tokens verified earlier in
    this process, public files or the process's own login pass). Embedded and local models need no check. A model
    loaded from a branch is loaded again once that check sees the branch at another commit.
    """

    def __init__(self, max_items: int = 3, access: AccessChecker | None = None) -> None:
        self.max_items = max_items
        self.access = access or AccessChecker()
        self._items: dict[CacheKey, Generator] = {}
        self._lock = threading.Lock()
        self._loading: dict[CacheKey, threading.Lock] = {}

    def get(
        self,
        spec: str = DEFAULT_MODEL,
        device: str | torch.device = "cpu",
        *,
        token: str | bool | None = None,
        anonymous_default: bool = False,
        **kwargs: Any,
    ) -> Generator:
        """The generator for ``spec`` on ``device``, loaded once; refused unless this caller's ``token`` may read it.

        ``token``: ``None`` is the process's saved login / ``HF_TOKEN``, ``False`` anonymous; ``anonymous_default=True``
        makes ``None`` anonymous (a Space: the server's own token is never lent to anonymous users). Other keywords
        go to ``load_generator``. Raises ``HubError`` / ``ModelNotFoundError`` when access is refused.
        """
        name = (spec or DEFAULT_MODEL).strip()
        if not kwargs.get("allow_local_paths", True):
            refuse_local_path(name)
        key = (name, str(device), _file_stamp(name) if kwargs.get("allow_local_paths", True) else None)
        source = hub_source(name)
        offline = bool(kwargs.get("local_files_only")) or (source is not None and is_offline())
        commit = None
        if source is not None:
            commit = self.access.check(source, token, anonymous_default=anonymous_default, offline=offline)
        with self._lock:
            self._drop_if_moved(key, source, commit)
            self._drop_replaced(key)
            if key in self._items:
                self._items[key] = self._items.pop(key)  # most recently used last
                return self._items[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # concurrent requests for the same model wait for one load
            with self._lock:
                self._drop_if_moved(key, source, commit)
                if key in self._items:
                    return self._items[key]
            generator = load_generator(name, device=device, token=token, anonymous_default=anonymous_default, **kwargs)
            if source is not None and not offline:
                self.access.probe_public(source)  # lets anonymous users in offline later if anyone may read it
            with self._lock:
                self._items[key] = generator
                while len(self._items) > self.max_items:
                    self._items.pop(next(iter(self._items)))
                self._loading.pop(key, None)
            return generator

    def _drop_replaced(self, key: CacheKey) -> None:
        """Forget the models loaded from the same spec on the same device under another file stamp: the local file was
        replaced since. The caller holds the lock."""
        for old in [k for k in self._items if k[:2] == key[:2] and k != key]:
            del self._items[old]

    def _drop_if_moved(self, key: CacheKey, source: HubFile | None, commit: str | None) -> None:
        """Forget the model under ``key`` when it was loaded from a branch (``main``, no revision) that the Hub now
        puts at another commit: the next load takes the new weights. The caller holds the lock."""
        loaded = self._items.get(key)
        if loaded is None or source is None or not commit or is_commit(source.revision):
            return
        if loaded.identity.revision and loaded.identity.revision != commit:
            del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _file_stamp(spec: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of the local file ``spec`` names; None for catalog names, Hub files and missing files."""
    try:
        path = local_path(spec)
        if path is None:
            return None
        status = path.stat()
    except (OSError, ModelNotFoundError):
        return None
    return status.st_size, status.st_mtime_ns


#: The shared cache used by the UI and the CLI.
generators = GeneratorCache()
