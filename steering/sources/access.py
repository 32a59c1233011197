"""Whether a Hub token may read a file: one authorised metadata request (``HEAD``) made with that very token.

Tokens follow huggingface_hub: a string is used as is, ``None`` means the saved login / ``HF_TOKEN`` (or anonymous
with ``anonymous_default=True``, for apps serving the public), ``False`` means anonymous, ``True`` requires the login.

Positive answers are remembered for ``ttl`` seconds per (sha256 of the token sent, file URL: endpoint, repo,
revision, filename), so repeated uses cost no request; refusals are never remembered and erase what was. Tokens
themselves are never kept. When the Hub cannot be asked (offline mode, ``local_files_only``, Hub unreachable) a
token passes only if it was verified for that file earlier in this process, if the file was found readable
anonymously, or if it is the process's own login (the library serves the login's HF cache to it anyway).

Each answer also says which commit the file's revision is at (``check`` returns it): a cache of loaded models can
see that a branch such as ``main`` has moved on.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Callable

from ..errors import HubError, SteeringError
from .hub import LOGIN_HINT, LOGIN_LOCAL, hf_errors, hub_endpoint, map_error
from .spec import HubFile

DEFAULT_TTL = 60.0
ANONYMOUS = "anonymous"  # the fingerprint of "no token"; a sha256 hex digest never equals it


def token_to_send(token: str | bool | None, *, anonymous_default: bool = False) -> str | None:
    """The token huggingface_hub sends for ``token`` (``None``: no token, anonymous)."""
    from huggingface_hub.utils import get_token_to_send

    if token is None and anonymous_default:
        return None
    try:
        return get_token_to_send(token)
    except hf_errors().LocalTokenNotFoundError as exc:
        raise HubError(f"token=True asks for your Hugging Face login, but none is saved: {LOGIN_HINT}") from exc


def fingerprint(token: str | None) -> str:
    """sha256 of a token sent (``ANONYMOUS`` for none): what the memo keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest() if token else ANONYMOUS


def file_url(source: HubFile, endpoint: str | None = None) -> str:
    """The ``resolve`` URL of ``source`` on ``endpoint`` (default: ``HF_ENDPOINT`` now, else the library's)."""
    from huggingface_hub import hf_hub_url

    return hf_hub_url(
        source.repo_id,
        source.filename,
        revision=source.revision or "main",
        repo_type=source.repo_type,
        endpoint=endpoint or hub_endpoint(),
    )


class AccessChecker:
    """Decides whether a token may read a Hub file; thread-safe; ``clock`` is injectable for tests."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._fresh: dict[tuple[str, str], float] = {}  # (fingerprint, url) -> when the positive answer expires
        self._verified: set[tuple[str, str]] = set()  # passed once in this process: the offline fallback
        self._commits: dict[str, str] = {}  # file URL -> the commit its revision was at when last asked

    def check(
        self,
        source: HubFile,
        token: str | bool | None = None,
        *,
        anonymous_default: bool = False,
        offline: bool = False,
        endpoint: str | None = None,
    ) -> str | None:
        """Return if ``token`` may read ``source``, else raise ``HubError`` / ``ModelNotFoundError``; what is
        returned is the commit the file's revision was at when the Hub was last asked (``None``: not known).

        ``offline``: do not ask the Hub (``HF_HUB_OFFLINE`` / ``local_files_only``); only what this process already
        knows counts.
        """
        sent = token_to_send(token, anonymous_default=anonymous_default)
        endpoint = endpoint or hub_endpoint()
        key = (fingerprint(sent), file_url(source, endpoint))
        if offline:
            self._require_known(source, key, sent, login_helps=token is None and not anonymous_default)
            return None
        with self._lock:
            fresh = self._fresh.get(key, float("-inf")) > self._clock()
        if not fresh:
            self._ask(source, key, sent, endpoint)
        with self._lock:
            return self._commits.get(key[1])

    def probe_public(self, source: HubFile, *, endpoint: str | None = None) -> bool:
        """Whether ``source`` is readable anonymously (asked at most once per ``ttl``; remembered for offline use)."""
        try:
            self.check(source, False, endpoint=endpoint)
        except SteeringError:
            return False
        return True

    def clear(self) -> None:
        with self._lock:
            self._fresh.clear()
            self._verified.clear()
            self._commits.clear()

    def _ask(self, source: HubFile, key: tuple[str, str], sent: str | None, endpoint: str | None) -> None:
        from huggingface_hub import get_hf_file_metadata

        try:
            commit = get_hf_file_metadata(key[1], token=sent or False).commit_hash
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            refused = status is not None and 400 <= status < 500
            if refused:
                self._forget(key)
            elif self._known(key, sent):  # the Hub is unreachable or failing: fall back to what we verified
                return
            mapped = map_error(exc, source=source, endpoint=endpoint, token=sent or False)
            if mapped is None:
                raise
            raise mapped from exc
        with self._lock:
            now = self._clock()
            self._fresh = {k: expiry for k, expiry in self._fresh.items() if expiry > now}
            self._fresh[key] = now + self.ttl
            self._verified.add(key)
            if commit:
                self._commits[key[1]] = commit

    def _forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._fresh.pop(key, None)
            self._verified.discard(key)

    def _known(self, key: tuple[str, str], sent: str | None) -> bool:
        with self._lock:
            if key in self._verified or (ANONYMOUS, key[1]) in self._verified:
                return True
        return bool(sent) and sent == token_to_send(None)

    def _require_known(self, source: HubFile, key: tuple[str, str], sent: str | None, *, login_helps: bool) -> None:
        """Refuse offline what this process has not verified; the message fits the caller: a token that was never
        checked, or no token at all (``login_helps``: the caller would be served the machine's own login)."""
        if self._known(key, sent):
            return
        if sent:
            raise HubError(
                f"offline: cannot verify that this token may read {source.repo_id} ({source}): it was not checked "
                f"with the Hub earlier in this process; connect to the Hub (unset HF_HUB_OFFLINE) or {LOGIN_HINT}"
            )
        login = f"; or {LOGIN_LOCAL} (offline, this machine's own login is trusted)" if login_helps else ""
        raise HubError(
            f"offline: {source.repo_id} ({source}) was requested without a token, and it was not found public on the "
            f"Hub earlier in this process; connect to the Hub (unset HF_HUB_OFFLINE) so that it can be checked{login}"
        )
