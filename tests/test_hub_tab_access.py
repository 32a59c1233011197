"""The Hub tab's "Load Hub model" offline, against a local Hub that checks tokens (the real huggingface_hub client):
with the token field empty the message speaks of no token; with a token it speaks of that token."""

from __future__ import annotations

import gradio as gr
import pytest

from extension.feedback import bind
from extension.settings import UISettings
from extension.tabs import hub as hub_tab
from steering.sources.embedded import embedded_weights_path

pytestmark = pytest.mark.hub
READER = "hf_someone_reads_some_gan"


@pytest.fixture()
def offline_spec(auth_hub, monkeypatch) -> str:
    """A private repo on the local Hub, then offline mode (nothing was loaded or verified from it before)."""
    repo = f"someone/some-gan-{auth_hub.url.rsplit(':', 1)[-1]}"  # one repo per server: no memo from another test
    auth_hub.add_repo(repo, {"weights.tar": embedded_weights_path()}, readers=[READER])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return f"{repo}:weights.tar"


@pytest.mark.parametrize("public", [False, True], ids=["private-mode", "public-mode"])
def test_offline_with_an_empty_token_field_the_message_speaks_of_no_token(auth_hub, offline_spec, public):
    settings = UISettings(public=public)
    with pytest.raises(gr.Error) as refused:
        bind(hub_tab.load_hub_model, settings)(offline_spec, "  ")
    message = refused.value.message
    assert "requested without a token" in message and "unset HF_HUB_OFFLINE" in message
    assert "this token" not in message and "pass a token" not in message
    assert ("hf auth login" in message) is not public  # a login helps only where the app would use it
    assert auth_hub.requests() == []


def test_offline_with_a_token_the_message_speaks_of_that_token(auth_hub, offline_spec):
    with pytest.raises(gr.Error) as refused:
        bind(hub_tab.load_hub_model, UISettings())(offline_spec, READER)
    message = refused.value.message
    assert "cannot verify that this token may read someone/some-gan" in message and "without a token" not in message
    assert auth_hub.requests() == []
