"""Hostile and careless input to the library and the CLI: bounded work, one clear line, files that cannot be used.

Oversized requests run in a subprocess under an address-space limit (``resource.setrlimit``): they must end with one
line on stderr and exit code 2, never a ``MemoryError``, an OOM kill or a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from steering import cache, edit, values
from steering.cli import main
from steering.directions import Directions
from steering.errors import DirectionsFileError, InvalidValueError, ResourceLimitError
from steering.methods import ganspace, sefa
from steering.text import terminal_safe

MODEL = "dcgan-faces"
ROOT = Path(__file__).resolve().parents[1]
MEMORY_LIMIT_MB = 1536
BUDGET_MB = 256


@pytest.fixture(scope="module")
def directions(dcgan):
    return sefa(dcgan, 4, use_cache=False)


@pytest.fixture(scope="module")
def sefa_file(directions, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("untrusted") / "sefa.safetensors"
    directions.save(path)
    return path


# ----- bounded work -----------------------------------------------------------------------------------------------
def run_limited(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m steering ARGV`` with at most MEMORY_LIMIT_MB of address space and a small request budget."""
    limit = MEMORY_LIMIT_MB * 2**20
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
        "from steering.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "GAN_STEERING_MAX_REQUEST_MB": str(BUDGET_MB)}  # the session's home: converted once
    return subprocess.run(
        [sys.executable, "-c", code, "-q", *argv], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )


def stride0_checkpoint(path: Path) -> Path:
    """A few kilobytes of torch file whose DCGAN-shaped tensors are stride-0 views declaring gigabytes."""
    tiny = torch.zeros(1)
    state = {
        "main.0.weight": tiny.expand(100, 65536, 4, 4),  # 100 × 8·ngf × 4 × 4 with ngf = 8192: 420 MB declared
        "main.12.weight": tiny.expand(8192, 3, 4, 4),
    }
    torch.save(state, path)
    assert path.stat().st_size < 10_000
    return path


OVERSIZED = {
    "layer range": ["discover", MODEL, "--method", "sefa", "--layers", "0:50000000", "-o", "{tmp}/a.safetensors"],
    "huge layer list": ["discover", MODEL, "--method", "sefa", "--layers", "0,1,5000000", "-o", "{tmp}/b.safetensors"],
    "GANSpace samples": [
        "discover", MODEL, "--method", "ganspace", "--samples", "1000000", "-o", "{tmp}/c.safetensors",
    ],
    "sweep steps": ["sweep", MODEL, "--directions", "{file}", "--steps", "1000000000", "-o", "{tmp}/d.png"],
    "sweep cells": ["sweep", MODEL, "--directions", "{file}", "--steps", "5000", "-o", "{tmp}/e.png"],
    "GIF frames": ["animate", MODEL, "--directions", "{file}", "--index", "0", "--frames", "3000", "-o", "{tmp}/f.gif"],
    "seeds": ["edit", MODEL, "--directions", "{file}", "--seeds", ",".join(map(str, range(20000))), "-o", "{tmp}/g.png"],  # noqa: E501
    "stride-0 checkpoint": ["info", "{tmp}/stride0.pt"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(OVERSIZED))
def test_oversized_requests_end_with_one_line_under_a_memory_limit(case, sefa_file, tmp_path, dcgan):
    stride0_checkpoint(tmp_path / "stride0.pt")
    argv = [a.format(tmp=tmp_path, file=sefa_file) for a in OVERSIZED[case]] + ["--device", "cpu"]
    result = run_limited(*argv)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("gan-steering") and ": error: " in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".png", ".gif", ".safetensors")]


def test_limits_scale_with_the_model(dcgan, monkeypatch):
    from steering import limits

    monkeypatch.setenv(limits.BUDGET_ENV, "64")
    small = limits.max_images(dcgan)
    big = dataclasses.make_dataclass("Big", [("image_channels", int), ("resolution", int)])(3, 1024)
    assert small > 100 * limits.max_images(big) >= 100  # a 1024² image costs 256× a 64² one
    with pytest.raises(ResourceLimitError, match=limits.BUDGET_ENV):
        edit.synthesize(dcgan, dcgan.sample(small + 1, seed=0))
    assert limits.max_samples(100) > limits.max_samples(100 + 8192)
    with pytest.raises(ResourceLimitError):  # GANSpace on the 8192-value first layer: refused before sampling
        ganspace(dcgan, 2, num_samples=limits.max_samples(100 + 8192) + 1, use_cache=False)


def test_every_count_is_checked_before_it_is_used(dcgan, directions):
    with pytest.raises(InvalidValueError):
        values.layer_range(dcgan, "0:" + "9" * 30)  # no range object of that size is ever made
    with pytest.raises(InvalidValueError):
        edit.strengths_between(-1, 1, 10**9)
    with pytest.raises(InvalidValueError):
        dcgan.sample(10**9, seed=0)
    with pytest.raises(InvalidValueError):
        sefa(dcgan, 10**6)


