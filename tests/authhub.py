"""A small local Hub that checks tokens, for access tests: stdlib ``http.server`` in a thread.

It answers the Hub's file requests, ``HEAD``/``GET /<owner>/<name>/resolve/<revision>/<file>``, the way
huggingface.co does, so the real ``huggingface_hub`` (pointed at it with ``HF_ENDPOINT``) downloads from it unchanged:

* ``200`` with ``X-Repo-Commit``, ``ETag`` and ``Content-Length`` (and the bytes for ``GET``) when the repo is public
  or the ``Authorization: Bearer`` token is one of its readers;
* ``401`` ``Invalid credentials in Authorization header`` for a token the server does not know (or revoked);
* ``401`` (no token) / ``404`` (a valid token without access) ``RepoNotFound`` for a private repo, exactly as for a
  repo that does not exist: the Hub never tells strangers that a private repo exists;
* ``404`` ``RevisionNotFound`` / ``EntryNotFound`` for other revisions or files; ``404`` for every other route.

Every request is logged as ``(method, path, token or None, status)``.

Fixture (registered in ``conftest.py``): ``auth_hub``, a running server for one test, with ``HF_ENDPOINT`` pointing at
it, an empty HF cache (``HF_HUB_CACHE``) and gan-steering home, no saved login or ``HF_TOKEN``, offline mode off.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable, Iterator, Mapping, NamedTuple
from urllib.parse import unquote, urlsplit

import pytest
from huggingface_hub import constants


class Request(NamedTuple):
    method: str
    path: str
    token: str | None
    status: int


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str
    readers: set[str] | None  # None: public


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _refusal(status: int, code: str | None, message: str) -> Answer:
    headers = {"X-Error-Message": message, "Content-Type": "application/json"}
    if code:
        headers["X-Error-Code"] = code
    return Answer(status, headers, json.dumps({"error": message}).encode())


class AuthHub:
    """The server: repos (public or readable by some tokens), the tokens it knows, and its request log."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.tokens: set[str] = set()
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="authhub", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_repo(self, repo_id: str, files: Mapping[str, bytes | Path], readers: Iterable[str] | None = None) -> str:
        """Serve ``files`` from ``repo_id`` (public when ``readers`` is ``None``); returns its commit hash."""
        contents = {name: data.read_bytes() if isinstance(data, Path) else data for name, data in files.items()}
        digest = hashlib.sha1(repo_id.encode())
        for name in sorted(contents):
            digest.update(name.encode() + hashlib.sha256(contents[name]).digest())
        with self._lock:
            self.repos[repo_id] = Repo(contents, digest.hexdigest(), None if readers is None else set(readers))
            self.tokens.update(readers or ())
        return self.repos[repo_id].commit

    def revoke(self, token: str) -> None:
        """The token stops working everywhere (as when its owner deletes it)."""
        with self._lock:
            self.tokens.discard(token)

    def requests(self, repo_id: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.log if repo_id is None or r.path.startswith(f"/{repo_id}/")]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def answer(self, method: str, path: str, token: str | None) -> Answer:
        """What the Hub answers to ``method path`` from a client holding ``token``."""
        with self._lock:
            known = token is None or token in self.tokens
            parts = unquote(urlsplit(path).path).lstrip("/").split("/")
            repo = self.repos.get("/".join(parts[:2])) if len(parts) >= 5 and parts[2] == "resolve" else None
        if not known:
            return _refusal(401, None, "Invalid credentials in Authorization header")
        if len(parts) < 5 or parts[2] != "resolve":
            return _refusal(404, None, "Not Found")
        if repo is None or (repo.readers is not None and token not in repo.readers):
            return _refusal(401 if token is None else 404, "RepoNotFound", "Repository not found")
        revision, filename = parts[3], "/".join(parts[4:])
        if revision not in ("main", repo.commit):
            return _refusal(404, "RevisionNotFound", "Invalid rev id: " + revision)
        if filename not in repo.files:
            return _refusal(404, "EntryNotFound", "Entry not found")
        data = repo.files[filename]
        headers = {
            "X-Repo-Commit": repo.commit,
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "Content-Type": "application/octet-stream",
        }
        return Answer(200, headers, data)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self._respond(body=False)

            def do_GET(self) -> None:
                self._respond(body=True)

            def _respond(self, body: bool) -> None:
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ").strip() or None
                answer = hub.answer(self.command, self.path, token)
                with hub._lock:
                    hub.log.append(Request(self.command, urlsplit(self.path).path, token, answer.status))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if body:
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture()
def auth_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthHub]:
    """A running ``AuthHub`` for this test, with the environment pointing the real huggingface_hub at it."""
    server = AuthHub()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("GAN_STEERING_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-login"))  # read at each call
    monkeypatch.setenv("NO_PROXY", ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"])))
    yield server
    server.close()
