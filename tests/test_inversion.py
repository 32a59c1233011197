"""Real-image inversion on the real embedded models and a random-weight StyleGAN2: image preparation and bad inputs,
reconstruction of a generated image (ground truth known), scikit-image's photographs (whose inverted latents then
edit with a control of every kind), latents files that start edits (and are refused for another model), the CLI.

Thresholds (what the tests assert; the README reports the measured figures):

* faces DCGAN, a generated image, z, 150 steps: PSNR ≥ 26 dB, SSIM ≥ 0.8;
* photographs (astronaut, chelsea) on the faces DCGAN: at least 2 dB better than the start (figures printed);
* the eyes cDCGAN and StyleGAN2's w / w+: tests/test_inversion_models.py; the encoder: test_inversion_encoder.py.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from steering import limits
from steering.errors import (
    DirectionsMismatchError,
    ImageInputError,
    InvalidValueError,
    ResourceLimitError,
)
from steering.inversion import InversionSettings, invert, prepare_image
from steering.inversion.loss import ms_ssim_window, psnr
from steering.start import load_latents

ROOT = Path(__file__).resolve().parents[1]


def generated(generator, seed: int, class_index: int | None = None) -> torch.Tensor:
    with torch.no_grad():
        return generator.synthesize(generator.sample(1, seed=seed, class_index=class_index)).clamp(-1, 1)


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width``×``height`` with a tiny (truncated) body: nothing big is ever made."""
    data = bytearray(png_bytes(Image.new("RGB", (8, 8))))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


# ----- image preparation and bad inputs -------------------------------------------------------------------------------
def test_damaged_files_of_every_format_are_read_or_refused_clearly():
    """Truncated or byte-flipped files (animated GIF and multi-page TIFF included: Pillow reads later frames lazily)
    either decode or give ``ImageInputError``; never another exception."""
    import random

    from skimage import data

    from steering.errors import SteeringError

    photo = Image.fromarray(data.astronaut()).resize((48, 48))
    pages = {"save_all": True, "append_images": [photo.rotate(90)]}
    rng = random.Random(0)
    for fmt, options in [("PNG", {}), ("JPEG", {}), ("GIF", pages), ("TIFF", pages), ("WEBP", {}), ("QOI", {})]:
        buffer = io.BytesIO()
        photo.save(buffer, format=fmt, **options)
        blob = buffer.getvalue()
        for i in range(60):
            damaged = bytearray(blob[: rng.randrange(1, len(blob))] if i % 3 == 0 else blob)
            for _ in range(0 if i % 3 == 0 else rng.randrange(1, 6)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            try:
                prepare_image(bytes(damaged), 32)
            except SteeringError:
                pass


def test_damaged_perceptual_weights_are_a_clear_error(tmp_path, monkeypatch):
    """A VGG16 file named by ``$GAN_STEERING_VGG16`` that is not what it says: ``CorruptFileError``, not a torch or
    safetensors traceback; one that is missing: a clear message too."""
    from steering.errors import CorruptFileError
    from steering.inversion.perceptual import VGG_ENV, load_perceptual

    for name, content in [
        ("vgg.pth", b"PK\x03\x04 not a zip"),
        ("vgg.pth", b"\x80\x02garbage"),
        ("vgg.safetensors", b"x" * 64),
    ]:
        bad = tmp_path / name
        bad.write_bytes(content)
        monkeypatch.setenv(VGG_ENV, str(bad))
        with pytest.raises(CorruptFileError, match=name.replace(".", r"\.")):
            load_perceptual()
    monkeypatch.setenv(VGG_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(InvalidValueError, match="does not exist"):
        load_perceptual()


def test_bad_image_files_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageInputError, match="empty"):
        prepare_image(empty, 64)
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    with pytest.raises(ImageInputError, match="not an image"):
        prepare_image(text, 64)
    huge = tmp_path / "huge.png"
    huge.write_bytes(huge_png(20000, 20000))
    assert struct.unpack(">II", huge.read_bytes()[16:24]) == (20000, 20000)  # the header really declares it
    with pytest.raises(ResourceLimitError, match="megapixels"):
        prepare_image(huge, 64)
    with pytest.raises(ResourceLimitError, match="8200×8200 pixels"):  # under Pillow's limit, over ours
        prepare_image(huge_png(8200, 8200), 64)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(png_bytes(Image.new("RGB", (64, 64), (10, 20, 30)))[:60])
    with pytest.raises(ImageInputError, match="damaged or truncated"):
        prepare_image(truncated, 64)
    with pytest.raises(ImageInputError, match="no such file"):
        prepare_image(tmp_path / "missing.png", 64)
    with pytest.raises(ImageInputError, match="at least 16"):
        prepare_image(png_bytes(Image.new("RGB", (12, 40))), 64)
    floats = Image.fromarray(np.random.default_rng(0).random((32, 32), dtype=np.float32), "F")
    tiff = io.BytesIO()
    floats.save(tiff, format="TIFF")
    with pytest.raises(ImageInputError, match="'F'"):
        prepare_image(tiff.getvalue(), 64)
    # a budget smaller than the image: refused from the header as well
    budget = limits.request_budget
    try:
        limits.request_budget = lambda: 1024  # type: ignore[assignment]
        with pytest.raises(ResourceLimitError):
            prepare_image(png_bytes(Image.new("RGB", (512, 512))), 64)
    finally:
        limits.request_budget = budget  # type: ignore[assignment]


def test_modes_are_converted_by_one_rule():
    grey = Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)), "L")
    prepared = prepare_image(png_bytes(grey), 64)
    pixels = prepared.pixels[0]
    assert torch.equal(pixels[0], pixels[1]) and torch.equal(pixels[1], pixels[2])  # repeated into RGB
    assert "greyscale repeated into three channels" in prepared.notes and prepared.original_mode == "L"

    deep = Image.fromarray((np.ones((32, 32)) * 65535).astype(np.uint16))  # 16-bit white
    assert float(prepare_image(png_bytes(deep), 32).pixels.min()) == 1.0

    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 255))
    rgba.paste((0, 0, 255, 0), (0, 0, 16, 32))  # the left half fully transparent
    prepared = prepare_image(png_bytes(rgba), 32)
    left, right = prepared.pixels[0, :, 5, 5], prepared.pixels[0, :, 5, 25]
    assert left.tolist() == [1.0, 1.0, 1.0]  # over white
    assert right.tolist() == [1.0, -1.0, -1.0]
    assert "transparency composited over white" in prepared.notes

    palette = Image.new("P", (32, 32))
    palette.putpalette([0, 255, 0] * 256)
    assert prepare_image(png_bytes(palette), 32).pixels[0, :, 0, 0].tolist() == [-1.0, 1.0, -1.0]


