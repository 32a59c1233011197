"""Downloads from the Hugging Face Hub with ``huggingface_hub`` (0.25 … 2.x), mapped to our typed errors.

The user's HF cache, token (``HF_TOKEN`` / ``hf auth login``), ``HF_ENDPOINT`` and offline mode are honoured.
``huggingface_hub`` reads ``HF_ENDPOINT``, ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` once, at import; we read them again
at each call, so a webui or a test that sets them later is obeyed too (unset: the library's own defaults).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from .. import limits
from ..errors import HubError, ModelNotFoundError, SteeringError
from .spec import HubFile, is_commit, valid_repo_id

_TRUE = {"1", "on", "yes", "true"}
_HTTP_LIBRARIES = {"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3"}  # their errors: network trouble
LOGIN_LOCAL = "log in with `hf auth login` (`huggingface-cli login` before huggingface_hub 1.0)"
LOGIN_HINT = f"{LOGIN_LOCAL} or pass a token"


@dataclass(frozen=True)
class DownloadedFile:
    path: Path
    source: HubFile
    commit: str | None  # the resolved commit hash, when known


def hf_errors() -> ModuleType:
    """``huggingface_hub.errors`` (0.23+), else ``huggingface_hub.utils`` where older releases keep the classes."""
    try:
        from huggingface_hub import errors
    except ImportError:  # pragma: no cover - huggingface_hub < 0.23
        from huggingface_hub import utils as errors
    return errors


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` as set now (``None``: the library's default, https://huggingface.co)."""
    value = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/")
    return value or None


