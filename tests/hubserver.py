"""A real local Hub-protocol server for tests: ``olah`` (PyPI) in offline mode, serving git repos we create.

``olah-cli`` serves ``<root>/mirrors/models/<org>/<name>/`` (ordinary git repos, branch ``main``) on a free
127.0.0.1 port: ``HEAD``/``GET /<org>/<name>/resolve/<revision>/<file>`` answer with ``X-Repo-Commit`` and ``ETag``
like the Hub, so ``huggingface_hub.hf_hub_download`` works against it unchanged. Its quirks (olah 0.5.4): every
lookup that fails (unknown repo, revision or file) answers ``401 RepoNotFound``; ``/api/models/<id>`` (model_info)
answers 401 for local mirrors, ``/api/models/<id>/refs`` works; there are no upload routes.

Fixtures (registered in ``conftest.py``):

* ``hub_server`` (session): the running server; tests that stop it get a restarted one from ``hub``.
* ``hub``: function-scoped view of it with ``HF_ENDPOINT`` pointing at it and an isolated, empty HF cache
  (``HF_HUB_CACHE``) and gan-steering home. ``steering.sources.hub`` reads both variables at call time.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator, Mapping

import pytest

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "gan-steering tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "gan-steering tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,  # the user's git config (hooks, signing, lfs filters) stays out
}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_ACCESS_LOG = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def _olah_cli() -> str | None:
    """``GAN_STEERING_OLAH_CLI`` (e.g. the main venv's, for runs in a venv with older libraries), else the one beside
    this interpreter, else PATH."""
    if os.environ.get("GAN_STEERING_OLAH_CLI"):
        return os.environ["GAN_STEERING_OLAH_CLI"]
    beside_python = Path(sys.executable).with_name("olah-cli")
    return str(beside_python) if beside_python.exists() else shutil.which("olah-cli")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result.stdout.strip()


class HubServer:
    """One olah process serving the git repos under ``root/mirrors``; can be stopped and started again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mirrors = root / "mirrors"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / "olah.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # ----- repos ---------------------------------------------------------------------------------
    def repo_path(self, repo_id: str, repo_type: str = "models") -> Path:
        return self.mirrors / repo_type / repo_id

    def new_repo_id(self, prefix: str = "gan") -> str:
        """A repo id no other test uses."""
        return f"tests/{prefix}-{uuid.uuid4().hex[:10]}"

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str | Path],
        message: str = "add files",
        repo_type: str = "models",
    ) -> str:
        """Write ``files`` (path in repo -> content or a file to copy) into ``repo_id`` on ``main``, commit them with
        the git CLI and return the commit hash. The repo (``repo_type`` ``models`` or ``datasets``) is created on
        first use."""
        repo = self.repo_path(repo_id, repo_type)
        if not (repo / ".git").is_dir():
            repo.mkdir(parents=True, exist_ok=True)
            _git(repo, "init", "--quiet", "--initial-branch=main")
        for name, content in files.items():
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copyfile(content, target)
            elif isinstance(content, str):
                target.write_text(content)
            else:
                target.write_bytes(content)
        _git(repo, "add", "--all")
        _git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
        return _git(repo, "rev-parse", "HEAD")

    # ----- process -------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Start olah on a free port and wait until it answers."""
        if self.running:
            return
        cli = _olah_cli()
        if cli is None:
            pytest.skip("olah is not installed (pip install olah): the local Hub server cannot start")
        self.port = self.port or _free_port()  # a restart keeps the URL clients already know
        self.mirrors.mkdir(parents=True, exist_ok=True)
        config = self.root / "olah.toml"
        config.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f'repos-path = "{self.root / "olah-repos"}"\n'
            f'mirror-netloc = "127.0.0.1:{self.port}"\nmirror-lfs-netloc = "127.0.0.1:{self.port}"\n'
            f'mirrors-path = ["{self.mirrors}"]\n'
            "metadata-cache-ttl = 0\n"  # a branch moved by a new commit is seen at once
            "[accessibility]\noffline = true\n"
        )
        # The server runs on the packages of its own install: a PYTHONPATH pointing the tests at another
        # huggingface_hub (compatibility runs) must not reach it.
        server_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        server_env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log:  # the child keeps its own handle
            self.process = subprocess.Popen(
                [cli, "-c", str(config), "--log-path", str(self.root / "logs")],
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=server_env,
                start_new_session=True,  # our own process group: stop() ends it and its git helpers
            )
        atexit.register(self.stop)  # an interrupted session does not leave the server running
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"olah exited with {self.process.returncode}:\n{self.log_tail()}")
            try:  # any HTTP answer means it is serving (olah's "/" page fails with some jinja2 releases)
                _NO_PROXY.open(f"{self.url}/api/models/ready/probe/refs", timeout=1).close()
                return
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"olah did not answer on {self.url} within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (its port refuses connections afterwards)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)  # the group start() created for this process
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    # ----- observation ---------------------------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def requests(self, repo_id: str | None = None) -> list[tuple[str, str, int]]:
        """``(method, path, status)`` of the requests this server logged (optionally only those naming ``repo_id``)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        found = [(m["method"], m["path"], int(m["status"])) for m in _ACCESS_LOG.finditer(text)]
        return [r for r in found if repo_id is None or f"/{repo_id}/" in r[1]]


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    server = HubServer(tmp_path_factory.mktemp("hub-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def hub(hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubServer:
    """The running server, ``HF_ENDPOINT`` pointing at it, a fresh HF cache and gan-steering home for this test."""
    hub_server.start()  # a previous test may have stopped it
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("GAN_STEERING_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    monkeypatch.setenv("NO_PROXY", no_proxy)  # a proxy in the environment must not see loopback requests
    return hub_server
