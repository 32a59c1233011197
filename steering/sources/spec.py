"""Parsing what a user types to name a model: a catalog name, ``repo_id[@revision]:filename`` or a local path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_HUB_SPEC = re.compile(r"^(?P<repo>[^@:\s]+/[^@:\s]+)(?:@(?P<rev>[^:\s]+))?:(?P<file>\S+)$")


@dataclass(frozen=True)
class HubFile:
    repo_id: str
    filename: str
    revision: str | None = None
    repo_type: str = "model"

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{self.repo_id}{rev}:{self.filename}"


def is_commit(revision: str | None) -> bool:
    """Whether ``revision`` is a full commit hash (pinned for good), not a branch or tag that may move."""
    return bool(revision) and bool(_COMMIT.fullmatch(str(revision)))


def valid_repo_id(repo_id: str) -> bool:
    return bool(_REPO_ID.match(repo_id)) and ".." not in repo_id and "--" not in repo_id


def parse_hub_spec(text: str) -> HubFile | None:
    """``owner/name[@revision]:path/in/repo`` -> ``HubFile``; ``None`` if ``text`` is not of that shape."""
    match = _HUB_SPEC.match(text.strip())
    if not match:
        return None
    repo_id = match["repo"]
    if not valid_repo_id(repo_id):
        raise ModelNotFoundError(
            f"{repo_id!r} is not a valid Hub repo id: expected 'owner/name' with letters, digits, '-', '_', '.'"
        )
    return HubFile(repo_id=repo_id, filename=match["file"], revision=match["rev"])


def looks_like_path(text: str) -> bool:
    return Path(text).expanduser().exists() or text.startswith((".", "/", "~")) or "\\" in text
