"""The learned encoder on the real embedded models: trained on generated pairs, saved with the model identity, refused
for another model or when damaged, and a head start for inversion: on the faces DCGAN it reaches the target PSNR
(22 dB) in at least 3× fewer optimisation steps than optimisation from the prior alone (the median over four generated
images, each at least 1.2×; counted in steps, in one run; the figures for 20 dB are printed, and
bench/bench_inversion.py reports steps and seconds per model)."""

from __future__ import annotations

import statistics

import pytest
import torch

from steering.errors import DirectionsMismatchError, EncoderFileError, InvalidValueError
from steering.inversion import InversionSettings, default_path, find_encoder, invert, load_encoder, train_encoder
from steering.models.stylegan2 import StyleGAN2

TARGET_PSNR = 22.0


@pytest.fixture(scope="module")
def faces_encoder(dcgan):
    return train_encoder(dcgan, steps=300, batch=64, pool=2048)


def generated(generator, seed: int, class_index: int | None = None) -> torch.Tensor:
    with torch.no_grad():
        return generator.synthesize(generator.sample(1, seed=seed, class_index=class_index)).clamp(-1, 1)


@pytest.mark.slow
def test_the_encoder_starts_inversion_at_least_three_times_closer_to_the_target(dcgan, faces_encoder):
    ratios, table = [], []
    for seed in (1001, 1002, 2001, 2002):
        target = generated(dcgan, seed)
        settings = InversionSettings(steps=100, target_psnr=TARGET_PSNR)
        prior = invert(dcgan, target, settings)
        started = invert(dcgan, target, settings, encoder=faces_encoder)
        assert started.initial == "encoder" and prior.initial == "best of 16 prior samples"
        goals = (20.0, TARGET_PSNR)
        table.append(
            (
                seed,
                prior.history[0][2],
                started.history[0][2],
                [prior.steps_to(g) for g in goals],
                [started.steps_to(g) for g in goals],
            )
        )
        assert prior.steps_to(TARGET_PSNR) is not None and started.steps_to(TARGET_PSNR) is not None
        ratios.append(prior.steps_to(TARGET_PSNR) / max(started.steps_to(TARGET_PSNR), 1))
    print("\nseed | start PSNR prior / encoder | steps to 20, 22 dB: prior | encoder")
    for seed, p0, e0, p, e in table:
        print(f"{seed} | {p0:.1f} / {e0:.1f} dB | {p} | {e}")
    print(f"steps to {TARGET_PSNR:g} dB, prior / encoder: {[f'{r:.1f}×' for r in ratios]}")
    assert statistics.median(ratios) >= 3.0 and min(ratios) >= 1.2


def test_encoder_files_carry_the_model_and_are_checked(dcgan, eyes, faces_encoder, tmp_path, isolated_home):
    path = faces_encoder.save(tmp_path / "faces.safetensors")
    loaded = load_encoder(path, dcgan)
    images = torch.cat([generated(dcgan, s) for s in (1, 2)])
    assert torch.equal(loaded.predict(dcgan, images).codes, faces_encoder.predict(dcgan, images).codes)
    assert loaded.training["samples"] == 2048 and loaded.model.sha256 == dcgan.identity.sha256
    with pytest.raises(DirectionsMismatchError, match="trained for"):
        load_encoder(path, eyes)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(EncoderFileError):
        load_encoder(damaged, dcgan)
    # the default place: found when there, a damaged file removed (it would fail every time), never half-read
    assert find_encoder(dcgan) is None
    default = default_path(dcgan)
    default.parent.mkdir(parents=True)
    default.write_bytes(damaged.read_bytes())
    assert find_encoder(dcgan) is None and not default.exists()
    faces_encoder.save(default)
    assert find_encoder(dcgan) is not None
    with pytest.raises(InvalidValueError, match="style-based"):
        train_encoder(StyleGAN2(size=8, style_dim=8, n_mlp=1, channels=[4, 4]), steps=1)


@pytest.fixture(scope="module")
def eyes_encoder(eyes):
    return train_encoder(eyes, steps=1500, batch=64, learning_rate=2e-3, pool=2048)


@pytest.mark.slow
def test_the_eyes_encoder_starts_inversion_closer_than_the_prior(eyes, eyes_encoder):
    """Trained long enough, the encoder's start is at least 2.5 dB closer than the prior's (the best of 16 samples and
    the best class), median over 12 unseen generated eyes (measured: +3.0 dB; the former 600 steps at 1e-3 on the same
    pool gave +1.9 dB)."""
    gains = []
    for seed in range(3001, 3013):
        target = generated(eyes, seed)
        settings = InversionSettings(steps=1)
        prior = invert(eyes, target, settings).history[0][2]
        gains.append(invert(eyes, target, settings, encoder=eyes_encoder).history[0][2] - prior)
    print(f"\neyes: start PSNR, encoder − prior: {[f'{g:+.1f}' for g in gains]} dB")
    assert statistics.median(gains) >= 2.5


def test_the_eyes_encoder_predicts_classes(eyes, eyes_encoder):
    encoder = eyes_encoder
    held_out = eyes.sample(32, seed=77)
    with torch.no_grad():
        images = eyes.synthesize(held_out)
    predicted = encoder.predict(eyes, images).classes.argmax(1)
    accuracy = float((predicted == held_out.classes.argmax(1)).float().mean())
    print(f"\neyes encoder: class accuracy {accuracy:.2f} on 32 unseen samples (chance 0.12)")
    assert accuracy >= 0.6
    target = generated(eyes, 9, class_index=2)
    result = invert(eyes, target, InversionSettings(steps=10), encoder=encoder)
    assert result.initial == "encoder" and result.latents.classes.shape == (1, 8)
