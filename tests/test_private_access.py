"""Private models stay private: attacks on the process-level model cache, against a local Hub that checks tokens.

User A holds a token that may read a private repo (the real embedded DCGAN checkpoint); everyone else tries to get
A's generator out of the shared ``GeneratorCache`` after A loaded it. The Hub client is the real
``huggingface_hub``; the server (``authhub.py``) answers like huggingface.co.
"""

from __future__ import annotations

import time

import pytest
import torch

from steering.errors import HubError, ModelNotFoundError
from steering.sources import load_generator
from steering.sources.access import AccessChecker
from steering.sources.embedded import embedded_weights_path
from steering.sources.load import GeneratorCache

pytestmark = pytest.mark.hub
TOKEN_A = "hf_alice_reads_the_private_repo"
TOKEN_B = "hf_bob_valid_but_not_a_reader"
REFUSED = (HubError, ModelNotFoundError)


class Clock:
    """A clock the test moves by hand (the access memo's TTL)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def private(auth_hub) -> str:
    """A private repo only ``TOKEN_A`` may read; ``TOKEN_B`` is a valid token of another user. Returns its spec."""
    auth_hub.add_repo("alice/private-gan", {"weights.tar": embedded_weights_path()}, readers=[TOKEN_A])
    auth_hub.tokens.add(TOKEN_B)
    return "alice/private-gan:weights.tar"


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def cache(clock) -> GeneratorCache:
    return GeneratorCache(access=AccessChecker(ttl=60, clock=clock))


def images(generator) -> torch.Tensor:
    with torch.no_grad():
        return generator.synthesize(generator.sample(2, seed=3))


def file_downloads(auth_hub) -> list:
    return [r for r in auth_hub.requests() if r.method == "GET" and "/resolve/" in r.path]


@pytest.mark.parametrize(
    ("token", "anonymous_default"),
    [(None, False), (None, True), (False, False), ("hf_wrong", False), (TOKEN_B, False)],
    ids=["no-token", "no-token-anonymous-default", "anonymous", "wrong-token", "other-users-token"],
)
def test_others_never_get_the_private_generator(auth_hub, private, cache, dcgan, token, anonymous_default):
    alice = cache.get(private, token=TOKEN_A)
    torch.testing.assert_close(images(alice), images(dcgan), rtol=0, atol=0)  # a real generator from the file
    before = len(auth_hub.requests())

    for _ in range(2):  # a refusal is not remembered as anything: asked again, refused again
        with pytest.raises(REFUSED, match="hf auth login"):
            cache.get(private, token=token, anonymous_default=anonymous_default)

    theirs = auth_hub.requests()[before:]
    sent = None if token in (None, False) else token
    assert theirs and all(r.token == sent and r.status in (401, 404) for r in theirs)  # they asked with their own
    assert cache.get(private, token=TOKEN_A) is alice  # A is still served, from the cache
    assert len(file_downloads(auth_hub)) == 1  # only A's first load fetched the file


def test_wrong_token_error_says_what_to_do(auth_hub, private, cache):
    cache.get(private, token=TOKEN_A)
    with pytest.raises(HubError, match=r"refused access to alice/private-gan.*\(HTTP 401\).*token with access"):
        cache.get(private, token="hf_wrong")
    with pytest.raises(ModelNotFoundError, match="if it is private or gated, log in"):
        cache.get(private, token=False)


def test_a_cached_model_costs_one_metadata_request_per_ttl(auth_hub, private, cache, clock):
    alice = cache.get(private, token=TOKEN_A)
    before = len(auth_hub.requests())

    for _ in range(5):  # slider renders within the TTL: no request at all
        assert cache.get(private, token=TOKEN_A) is alice
    assert auth_hub.requests()[before:] == []

    clock.now += 61
    assert cache.get(private, token=TOKEN_A) is alice
    assert [(r.method, r.path, r.token, r.status) for r in auth_hub.requests()[before:]] == [
        ("HEAD", "/alice/private-gan/resolve/main/weights.tar", TOKEN_A, 200)
    ]


def test_revoked_token_is_refused_after_the_ttl(auth_hub, private):
    cache = GeneratorCache(access=AccessChecker(ttl=0.2))  # real time, a tiny TTL
    cache.get(private, token=TOKEN_A)
    auth_hub.revoke(TOKEN_A)
    time.sleep(0.3)

    with pytest.raises(HubError, match="HTTP 401"):
        cache.get(private, token=TOKEN_A)


def test_a_refusal_also_ends_offline_trust(auth_hub, private, cache, clock, monkeypatch):
    cache.get(private, token=TOKEN_A)
    auth_hub.revoke(TOKEN_A)
    clock.now += 61
    with pytest.raises(HubError, match="HTTP 401"):
        cache.get(private, token=TOKEN_A)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError, match="offline: cannot verify that this token may read alice/private-gan"):
        cache.get(private, token=TOKEN_A)


def test_offline_only_tokens_verified_in_this_process_are_served(auth_hub, private, cache, monkeypatch):
    alice = cache.get(private, token=TOKEN_A)
    auth_hub.tokens.add("hf_carol_also_reads_it")
    auth_hub.repos["alice/private-gan"].readers.add("hf_carol_also_reads_it")
    before = len(auth_hub.requests())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    assert cache.get(private, token=TOKEN_A) is alice
    for token in ("hf_wrong", TOKEN_B, "hf_carol_also_reads_it"):  # Carol may read it, but was never checked
        with pytest.raises(HubError, match="offline: cannot verify that this token may read alice/private-gan"):
            cache.get(private, token=token)
    with pytest.raises(HubError, match=r"offline: alice/private-gan .* was requested without a token") as anonymous:
        cache.get(private, token=False)  # no token: the message speaks of none, and a login would not be used
    assert "this token" not in str(anonymous.value) and "log in" not in str(anonymous.value)

    cache.clear()  # not in memory any more: A's load comes from the HF cache, the others are still refused
    assert cache.get(private, token=TOKEN_A).identity == alice.identity
    with pytest.raises(HubError, match="offline"):
        cache.get(private, token=False)
    assert auth_hub.requests()[before:] == []  # offline: nothing reached the server


def test_offline_without_a_token_the_message_speaks_of_no_token(auth_hub, private, cache, monkeypatch):
    """Offline with no token and no saved login: nothing to verify, so say that, and what would help (connecting;
    a login, which offline is trusted with its own cache; not in public mode, where a login is never used)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError) as refused:
        cache.get(private)
    message = str(refused.value)
    assert message.startswith("offline: alice/private-gan (alice/private-gan:weights.tar) was requested without a")
    assert "token" in message and "this token" not in message and "pass a token" not in message
    assert "unset HF_HUB_OFFLINE" in message and "hf auth login" in message
    with pytest.raises(HubError, match="without a token") as public:
        cache.get(private, anonymous_default=True)
    assert "hf auth login" not in str(public.value)
    assert auth_hub.requests() == []  # offline: nothing reached the server


