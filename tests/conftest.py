"""Shared fixtures: an isolated gan-steering home per test session, the real embedded DCGANs."""

from __future__ import annotations

import os
import tempfile

import pytest
from authhub import auth_hub  # noqa: F401  (fixture: a local Hub that checks tokens, see authhub.py)
from hubserver import hub, hub_server  # noqa: F401  (fixtures: a local Hub-protocol server, see hubserver.py)

# Isolate every file we write (converted models, cached bases) from the user's own cache.
os.environ.setdefault("GAN_STEERING_HOME", tempfile.mkdtemp(prefix="gan-steering-test-"))


#: The files that take longest (``pytest --durations=60``, per file: SC²GAN about 300 s, GradCtrl and the encoder
#: about 100 s each on 2 cores), started first.
LONGEST = ("test_sc2gan.py", "test_gradctrl.py", "test_inversion_encoder.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, then the other files holding a ``slow`` test, then the rest (each file's tests stay
    together and in order): under xdist's ``--dist loadfile`` the long ones then start early instead of running
    alone at the end of the suite."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        name = item.path.name
        return (0, LONGEST.index(name)) if name in LONGEST else (1 if item.path in slow else 2, 0)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def dcgan():
    """The real embedded faces DCGAN."""
    from steering.sources import load_generator

    return load_generator("dcgan-faces")


@pytest.fixture(scope="session")
def eyes():
    """The real embedded class-conditional eyes DCGAN (8 colour classes), loaded once per session."""
    from steering.sources import load_generator

    return load_generator("dcgan-eyes")


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``): small LAPACK calls and
    small convolutions run several times faster on one thread than on two busy cores; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch):
    """A fresh, empty gan-steering home for tests that inspect what is written."""
    monkeypatch.setenv("GAN_STEERING_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
