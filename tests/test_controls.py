"""Controls of every kind on the real embedded DCGAN: what a unit of strength does, the composition rule, files.

The affine map, field and path controls here are built from the model's own latent space with seeded random
tensors (a contraction for the affine map), so what each kind promises is checked on real images.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from steering import edit
from steering.controls import (
    AffineControl,
    Control,
    FieldControl,
    LinearControl,
    PathControl,
    load_control,
)
from steering.controls.affine import END_TOLERANCE
from steering.directions import Directions
from steering.errors import DirectionsFileError, InvalidValueError
from steering.methods import METHODS, sefa

FIXTURES = Path(__file__).parent / "fixtures" / "v1"


@pytest.fixture(scope="module")
def rng():
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="module")
def linear(dcgan):
    return sefa(dcgan, 4, use_cache=False)


@pytest.fixture(scope="module")
def affine(dcgan, rng):
    d = dcgan.z_dim
    raw = torch.randn(2, d, d, generator=rng)
    radius = torch.linalg.eigvals(raw).abs().amax(dim=1)[:, None, None]
    matrices = raw / radius * torch.tensor([0.8, 0.6])[:, None, None]  # spectral radii 0.8 and 0.6
    offsets = torch.randn(2, d, generator=rng)
    backward = torch.linalg.inv(matrices)  # undoes a step: z ← M⁻¹ (z − q)
    return AffineControl(
        matrices=matrices,
        offsets=offsets,
        backward_matrices=backward,
        backward_offsets=-(backward @ offsets[:, :, None])[:, :, 0],
        space="z",
        method="test-affine",
        model=dcgan.identity,
        names=["contract a", "contract b"],
    )


@pytest.fixture(scope="module")
def constant_field(dcgan, linear):
    return FieldControl(
        field="constant",
        tensors={"directions": linear.vectors},
        count=len(linear),
        latent_dim=dcgan.z_dim,
        step_size=0.25,
        space="z",
        method="test-field",
        model=dcgan.identity,
    )


@pytest.fixture(scope="module")
def path(dcgan):
    return PathControl.between(dcgan.sample(1, seed=3), dcgan.sample(1, seed=9), dcgan.identity)


def image_of(generator, latents) -> torch.Tensor:
    return edit.synthesize(generator, latents)


# ----- version-1 files from the previous release ----------------------------------------------------------------
@pytest.mark.parametrize(
    "name, strengths",
    [("dcgan-faces-sefa-5", [2.0, -1.5, 0.0, 0.5, 0.0]), ("dcgan-faces-ganspace-block2-3", [1.0, 0.0, -2.0])],
)
def test_version_1_files_load_and_edit_to_the_same_images(dcgan, name, strengths):
    path = FIXTURES / f"{name}.safetensors"
    old = Directions.load(path, dcgan)
    assert isinstance(old, LinearControl) and isinstance(load_control(path, dcgan), LinearControl)
    latents = dcgan.sample(2, seed=7, truncation=0.8)
    table = torch.tensor([strengths, [s / 2 for s in strengths]])
    moved = edit.apply(dcgan, latents, old, table)
    assert torch.equal(moved.codes, latents.codes + table @ old.vectors)  # the release's formula, bit for bit
    kind = name.split("-")[2]
    for i, image in enumerate(edit.render(dcgan, moved)):
        expected = np.asarray(Image.open(FIXTURES / f"{kind}-seed7-psi0.8-{i}.png"), dtype=np.int16)
        diff = np.abs(np.asarray(image, dtype=np.int16) - expected)
        assert diff.max() <= 1 and (diff > 0).mean() < 0.001  # the same image (rounding on other CPUs aside)


def test_linear_files_are_still_written_as_version_1(linear, tmp_path):
    _, metadata = linear.to_tensors_and_metadata()
    assert metadata["format_version"] == "1" and metadata["kind"] == "linear"


# ----- a slider at 0 ------------------------------------------------------------------------------------------------
def test_zero_strength_leaves_the_image_bit_identical_for_every_kind(dcgan, linear, affine, constant_field, path):
    latents = dcgan.sample(1, seed=5)
    base = image_of(dcgan, latents)
    stack = [linear, affine, constant_field, path]
    for control in stack:
        moved = edit.apply(dcgan, latents, control, [0.0] * len(control))
        assert torch.equal(image_of(dcgan, moved), base), control.kind
    zeros = [[0.0] * len(c) for c in stack]
    assert torch.equal(image_of(dcgan, edit.apply(dcgan, latents, stack, zeros)), base)
    one_on = [[1.0, 0, 0, 0], [0.0, 0.0], [0.0] * 4, [0.0]]  # the others at 0 change nothing in the edit
    assert torch.equal(
        edit.apply(dcgan, latents, stack, one_on).codes, edit.apply(dcgan, latents, linear, one_on[0]).codes
    )


# ----- linear ------------------------------------------------------------------------------------------------------
def test_linear_strengths_add_in_one_matrix_product(dcgan, linear):
    latents = dcgan.sample(3, seed=1)
    s = torch.tensor([1.5, -2.0, 0.0, 0.25])
    assert torch.equal(edit.apply(dcgan, latents, linear, s).codes, latents.codes + s @ linear.vectors)
    halves = [linear.select([0, 1]), linear.select([2, 3])]
    split = edit.apply(dcgan, latents, halves, [s[:2], s[2:]]).codes
    torch.testing.assert_close(split, latents.codes + s @ linear.vectors)  # two files: strengths still add


def test_the_great_circle_walk_keeps_the_norm_of_z(dcgan, linear):
    latents = dcgan.sample(4, seed=2)
    for s in ([3.0, 0, 0, 0], [40.0, -25.0, 5.0, 0], [-500.0, 0, 0, 1.0]):
        moved = edit.apply(dcgan, latents, linear, s, walk="great-circle")
        torch.testing.assert_close(moved.codes.norm(dim=1), latents.codes.norm(dim=1), atol=1e-5, rtol=0)
        assert not torch.equal(moved.codes, latents.codes)
    small = edit.apply(dcgan, latents, linear, [1e-3, 0, 0, 0], walk="great-circle").codes
    straight = edit.apply(dcgan, latents, linear, [1e-3, 0, 0, 0]).codes
    cos = torch.nn.functional.cosine_similarity(small - latents.codes, straight - latents.codes)
    assert bool((cos > 0.8).all())  # a small move goes the same way as the straight one (its tangential part)
    w_control = dataclasses.replace(linear, space="w")
    assert w_control.walks == ("linear",) and "great-circle" in linear.walks


# ----- affine maps -------------------------------------------------------------------------------------------------
def test_whole_steps_are_exact_and_the_range_ends_at_the_fixed_point(dcgan, affine):
    latents = dcgan.sample(1, seed=4)
    m, q = affine.matrices[0], affine.offsets[0]
    by_hand = latents.codes
    for _ in range(3):
        by_hand = by_hand @ m.T + q
    assert torch.equal(edit.apply(dcgan, latents, affine, [3.0, 0.0]).codes, by_hand)
    end = affine.range_of(0)[1]
    assert (
        end == affine.end_point(0)
        and float(torch.linalg.matrix_norm(torch.linalg.matrix_power(m.double(), int(end)))) <= END_TOLERANCE
    )
    star = affine.fixed_point(0)
    torch.testing.assert_close(star @ m.T + q, star, atol=1e-5, rtol=0)  # z* = M z* + q
    at_end = edit.apply(dcgan, latents, affine, [end, 0.0]).codes
    assert float((at_end - star).abs().max()) < 1e-5
    assert affine.spectral_radius(0) == pytest.approx(0.8, abs=1e-5) and affine.range_of(1)[1] < end
    half = edit.apply(dcgan, latents, affine, [2.5, 0.0]).codes
    two, three = (edit.apply(dcgan, latents, affine, [n, 0.0]).codes for n in (2.0, 3.0))
    torch.testing.assert_close(half, (two + three) / 2)  # fractions interpolate between whole steps
    back = edit.apply(dcgan, edit.apply(dcgan, latents, affine, [1.0, 0.0]), affine, [-1.0, 0.0]).codes
    torch.testing.assert_close(back, latents.codes, atol=1e-4, rtol=0)  # the backward map undoes a step


def test_affine_trajectories_advance_from_the_previous_frame(dcgan, affine):
    latents = dcgan.sample(1, seed=4)
    frames = edit.trajectory(dcgan, latents, affine, 0, [0.0, 1.0, 2.0, 3.0, 5.0])
    m, q = affine.matrices[0], affine.offsets[0]
    for a, b in ((1, 2), (2, 3)):
        assert torch.equal(frames.codes[b], frames.codes[a] @ m.T + q)  # each frame is one step after the last
    assert torch.equal(frames.codes[0], latents.codes[0])
    torch.testing.assert_close(frames.codes[3:4], edit.apply(dcgan, latents, affine, [3.0, 0.0]).codes)


def test_class_conditional_offsets_follow_the_class(dcgan, affine):
    offsets = torch.stack([affine.offsets, -affine.offsets], dim=1)  # [k, C = 2 classes, d]
    conditional = dataclasses.replace(affine, offsets=offsets, backward_matrices=None, backward_offsets=None)
    latents = dcgan.sample(1, seed=4)
    one = latents.replace(classes=torch.tensor([[1.0, 0.0]]))
    other = latents.replace(classes=torch.tensor([[0.0, 1.0]]))
    a, b = (edit.apply(dcgan, lat, conditional, [1.0, 0.0]).codes for lat in (one, other))
    m = affine.matrices[0]
    assert torch.equal(a, one.codes @ m.T + affine.offsets[0]) and torch.equal(b, one.codes @ m.T - affine.offsets[0])
    assert conditional.range_of(0)[0] == 0.0  # no backward map: strengths start at 0
    with pytest.raises(InvalidValueError, match="class"):
        edit.apply(dcgan, latents, conditional, [1.0, 0.0])


# ----- fields ------------------------------------------------------------------------------------------------------
def test_a_constant_field_reproduces_the_linear_edit_and_reports_its_cost(dcgan, linear, constant_field):
    latents = dcgan.sample(2, seed=6)
    s = torch.tensor([[1.3, -0.7, 0.0, 2.0], [0.1, 0.0, -3.0, 0.0]])
    reports: list[tuple[str, int, float]] = []
    along_field = edit.apply(dcgan, latents, constant_field, s, report=lambda *r: reports.append(r))
    torch.testing.assert_close(along_field.codes, edit.apply(dcgan, latents, linear, s).codes, atol=1e-5, rtol=0)
    steps = {name: n for name, n, _ in reports}
    assert steps == {"test-field 0": 6, "test-field 1": 3, "test-field 2": 12, "test-field 3": 8}  # ⌈|s| / 0.25⌉
    assert all(seconds > 0 for *_, seconds in reports)
    frames = edit.trajectory(dcgan, latents.select(0), constant_field, 0, [0.0, 0.5, 1.0, -1.0])
    expected = latents.codes[0] + torch.tensor([0.0, 0.5, 1.0, -1.0])[:, None] * linear.vectors[0]
    torch.testing.assert_close(frames.codes, expected, atol=1e-5, rtol=0)


def test_each_frame_of_a_field_walk_is_the_slider_at_its_strength(dcgan):
    """A walk (sweep row, animation) continues the slider's own step grid from frame to frame: strengths that are
    not multiples of the step (0.3 then 2.1, step 0.5) give the codes the slider gives."""
    ict = METHODS["localbasis"].function(dcgan, 1, "iterative", feature="block1", seed=3, step_size=0.5)
    start = dcgan.sample(1, seed=3)
    strengths = [-1.6, -0.7, 0.0, 0.3, 1.0, 2.1]
    walked = edit.trajectory(dcgan, start, ict, 0, strengths)
    for i, s in enumerate(strengths):
        # (the slider's strengths are float32, the walk's float64: a last step may differ by an ulp)
        torch.testing.assert_close(walked.codes[i : i + 1], edit.apply(dcgan, start, ict, [s]).codes, atol=1e-6, rtol=0)


def test_a_field_file_names_its_function_and_never_carries_code(constant_field, tmp_path):
    tensors, metadata = constant_field.to_tensors_and_metadata()
    assert metadata["field"] == "constant" and set(tensors) == {"field.directions"}
    save_file(tensors, str(tmp_path / "f.safetensors"), metadata={**metadata, "field": "os.system"})
    with pytest.raises(DirectionsFileError, match="upgrade"):
        load_control(tmp_path / "f.safetensors")


# ----- paths -------------------------------------------------------------------------------------------------------
def test_a_path_hits_its_end_latents_exactly(dcgan, path):
    start, end = dcgan.sample(1, seed=3), dcgan.sample(1, seed=9)
    assert torch.equal(edit.apply(dcgan, start, path, [1.0]).codes, end.codes)
    assert torch.equal(edit.apply(dcgan, start, path, [0.0]).codes, start.codes)
    assert torch.equal(edit.apply(dcgan, start, path, [7.0]).codes, end.codes)  # beyond the end stays there
    middle = edit.apply(dcgan, start, path, [0.5]).codes
    norm = (start.codes.norm() + end.codes.norm()) / 2
    torch.testing.assert_close(middle.norm(), norm, atol=1e-4, rtol=0)  # slerp: the length interpolates too
    linear_path = dataclasses.replace(path, interpolation="linear")
    torch.testing.assert_close(edit.apply(dcgan, start, linear_path, [0.5]).codes, (start.codes + end.codes) / 2)
    through = METHODS["interpolation"].run(dcgan, {"seeds": "3,5,9"})
    assert torch.equal(edit.apply(dcgan, start, through, [0.5]).codes, dcgan.sample(1, seed=5).codes)


def test_a_path_through_many_seeds_has_a_short_name_and_a_bound(dcgan):
    seeds = list(range(1000, 30000, 1000))
    through = METHODS["interpolation"].run(dcgan, {"seeds": ",".join(map(str, seeds))})
    assert through.names == ["seeds 1000 → 2000 → … → 29000 (29 seeds)"]
    end = edit.apply(dcgan, dcgan.sample(1, seed=0), through, [1.0])
    assert torch.equal(end.codes, dcgan.sample(1, seed=29000).codes)
    with pytest.raises(InvalidValueError, match="at most 256, got 300"):
        METHODS["interpolation"].run(dcgan, {"seeds": list(range(300))})
    with pytest.raises(InvalidValueError, match="at most 256, got 300"):
        METHODS["interpolation"].function(dcgan, seeds=range(300))


# ----- composition -------------------------------------------------------------------------------------------------
def test_mixed_compositions_follow_the_documented_order(dcgan, linear, affine, path):
    start = dcgan.sample(1, seed=3)
    s_path, s_affine, s_linear = [0.5], [2.0, 0.0], [1.0, 0.0, -0.5, 0.0]
    in_any_order = [
        edit.apply(dcgan, start, [linear, affine, path], [s_linear, s_affine, s_path]),
        edit.apply(dcgan, start, [path, linear, affine], [s_path, s_linear, s_affine]),
    ]
    expected = edit.apply(dcgan, start, path, s_path)  # 1. the path sets the point
    expected = edit.apply(dcgan, expected, affine, s_affine)  # 2. the affine map steps from it
    expected = edit.apply(dcgan, expected, linear, s_linear)  # 3. linear strengths are added last
    for result in in_any_order:
        assert torch.equal(result.codes, expected.codes)


# ----- files ---------------------------------------------------------------------------------------------------------
def test_every_kind_round_trips_through_its_file(dcgan, linear, affine, constant_field, path, tmp_path):
    latents = dcgan.sample(1, seed=8)
    for control in (linear, affine, constant_field, path):
        saved = control.save(tmp_path / f"{control.kind}.safetensors")
        loaded = Control.load(saved, dcgan)
        assert type(loaded) is type(control) and loaded.content_hash() == control.content_hash()
        strengths = [0.5] * len(control)
        assert torch.equal(
            edit.apply(dcgan, latents, loaded, strengths).codes, edit.apply(dcgan, latents, control, strengths).codes
        )
        assert loaded.slider(0) == control.slider(0)


def test_unknown_kinds_and_newer_formats_say_upgrade(linear, tmp_path):
    tensors, metadata = linear.to_tensors_and_metadata()
    save_file(
        tensors, str(tmp_path / "a.safetensors"), metadata={**metadata, "kind": "hologram", "format_version": "2"}
    )
    with pytest.raises(DirectionsFileError, match=r"hologram.*upgrade"):
        load_control(tmp_path / "a.safetensors")
    save_file(tensors, str(tmp_path / "b.safetensors"), metadata={**metadata, "format_version": "3"})
    with pytest.raises(DirectionsFileError, match="upgrade"):
        load_control(tmp_path / "b.safetensors")
    without_kind = {k: v for k, v in metadata.items() if k != "kind"}  # a release-1 file: linear
    save_file(tensors, str(tmp_path / "c.safetensors"), metadata=without_kind)
    assert isinstance(load_control(tmp_path / "c.safetensors"), LinearControl)


def test_directions_load_refuses_other_kinds_with_a_pointer(affine, tmp_path):
    saved = affine.save(tmp_path / "affine.safetensors")
    with pytest.raises(DirectionsFileError, match=r"Control\.load"):
        Directions.load(saved)


@pytest.mark.hub
def test_every_kind_comes_back_through_the_hub_pull_path(hub, dcgan, affine, constant_field, path, tmp_path):
    from steering import share

    for control in (affine, constant_field, path):
        folder = share.build_upload_folder(control, tmp_path / control.kind, repo_id="x/y")
        assert f"{control.kind}-controls" in (folder / "README.md").read_text()
        repo = hub.new_repo_id(control.kind)
        hub.commit(repo, {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()})
        pulled = share.pull_directions(repo, dcgan)
        assert type(pulled) is type(control) and pulled.content_hash() == control.content_hash()


def test_field_controls_that_step_differently_hash_differently(dcgan):
    """A field's step reads its params (here the Local Basis traversal's speed): two controls with the same tensors
    but other params are other edits, so a recipe must not take one for the other; a rename keeps the hash."""
    options = {"num_directions": 2, "traversal": "iterative", "feature": "block1", "seed": 3}
    by_output = METHODS["localbasis"].function(dcgan, speed="output", **options)
    by_latent = METHODS["localbasis"].function(dcgan, speed="latent", **options)
    start = dcgan.sample(1, seed=3)
    moved = [edit.apply(dcgan, start, control, {0: 2.0}).codes for control in (by_output, by_latent)]
    assert not torch.allclose(moved[0], moved[1], atol=1e-3)
    assert by_output.content_hash() != by_latent.content_hash()
    assert by_output.renamed(0, "along").content_hash() == by_output.content_hash()


def test_every_slider_can_come_back_to_exactly_neutral(dcgan, eyes):
    """A browser's slider stops only at minimum + n·step: the neutral strength must be one of those stops, or a moved
    slider never returns to 0 (on the default geometric set the faces' zoom ran −10 … 9 with a step of 0.095)."""
    from decimal import Decimal

    from steering.methods.steerability import steerability
    from steering.values import slider_grid

    ranges = [(-10.0, 9.0), (-7.0, 10.0), (-5.0, 7.0), (0.0, 1.0), (2.0, 5.0), (-0.013, 0.02), (-3.9, 3.9)]
    for model in (dcgan, eyes):
        control = steerability(model, ["shift-x+", "zoom-in", "rotate+"])
        ranges += [control.range_of(i) for i in range(len(control))]
    for low, high in ranges:
        minimum, step = slider_grid((low, high))
        neutral = min(max(0.0, low), high)
        stops = (Decimal(repr(neutral)) - Decimal(repr(minimum))) / Decimal(repr(step))
        assert stops == stops.to_integral_value(), (low, high, minimum, step)
        assert low - step < minimum <= low and 0 < step < high - low
    spec = control.slider(1)
    assert (spec.minimum, spec.step) == slider_grid(control.range_of(1)) and spec.neutral == 0
