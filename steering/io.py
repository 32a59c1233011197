"""Safe file primitives: atomic writes, hashing, safetensors reading with clear errors.

Every file the project writes goes through ``atomic_path``: the writer fills a temporary file beside the target
(``.<name>.<random>.tmp``), which is flushed to disk and then replaces the target in one step. A failed write (a full
disk) leaves the old file as it was and no temporary behind; a replaced file keeps its permission bits and a new one
gets the user's umask; a symlinked target is updated through the link; a read-only target is refused.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import stat
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CorruptFileError

if TYPE_CHECKING:
    from PIL import Image

#: Temporaries our writes leave when a process dies mid-write: ours (``.<name>.<8 random>.tmp``, named as
#: ``tempfile`` names them) and safetensors' own (``.tmp<6 random>``, made beside the file it is asked to write).
TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp|\.tmp[A-Za-z0-9]{6}")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
_OS_ERROR = re.compile(r"os error (\d+)")
_tidied: set[Path] = set()
_tidied_guard = threading.Lock()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# ----- atomic writes ----------------------------------------------------------------------------------------------
@contextmanager
def atomic_path(target: str | os.PathLike[str], *, follow_symlinks: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step.

    Readers never see a half-written file, and a failed write leaves the old file and no temporary behind. A symlink
    at ``target`` is followed (the file it points to is replaced, the link survives) unless ``follow_symlinks`` is
    false (our own folders: a link found there is replaced, never written through). A target the user may not write
    raises ``PermissionError`` before anything is written.
    """
    given = Path(target)
    target, kept_mode = replaced_file(given, follow_symlinks)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, new_mode = _create_temporary(target, given)
    try:
        yield tmp
        _commit(tmp, target, new_mode if kept_mode is None else kept_mode)
    except OSError as exc:
        if exc.filename is None or Path(exc.filename) != tmp:
            raise
        raise _about(exc, given) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _about(exc: OSError, given: Path) -> OSError:
    """The same failure about ``given``, the path the caller named (our temporary's name means nothing to them)."""
    return OSError(exc.errno, f"{exc.strerror or exc}: could not write {given}")


def replaced_file(target: Path, follow_symlinks: bool = True) -> tuple[Path, int | None]:
    """The file a write to ``target`` replaces (a followed symlink resolved) and its permission bits (None when no
    file is there); a file the user may not write raises ``PermissionError``."""
    if follow_symlinks and target.is_symlink():
        try:
            target = target.resolve()
        except RuntimeError as exc:  # Python < 3.13 reports a link loop so
            raise OSError(errno.ELOOP, f"{target} is a symlink loop") from exc
    try:
        status = target.stat() if follow_symlinks else target.lstat()
    except FileNotFoundError:
        return target, None
    if not stat.S_ISREG(status.st_mode):
        return target, None
    if not status.st_mode & 0o222 or not os.access(target, os.W_OK):  # the bits too: root may write anything
        raise PermissionError(
            errno.EACCES, f"{target} is read-only: not replaced (make it writable or write elsewhere)"
        )
    return target, stat.S_IMODE(status.st_mode)


