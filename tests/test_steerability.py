"""GAN steerability without optimization: grid operators, the closed-form solutions against generic least squares,
a toy generator whose first layer can represent every shifted map (so the solutions are exact), and the two real
embedded models, where shifts and zooms are measured on rendered images over 32 seeds (the figures are printed and
reported in the README)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open

from steering import edit
from steering.controls import AffineControl, FieldControl, LinearControl, load_control
from steering.errors import DirectionsFileError, InvalidValueError
from steering.methods import METHODS
from steering.methods.principal import FIRST, principal, scales
from steering.methods.spatial import TRANSFORMS, on_channels, transform
from steering.methods.steerability import FirstLayer, first_layer, solve, steerability
from steering.methods.transfer import transfer
from steering.models.dcgan import DCGAN

SEEDS = 32


# ----- grid operators -----------------------------------------------------------------------------------------------
def test_grid_operators_compose_as_the_geometry_says():
    eye = torch.eye(16, dtype=torch.float64)
    op = {name: transform(name, 4, 4).target for name in TRANSFORMS}
    assert torch.equal(op["rotate+"] @ op["rotate-"], eye)
    assert torch.equal(torch.linalg.matrix_power(op["rotate+"], 4), eye)
    assert torch.equal(op["flip-x"] @ op["flip-x"], eye) and torch.equal(op["flip-y"] @ op["flip-y"], eye)
    grid = torch.arange(16.0, dtype=torch.float64).reshape(4, 4)
    shifted = (op["shift-x+"] @ grid.flatten()).reshape(4, 4)
    assert torch.equal(shifted[:, :3], grid[:, 1:]) and not shifted[:, 3].any()  # content moves left, column 3 free
    assert torch.equal(transform("shift-x+", 4, 4).constrained, torch.tensor([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14]))
    up = (op["shift-y+"] @ grid.flatten()).reshape(4, 4)
    assert torch.equal(up[:3], grid[1:]) and not up[3].any()
    zoomed = (op["zoom-in"] @ grid.flatten()).reshape(4, 4)  # P = U: the centre 2×2 upsampled to the whole grid
    centre = grid[1:3, 1:3]
    assert torch.equal(zoomed, centre.repeat_interleave(2, 0).repeat_interleave(2, 1))
    composed = transform("shift-x+∘shift-y+", 4, 4)
    assert torch.equal(composed.target, op["shift-x+"] @ op["shift-y+"]) and transform("shift-x+*shift-y+", 4, 4).name
    assert len(composed.constrained) == 9
    with pytest.raises(InvalidValueError, match="zoom-out does not compose"):
        transform("zoom-out∘shift-x+", 4, 4)
    with pytest.raises(InvalidValueError, match="multiples of 4"):
        transform("zoom-in", 6, 6)
    with pytest.raises(InvalidValueError, match="unknown transformation"):
        transform("warp", 4, 4)
    # operators act channel by channel on channel-major rows
    rows = torch.randn(3 * 16, 5, dtype=torch.float64)
    expected = torch.cat([op["shift-y-"] @ rows[c * 16 : (c + 1) * 16] for c in range(3)])
    assert torch.allclose(on_channels(op["shift-y-"], rows, 3), expected)


def random_layer(channels=3, side=4, d=6, classes=1, seed=0) -> FirstLayer:
    g = torch.Generator().manual_seed(seed)
    n = channels * side * side
    weight = torch.randn(n, d, generator=g, dtype=torch.float64)
    return FirstLayer(weight, torch.randn(classes, n, generator=g, dtype=torch.float64), channels, side, side)


def dense(operator: torch.Tensor, channels: int) -> torch.Tensor:
    return torch.kron(torch.eye(channels, dtype=torch.float64), operator)


# ----- the closed form against generic least squares -------------------------------------------------------------
def test_identity_transformation_gives_no_move():
    layer = random_layer()
    eye = torch.eye(16, dtype=torch.float64)
    from steering.methods.spatial import Transform

    solution = solve(layer, Transform("identity", 4, 4, eye, eye))
    assert solution.linear.abs().max() < 1e-10 and torch.allclose(solution.matrix, torch.eye(6, dtype=torch.float64))


@pytest.mark.parametrize("name", ["shift-x+", "shift-y-", "zoom-in", "zoom-out", "rotate+", "flip-x∘shift-y+"])
def test_linear_direction_and_each_nonlinear_step_solve_their_least_squares(name, monkeypatch):
    import steering.methods.steerability as module

    monkeypatch.setattr(module, "CHUNK_VALUES", 16 * 6)  # one channel per group: the accumulation is exercised
    layer = random_layer(classes=2)
    step = transform(name, 4, 4)
    P, D = dense(step.target, 3), dense(step.constraint, 3)
    A, b = layer.weight, layer.biases
    solution = solve(layer, step)
    for k in range(2):  # the linear direction (DA)⁺(P − D)b per class bias: a generic solver agrees
        q = torch.linalg.lstsq(D @ A, ((P - D) @ b[k])[:, None]).solution[:, 0]
        assert torch.allclose(solution.linear[k], q, atol=1e-9)
    z = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for row in z:  # one nonlinear step: argmin ‖D(A z' + b) − P(A z + b)‖
        exact = torch.linalg.lstsq(D @ A, (P @ (A @ row + b[0]) - D @ b[0])[:, None]).solution[:, 0]
        assert torch.allclose(solution.matrix @ row + solution.offsets[0], exact, atol=1e-9)


def test_forbidden_subspace_and_damping_change_the_step_as_stated():
    layer = random_layer(d=8)
    step = transform("zoom-in", 4, 4)
    free = solve(layer, step)
    basis = torch.linalg.qr(torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))[0]
    held = solve(layer, step, forbidden=basis)
    z = torch.randn(4, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    moved = z @ held.matrix.T + held.offsets[0] - z
    assert (moved @ basis).abs().max() < 1e-9  # the move stays off the forbidden subspace
    damped = solve(layer, step, damping=0.5)
    steps = [(z @ s.matrix.T + s.offsets[0] - z).norm(dim=1) for s in (free, damped)]
    assert bool((steps[1] < steps[0]).all())  # shorter steps …
    ends = [torch.linalg.solve(torch.eye(8, dtype=torch.float64) - s.matrix, s.offsets[0]) for s in (free, damped)]
    if float(torch.linalg.eigvals(free.matrix).abs().max()) < 1:
        assert torch.allclose(ends[0], ends[1], atol=1e-6)  # … towards the same end-point


# ----- a toy generator whose first layer represents every shifted map --------------------------------------------
@pytest.fixture(scope="module")
def toy() -> DCGAN:
    """A DCGAN (4 channels of 4×4, z ∈ ℝ⁶⁴) whose folded first layer is an orthogonal A with zero bias: every map,
    shifted or zoomed, is exactly some A z."""
    model = DCGAN(nz=64, ngf=2, num_blocks=1)
    q, _ = torch.linalg.qr(torch.randn(64, 64, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        model.main[0].weight.copy_(q.T.reshape(64, 4, 4, 4))  # y[c, r, k] = Σ_i z_i W[i, c, r, k]: A = Q
        bn = model.main[1]
        bn.running_mean.zero_(), bn.running_var.fill_(1 - bn.eps), bn.weight.fill_(1), bn.bias.zero_()
    return model.eval()


@pytest.fixture(scope="module")
def toy_cols() -> DCGAN:
    """A DCGAN whose first layer's range is the maps supported on columns 0–2 (z ∈ ℝ⁴⁸, one cell per coordinate):
    shifting content left keeps a map in the range, and four columns empty after three steps."""
    model = DCGAN(nz=48, ngf=2, num_blocks=1)
    with torch.no_grad():
        weight = torch.zeros(48, 4, 4, 4)
        cells = [(c, r, k) for c in range(4) for r in range(4) for k in range(3)]
        for i, (c, r, k) in enumerate(cells):
            weight[i, c, r, k] = 1.0
        model.main[0].weight.copy_(weight)
        bn = model.main[1]
        bn.running_mean.zero_(), bn.running_var.fill_(1 - bn.eps), bn.weight.fill_(1), bn.bias.zero_()
    return model.eval()


def fc(model, latents) -> torch.Tensor:
    return model.features(latents, ["fc"])["fc"].double().reshape(len(latents), 4, 16)


def test_toy_generator_recovers_shifts_and_zooms_exactly_and_ends_where_built(toy):
    layer = first_layer(toy)
    assert torch.allclose(layer.weight.T @ layer.weight, torch.eye(64, dtype=torch.float64), atol=1e-5)
    control = steerability(toy, ["shift-x+", "zoom-in", "zoom-out"], keep_norm=False)
    assert isinstance(control, AffineControl)
    latents = toy.sample(6, seed=0)
    before = fc(toy, latents)
    for index, name in enumerate(["shift-x+", "zoom-in"]):
        step = transform(name, 4, 4)
        after = fc(toy, edit.apply(toy, latents, control, [1.0 if i == index else 0.0 for i in range(3)]))
        rows = step.constrained
        assert torch.allclose(after[:, :, rows], (before @ step.target.T)[:, :, rows], atol=1e-5), name
    # zoom-out: zooming into the new map gives back the old one as closely as it can (each centre cell takes the mean
    # of the quadrant it is zoomed into)
    zoom_out = fc(toy, edit.apply(toy, latents, control, [0.0, 0.0, 1.0]))
    upsample = transform("zoom-in", 4, 4).target
    centre = torch.tensor([5, 6, 9, 10])
    expected = before @ torch.linalg.pinv(upsample).T
    assert torch.allclose(zoom_out[:, :, centre], expected[:, :, centre], atol=1e-5)
    # the toy's first layer has more room than the map (d = C·H·W): what no equation constrains stays as it was
    # (each step is the least change of z), so the shift repeats the free column: spectral radius 1, no end-point
    assert control.spectral_radius(0) == pytest.approx(1.0, abs=1e-4) and control.end_point(0) is None


def test_a_shift_that_empties_the_map_ends_where_the_construction_puts_it(toy_cols, dcgan):
    control = steerability(toy_cols, ["shift-x+"], keep_norm=False)
    latents = toy_cols.sample(6, seed=0)
    before = fc(toy_cols, latents).reshape(6, 4, 4, 4)
    for steps in (1, 2):
        after = fc(toy_cols, edit.apply(toy_cols, latents, control, [float(steps)])).reshape(6, 4, 4, 4)
        assert torch.allclose(after[..., : 3 - steps], before[..., steps:3], atol=1e-5)  # content moved left
        assert float(after[..., 3 - steps :].abs().max()) < 1e-5  # and nothing came in from the right
    # three steps push the three columns out: M³ = 0, the end-point is step 3 and z* = 0
    assert control.end_point(0) == 3 and control.spectral_radius(0) < 1e-3
    assert float(edit.apply(toy_cols, latents, control, [3.0]).codes.abs().max()) < 1e-5
    assert control.fixed_point(0).abs().max() < 1e-6
    # a real first layer with a bias: the fixed point of the plain map solves z* = M z* + q
    zoom = steerability(dcgan, ["zoom-in"], keep_norm=False)
    end = zoom.fixed_point(0).double()
    m, q = zoom.matrices[0].double(), zoom.offsets[0].double()
    assert zoom.spectral_radius(0) < 1 and torch.allclose(end @ m.T + q, end, atol=1e-4)
    walked = edit.apply(dcgan, dcgan.sample(2, seed=1), zoom, [zoom.end_point(0)]).codes.double()
    assert float((walked - end).norm(dim=1).max()) < 1e-3 * max(1.0, float(end.norm()))  # the walk ends there


def test_forbidding_other_transformations_holds_their_moves_out_of_every_step(toy, dcgan):
    for model, name in ((toy, "zoom-in"), (dcgan, "zoom-in"), (toy, "shift-x+")):
        control = steerability(model, [name], others="forbid", keep_norm=False)
        assert isinstance(control, FieldControl) and control.field == "steerability"
        blocked = control.params["forbidden"]
        assert "zoom-in" not in blocked if name == "zoom-in" else "shift-x-" not in blocked
        z = model.sample(8, seed=1)
        moved = edit.apply(model, z, control, [1.0])
        step = (moved.codes - z.codes).double()
        layer = first_layer(model)
        for other in blocked:  # δ ⊥ t_j(z) = M_j z + q_j − z for every forbidden transformation j
            s = solve(layer, transform(other, layer.height, layer.width))
            t = z.codes.double() @ s.matrix.T + s.offsets[0] - z.codes.double()
            cosine = (step * t).sum(1) / (step.norm(dim=1) * t.norm(dim=1)).clamp_min(1e-12)
            assert float(cosine.abs().max()) < 1e-3, (name, other)
        assert float(step.norm(dim=1).min()) > 1e-3  # and it still moves
    with pytest.raises(InvalidValueError, match="kind of motion of every chosen"):
        steerability(toy, ["zoom-in"], others="forbid", forbid=["zoom-out"])


# ----- the real models --------------------------------------------------------------------------------------------
def test_faces_have_no_linear_shift_and_say_so(dcgan):
    with pytest.raises(InvalidValueError, match=r"zero.*walk='nonlinear'"):
        steerability(dcgan, ["shift-x+"], walk="linear")


def test_eyes_have_class_dependent_linear_directions(eyes):
    """Without a chosen class the linear walk gives each class its own direction: a latent of class c moves exactly
    as with the control solved for c alone (the classes' directions differ: their average fits none)."""
    control = steerability(eyes, ["shift-x+", "zoom-in"], walk="linear")
    assert isinstance(control, FieldControl) and control.field == "constant" and len(control) == 2
    assert bool((control.values > 1e-3).all())  # the class bias has spatial structure the transformations move
    directions = control.tensors["directions"]  # [k, C, d], unit rows
    assert directions.shape == (2, eyes.num_classes, 100)
    assert float((directions[1] @ directions[1].T).min()) < 0.9
    for c in (0, 4):
        own = steerability(eyes, ["shift-x+", "zoom-in"], walk="linear", class_index=c)
        assert isinstance(own, LinearControl)
        latents = eyes.sample(3, seed=2, class_index=c)
        for strengths in ([1.5, 0.0], [0.0, -2.0], [0.7, 0.4]):
            torch.testing.assert_close(
                edit.apply(eyes, latents, control, strengths).codes,
                edit.apply(eyes, latents, own, strengths).codes,
                atol=1e-5,
                rtol=0,
            )
    assert control.range_of(1)[1] == pytest.approx(3 * max(control.params["scales"][1]), rel=1e-5)


def test_forbid_walks_the_inverse_backwards_and_a_compositions_own_kinds_stay_free(dcgan, eyes):
    """With other transformations forbidden, a negative strength takes the inverse's steps (zoom-in at −1 is
    zoom-out at +1); a composition forbids none of its own kinds (shift∘zoom keeps its zoom and its shift) and has no
    negative side when a zoom is in it; a given list forbids in each transformation what is not its own kind."""
    z = eyes.sample(4, seed=1)
    zoom = steerability(eyes, ["zoom-in", "shift-x+"], others="forbid")
    out = steerability(eyes, ["zoom-out", "shift-x-"], others="forbid")
    for i in (0, 1):
        torch.testing.assert_close(
            edit.apply(eyes, z, zoom, [-1.0 if j == i else 0.0 for j in (0, 1)]).codes,
            edit.apply(eyes, z, out, [1.0 if j == i else 0.0 for j in (0, 1)]).codes,
            atol=1e-4,
            rtol=0,
        )
        assert zoom.range_of(i)[0] < 0
    composed = steerability(eyes, ["shift-x+∘zoom-in"], others="forbid")
    assert not {"zoom-in", "zoom-out", "shift-x-", "shift-y+"} & set(composed.params["forbidden"])
    assert composed.range_of(0)[0] == 0.0
    base = gray(eyes, z)
    moved = gray(eyes, edit.apply(eyes, z, composed, [1.0]))
    assert zoom_scale(base, moved).mean() > 1.02  # its own zoom comes along
    mixed = steerability(dcgan, ["zoom-in", "shift-x+"], others="forbid", forbid=["shift-x+"])
    mask = mixed.tensors["forbid_mask"][:2]
    assert mixed.params["forbidden"] == ["shift-x+"] and mask.tolist() == [[1.0], [0.0]]
    with pytest.raises(InvalidValueError, match="unknown transformation"):
        steerability(dcgan, ["zoom-in"], others="forbid", forbid=["shift-z+"])


def test_damping_belongs_to_the_nonlinear_walk(eyes):
    with pytest.raises(InvalidValueError, match="linear walk has none"):
        steerability(eyes, ["zoom-in"], walk="linear", damping=1.0)


def test_style_based_models_are_refused_with_what_applies_instead():
    from steering.models.stylegan2 import StyleGAN2

    model = StyleGAN2(size=16, style_dim=32, n_mlp=2, channel_multiplier=1).eval()
    with pytest.raises(InvalidValueError, match=r"style-based.*SeFa"):
        steerability(model, ["zoom-in"])
    with pytest.raises(InvalidValueError, match="SeFa with a layer range"):
        principal(model)


def displacement(a: np.ndarray, b: np.ndarray, axis: int, reach: int = 12) -> np.ndarray:
    """Per image, the shift (px) of ``b`` against ``a`` along ``axis`` that best matches them (cross-correlation of
    the mean-free gray images over the interior); negative: content moved left / up."""
    a = a - a.mean(axis=(1, 2), keepdims=True)
    b = b - b.mean(axis=(1, 2), keepdims=True)
    inner = (slice(reach, -reach), slice(reach, -reach))
    found = []
    for x, y in zip(a, b, strict=True):
        scores = [(x[inner] * np.roll(y, -d, axis=axis)[inner]).sum() for d in range(-reach, reach + 1)]
        found.append(int(np.argmax(scores)) - reach)
    return np.array(found)


def zoom_scale(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per image, the scale factor (0.8–1.6) by which zooming ``a`` about its centre best matches ``b``."""
    candidates = np.linspace(0.8, 1.6, 33)
    x = torch.tensor(a, dtype=torch.float32)[:, None]
    y = torch.tensor(b, dtype=torch.float32)[:, None]
    side = x.shape[-1]
    inner = slice(side // 8, -side // 8)
    errors = []
    for s in candidates:
        theta = torch.tensor([[1 / s, 0, 0], [0, 1 / s, 0]], dtype=torch.float32).expand(len(x), 2, 3)
        zoomed = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
        errors.append(((zoomed - y)[..., inner, inner] ** 2).mean(dim=(1, 2, 3)))
    return candidates[torch.stack(errors).argmin(dim=0).numpy()]


def gray(model, latents) -> np.ndarray:
    return edit.synthesize(model, latents).mean(1).numpy()


@pytest.mark.parametrize("model_name", ["dcgan", "eyes"])
def test_shifts_move_content_in_the_requested_sign_and_zoom_grows_then_levels(model_name, request):
    model = request.getfixturevalue(model_name)
    latents = model.sample(SEEDS, seed=0)
    base = gray(model, latents)
    names = ["shift-x+", "shift-x-", "shift-y+", "shift-y-", "zoom-in"]
    control = steerability(model, names)
    assert control.keep_norm and all(control.range_of(i)[1] >= 1 for i in range(len(names)))
    rows = []
    for index, (name, axis, sign) in enumerate(
        [("shift-x+", 1, -1), ("shift-x-", 1, 1), ("shift-y+", 0, -1), ("shift-y-", 0, 1)]
    ):
        moved = gray(model, edit.apply(model, latents, control, [1.0 if i == index else 0.0 for i in range(5)]))
        d = displacement(base, moved, axis)
        rows.append((name, d.mean(), (np.sign(d) == sign).mean()))
        assert d.mean() * sign > 0, f"{name} moved content {d.mean():+.2f} px on average, the wrong way"
    end = control.end_point(4)
    assert end is not None
    steps = list(range(0, int(end) + 3))
    zoom = [
        float(zoom_scale(base, gray(model, edit.apply(model, latents, control, [0, 0, 0, 0, float(n)]))).mean())
        for n in steps
    ]
    print(f"\n{model_name}: mean content displacement after one step (px) and share of seeds in the requested sign")
    for name, mean, share in rows:
        print(f"  {name:9s} {mean:+6.2f} px   {share:4.0%}")
    print(f"  zoom-in scale by step 0…{steps[-1]}: {' '.join(f'{s:.3f}' for s in zoom)}; end-point {end:g}")
    assert zoom[0] == pytest.approx(1.0, abs=0.02) and zoom[1] > 1.05  # zoom-in enlarges …
    assert zoom[2] >= zoom[1] - 0.01  # … grows over the first steps …
    settled = zoom[int(end)]  # … and has levelled off by the end-point: no step after it changes the scale
    assert settled > 1.05 and max(abs(z - settled) for z in zoom[int(end) :]) < 0.03


def test_zoom_with_translation_forbidden_and_allowed_side_by_side(dcgan, eyes):
    print("\nzoom-in, one step: mean |content displacement| (px), translation allowed vs forbidden")
    for name, model in (("faces", dcgan), ("eyes", eyes)):
        latents = model.sample(SEEDS, seed=0)
        base = gray(model, latents)
        shown = []
        for others in ("allow", "forbid"):
            moved = gray(model, edit.apply(model, latents, steerability(model, ["zoom-in"], others=others), [1.0]))
            shown.append(np.abs(displacement(base, moved, 1)) + np.abs(displacement(base, moved, 0)))
            assert zoom_scale(base, moved).mean() > 1.02, (name, others)  # it still zooms
        print(f"  {name:5s} allowed {shown[0].mean():.2f} px   forbidden {shown[1].mean():.2f} px")
        assert shown[1].mean() < shown[0].mean()


def test_transfer_across_eye_classes_keeps_the_target_class(eyes):
    source_class, target_class = 1, 7  # blue → red
    path = transfer(eyes, source_seed=3, target_seed=4, source_class=source_class, target_class=target_class)
    start, end = path.points[0, :1], path.points[0, -1:]  # [paths, points, d]: one path, target → transferred
    assert torch.equal(path.point_classes[0, -1], torch.eye(8)[target_class])
    basis = principal(eyes, 5).vectors
    source = eyes.sample(1, seed=3, class_index=source_class)
    target = eyes.sample(1, seed=4, class_index=target_class)
    assert torch.equal(start, target.codes)
    assert torch.allclose(end @ basis.T, source.codes @ basis.T, atol=1e-5)  # the source's coordinates
    rest = torch.eye(eyes.z_dim) - basis.T @ basis
    assert torch.allclose(end @ rest, target.codes @ rest, atol=1e-5)  # the rest is the target's

    # the colour is the class's: over 64 transfers between colour classes, the transferred eye's iris colour (the
    # centre's mean) is nearer the target class's typical colour than the source class's
    def centre_colour(latents, r=24):
        images = edit.synthesize(eyes, latents)
        c = images.shape[-1] // 2
        return images[..., c - r : c + r, c - r : c + r].mean(dim=(2, 3))

    pairs = [(1, 7), (7, 1), (2, 5), (0, 3)]
    typical = {k: centre_colour(eyes.sample(32, seed=100, class_index=k)).mean(0) for p in pairs for k in p}
    print("\ntransfer across eye classes: share of 16 seeds whose colour stays the target class's")
    kept = []
    for source_class, target_class in pairs:
        wins = 0
        for seed in range(16):
            moved = transfer(
                eyes, source_seed=seed, target_seed=seed + 50, source_class=source_class, target_class=target_class
            )
            result = eyes.sample(1, seed=seed + 50, class_index=target_class).replace(codes=moved.points[0, -1:])
            colour = centre_colour(result)[0]
            wins += int((colour - typical[target_class]).norm() < (colour - typical[source_class]).norm())
        kept.append(wins / 16)
        names = eyes.class_names
        print(f"  {names[source_class]:>9s} → {names[target_class]:<9s} {wins / 16:4.0%}")
    assert np.mean(kept) >= 0.65


def test_principal_directions_and_the_small_circle(dcgan, eyes):
    for model in (dcgan, eyes):
        assert list(scales(model)) == [FIRST]
        control = principal(model, 5)
        gram = control.vectors.double() @ control.vectors.double().T
        assert torch.allclose(gram, torch.eye(5, dtype=torch.float64), atol=1e-5)
        assert bool((control.values[:-1] >= control.values[1:]).all()) and control.reference is not None
        assert "small-circle" in control.walks
        z = model.sample(4, seed=2)
        moved = edit.apply(model, z, control, [0.7, 0, 0, 0, 0], walk="small-circle")
        v, ref = control.vectors[0], control.reference
        plane = torch.stack([v, ref])
        rest = [codes - (codes @ plane.T) @ plane for codes in (moved.codes, z.codes)]
        assert torch.allclose(*rest, atol=1e-4)  # the rest of z stays
        assert torch.allclose((moved.codes @ plane.T).norm(dim=1), (z.codes @ plane.T).norm(dim=1), atol=1e-4)
        a, b = z.codes @ ref, z.codes @ v  # it turns towards v by the arc length: Δθ = 0.7 / r
        turned = torch.atan2(moved.codes @ v, (moved.codes @ ref) * torch.sign(a)) - torch.atan2(b, a.abs())
        wrapped = torch.remainder(turned - 0.7 / torch.sqrt(a * a + b * b) + torch.pi, 2 * torch.pi) - torch.pi
        assert float(wrapped.abs().max()) < 1e-3
    assert METHODS["principal"].parameter("scale").options(dcgan) == [FIRST]


def test_biggan_deep_offers_each_blocks_gains_as_a_scale():
    from oracles import our_biggan_deep, random_biggan_deep

    model = our_biggan_deep(random_biggan_deep())  # the reference layout with random weights
    found = scales(model)
    assert next(iter(found)) == FIRST and len(found) > 1 and all("px" in name for name in list(found)[1:])
    block = list(found)[1]
    control = principal(model, 3, block)
    assert len(control) == 3 and control.params["scale"] == block
    image = edit.synthesize(model, model.sample(1, seed=0, class_index=1))
    moved = edit.synthesize(model, edit.apply(model, model.sample(1, seed=0, class_index=1), control, [3.0, 0, 0]))
    assert float((moved - image).abs().mean()) > 1e-4


def test_controls_round_trip_through_files(dcgan, eyes, tmp_path):
    for model, options in (
        (dcgan, {"others": "allow"}),
        (dcgan, {"others": "forbid"}),
        (eyes, {"walk": "linear"}),
        (eyes, {"others": "allow", "keep_norm": False}),
    ):
        control = steerability(model, ["shift-x+", "zoom-in"], **options)
        path = control.save(tmp_path / "c.safetensors")
        loaded = load_control(path, model)
        z = model.sample(3, seed=5)
        a = edit.apply(model, z, control, [1.5, -0.5]).codes
        assert torch.allclose(edit.apply(model, z, loaded, [1.5, -0.5]).codes, a, atol=1e-5), options
    from safetensors.torch import load_file, save_file

    control = steerability(dcgan, ["shift-x+", "zoom-in"], others="forbid")
    path = control.save(tmp_path / "forbid.safetensors")
    with safe_open(path, "pt") as f:
        metadata = f.metadata()
    for name, damage in (("field.backward", torch.tensor([7.0, -1.0])), ("field.forbid_mask", torch.ones(3, 1))):
        tensors = load_file(path)
        tensors[name] = damage
        save_file(tensors, tmp_path / "damaged.safetensors", metadata)
        with pytest.raises(DirectionsFileError):
            load_control(tmp_path / "damaged.safetensors", dcgan)


def test_the_method_runs_from_the_registry_with_choices_typed_as_text(eyes):
    method = METHODS["steerability"]
    control = method.run(eyes, {"transformations": "shift-x+, zoom-in*shift-y+", "walk": "nonlinear"})
    assert len(control) == 2 and "then" in control.names[1]
    assert control.range_of(1)[0] == 0  # a composition with a zoom has no inverse: its slider starts at 0
    both = steerability(eyes, ["shift-x+∘shift-y+"])  # undone by shift-y-∘shift-x-
    assert both.range_of(0)[0] < 0 and both.backward_matrices is not None
    for spelled in ("shift-x+ ∘ shift-y+", " shift-x+ * shift-y+"):  # spaces and `*`: the same control
        same = method.run(eyes, {"transformations": [spelled], "walk": "nonlinear"})
        assert same.content_hash() == both.content_hash() and same.names == both.names
    with pytest.raises(InvalidValueError, match="not among"):
        method.run(eyes, {"transformations": "shift-x+, warp"})
    with pytest.raises(InvalidValueError):
        method.run(eyes, {"class_index": 8})


def test_cli_steer_writes_controls_and_a_trajectory_strip(tmp_path, capsys, eyes):
    from PIL import Image

    from steering.cli import main
    from steering.recipe import read_recipe

    controls, strip = tmp_path / "eyes.safetensors", tmp_path / "strip.png"
    argv = ["steer", "dcgan-eyes", "--transformations", "shift-x+,zoom-in", "--seed", "3", "--class-index", "2"]
    assert main([*argv, "-o", str(controls), "--strip", str(strip), "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "natural end-point" in out and "zoom in" in out
    loaded = load_control(controls, eyes)
    assert isinstance(loaded, AffineControl) and len(loaded) == 2
    made = read_recipe(strip)
    assert made.start["seed"] == 3 and made.start["class_index"] == 2 and made.layout["type"] == "sweep"
    assert Image.open(strip).size[0] > 5 * eyes.resolution
    # the faces' linear shift is zero: a clear error, exit code 2, nothing written
    code = main(
        [
            "steer",
            "dcgan-faces",
            "--transformations",
            "shift-x+",
            "--walk",
            "linear",
            "-o",
            str(tmp_path / "x.safetensors"),
        ]
    )
    assert code == 2 and "walk='nonlinear'" in capsys.readouterr().err and not (tmp_path / "x.safetensors").exists()
    assert main(["steer", "dcgan-faces", "--transformations", "warp", "-o", str(tmp_path / "y.safetensors")]) == 2


def test_cli_transfer_writes_source_target_and_result(tmp_path, capsys, eyes):
    from PIL import Image

    from steering.cli import main

    strip, slider = tmp_path / "transfer.png", tmp_path / "transfer.safetensors"
    argv = ["transfer", "dcgan-eyes", "--source-seed", "3", "--source-class", "1", "--target-seed", "4"]
    assert main([*argv, "--target-class", "7", "--directions", "0,1,2", "-o", str(strip), "--save", str(slider)]) == 0
    image = Image.open(strip)
    assert image.size[0] >= 3 * eyes.resolution
    path = load_control(slider, eyes)
    expected = transfer(eyes, source_seed=3, target_seed=4, source_class=1, target_class=7, directions=[0, 1, 2])
    assert torch.allclose(path.points, expected.points)