def hub_cache_dir() -> str | None:
    """The HF hub cache as the environment names it now (same precedence as huggingface_hub)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return os.environ[name]
    home = os.environ.get("HF_HOME")
    return str(Path(home).expanduser() / "hub") if home else None


def is_offline() -> bool:
    """Offline mode: ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) set now or when huggingface_hub was imported."""
    from huggingface_hub import constants

    env = any(os.environ.get(name, "").strip().lower() in _TRUE for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return env or bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _where(url: str | None) -> str:
    return url or "https://huggingface.co"


def download(
    source: HubFile,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    endpoint: str | None = None,
) -> DownloadedFile:
    """Fetch one file (or find it in the cache); errors say which repo/file/revision failed and what to do."""
    import huggingface_hub

    if not valid_repo_id(source.repo_id):
        raise ModelNotFoundError(
            f"{source.repo_id!r} is not a valid Hub repo id: expected 'owner/name' with letters, digits, '-', '_', '.'"
        )
    url = endpoint or hub_endpoint()
    local_only = local_files_only or is_offline()
    if not local_only:
        _check_size(source, url, token, cache_dir or hub_cache_dir())
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id=source.repo_id,
            filename=source.filename,
            revision=source.revision,
            repo_type=source.repo_type,
            cache_dir=cache_dir or hub_cache_dir(),
            token=token,
            local_files_only=local_only,
            endpoint=url,
            library_name="gan-steering",
        )
    except Exception as exc:
        mapped = map_error(exc, source=source, endpoint=url, token=token, local_only=local_only)
        if mapped is None:
            raise
        raise mapped from exc
    path = Path(path)
    return DownloadedFile(path=path, source=source, commit=_commit_from_path(path))


def _check_size(source: HubFile, endpoint: str, token: str | bool | None, cache_dir: str | None) -> None:
    """Refuse, before downloading, a file whose tensors would not fit one request's memory budget (a public Space
    must not fetch any file a visitor names, whatever its size). A file of a pinned commit already in the cache is
    not asked about (it cannot change; a branch can move on to a larger file); when the Hub cannot be asked,
    ``hf_hub_download`` says why (or serves the cache)."""
    import huggingface_hub

    if is_commit(source.revision):
        cached = huggingface_hub.try_to_load_from_cache(
            source.repo_id, source.filename, cache_dir=cache_dir, revision=source.revision, repo_type=source.repo_type
        )
        if isinstance(cached, str):
            return
    url = huggingface_hub.hf_hub_url(
        source.repo_id, source.filename, revision=source.revision, repo_type=source.repo_type, endpoint=endpoint
    )
    try:
        size = huggingface_hub.get_hf_file_metadata(url, token=token).size
    except Exception:  # the download below reports it, with our mapped errors
        return
    if size:
        limits.check_bytes(int(size), f"loading {source} ({limits.size_text(int(size))} on the Hub)")


def map_error(
    exc: BaseException,
    *,
    source: HubFile | None = None,
    repo_id: str | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    local_only: bool = False,
    write: bool = False,
) -> SteeringError | None:
    """Our typed error for an exception raised by ``huggingface_hub`` (``None``: not a Hub error, re-raise it).

    ``write``: the call created a repo or uploaded (auth problems then mean a missing token or write access).
    """
    errors = hf_errors()
    repo = source.repo_id if source else repo_id or "?"
    what = str(source) if source else repo
    status = getattr(getattr(exc, "response", None), "status_code", None)

    def is_(name: str) -> bool:
        cls = getattr(errors, name, None)
        return cls is not None and isinstance(exc, cls)

    if write and (is_("LocalTokenNotFoundError") or is_("RepositoryNotFoundError") or status in (401, 403)):
        return HubError(
            f"the Hub at {_where(endpoint)} refused to write to {repo} (HTTP {status or 'no token'}): "
            f"{LOGIN_HINT} with write access to the '{repo.split('/')[0]}' namespace"
        )
    if write and status in (404, 405, 501):
        return HubError(
            f"{_where(endpoint)} does not accept uploads (HTTP {status} on {_request_path(exc)}): a read-only "
            f"mirror? Unset HF_ENDPOINT or point it at a Hub that accepts pushes"
        )

    if is_("LocalEntryNotFoundError") or is_("OfflineModeIsEnabled"):
        if local_only or is_("OfflineModeIsEnabled"):
            return HubError(
                f"{what} is not in the local Hugging Face cache and offline mode is on (HF_HUB_OFFLINE=1 or "
                f"local_files_only): connect once to download it, or unset HF_HUB_OFFLINE"
            )
        return HubError(
            f"{what} is not in the local Hugging Face cache and the Hub at {_where(endpoint)} could not be reached: "
            f"check your network connection (and HF_ENDPOINT if you use a mirror)"
        )
    if is_("GatedRepoError"):
        return HubError(f"{repo} is gated: accept its conditions on its Hub page, then {LOGIN_HINT} ({_first(exc)})")
    if is_("RepositoryNotFoundError"):
        if source is not None:
            # Mirrors (olah) answer "repository not found" for a missing revision or file too; ask the refs to tell.
            hint = _explain_missing(source, endpoint, token)
            if hint is not None:
                return ModelNotFoundError(hint)
        return ModelNotFoundError(
            f"Hub repo {repo!r} was not found at {_where(endpoint)}: check the spelling 'owner/name'; "
            f"if it is private or gated, {LOGIN_HINT}"
        )
    if is_("RevisionNotFoundError"):
        revision = source.revision if source else None
        return ModelNotFoundError(
            f"revision {revision!r} does not exist in {repo!r}: use a branch, tag or commit hash of that repo"
        )
    if is_("EntryNotFoundError") and source is not None:
        return ModelNotFoundError(_missing_file(source, endpoint, token))
    if is_("HfHubHTTPError"):
        if status in (401, 403):
            return HubError(f"the Hub refused access to {what} (HTTP {status}): {LOGIN_HINT} with access to {repo}")
        return HubError(f"the Hub at {_where(endpoint)} failed on {what}: {_first(exc)}")
    if is_("LocalTokenNotFoundError"):
        return HubError(f"no Hugging Face token found for {what}: {LOGIN_HINT}")
    network = type(exc).__module__.split(".")[0] in _HTTP_LIBRARIES or isinstance(exc, ConnectionError)
    if network or isinstance(exc, (OSError, ValueError)):
        verb = "reach" if network else "get " + what + " from"
        return HubError(
            f"could not {verb} the Hub at {_where(endpoint)} ({type(exc).__name__}: {_first(exc)})"
            + ("" if not network else f" for {what}: check your network connection (and HF_ENDPOINT)")
        )
    return None


def _request_path(exc: BaseException) -> str:
    """The URL path of the failed request (httpx and requests responses both have ``.url``)."""
    from urllib.parse import urlsplit

    url = getattr(getattr(exc, "response", None), "url", None)
    return urlsplit(str(url)).path if url is not None else "the upload"


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _explain_missing(source: HubFile, endpoint: str | None, token: str | bool | None) -> str | None:
    """When the repo turns out to exist: say whether the revision or the file is missing (``None``: repo unknown)."""
    from huggingface_hub import HfApi

    try:
        refs = HfApi(endpoint=endpoint, token=token).list_repo_refs(source.repo_id, repo_type=source.repo_type)
    except Exception:  # the download below reports it, with our mapped errors
        return None
    heads = list(refs.branches) + list(refs.tags)
    revision = source.revision or "main"
    names = {ref.name for ref in heads}
    is_commit = len(revision) >= 7 and all(c in "0123456789abcdef" for c in revision.lower())
    if revision not in names and not is_commit:
        known = ", ".join(sorted(names)) or "none"
        return (
            f"revision {revision!r} does not exist in {source.repo_id!r} (branches and tags: {known}): "
            f"use one of them or a commit hash"
        )
    message = _missing_file(source, endpoint, token)
    if revision not in names and "; it has:" not in message:
        message += f" (or {revision!r} is no commit of that repo: check the hash)"
    return message


def _missing_file(source: HubFile, endpoint: str | None, token: str | bool | None, limit: int = 12) -> str:
    """'file X does not exist …', listing some files the repo does have at that revision (best effort)."""
    from huggingface_hub import HfApi

    revision = source.revision or "main"
    message = f"file {source.filename!r} does not exist in {source.repo_id!r} at revision {revision!r}"
    try:
        entries = HfApi(endpoint=endpoint, token=token).list_repo_tree(
            source.repo_id, revision=source.revision, repo_type=source.repo_type, recursive=True
        )
        files = [e.path for e in itertools.islice(entries, 200) if not hasattr(e, "tree_id")][:limit]
    except Exception:  # the download below reports it, with our mapped errors
        return message
    return f"{message}; it has: {', '.join(files)}" if files else message


def _commit_from_path(path: Path) -> str | None:
    """``.../snapshots/<commit>/<filename>`` -> commit (the HF cache layout, stable across versions)."""
    parts = path.parts
    if "snapshots" in parts:
        index = len(parts) - 1 - parts[::-1].index("snapshots")
        if index + 1 < len(parts):
            return parts[index + 1]
    return None