def _create_temporary(target: Path, given: Path) -> tuple[Path, int]:
    """A new empty temporary beside ``target`` (writable by its owner) and the mode the umask gives a new file; a
    failure is reported about ``given``, the path the caller named."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{''.join(secrets.choice(_ALPHABET) for _ in range(8))}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask (and default ACLs) here
        except FileExistsError:
            continue
        except OSError as exc:
            raise _about(exc, given) from exc
        try:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            os.chmod(tmp, 0o600)  # the writer can fill it whatever the umask; the final mode is set on commit
        finally:
            os.close(fd)
        return tmp, mode
    raise FileExistsError(errno.EEXIST, f"no free temporary file name beside {target}")


def _commit(tmp: Path, target: Path, mode: int) -> None:
    """Flush ``tmp`` to disk, give it ``mode`` and put it in place of ``target``."""
    _flush(tmp)
    os.chmod(tmp, mode)
    os.replace(tmp, target)
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable, where the platform can open a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def create_exclusively(target: str | os.PathLike[str], data: bytes) -> bool:
    """Create ``target`` holding ``data`` unless something is there already (then False, and nothing is written).

    A complete temporary is hard-linked into place, which fails if ``target`` exists: of two writers at the same
    moment exactly one wins, and no reader ever sees half a file. Where the file system has no hard links, an
    exclusive create filled at once stands in."""
    target = Path(target)
    tmp, mode = _create_temporary(target, target)
    try:
        tmp.write_bytes(data)
        _flush(tmp)
        os.chmod(tmp, mode)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                raise
            try:
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        _fsync_folder(target.parent)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _flush(path: Path) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_image(image: Image.Image, path: str | os.PathLike[str], **pil_options: Any) -> Path:
    """Write a PIL image atomically; the format comes from the file name unless ``format=`` is given."""
    from PIL import Image

    path = Path(path)
    Image.init()
    image_format = pil_options.pop("format", None) or Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise ValueError(f"cannot tell an image format from the file name {path.name!r}")
    with atomic_path(path) as tmp:
        image.save(tmp, format=image_format, **pil_options)
    return path


def save_safetensors(
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, str],
    path: str | os.PathLike[str],
    *,
    follow_symlinks: bool = True,
) -> Path:
    """Write ``tensors`` atomically (as contiguous CPU tensors sharing no memory, copying only those that need it).

    An I/O failure (a full disk) raises ``OSError``, as with every other write.
    """
    clean = writable_tensors(tensors)
    with atomic_path(path, follow_symlinks=follow_symlinks) as tmp:
        try:
            save_file(clean, str(tmp), metadata=dict(metadata))
        except SafetensorError as exc:
            raise _as_os_error(exc, path) from exc
    return Path(path)


def _as_os_error(exc: SafetensorError, path: str | os.PathLike[str]) -> Exception:
    """safetensors reports I/O failures as ``SafetensorError("… (os error N) …")``: the ``OSError`` they are."""
    found = _OS_ERROR.search(str(exc))
    if found is None:
        return exc
    code = int(found.group(1))
    return OSError(code, f"{os.strerror(code)}: could not write {path}")


# ----- stale temporaries ------------------------------------------------------------------------------------------
def remove_stale_temporaries(folder: str | os.PathLike[str], older_than: float = 3600.0) -> list[Path]:
    """Delete what interrupted writes left under ``folder``: regular files named as our temporaries are and left
    untouched for ``older_than`` seconds (a write in progress keeps its file). Links are neither followed nor
    deleted."""
    removed: list[Path] = []
    deadline = time.time() - older_than
    for root, _, names in os.walk(folder):
        for path in (Path(root) / name for name in names if TEMPORARY_NAME.fullmatch(name)):
            try:
                status = path.lstat()
                if stat.S_ISREG(status.st_mode) and status.st_mtime < deadline:
                    path.unlink()
                    removed.append(path)
            except OSError:  # gone meanwhile, or not ours to delete
                continue
    return removed


def tidy(folder: Path) -> Path:
    """``folder``, with its stale temporaries removed on its first use by this process."""
    key = folder.expanduser().resolve()
    with _tidied_guard:
        first = key not in _tidied
        _tidied.add(key)
    if first:
        remove_stale_temporaries(folder)
    return folder


# ----- safetensors ------------------------------------------------------------------------------------------------
def writable_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What safetensors accepts: contiguous CPU tensors, no two sharing memory.

    Only tensors that are not so are copied (on another device, strided, a part of a larger storage, or an alias of
    one already taken); the others are written as they are, so a checkpoint is not held twice while it is saved.
    """
    taken: set[tuple[int, int]] = set()
    clean: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        tensor = value.detach()
        if tensor.device.type != "cpu" or not tensor.is_contiguous():
            tensor = tensor.to("cpu").contiguous()  # always a fresh copy here
        else:
            storage = tensor.untyped_storage()
            span = (storage.data_ptr(), storage.nbytes())
            whole = tensor.storage_offset() == 0 and tensor.nbytes == storage.nbytes()
            if storage.nbytes() and (span in taken or not whole):
                tensor = tensor.clone()
            elif storage.nbytes():
                taken.add(span)
        clean[key] = tensor
    return clean


def read_safetensors_metadata(
    path: str | os.PathLike[str], error: type[CorruptFileError] = CorruptFileError
) -> dict[str, str]:
    """Only the header's metadata (cheap: tensors are not read). A file that does not even start like a safetensors
    file (an image, a text) is said to be none, not answered with the reader's header error."""
    from safetensors import safe_open

    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
        size = os.path.getsize(path)
    except OSError as exc:
        raise error(f"{path} is not a readable safetensors file ({exc})") from exc
    if len(head) < 9 or head[8:9] != b"{" or int.from_bytes(head[:8], "little") > size - 8:
        raise error(f"{path} is not a readable safetensors file: it does not start like one")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise error(f"{path} is not a readable safetensors file ({exc})") from exc


def load_safetensors(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    error: type[CorruptFileError] = CorruptFileError,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata; a missing, truncated or corrupt file raises ``error``."""
    path = Path(path)
    if not path.is_file():
        raise error(f"no such file: {path}")
    metadata = read_safetensors_metadata(path, error)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise error(f"{path} is corrupt or truncated ({exc})") from exc
    return tensors, metadata
