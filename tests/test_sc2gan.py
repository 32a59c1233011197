"""SC²GAN on the embedded faces: correlations between attributes (fer's emotions and the built-in statistics), the
image-space changes that make rare combinations, a correction where the correlation is planted (so the leak it must
remove is known) and one on the most correlated pair the model's own samples show. The tables are printed (and
reported in the README)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from steering import edit
from steering.attributes.correlations import correlations, correlations_of
from steering.attributes.heads import Training, standardisation, train_heads
from steering.attributes.image_edits import CHANGES, can_change, change, move_to
from steering.attributes.samples import confident, score_samples
from steering.controls import FieldControl, LinearControl, load_control
from steering.errors import DirectionsMismatchError, InvalidValueError
from steering.methods.boundaries import fit_normal
from steering.methods.gradctrl import build_controls, gradctrl
from steering.methods.sc2gan import correct, leak, leak_per_unit, parent_slider
from steering.methods.sefa import sefa
from steering.scorers import CallableScorer, scorer

SEEDS = 64
RARE = 32  # rare combinations per side of A


def test_image_changes_move_each_statistic_to_its_target_inside_its_region(dcgan):
    images = edit.synthesize(dcgan, dcgan.sample(8, seed=0)).clamp(-1, 1)
    for name in ("brightness", "contrast", "saturation", "warmth", "left-right", "top-bottom", "centre-brightness"):
        chosen = scorer(name)
        assert can_change(chosen) and chosen.statistic in CHANGES
        base = chosen(images)[:, 0]
        target = base + 0.5 * base.std() * torch.tensor([1.0, -1.0] * 4)
        moved, reached = move_to(chosen, images, target)
        assert torch.allclose(reached, target, atol=1e-4), name
        assert torch.allclose(chosen(moved)[:, 0], reached)
        # the change grows with its amount, and zero is the image itself
        assert torch.allclose(change(chosen, images, torch.zeros(8)), images, atol=1e-6)
        more = chosen(change(chosen, images, torch.full((8,), 0.1)))[:, 0]
        assert bool((more > base).all()), name
    centre = scorer("centre-brightness")
    moved, _ = move_to(centre, images, centre(images)[:, 0] + 0.2)
    assert torch.equal(moved[..., :16, :], images[..., :16, :])  # outside the centre nothing changes
    with pytest.raises(InvalidValueError, match="no image-space change"):
        move_to(scorer("fer-happy"), images, torch.zeros(8))


def test_correlations_are_symmetric_and_leave_out_an_attributes_own_columns(dcgan):
    sources = ["brightness", "contrast", "centre-colour"]
    found = correlations(dcgan, sources, 256, seed=3)
    m = found.matrix
    assert torch.allclose(m, m.T, atol=1e-6) and torch.allclose(m.diagonal(), torch.ones(len(m)), atol=1e-5)
    assert found.names[:2] == ["brightness", "contrast"] and found.names[2].startswith("centre-colour: ")
    for pair in found.pairs():
        assert found.attributes[pair.first] != found.attributes[pair.second]
        assert float(pair.joint.sum()) == pytest.approx(1.0, abs=1e-6)
        assert pair.correlation == pytest.approx(float(m[pair.first, pair.second]))
    ordered = [abs(p.correlation) for p in found.pairs()]
    assert ordered == sorted(ordered, reverse=True)
    assert found.index("contrast") == 1 and "brightness" in found.format()
    flat = CallableScorer(lambda x: torch.zeros(len(x), 1), "flat")
    with pytest.raises(InvalidValueError, match="do not vary"):
        correlations(dcgan, ["brightness", flat], 64)


def test_bad_pairs_are_refused_clearly(dcgan):
    with pytest.raises(InvalidValueError, match="two different attributes"):
        correct(dcgan, "warmth", "warmth", num_samples=64)
    with pytest.raises(InvalidValueError, match="several classes"):
        correct(dcgan, "warmth", "fer-emotion", num_samples=64)


@pytest.fixture(scope="module")
def planted_samples(dcgan):
    """Brightness (A) and left-right lighting (B) are unrelated in the faces' samples (r ≈ 0); keeping nine in ten of
    the samples where they disagree out plants a correlation of about 0.47: ``(natural A, natural B, planted A,
    planted B)``."""
    a, b = score_samples(dcgan, [scorer("brightness"), scorer("left-right")], 4000, seed=0)
    agree = (a.scores[:, 0] > a.scores[:, 0].median()) == (b.scores[:, 0] > b.scores[:, 0].median())
    keep = agree | (torch.rand(len(agree), generator=torch.Generator().manual_seed(0)) < 0.1)

    def kept(data):
        return dataclasses.replace(data, codes=data.codes[keep], scores=data.scores[keep])

    return a, b, kept(a), kept(b)


@pytest.fixture(scope="module")
def planted(dcgan, planted_samples):
    """The boundary correction on the planted samples; the boundary fitted on the full samples is the truth it should
    come back to."""
    a, b, planted_a, planted_b = planted_samples
    labelled = confident(a, 0.1, seed=0)
    truth, _ = fit_normal(labelled, 0, *standardisation([labelled]))
    result = correct(dcgan, "brightness", "left-right", samples=(planted_a, planted_b), fraction=0.1, rare=RARE)
    return a, b, result, truth


@pytest.mark.slow
def test_a_planted_correlation_is_found_and_its_leak_removed(planted, dcgan):
    natural_a, natural_b, result, truth = planted
    natural = correlations_of([natural_a, natural_b]).pair(0, 1)
    assert abs(natural.correlation) < 0.1 and result.pair.correlation > 0.4
    assert result.pair.rare_cells() and len(result.rare) >= RARE
    control = result.control
    both = dataclasses.replace(
        control, vectors=torch.cat([control.vectors, truth[None]]), names=[*control.names, "unplanted"], values=None
    )
    measured = leak(dcgan, both, "brightness", "left-right", seeds=SEEDS)
    before, after, unplanted = leak_per_unit(measured)
    print(f"\nplanted correlation r = {result.pair.correlation:+.3f} (natural {natural.correlation:+.3f})")
    print(measured.format())
    print(f"left-right change per unit brightness: base {before:.4f}, SC²GAN {after:.4f}, unplanted {unplanted:.4f}")
    assert after < before
    assert abs(after - unplanted) < abs(before - unplanted)  # back towards the boundary of the unbiased samples
    assert float(control.vectors[1] @ truth) > float(control.vectors[0] @ truth)


def test_a_corrected_slider_can_be_corrected_again(planted, dcgan, planted_samples, reprojections):
    """The corrected slider as the parent of a second correction of the same pair: its own name stays, the new one
    is told apart (names are unique in a file), and the rare set made for the first one is used again."""
    _, _, result, _ = planted
    _, _, planted_a, planted_b = planted_samples
    again = correct(
        dcgan,
        "brightness",
        "left-right",
        parent=result.control,
        parent_index=1,
        samples=(planted_a, planted_b),
        fraction=0.1,
        rare=RARE,
    )
    first = result.control.names[1]
    assert again.control.names == [first, f"{first} (2)"] and reprojections == []
    assert torch.equal(again.control.vectors[0], result.control.vectors[1].float())
    assert again.control.params["parent_sha256"] == result.control.content_hash()


def test_the_corrected_control_records_its_provenance_and_round_trips(planted, dcgan, tmp_path):
    _, _, result, _ = planted
    control = result.control
    assert isinstance(control, LinearControl) and len(control) == 2 and control.method == "sc2gan"
    params = control.params
    base = LinearControl(
        vectors=control.vectors[:1],
        space=control.space,
        method="boundaries",
        model=dcgan.identity,
        names=control.names[:1],
        params={"attribute": "brightness", "sampling": params["sampling"], "fraction": params["fraction"]},
        strength_range=control.strength_range,
    )
    assert params["pair"] == ["brightness", "left-right"] and params["parent_sha256"] == base.content_hash()
    assert params["counts"]["re-projected and kept"] == len(result.rare) <= params["counts"]["synthesised"]
    assert params["substitute"] == "image-space change of left-right"
    loaded = load_control(control.save(tmp_path / "corrected.safetensors"), dcgan)
    assert torch.equal(loaded.vectors, control.vectors) and loaded.params["pair"] == params["pair"]


@pytest.mark.slow
def test_the_most_correlated_pair_of_the_faces_is_corrected(dcgan):
    sources = ["fer-emotion", "brightness", "contrast", "saturation", "warmth", "left-right", "top-bottom"]
    found = correlations(dcgan, sources, 1000, seed=0)
    print("\n" + found.format(8))
    binary = [p for p in found.pairs() if found.names[p.first] in sources and found.names[p.second] in sources]
    pair = binary[0]
    first, second = found.names[pair.first], found.names[pair.second]
    print(f"most correlated pair of binary attributes: {first} ~ {second} (r = {pair.correlation:+.3f})")
    assert abs(pair.correlation) > 0.3 and pair.rare_cells()
    result = correct(dcgan, first, second, num_samples=1000, fraction=0.1, rare=RARE)
    measured = leak(dcgan, result, first, second, seeds=SEEDS)
    before, after = leak_per_unit(measured)
    print(measured.format())
    print(f"{second} change per unit {first} change: base {before:.4f}, SC²GAN {after:.4f}")
    assert after < before


@pytest.fixture()
def reprojections(monkeypatch) -> list[int]:
    """The number of images each re-projection of the test was given, in order."""
    from steering.methods import sc2gan

    calls: list[int] = []
    original = sc2gan.reproject

    def counted(generator, images, *args, **kwargs):
        calls.append(len(images))
        return original(generator, images, *args, **kwargs)

    monkeypatch.setattr(sc2gan, "reproject", counted)
    return calls


@pytest.mark.slow
def test_a_gradctrl_control_trained_on_the_planted_samples_is_corrected(
    dcgan, planted_samples, planted, reprojections, tmp_path
):
    """The user's GradCtrl control (heads trained on the planted samples, so A's head has learnt B too) is the
    parent: A's head is re-trained, the other head and the exclusions are kept, and its edit drags B less. The rare
    combinations are the ones re-projected for the boundary's correction on the same samples: not re-projected."""
    _, _, planted_a, planted_b = planted_samples
    heads = train_heads([confident(planted_a, 0.1, seed=0), confident(planted_b, 0.1, seed=0)], Training(epochs=20))
    parent = build_controls(dcgan, heads, exclude="none")
    result = correct(
        dcgan, "brightness", "left-right", parent=parent, samples=(planted_a, planted_b), fraction=0.1, rare=RARE
    )
    assert reprojections == [] and result.rare is planted[2].rare
    corrected = result.control
    assert isinstance(corrected, FieldControl) and corrected.method == "sc2gan" and len(corrected) == len(parent)
    assert not torch.equal(corrected.tensors["head0.w1"], parent.tensors["head0.w1"])
    assert all(torch.equal(corrected.tensors[k], v) for k, v in parent.tensors.items() if not k.startswith("head0."))
    assert corrected.params["sc2gan"]["parent_sha256"] == parent.content_hash()
    measured = leak(dcgan, result, "brightness", "left-right", seeds=SEEDS // 4)
    before, after = leak_per_unit(measured)
    print(f"\n{measured.format()}\nleft-right per unit brightness: GradCtrl {before:.4f}, SC²GAN {after:.4f}")
    assert after < before
    loaded = load_control(corrected.save(tmp_path / "corrected.safetensors"), dcgan)
    assert loaded.names == corrected.names and torch.equal(loaded.tensors["head0.w1"], corrected.tensors["head0.w1"])


def test_a_linear_parent_is_the_base_slider_and_its_hash_the_provenance(dcgan, eyes, planted_samples, reprojections):
    _, _, planted_a, planted_b = planted_samples
    two = sefa(dcgan, 2, use_cache=False).renamed(1, "brightness-ish")
    result = correct(
        dcgan,
        "brightness",
        "left-right",
        parent=two,
        samples=(planted_a, planted_b),
        fraction=0.1,
        rare=8,
        inversion_steps=20,
    )
    assert len(reprojections) == 1  # other settings than any correction before: a re-projection of its own
    assert torch.equal(result.control.vectors[0], two.vectors[1].float())  # picked by its name
    assert result.control.names[0] == "brightness-ish"
    assert result.control.params["parent_sha256"] == two.content_hash()
    with pytest.raises(InvalidValueError, match="say which of the 2 directions"):
        parent_slider(dcgan, sefa(dcgan, 2, use_cache=False), "brightness")
    assert parent_slider(dcgan, sefa(dcgan, 2, use_cache=False), "brightness", 1) == 1
    with pytest.raises(InvalidValueError, match="no attribute 'warmth'"):
        heads = train_heads([confident(planted_a, 0.1, seed=0)], Training(epochs=1))
        parent_slider(dcgan, build_controls(dcgan, heads, exclude="none"), "warmth")
    with pytest.raises(DirectionsMismatchError):
        parent_slider(dcgan, sefa(eyes, 1, use_cache=False), "brightness")


def test_a_style_based_model_moves_b_only_in_its_w_plus_layers(monkeypatch):
    """On a StyleGAN2 (random weights, 32 px) the rare combinations come from B's direction written into the chosen
    W+ layers only; the correction lives in w."""
    from steering.methods import sc2gan
    from steering.models.stylegan2 import StyleGAN2

    torch.manual_seed(11)
    model = StyleGAN2(size=32, style_dim=32, n_mlp=2, channels=[32, 32, 24, 16]).eval()
    written: list[torch.Tensor] = []
    synthesize = model.synthesize

    def recording(latents, *args, **kwargs):
        if latents.space == "w+":
            written.append(latents.codes)
        return synthesize(latents, *args, **kwargs)

    monkeypatch.setattr(model, "synthesize", recording)
    result = sc2gan.correct(
        model, "brightness", "contrast", num_samples=600, fraction=0.1, rare=16, inversion_steps=20, b_layers="4:8"
    )
    assert result.rare.substitute == "B's direction in its W+ layers" and len(result.rare) >= 1
    assert result.control.space == "w" and result.control.vectors.shape == (2, 32)
    moved = written[0]
    assert torch.equal(moved[:, :4], moved[:, :1].expand(-1, 4, -1))  # layers 0-3 keep the sample's own w
    assert not torch.allclose(moved[:, 4], moved[:, 0])
    assert all(torch.isfinite(torch.tensor(leak_per_unit(leak(model, result, "brightness", "contrast", seeds=8)))))


def test_cli_correlations_and_correct(dcgan, tmp_path, capsys):
    from PIL import Image

    from steering.cli import main

    chart = tmp_path / "heat.png"
    argv = ["-q", "correlations", "dcgan-faces", "--attribute", "brightness", "--attribute", "contrast"]
    assert main([*argv, "--attribute", "warmth", "--samples", "200", "--chart", str(chart), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["names"] == ["brightness", "contrast", "warmth"] and len(printed["pairs"]) == 3
    assert Image.open(chart).size[0] > 3 * 36
    small = ["--samples", "400", "--fraction", "0.1", "--rare", "8", "--inversion-steps", "10", "--seeds", "4"]
    out, strip = tmp_path / "corrected.safetensors", tmp_path / "strip.png"
    argv = ["-q", "correct", "dcgan-faces", "--attribute", "brightness", "--correlated", "contrast", *small]
    assert main([*argv, "-o", str(out), "--strip", str(strip)]) == 0
    printed = capsys.readouterr()
    text = printed.out
    assert "per unit Δ brightness" in text and "two sliders" in text
    base, fixed = (float(line.rsplit("=", 1)[1]) for line in text.splitlines() if "per unit Δ" in line)
    assert ("warning: the correction did not lower" in printed.err) == (fixed >= base * 0.98)  # caveats() shown
    corrected = load_control(out, dcgan)
    assert corrected.method == "sc2gan" and corrected.params["pair"] == ["brightness", "contrast"]
    assert Image.open(strip).size[0] > 3 * 64
    parent = sefa(dcgan, 3, use_cache=False)
    parent_file = parent.save(tmp_path / "sefa.safetensors")
    assert main([*argv, "--parent", str(parent_file), "--parent-index", "2", "-o", str(out)]) == 0
    assert load_control(out, dcgan).params["parent_sha256"] == parent.content_hash()
    assert main([*argv, "--parent", str(parent_file), "-o", str(out)]) == 2  # which of the three is A's?
    assert "say which of the 3 directions" in capsys.readouterr().err

    # A parent that lowers A: no leak per unit of A to show (a dash, not a crash); the correction follows its sign.
    lowers = -corrected.vectors[:1]
    lowering = LinearControl(vectors=lowers, space="z", method="test", model=dcgan.identity, names=["l"])
    assert main([*argv, "--parent", str(lowering.save(tmp_path / "lowering.safetensors")), "-o", str(out)]) == 0
    assert capsys.readouterr().out.count("= — (it does not raise A)") == 2
    # A GradCtrl parent: its head for A re-trained (the same rare set, from memory).
    heads = gradctrl(dcgan, ["brightness", "contrast"], num_samples=400, epochs=3, use_cache=False)
    options = ["--parent", str(heads.save(tmp_path / "heads.safetensors")), "--parent-index", "0"]
    assert main([*argv, *options, "-o", str(out)]) == 0
    assert "A's head re-trained" in capsys.readouterr().out and load_control(out, dcgan).method == "sc2gan"


def test_the_binary_scorer_list_matches_the_scorers():
    from steering.scorers import BINARY, SCORERS, available

    for name in available():
        assert scorer(name).binary == (name in BINARY), name
    assert set(BINARY) < set(SCORERS)


def test_an_attribute_without_an_image_change_is_moved_by_a_masked_gradctrl_step(dcgan):
    """fer's happy vs not has no image-space change: the rare combinations come from a GradCtrl step along it with the
    brightness head's channels masked, and are checked by both scorers."""
    result = correct(dcgan, "brightness", "fer-happy", num_samples=400, fraction=0.1, rare=8, inversion_steps=5)
    assert result.rare.substitute == "GradCtrl step along fer-happy with A masked"
    assert 1 <= len(result.rare) <= result.rare.made <= 16


def _synthetic_pair(n: int = 2000, d: int = 100, r: float = 0.8):
    """Scores of A and of a B correlated with it by ``r`` on ``n`` random codes, A's confident samples, their cells."""
    from steering.attributes.samples import Attribute, AttributeSamples
    from steering.methods.sc2gan import _cell_counts

    g = torch.Generator().manual_seed(0)
    codes = torch.randn(n, d, generator=g)
    a = codes[:, :1] + 0.1 * torch.randn(n, 1, generator=g)  # A reads the first coordinate
    b = r * a + (1 - r * r) ** 0.5 * torch.randn(n, 1, generator=g)
    a_data = AttributeSamples(Attribute("a", ("a",)), "z", codes, a)
    b_data = AttributeSamples(Attribute("b", ("b",)), "z", codes, b)
    labelled = confident(a_data, 0.2, seed=0)
    return labelled, _cell_counts(labelled, a_data, b_data, r), g


def test_the_refit_weighs_the_rare_cell_as_much_as_the_common_one_among_training_rows():
    """Counted on the rows the boundary is fitted on (validation rows left out), natural rare samples included."""
    from steering.methods.sc2gan import RareSamples, _augmented

    labelled, cells, g = _synthetic_pair()
    training = ~labelled.validation
    for side in (0, 1):
        common, natural = cells[side]
        assert common + natural == int((training & (labelled.labels == side)).sum()) and common > natural
    m = 7
    rare = RareSamples(torch.randn(2 * m, 100, generator=g), None, torch.tensor([0] * m + [1] * m), "test", 2 * m, 0.1)
    augmented = _augmented(labelled, rare, cells)
    added = augmented.labels[len(labelled.labels) :]
    assert not bool(augmented.validation[len(labelled.labels) :].any())  # the re-projections train
    for side in (0, 1):
        common, natural = cells[side]
        assert abs(natural + int((added == side).sum()) - common) <= m / 2  # equal, up to one copy's rounding


def test_a_corrected_slider_moves_the_way_its_parent_does(dcgan):
    """Boundary normals point towards more A, a parent's sign is arbitrary (SeFa): the correction follows the parent."""
    from steering.methods.sc2gan import RareSamples, _augmented, _corrected_boundary

    labelled, cells, g = _synthetic_pair()
    rare = RareSamples(torch.randn(8, 100, generator=g), None, torch.tensor([0] * 4 + [1] * 4), "test", 8, 0.1)
    augmented = _augmented(labelled, rare, cells)
    normal, _ = fit_normal(labelled, 0, *standardisation([labelled]))
    for sign in (1.0, -1.0):
        parent = LinearControl(vectors=sign * normal[None], space="z", method="test", model=dcgan.identity, names=["a"])
        corrected = _corrected_boundary(dcgan, parent, 0, labelled, augmented, "b", {})
        assert float(corrected.vectors[0] @ corrected.vectors[1]) > 0.5