def test_centre_square_and_resize():
    wide = Image.new("RGB", (300, 100), (0, 0, 0))
    wide.paste((255, 255, 255), (100, 0, 200, 100))  # the centre third is white
    prepared = prepare_image(png_bytes(wide), 64, name="wide.png")
    assert prepared.pixels.shape == (1, 3, 64, 64) and bool((prepared.pixels > 0.99).all())
    assert prepared.original_size == (300, 100) and prepared.name == "wide.png"
    assert any("centre square 100×100" in note for note in prepared.notes)
    assert prepared.sha256 == __import__("hashlib").sha256(png_bytes(wide)).hexdigest()
    assert prepared.image.size == (64, 64)


def test_ms_ssim_window_fits_the_resolution():
    assert [ms_ssim_window(s) for s in (32, 64, 128, 256)] == [None, 3, 7, 11]


# ----- generated images: ground truth known --------------------------------------------------------------------------
def test_faces_reconstruct_a_generated_image(dcgan, tmp_path):
    target = generated(dcgan, seed=1001)
    result = invert(dcgan, target, InversionSettings(steps=150))
    print(f"\nfaces, generated image: PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.3f}, {result.steps} steps")
    assert result.psnr >= 26.0 and result.ssim >= 0.8
    assert result.history[0][2] < result.psnr - 6  # it really moved
    # the result is a latents file every control can start from
    path = result.save(tmp_path / "inverted.safetensors", dcgan)
    found = load_latents(path, dcgan)
    assert found.source["inversion"]["space"] == "z" and found.source["inversion"]["psnr"] == round(result.psnr, 3)
    with torch.no_grad():
        again = dcgan.synthesize(found.latents(dcgan))
    assert float(psnr(again, target)[0]) == pytest.approx(result.psnr, abs=1e-3)


# ----- real photographs (scikit-image's) ------------------------------------------------------------------------------
def photograph(name: str, tmp_path: Path) -> Path:
    data = pytest.importorskip("skimage.data", reason="scikit-image is a test dependency (dev.sh)")
    path = tmp_path / f"{name}.png"
    Image.fromarray(getattr(data, name)()).save(path)
    return path


#: Where the face is in astronaut (512×512) and the cat's left eye in chelsea (451×300): (left, top, width, height).
ASTRONAUT_FACE = (150, 20, 190, 190)
CHELSEA_EYE = (125, 60, 110, 110)


@pytest.mark.slow
def test_photographs_invert(dcgan, eyes, tmp_path):
    """astronaut (a face) on the faces DCGAN, whole and cropped to the face; chelsea (a cat) cropped to one eye on the
    eyes cDCGAN (the closest fit we ship: a cat's face is no human face)."""
    cases = (
        ("astronaut", dcgan, None, 100),
        ("astronaut", dcgan, ASTRONAUT_FACE, 100),
        ("chelsea", eyes, CHELSEA_EYE, 50),
    )
    for name, model, crop, steps in cases:
        target = prepare_image(photograph(name, tmp_path), model.resolution, crop=crop)
        result = invert(model, target, InversionSettings(steps=steps))
        start = result.history[0][2]
        where = f"cropped {crop}" if crop else "whole"
        klass = f", class {model.class_names[result.class_index]}" if result.class_index is not None else ""
        print(
            f"\n{name} ({where}) on {model.identity.name}: PSNR {start:.2f} → {result.psnr:.2f} dB, SSIM "
            f"{result.ssim:.3f} in {result.steps} steps{klass}"
        )
        assert result.psnr >= start + 2.0
        saved = load_latents(result.save(tmp_path / f"{name}.safetensors", model), model)
        assert saved.source["image_sha256"] == target.sha256 and saved.source["image"] == f"{name}.png"
        edits_with_every_kind(model, saved.latents(model), name)
    with pytest.raises(InvalidValueError, match="not inside"):
        prepare_image(photograph("astronaut", tmp_path), 64, crop=(400, 400, 200, 200))


