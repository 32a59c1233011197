"""Downloads from the Hugging Face Hub with ``huggingface_hub`` (0.25 … 2.x), mapped to our typed errors.

The user's HF cache, token (``HF_TOKEN`` / ``hf auth login``), ``HF_ENDPOINT`` and offline mode are honoured because
we call ``hf_hub_download`` with no overrides beyond what the caller passes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import HubError, ModelNotFoundError
from .spec import HubFile, valid_repo_id


@dataclass(frozen=True)
class DownloadedFile:
    path: Path
    source: HubFile
    commit: str | None  # the resolved commit hash, when known


def _commit_from_path(path: Path) -> str | None:
    """``.../snapshots/<commit>/<filename>`` -> commit (the HF cache layout, stable across versions)."""
    parts = path.parts
    if "snapshots" in parts:
        index = len(parts) - 1 - parts[::-1].index("snapshots")
        if index + 1 < len(parts):
            return parts[index + 1]
    return None


def download(
    source: HubFile,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> DownloadedFile:
    """Fetch one file (or find it in the cache); errors say which repo/file/revision failed and why."""
    import huggingface_hub
    from huggingface_hub import errors as hf_errors

    if not valid_repo_id(source.repo_id):
        raise ModelNotFoundError(f"{source.repo_id!r} is not a valid Hub repo id (expected 'owner/name')")
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id=source.repo_id,
            filename=source.filename,
            revision=source.revision,
            repo_type=source.repo_type,
            cache_dir=cache_dir,
            token=token,
            local_files_only=local_files_only,
            library_name="gan-steering",
        )
    except hf_errors.RepositoryNotFoundError as exc:
        raise ModelNotFoundError(
            f"Hub repo {source.repo_id!r} was not found (or is private/gated: log in with `hf auth login` "
            f"or pass a token)"
        ) from exc
    except hf_errors.RevisionNotFoundError as exc:
        raise ModelNotFoundError(f"revision {source.revision!r} does not exist in {source.repo_id!r}") from exc
    except hf_errors.EntryNotFoundError as exc:  # includes LocalEntryNotFoundError (offline, not cached)
        if isinstance(exc, hf_errors.LocalEntryNotFoundError):
            raise HubError(
                f"{source} is not in the local HF cache and the Hub cannot be reached (offline mode or no network)"
            ) from exc
        raise ModelNotFoundError(f"file {source.filename!r} does not exist in {source.repo_id!r}") from exc
    except hf_errors.HfHubHTTPError as exc:
        raise HubError(f"the Hub refused {source}: {exc}".splitlines()[0]) from exc
    except (OSError, ValueError) as exc:
        raise HubError(f"could not download {source}: {exc}") from exc
    path = Path(path)
    return DownloadedFile(path=path, source=source, commit=_commit_from_path(path))