# ----- numbers that are finite in Python but not in float32 --------------------------------------------------------
@pytest.mark.parametrize("strength", [1e39, -1e39, 3e38, 1e300, float("nan"), float("inf")])
def test_strengths_that_overflow_float32_are_refused(dcgan, directions, strength, capsys, sefa_file, tmp_path):
    latents = dcgan.sample(1, seed=0)
    with pytest.raises(InvalidValueError, match="strength"):
        edit.apply(dcgan, latents, directions, {0: strength})
    with pytest.raises(InvalidValueError, match="strength"):
        edit.apply(dcgan, latents, directions, [strength, 0, 0, 0])
    code = main(["edit", MODEL, "--directions", str(sefa_file), "--strength", f"0={strength}", "-o",
                 str(tmp_path / "x.png"), "--device", "cpu"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2 and "strength" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_the_largest_accepted_strength_renders_a_finite_image(dcgan, directions):
    latents = edit.apply(dcgan, dcgan.sample(1, seed=0), directions, {0: values.MAX_ABS_STRENGTH})
    assert torch.isfinite(latents.codes).all() and torch.isfinite(edit.synthesize(dcgan, latents)).all()


# ----- direction files that load but cannot be used ---------------------------------------------------------------
def rewrite(path: Path, out: Path, tensors=None, **metadata: str) -> Path:
    from steering.io import load_safetensors

    old_tensors, old_metadata = load_safetensors(path)
    merged = {k: v for k, v in {**old_metadata, **metadata}.items() if v is not None}
    save_file(tensors if tensors is not None else old_tensors, str(out), metadata=merged)
    return out


def identity_json(directions, **changes) -> str:
    return json.dumps({**dataclasses.asdict(directions.model), **changes})


UNUSABLE = {
    "params a list": dict(params="[1, 2]"),
    "params a number": dict(params="3"),
    "params with NaN": dict(params='{"x": NaN}'),
    "empty model hash": dict(model="{identity_no_hash}"),
    "model name a number": dict(model="{identity_int_name}"),
    "degenerate range": dict(strength_range="[1, 1]"),
    "reversed range": dict(strength_range="[3, -3]"),
    "enormous range": dict(strength_range="[-1e30, 1e30]"),
    "range of strings": dict(strength_range='["a", "b"]'),
    "negative format version": dict(format_version="-1"),
    "format version text": dict(format_version='"1"'),
    "duplicate names": dict(names='["a", "a", "b", "c"]'),
    "blank name": dict(names='["a", "  ", "b", "c"]'),
    "ints as names": dict(names="[1, 2, 3, 4]"),
    "names an object": dict(names='{"a": 1}'),
    "deeply nested params": dict(params="[" * 100_000 + "]" * 100_000),
    "deeply nested names": dict(names='{"a":' * 5000 + "1" + "}" * 5000),
    "unknown space": dict(space="q"),
    "layers of strings": dict(layers='["0"]'),
    "layers out of reach": dict(layers="[-1]"),
    "no method": dict(method=None),
}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_unusable_direction_files_are_refused_at_load(case, directions, sefa_file, tmp_path, capsys):
    identities = {
        "{identity_no_hash}": identity_json(directions, sha256=""),
        "{identity_int_name}": identity_json(directions, name=7),
    }
    changes = {k: identities.get(v, v) for k, v in UNUSABLE[case].items()}
    path = rewrite(sefa_file, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(DirectionsFileError):
        Directions.load(path)
    assert main(["inspect", str(path)]) == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "vectors",
    [torch.zeros(4, 100), torch.full((4, 100), 3.0), torch.full((4, 100), float("nan")), torch.ones(4, 0)],
    ids=["zero", "not unit", "nan", "empty"],
)
def test_degenerate_vectors_are_refused_at_load(vectors, sefa_file, tmp_path):
    path = rewrite(sefa_file, tmp_path / "bad.safetensors", tensors={"directions": vectors})
    with pytest.raises(DirectionsFileError):
        Directions.load(path)


def test_a_cached_basis_for_another_model_is_rebuilt(dcgan, directions, isolated_home):
    params = {"num_directions": 4, "layers": [0]}
    path = cache.entry_path(cache.cache_key(dcgan, "sefa", params))
    other = dataclasses.replace(directions, model=dataclasses.replace(directions.model, sha256="ab" * 32))
    other.save(path)  # a poisoned or stale entry: loads, but belongs to another model
    again = cache.cached(dcgan, "sefa", params, lambda: sefa(dcgan, 4, use_cache=False))
    assert again.model.sha256 == dcgan.identity.sha256
    assert Directions.load(path, dcgan).model.sha256 == dcgan.identity.sha256  # the entry itself was replaced


# ----- names are data -------------------------------------------------------------------------------------------
HOSTILE_NAMES = ["\x1b[2J\x1b[31mred", "bell\x07", "\u202eevil", "tab\there", "<img src=x onerror=alert(1)>"]


def test_control_characters_in_names_never_reach_the_terminal(directions, tmp_path, capsys):
    hostile = dataclasses.replace(directions, names=HOSTILE_NAMES[:4])
    path = hostile.save(tmp_path / "hostile.safetensors")
    assert main(["inspect", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert not any(c in out for c in "\x1b\x07\u202e") and "\\u001b[2J" in out
    assert main(["inspect", str(path), "--json"]) == 0
    out, _ = capsys.readouterr()
    assert not any(c in out for c in "\x1b\x07\u202e") and json.loads(out)["names"] == HOSTILE_NAMES[:4]
    assert main(["rename", str(path), "0", "\x1b]0;title\x07x"]) == 0
    out, _ = capsys.readouterr()
    assert "\x1b" not in out and "\x07" not in out


def test_terminal_safe_keeps_text_and_escapes_controls():
    assert terminal_safe("plain ünïcode 表") == "plain ünïcode 表"
    assert terminal_safe("a\x1bb\n") == "a\\u001bb\n"
    assert json.loads('"' + terminal_safe("\U000e0001\u202e") + '"') == "\U000e0001\u202e"


# ----- fuzz: random mutations of valid files ---------------------------------------------------------------------
def mutations(rng, metadata: dict[str, str], tensors: dict[str, torch.Tensor]):
    """One random mutation of a direction file's parts."""
    metadata, tensors = dict(metadata), dict(tensors)
    junk = [
        "", "null", "0", "-1", "1e400", "NaN", "[]", "{}", '"x"', "[1,2,3]", '{"a": [1, {"b": null}]}', "[" * 64,
        '"' + "x" * 5000 + '"', "true", "[-1e39, 1e39]", "[0, 1e-9]", '["a", "a"]', "\x00", "{\"sha256\": 1}",
    ]  # fmt: skip
    choice = rng.randrange(6)
    key = rng.choice(sorted(metadata))
    if choice == 0:
        metadata[key] = rng.choice(junk)
    elif choice == 1:
        del metadata[key]
    elif choice == 2:  # a JSON field with one of its items replaced
        try:
            data = json.loads(metadata[key])
        except ValueError:
            data = None
        if isinstance(data, dict) and data:
            data[rng.choice(sorted(data))] = json.loads(rng.choice(junk[1:11]))
        elif isinstance(data, list) and data:
            data[rng.randrange(len(data))] = json.loads(rng.choice(junk[1:11]))
        metadata[key] = json.dumps(data)
    elif choice == 3:
        name = rng.choice(sorted(tensors))
        t = tensors[name].clone().float()
        if t.numel():
            t.view(-1)[rng.randrange(t.numel())] = rng.choice([float("nan"), float("inf"), 0.0, 1e30, -3.0])
        tensors[name] = t
    elif choice == 4:
        name = rng.choice(sorted(tensors))
        t = tensors[name]
        tensors[name] = rng.choice([t[:1], t[:0], t.reshape(-1), torch.cat([t, t]), t.double(), t.to(torch.int8)])
    else:
        tensors[rng.choice(["values", "scales", "layer_mask", "extra"])] = torch.rand(rng.choice([1, 4, 7]))
    return metadata, tensors


@pytest.mark.slow
def test_fuzzed_direction_files_load_and_render_or_are_refused(dcgan, directions, tmp_path):
    import random
    import time

    from steering.errors import SteeringError
    from steering.io import load_safetensors

    rng = random.Random(1234)
    base = dataclasses.replace(directions, scales=torch.ones(4), layer_mask=None)
    tensors, metadata = base.to_tensors_and_metadata()
    path = tmp_path / "fuzz.safetensors"
    latents = dcgan.sample(1, seed=0)
    outcomes = {"loaded": 0, "refused": 0}
    deadline = time.monotonic() + 60
    for case in range(3000):
        if time.monotonic() > deadline:
            break
        m, t = metadata, tensors
        for _ in range(rng.randrange(1, 4)):
            m, t = mutations(rng, m, t)
        try:
            save_file({k: v.contiguous() for k, v in t.items()}, str(path), metadata=m)
        except Exception:  # safetensors itself refuses to write it: nothing to load
            continue
        if case % 7 == 0:  # byte-level damage to the header too
            data = bytearray(path.read_bytes())
            data[rng.randrange(8, min(len(data), 400))] = rng.randrange(256)
            path.write_bytes(bytes(data))
        try:
            loaded = Directions.load(path, dcgan)
            strengths = {i: float(s) for i, s in enumerate(torch.linspace(*loaded.strength_range, len(loaded)))}
            image = edit.synthesize(dcgan, edit.apply(dcgan, latents, loaded, strengths))
            assert torch.isfinite(image).all()
            outcomes["loaded"] += 1
        except SteeringError:
            outcomes["refused"] += 1
        except Exception as exc:  # pragma: no cover - the failure this test exists to find
            _, meta_now = load_safetensors(path) if path.exists() else (None, m)
            pytest.fail(f"case {case}: {type(exc).__name__}: {exc}\nmetadata: {str(meta_now)[:2000]}")
    assert outcomes["loaded"] > 50 and outcomes["refused"] > 500, outcomes
