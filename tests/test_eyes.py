"""The embedded class-conditional eyes DCGAN (omniart-eye-generator==0.1) against the wheel's own generator code.

The wheel's package is never imported (its ``__init__`` loads the weights without a ``map_location``, which fails
without CUDA); its ``generator.py`` imports only torch and is loaded from its file as the oracle.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.func import vjp

from steering import edit
from steering.cli import main
from steering.directions import Directions
from steering.errors import InvalidValueError
from steering.io import sha256_file
from steering.methods import ganspace, sefa
from steering.models import Latents
from steering.sources import CATALOG, load_generator, resolve, store
from steering.sources.catalog import EYE_COLOURS
from steering.sources.embedded import EMBEDDED, embedded_weights_path
from steering.sources.load import convert
from steering.start import Seed

MODEL = "dcgan-eyes"
ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # max |Δ| against the wheel's generator (measured: 0.0)


@pytest.fixture(scope="module")
def wheel_generator() -> torch.nn.Module:
    """The wheel's ``Generator`` built from its ``generator.py`` with the wheel's weights, in eval mode."""
    path = embedded_weights_path(MODEL)
    spec = importlib.util.spec_from_file_location("omniart_generator_oracle", path.parent / "generator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generator = module.Generator()
    generator.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return generator.eval()


def one_hot(*indices: int) -> torch.Tensor:
    return torch.eye(len(EYE_COLOURS))[list(indices)]


@torch.no_grad()
def images(generator, codes: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    return generator.synthesize(Latents(codes, "z", classes))


def test_the_model_is_the_wheels_cdcgan(eyes):
    info = eyes.describe()
    assert info["architecture"] == "dcgan" and info["resolution"] == 128 and info["z_dim"] == 100
    assert eyes.num_classes == 8 and eyes.class_names == list(EYE_COLOURS)
    assert eyes.identity.sha256 == sha256_file(embedded_weights_path(MODEL))  # named by the .pth, like the faces
    assert eyes.identity.source == "pypi:omniart-eye-generator==0.1"
    assert eyes.identity.config["num_blocks"] == 4 and eyes.identity.config["dropout"] is True
    assert eyes.feature_names() == ["fc", "block1", "block2", "block3", "block4", "image"]


def test_synthesis_equals_the_wheels_generator_from_both_files(eyes, wheel_generator):
    """Every class one-hot, and soft labels, from the original .pth (converted in memory) and from our file."""
    resolved, entry = resolve(MODEL)
    from_original = store.build_generator(convert(resolved, entry))
    codes = eyes.sample_z(10, seed=4)
    soft = torch.softmax(torch.randn(1, 8, generator=torch.Generator().manual_seed(0)), 1)
    classes = torch.cat([torch.eye(8), torch.full((1, 8), 1 / 8), soft])
    with torch.no_grad():
        expected = wheel_generator(codes[:, :, None, None], classes)
    for ours in (from_original, eyes):
        delta = (images(ours, codes, classes) - expected).abs().max()
        assert delta < TOLERANCE, float(delta)


def test_a_class_changes_the_image_and_soft_classes_interpolate(eyes):
    codes = eyes.sample_z(1, seed=0)
    blue, brown = images(eyes, codes, one_hot(1)), images(eyes, codes, one_hot(2))
    assert (blue - brown).abs().mean() > 0.05
    distances = []
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        mixed = images(eyes, codes, (1 - t) * one_hot(1) + t * one_hot(2))
        distances.append(float((mixed - blue).abs().mean()))
    assert distances[0] == 0.0 and distances[-1] == float((brown - blue).abs().mean())
    assert all(a < b for a, b in itertools.pairwise(distances))  # moves steadily from blue to brown
    with torch.no_grad():  # the first layer reads the class linearly: a mix of classes is the mix of their maps
        fc = [eyes.features(Latents(codes, "z", c), ["fc"])["fc"] for c in (one_hot(1), one_hot(2))]
    mixed_fc = eyes.features(Latents(codes, "z", one_hot(1) * 0.3 + one_hot(2) * 0.7), ["fc"])["fc"]
    torch.testing.assert_close(mixed_fc, 0.3 * fc[0] + 0.7 * fc[1], atol=1e-5, rtol=1e-5)


def test_sample_class_index_gives_that_one_hot(eyes):
    for k in (0, 3, 7):
        latents = eyes.sample(2, seed=5, class_index=k)
        assert torch.equal(latents.classes, one_hot(k, k))
        assert torch.equal(latents.codes, eyes.sample(2, seed=5).codes)  # the class never changes z
    assert torch.equal(eyes.sample(8, seed=1, class_index=list(range(8))).classes, torch.eye(8))
    drawn = eyes.sample(16, seed=2).classes
    assert torch.equal(drawn.sum(1), torch.ones(16)) and set(drawn.unique().tolist()) == {0.0, 1.0}


def test_out_of_range_and_missing_classes_are_refused(eyes, dcgan):
    for index in (8, -1, [0, 9]):
        with pytest.raises(InvalidValueError, match=r"class index must be in \[0, 8\)"):
            eyes.sample(2, seed=0, class_index=index)
    with pytest.raises(InvalidValueError, match=r"class index must be in \[0, 8\)"):
        Seed(3, class_index=8).latents(eyes)
    codes = eyes.sample_z(1, seed=0)
    with pytest.raises(InvalidValueError, match=r"classes must have shape \[1, 8\]"):
        images(eyes, codes, torch.ones(1, 9) / 9)
    with pytest.raises(InvalidValueError, match="class-conditional"):
        images(eyes, codes, None)
    with pytest.raises(InvalidValueError, match="not class-conditional"):
        images(dcgan, codes, one_hot(0))
    from steering.methods import METHODS  # a class index for the faces is refused, never recorded and ignored

    for name, options in [("interpolation", {"class_index": 2}), ("transfer", {"source_class": 1})]:
        with pytest.raises(InvalidValueError, match="dcgan-faces is not class-conditional"):
            METHODS[name].run(dcgan, options)
    with pytest.raises(InvalidValueError, match="not class-conditional"):
        Seed(3, class_index=0).latents(dcgan)


def test_folded_first_layer_and_class_bias_equal_the_real_layers(eyes, wheel_generator):
    (projection,) = eyes.latent_projections()
    assert projection.weight.shape == (1024 * 16, 100) and projection.class_bias.shape == (8, 1024 * 16)
    assert projection.shape == (1024, 4, 4) and projection.bias.shape == (1024 * 16,)
    codes, gen = eyes.sample_z(11, seed=6), torch.Generator().manual_seed(1)
    for classes in (
        torch.eye(8)[[0, 1, 2, 3, 4, 5, 6, 7, 2, 5, 0]],
        torch.softmax(torch.randn(11, 8, generator=gen), 1),
    ):
        with torch.no_grad():  # the wheel's own ConvTranspose + BatchNorm (eval) on [z; classes]
            real = wheel_generator.main[1](wheel_generator.main[0](torch.cat([codes, classes], 1)[:, :, None, None]))
        folded = codes @ projection.weight.T + projection.bias + classes @ projection.class_bias
        torch.testing.assert_close(folded, real.flatten(1), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(eyes.first_layer_bias(classes), projection.bias + classes @ projection.class_bias)
    one_hot_rows = codes[:3] @ projection.weight.T + projection.bias + projection.class_bias[[4, 4, 4]]
    torch.testing.assert_close(
        one_hot_rows,
        eyes.features(Latents(codes[:3], "z", one_hot(4, 4, 4)), ["fc"])["fc"].flatten(1),
        atol=1e-5,
        rtol=1e-4,
    )
    _, pullback = vjp(lambda c: eyes.features(Latents(c, "z", one_hot(6)), ["fc"])["fc"].flatten(), codes[:1])
    for cotangent in torch.randn(3, projection.weight.shape[0], generator=gen):  # vᵀJ = vᵀA: the class never enters A
        torch.testing.assert_close(pullback(cotangent)[0][0], cotangent @ projection.weight, atol=1e-4, rtol=1e-4)


def test_sefa_and_ganspace_directions_change_the_eyes(eyes):
    latents = eyes.sample(2, seed=8, class_index=[1, 6])
    with torch.no_grad():
        plain = eyes.synthesize(latents)
    for found in (sefa(eyes, 4, use_cache=False), ganspace(eyes, 3, num_samples=300, seed=1, use_cache=False)):
        assert found.vectors.shape[1] == 100 and found.model.sha256 == eyes.identity.sha256
        with torch.no_grad():
            moved = eyes.synthesize(edit.apply(eyes, latents, found, {0: 3.0}))
        assert moved.shape == (2, 3, 128, 128) and (moved - plain).abs().mean() > 0.02, found.method


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_info_discover_and_edit_with_a_class(eyes, tmp_path, capsys):
    code, out, _ = run(capsys, "info", MODEL, "--device", "cpu")
    assert code == 0 and "num classes:    8" in out and "3 gray" in out and "7 red" in out
    code, out, _ = run(capsys, "info", MODEL, "--json")
    assert code == 0 and json.loads(out)["class_names"] == list(EYE_COLOURS)
    directions = tmp_path / "eyes.safetensors"
    code, out, _ = run(capsys, "discover", MODEL, "--method", "sefa", "-k", "4", "-o", directions, "--no-cache")
    assert code == 0 and "eigenvalues:" in out
    torch.testing.assert_close(Directions.load(directions, eyes).vectors, sefa(eyes, 4, use_cache=False).vectors)
    image = tmp_path / "gray.png"
    argv = ["edit", MODEL, "--directions", directions, "--seed", 3, "--class-index", 3, "--strength", "0=2"]
    assert run(capsys, *argv, "-o", image, "--device", "cpu")[0] == 0
    latents = eyes.sample(1, seed=3, class_index=3)
    expected = edit.render(eyes, edit.apply(eyes, latents, Directions.load(directions), {0: 2.0}))[0]
    np.testing.assert_array_equal(np.asarray(Image.open(image).convert("RGB")), np.asarray(expected))
    code, _, err = run(capsys, *argv[:-4], "--class-index", 8, "-o", tmp_path / "none.png", "--device", "cpu")
    assert code == 2 and "class index" in err and not (tmp_path / "none.png").exists()


def test_python_dash_m_models_lists_it_with_its_licence():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "steering", "models"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == [MODEL])
    assert "pypi:omniart-eye-generator==0.1 (embedded)" in lines[at] and "8 colour classes" in lines[at + 1]
    assert "licence: package metadata MIT; the OmniArt data's terms are not stated" in lines[at + 2]


def test_converts_once_then_reads_only_the_converted_file(isolated_home, monkeypatch, eyes):
    first = load_generator(MODEL)
    resolved, _ = resolve(MODEL)
    converted = store.lookup(resolved.source_key)
    assert converted is not None and converted.parent == isolated_home / "models"
    saved = store.load_converted(converted)
    assert saved.config["num_classes"] == 8 and saved.config["class_names"] == list(EYE_COLOURS)
    assert saved.identity.sha256 == eyes.identity.sha256 == sha256_file(resolved.path)
    import steering.sources.load as load_module

    def no_original(*_args, **_kwargs):
        raise AssertionError("the original checkpoint was read again")

    monkeypatch.setattr(load_module, "read_checkpoint", no_original)
    second = load_generator(MODEL)
    latents = first.sample(2, seed=5)
    assert torch.equal(images(first, latents.codes, latents.classes), images(second, latents.codes, latents.classes))
    assert second.identity == first.identity and second.class_names == list(EYE_COLOURS)
    assert list(isolated_home.rglob("*.safetensors")) == [converted]


def test_every_installer_pins_the_embedded_table():
    assert [w.model for w in EMBEDDED] == ["dcgan-faces", "dcgan-eyes"]
    assert all(CATALOG[w.model].repo_id is None and CATALOG[w.model].license == w.license for w in EMBEDDED)
    pins = ", ".join(json.dumps(w.requirement) for w in EMBEDDED)
    assert f"\nmodels = [{pins}]\n" in (ROOT / "pyproject.toml").read_text()
    assert "python install.py" in (ROOT / "dev.sh").read_text()  # the webui hook installs them, --no-deps


def test_the_edit_tab_picks_the_class_and_restores_it(eyes, tmp_path):
    """The class picker: shown for this model with its colour names; the picked class is the one rendered (pixel for
    pixel against the library) and the interpolation keeps it; a saved PNG restores it."""
    from extension.session import directions_store
    from extension.settings import UISettings
    from extension.tabs import edit as edit_tab
    from extension.tabs.common import for_display
    from extension.tabs.edit_state import SEED_CLASS

    def px(image):
        return np.asarray(Image.open(image).convert("RGB") if isinstance(image, str) else image, dtype=np.int16)

    def library(latents):
        return px(for_display(edit.render(eyes, latents)[0]).convert("RGB"))

    settings = UISettings(output_dir=tmp_path)
    found = sefa(eyes, 3, use_cache=False)
    key = directions_store.put(found)
    picked = f"3 {eyes.class_names[3]}"

    def state(klass):
        return (MODEL, key, "", 5, 1.0, klass, "const", "linear", 6, "slerp")

    picker = edit_tab.view(settings, *state(picked))[-1]
    assert picker["visible"] and picker["choices"] == [SEED_CLASS, *(f"{i} {n}" for i, n in enumerate(EYE_COLOURS))]
    assert picker["value"] == picked
    shown = edit_tab.render(settings, *state(picked), 0.0, 2.0)
    latents = edit.apply(eyes, eyes.sample(1, seed=5, class_index=3), found, {0: 2.0})
    expected = library(latents)
    assert np.abs(px(shown) - expected).max() <= 1
    towards = edit_tab.render(settings, *state(picked), 1.0, 0.0)  # all the way to the target seed: same class
    assert np.abs(px(towards) - library(eyes.sample(1, seed=6, class_index=3))).max() <= 1
    own = edit_tab.render(settings, *state(SEED_CLASS), 0.0, 2.0)  # the seed's own class is another image
    assert np.abs(px(own) - expected).max() > 10
    restored = edit_tab.restore(settings, MODEL, key, shown)
    assert restored[4] == picked and restored[2] == 5
    from PIL import PngImagePlugin

    made = json.loads(Image.open(shown).text["gan-steering"])
    made["start"]["class_index"] = 99  # a forged recipe: a clear error, not an IndexError
    info = PngImagePlugin.PngInfo()
    info.add_itxt("gan-steering", json.dumps(made))
    Image.open(shown).save(tmp_path / "forged.png", pnginfo=info)
    with pytest.raises(InvalidValueError, match=r"class index must be in \[0, 8\)"):
        edit_tab.restore(settings, MODEL, key, str(tmp_path / "forged.png"))
    with pytest.raises(InvalidValueError):
        edit_tab.render(settings, *state("9 nothing"), 0.0, 0.0)