def edits_with_every_kind(model, start, name: str) -> None:
    """The inverted latents start an edit with a control of each kind (real methods): 0 keeps the reconstruction
    bit-identical, a strength moves it."""
    from steering import edit
    from steering.methods import sefa
    from steering.methods.interpolation import interpolation
    from steering.methods.steerability import steerability

    controls = {
        "linear": sefa(model, num_directions=2, use_cache=False),
        "affine": steerability(model, ["zoom-in"]),
        "field": steerability(model, ["shift-x+"], others="forbid"),
        "path": interpolation(model, seeds=(3, 9)),
    }
    plain = edit.synthesize(model, start)
    changes = {}
    for kind, control in controls.items():
        assert control.kind == kind
        strengths = [0.0] * len(control)
        assert torch.equal(edit.synthesize(model, edit.apply(model, start, control, strengths)), plain)
        strengths[0] = 0.5 if kind == "path" else 2.0
        moved = edit.synthesize(model, edit.apply(model, start, control, strengths))
        changes[kind] = float((moved - plain).abs().mean())
    print(f"{name}, mean |change| per control kind: " + ", ".join(f"{k} {v:.3f}" for k, v in changes.items()))
    assert all(value > 0.01 for value in changes.values())


# ----- latents files for the wrong model, and the CLI -----------------------------------------------------------------
def test_latents_of_another_model_are_refused(dcgan, eyes, tmp_path):
    result = invert(dcgan, generated(dcgan, seed=3), InversionSettings(steps=2))
    path = result.save(tmp_path / "faces.safetensors", dcgan)
    with pytest.raises(DirectionsMismatchError, match="made for model"):
        load_latents(path, eyes)
    with pytest.raises(InvalidValueError, match="must be one image"):
        invert(eyes, generated(dcgan, seed=3), InversionSettings(steps=2))
    with pytest.raises(InvalidValueError, match="latent spaces"):
        invert(dcgan, generated(dcgan, seed=3), InversionSettings(space="w+", steps=2))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "steering", *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


@pytest.mark.slow
def test_cli_invert_then_edit_from_the_inverted_latents(dcgan, eyes, tmp_path):
    from steering.methods import sefa

    image = tmp_path / "face.png"
    Image.fromarray((generated(dcgan, seed=5)[0].permute(1, 2, 0).add(1).mul(127.5)).round().byte().numpy()).save(image)
    out = tmp_path / "face.safetensors"
    done = run_cli(
        "-q",
        "invert",
        "dcgan-faces",
        str(image),
        "-o",
        str(out),
        "--steps",
        "40",
        "--json",
        "--compare",
        str(tmp_path / "compare.png"),
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["psnr"] > 20 and figures["space"] == "z" and figures["initial"] == "best of 16 prior samples"
    assert Image.open(tmp_path / "compare.png").width > 2 * 64
    sefa(dcgan, num_directions=3).save(tmp_path / "faces-sefa.safetensors")
    edited = tmp_path / "edited.png"
    done = run_cli(
        "-q",
        "edit",
        "dcgan-faces",
        "--latents",
        str(out),
        "--directions",
        str(tmp_path / "faces-sefa.safetensors"),
        "--strength",
        "0=3",
        "-o",
        str(edited),
    )
    assert done.returncode == 0, done.stderr
    recipe = json.loads(Image.open(edited).text["gan-steering"])
    assert recipe["start"]["file"] == "face.safetensors"
    # the same latents for the eyes model: one clear line, exit 2; bad images likewise
    done = run_cli(
        "-q",
        "edit",
        "dcgan-eyes",
        "--latents",
        str(out),
        "--directions",
        str(tmp_path / "faces-sefa.safetensors"),
        "-o",
        str(tmp_path / "no.png"),
    )
    assert done.returncode == 2 and "made for model" in done.stderr and "Traceback" not in done.stderr
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    done = run_cli("-q", "invert", "dcgan-faces", str(empty), "-o", str(tmp_path / "x.safetensors"))
    assert done.returncode == 2 and "empty" in done.stderr and not (tmp_path / "x.safetensors").exists()
    done = run_cli(
        "-q", "invert", "dcgan-faces", str(image), "-o", str(tmp_path / "y.safetensors"), "--encoder", str(out)
    )
    assert done.returncode == 2 and "not a gan-steering encoder" in done.stderr