def test_offline_the_process_own_login_is_served(auth_hub, private, cache, monkeypatch):
    alice = cache.get(private, token=TOKEN_A)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_the_machine_login")  # offline, nobody can check it: it owns the HF cache
    assert cache.get(private) is alice
    with pytest.raises(HubError, match="offline"):  # ... but it is never lent to anonymous callers
        cache.get(private, anonymous_default=True)


def test_the_servers_own_token_is_not_lent_to_anonymous_users(auth_hub, private, cache, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN_A)  # the process's own login may read the repo
    with pytest.raises(ModelNotFoundError):
        load_generator(private, anonymous_default=True)
    with pytest.raises(ModelNotFoundError):
        cache.get(private, anonymous_default=True)
    assert all(r.token is None for r in auth_hub.requests())  # the anonymous requests carried no token

    before = len(auth_hub.requests())
    served = cache.get(private)  # token=None without anonymous_default: the process's login
    assert ("GET", TOKEN_A, 200) in [(r.method, r.token, r.status) for r in auth_hub.requests()[before:]]
    assert load_generator(private).identity == served.identity
    with pytest.raises(ModelNotFoundError):
        cache.get(private, anonymous_default=True)  # the loaded model is not handed out either


def test_public_repo_is_served_to_anonymous_users_online_and_offline(auth_hub, cache, monkeypatch):
    auth_hub.add_repo("alice/public-gan", {"weights.tar": embedded_weights_path()})
    auth_hub.tokens.add(TOKEN_A)
    spec = "alice/public-gan:weights.tar"
    loaded = cache.get(spec, token=TOKEN_A)  # loaded by A: one anonymous check finds it public
    assert ("HEAD", None, 200) in [(r.method, r.token, r.status) for r in auth_hub.requests()]

    assert cache.get(spec, token=False) is loaded
    assert cache.get(spec, anonymous_default=True) is loaded
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cache.get(spec, token=False) is loaded
    assert cache.get(spec, token="hf_unknown") is loaded  # anyone may read it


def test_embedded_and_local_models_need_no_check(auth_hub, cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert cache.get("dcgan-faces", token="hf_wrong") is cache.get("dcgan-faces", token=False)
    assert cache.get(str(embedded_weights_path()), token=False) is not None
    assert auth_hub.requests() == []


def test_the_memo_keeps_no_token(auth_hub, private, cache):
    cache.get(private, token=TOKEN_A)
    state = repr(vars(cache.access))
    assert "alice/private-gan" in state and TOKEN_A not in state


def test_unreachable_hub_serves_only_tokens_verified_before(auth_hub, private, cache, clock):
    alice = cache.get(private, token=TOKEN_A)
    auth_hub.close()
    clock.now += 61
    assert cache.get(private, token=TOKEN_A) is alice
    with pytest.raises(HubError, match="could not reach the Hub"):
        cache.get(private, token=TOKEN_B)


def test_token_true_without_a_login_is_a_clear_error(auth_hub, private, cache):
    with pytest.raises(HubError, match="none is saved: log in"):
        cache.get(private, token=True)


def test_a_model_loaded_from_a_branch_that_moved_on_is_loaded_again(auth_hub, cache, clock, tmp_path):
    """A Space serving ``owner/repo:file`` (no revision) picks up a new commit on ``main`` once the access answer
    is renewed (within its TTL nothing is asked and the loaded model is served)."""
    checkpoint = torch.load(embedded_weights_path(), map_location="cpu", weights_only=True)
    checkpoint["netG_state_dict"]["main.0.weight"] = checkpoint["netG_state_dict"]["main.0.weight"] * 0.5
    torch.save(checkpoint, tmp_path / "altered.tar")
    first = auth_hub.add_repo("bob/moving-gan", {"weights.tar": embedded_weights_path()})
    spec = "bob/moving-gan:weights.tar"
    old = cache.get(spec, token=False)
    assert old.identity.revision == first
    second = auth_hub.add_repo("bob/moving-gan", {"weights.tar": tmp_path / "altered.tar"})  # main moves on
    assert cache.get(spec, token=False) is old
    clock.now += 61
    new = cache.get(spec, token=False)
    assert new.identity.revision == second and new.identity.sha256 != old.identity.sha256
    assert not torch.equal(images(new), images(old))
    assert cache.get(spec, token=False) is new
