"""Local Basis: Jacobians, the top-k solver, Grassmannian metrics, iterative traversals (ICT), warpage and trust, on
the embedded DCGANs (faces; eyes at a fixed class) and on a StyleGAN2 mapping network with random weights."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from steering import edit
from steering.analysis import grassmann
from steering.errors import InvalidValueError
from steering.methods import jacobian
from steering.methods.localbasis import local_basis, partial_network, start_latents
from steering.models.base import Latents
from steering.models.stylegan2 import StyleGAN2

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mapping():
    """StyleGAN2 with random weights and the paper's mapping network: 8 layers, 512-d (a small synthesis)."""
    torch.manual_seed(0)
    return StyleGAN2(size=8, style_dim=512, n_mlp=8).eval()


# ----- Jacobians ----------------------------------------------------------------------------------------------------
def _finite_differences(f, x: torch.Tensor, directions: torch.Tensor, eps: float) -> torch.Tensor:
    """Central differences ``(f(x + εv) − f(x − εv)) / 2ε`` for each row ``v`` of ``directions``: [m, r]."""
    with torch.no_grad():
        plus = f(x[None] + eps * directions)
        minus = f(x[None] - eps * directions)
    return ((plus - minus) / (2 * eps)).T


@pytest.mark.parametrize("case", ["faces-block1", "mapping"])
def test_jacobian_matches_finite_differences(case, dcgan, mapping):
    """Forward mode (a tall feature map: 16384 × 100) and reverse mode (the 512 × 512 mapping, a tie goes to reverse
    mode) agree with central differences in float64 along random directions."""
    generator = dcgan if case == "faces-block1" else mapping
    generator = type(generator).from_config(generator.config)
    generator.load_state_dict((dcgan if case == "faces-block1" else mapping).state_dict())
    generator = generator.double().eval()
    start = start_latents(generator, seed=3)
    start = start.replace(codes=start.codes.double())
    f = partial_network(generator, start, "block1" if case == "faces-block1" else "w")
    x = start.codes[0]
    m, d = f(x[None]).shape[1], x.numel()
    assert jacobian.forward_mode(d, m) == (case == "faces-block1")
    jac = jacobian.jacobian(f, x)
    assert jac.shape == (m, d) and jac.dtype == torch.float64
    directions = torch.randn(4, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = _finite_differences(f, x, directions, 1e-6)
    got = jac @ directions.T
    assert float((got - expected).norm() / expected.norm()) < 1e-6
    assert float(expected.norm()) > 1.0  # a real change, not a flat spot


def test_exact_triplets_reconstruct_the_jacobian(dcgan):
    """The tall path (eigenvectors of JᵀJ) gives orthonormal singular vectors with J v = σ u, sorted."""
    start = start_latents(dcgan, seed=0)
    f = partial_network(dcgan, start, "block1")
    found = jacobian.exact(f, start.codes[0], 12)
    jac = jacobian.jacobian(f, start.codes[0])
    assert torch.allclose(found.left.T @ found.left, torch.eye(12), atol=1e-4)
    assert torch.allclose(found.right.T @ found.right, torch.eye(12), atol=1e-5)
    assert torch.allclose(jac @ found.right, found.left * found.values, atol=1e-3 * float(found.values[0]))
    assert bool((found.values[:-1] >= found.values[1:]).all())
    assert torch.allclose(found.values, torch.linalg.svdvals(jac)[:12], rtol=1e-4)


def test_forward_mode_jacobians_from_several_threads_at_once(dcgan):
    """Users of one Space compute local bases at the same time: forward mode (process-wide AD levels in PyTorch)
    must not break a concurrent one; every thread gets the single-threaded Jacobian."""
    import threading

    start = start_latents(dcgan, seed=0)
    f = partial_network(dcgan, start, "block1")
    x = start.codes[0]
    assert jacobian.forward_mode(x.numel(), f(x[None]).shape[1])  # a 100-d z into a feature map: jacfwd
    expected = jacobian.jacobian(f, x)
    failures: list[str] = []

    def user() -> None:
        try:
            for _ in range(3):
                assert torch.allclose(jacobian.jacobian(f, x), expected, atol=1e-5)
        except Exception as error:  # collected and asserted below
            failures.append(repr(error)[:200])

    threads = [threading.Thread(target=user) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


# ----- Grassmannian metrics -----------------------------------------------------------------------------------------
def test_distance_of_a_subspace_to_itself_is_zero():
    """Any two bases of one subspace are at distance 0 (to float64 rounding), in both metrics."""
    gen = torch.Generator().manual_seed(0)
    basis = grassmann.random_subspace(64, 7, gen)
    other = basis @ torch.linalg.qr(torch.randn(7, 7, generator=gen, dtype=torch.float64))[0]  # rotated within
    for b in (basis, other, 3.0 * other):
        assert grassmann.geodesic_distance(basis, b) < 1e-7
        assert grassmann.projection_distance(basis, b) < 1e-7
    assert torch.allclose(grassmann.principal_angles(basis, other), torch.zeros(7, dtype=torch.float64), atol=1e-7)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_orthogonal_subspaces(k):
    """Orthogonal k-dimensional subspaces: geodesic distance √k·π/2, projection distance 1."""
    q = grassmann.random_subspace(50, 2 * k, torch.Generator().manual_seed(k))
    a, b = q[:, :k], q[:, k:]
    assert grassmann.geodesic_distance(a, b) == pytest.approx(math.sqrt(k) * math.pi / 2, abs=1e-9)
    assert grassmann.projection_distance(a, b) == pytest.approx(1.0, abs=1e-9)


def test_small_angles_are_resolved():
    """A rotation by 10⁻⁶ rad is read as such (a cosine alone rounds it away: the sine path is used)."""
    q = grassmann.random_subspace(30, 2, torch.Generator().manual_seed(2))
    e1, e2 = q[:, :1], q[:, 1:]
    angle = 1e-6
    tilted = math.cos(angle) * e1 + math.sin(angle) * e2
    assert grassmann.projection_distance(e1, tilted) == pytest.approx(math.sin(angle), rel=1e-6)
    assert grassmann.geodesic_distance(e1, tilted) == pytest.approx(angle, rel=1e-6)


def test_principal_angles_between_known_planes():
    """Planes at 30° and 60° in two independent coordinate pairs: those angles, geodesic √(θ₁² + θ₂²)."""
    eye = torch.eye(6, dtype=torch.float64)
    a = eye[:, :2]
    t1, t2 = math.pi / 6, math.pi / 3
    b = torch.stack(
        [math.cos(t1) * eye[:, 0] + math.sin(t1) * eye[:, 2], math.cos(t2) * eye[:, 1] + math.sin(t2) * eye[:, 3]], 1
    )
    assert torch.allclose(grassmann.principal_angles(a, b), torch.tensor([t1, t2], dtype=torch.float64), atol=1e-12)
    assert grassmann.geodesic_distance(a, b) == pytest.approx(math.hypot(t1, t2))
    assert grassmann.projection_distance(a, b) == pytest.approx(math.sin(t2))


# ----- the top-k solver against the exact basis ---------------------------------------------------------------------
def _top_k_against_exact(generator, start, feature, **options):
    f = partial_network(generator, start, feature)
    exact = jacobian.exact(f, start.codes[0], 10)
    found = jacobian.top_k(f, start.codes[0], 10, **options)
    assert not found.exact and found.products < min(f(start.codes).shape[1], start.codes.shape[1]) * 2
    return (
        grassmann.projection_distance(found.right, exact.right),
        grassmann.projection_distance(found.left, exact.left),
        float((found.values - exact.values).abs().max() / exact.values[0]),
    )


def test_top_k_matches_exact_on_the_stylegan2_mapping(mapping):
    """Random-weight mapping network (8 layers, 512-d): default solver settings, several latents, ≤ 10⁻³."""
    for seed in (0, 1, 2):
        right, left, values = _top_k_against_exact(mapping, start_latents(mapping, seed), "w")
        assert right < 1e-3 and left < 1e-3 and values < 1e-5


@pytest.mark.parametrize("model", ["dcgan", "eyes"])
def test_top_k_matches_exact_on_the_embedded_models(model, request):
    """Faces and eyes (at a fixed class), default feature: a 90-dimensional Krylov space of the 100-d latent (the
    default settings would take the whole Jacobian here: it costs no more)."""
    generator = request.getfixturevalue(model)
    for seed in (0, 1):
        start = start_latents(generator, seed, class_index=2 if generator.num_classes else None)
        feature = "block1" if generator.num_classes else None  # eyes: the smaller map (faces: the default, block2)
        right, left, values = _top_k_against_exact(generator, start, feature, oversample=5, iterations=5)
        assert right < 1e-3 and left < 1e-3 and values < 1e-4


def test_top_k_settings_that_cover_the_latent_take_the_exact_jacobian(dcgan):
    start = start_latents(dcgan, 0)
    f = partial_network(dcgan, start, "block1")
    assert jacobian.top_k(f, start.codes[0], 10).exact  # 15 × 7 ≥ 100: the whole Jacobian is cheaper


def test_local_basis_signs_and_shapes(dcgan):
    basis = local_basis(dcgan, start_latents(dcgan, 4), k=6, feature="block1")
    assert basis.latent.shape == (100, 6) and basis.output.shape == (256 * 8 * 8, 6) and len(basis) == 6
    biggest = basis.latent.abs().argmax(dim=0)
    assert bool((basis.latent[biggest, torch.arange(6)] > 0).all())  # canonical signs
    jac = jacobian.jacobian(basis.network, basis.point)
    assert torch.allclose(jac @ basis.latent, basis.output * basis.values, atol=1e-3 * float(basis.values[0]))


def test_biggan_deep_local_basis_at_a_fixed_class():
    """BigGAN-deep (the reference package's layout, random weights): the partial network is a block as a function of
    z at the start's class and ψ; the basis depends on the class, and a traversal keeps the class."""
    import copy
    import importlib.util

    if importlib.util.find_spec("pytorch_pretrained_biggan") is None:
        pytest.skip("oracle pytorch-pretrained-biggan not installed (a test dependency: pip install --no-deps)")

    from oracles import TINY, random_biggan_deep

    from steering import edit
    from steering.methods import METHODS
    from steering.models.biggan import BigGANDeep
    from steering.models.checkpoint import Checkpoint

    state = dict(random_biggan_deep().state_dict())
    config, weights = BigGANDeep.match_checkpoint(Checkpoint(state, {"config.json": copy.deepcopy(TINY)}))
    model = BigGANDeep.from_config(config)
    model.load_state_dict(weights)
    model.eval()
    start = start_latents(model, 0, truncation=0.8, class_index=3)
    basis = local_basis(model, start, 5)
    assert basis.network.feature == "block3" and basis.network.truncation == 0.8
    assert int(basis.network.classes.argmax()) == 3 and bool(torch.isfinite(basis.values).all())
    other = local_basis(model, start.replace(classes=torch.nn.functional.one_hot(torch.tensor([5]), 10).float()), 5)
    assert grassmann.projection_distance(basis.latent, other.latent) > 1e-3
    control = METHODS["localbasis"].run(model, {"num_directions": 2, "class_index": 3, "truncation": 0.8})
    frames = edit.trajectory(model, start, control, 1, [-0.5, 0.0, 0.5])
    assert torch.equal(frames.classes, start.classes.expand(3, -1)) and not torch.equal(
        frames.codes[0], frames.codes[1]
    )


# ----- iterative traversals ---------------------------------------------------------------------------------------
def test_ict_starts_along_its_direction_and_never_turns_back(dcgan):
    """At its own start the first step is ``v_i`` (output speed: scaled by σ_ref/σ = 1); along the path (both ways)
    consecutive steps point the same way, and the first step of each side is ±v_i."""
    from steering.controls.field import FieldInputs, field_function
    from steering.methods import METHODS

    control = METHODS["localbasis"].run(dcgan, {"num_directions": 3, "feature": "block1", "seed": 5, "step_size": 0.4})
    assert type(control).__name__ == "FieldControl" and control.field == "local-basis" and len(control) == 3
    start = start_latents(dcgan, 5)
    reference = control.tensors["reference"]
    inputs = FieldInputs(1, control.tensors, control.params, None)
    first = field_function("local-basis")(dcgan, start.codes, inputs)
    assert torch.allclose(first[0], reference[1], atol=1e-4)
    steps = []
    original = control.direction

    def recording(*args, **kwargs):
        found = original(*args, **kwargs)
        steps.append(found[0].clone())
        return found

    control.direction = recording  # type: ignore[method-assign]
    frames = control.walk(dcgan, start, 1, [-1.2, -0.4, 0.0, 0.4, 1.2])
    assert frames.codes.shape == (5, 100) and torch.equal(frames.codes[2], start.codes[0])
    assert len(steps) == 6  # three steps each way, each frame continued from the previous one
    for side in (steps[:3], steps[3:]):
        assert torch.allclose(side[0] / side[0].norm(), reference[1], atol=1e-4)
        cosines = [float(a @ b / (a.norm() * b.norm())) for a, b in itertools.pairwise(side)]
        assert min(cosines) > 0.5, cosines
    moved = (frames.codes[3:] - start.codes).norm(dim=1)
    assert 0.3 < float(moved[0]) < 0.5 and float(moved[1]) > float(moved[0])


def test_output_speed_keeps_the_partial_network_moving_evenly(dcgan):
    """With the paper's scaled steps each step moves f's output by about σ_ref·h; with unit latent steps the output
    speed follows the local stretch instead."""
    from steering.methods import METHODS

    f = partial_network(dcgan, start_latents(dcgan, 2), "block1")
    spreads = {}
    for speed in ("output", "latent"):
        options = {"num_directions": 1, "feature": "block1", "seed": 2, "step_size": 0.25, "speed": speed}
        control = METHODS["localbasis"].run(dcgan, options)
        frames = control.walk(dcgan, start_latents(dcgan, 2), 0, [0.25 * i for i in range(9)])
        with torch.no_grad():
            y = f(frames.codes)
        lengths = (y[1:] - y[:-1]).norm(dim=1) / (0.25 * float(control.values[0]))
        spreads[speed] = float(lengths.std() / lengths.mean())
        if speed == "output":
            assert float((lengths - 1).abs().max()) < 0.2
    assert spreads["output"] < spreads["latent"]


def test_localbasis_controls_round_trip_and_edit(dcgan, tmp_path):
    """Field controls are files like any other: saved, loaded, checked against the model; the same edit after."""
    from steering import edit
    from steering.controls import load_control
    from steering.methods import METHODS

    control = METHODS["localbasis"].run(dcgan, {"num_directions": 2, "feature": "block1", "step_size": 0.5})
    path = control.save(tmp_path / "ict.safetensors")
    again = load_control(path, dcgan)
    start = dcgan.sample(1, seed=9)
    a = edit.apply(dcgan, start, control, {0: 1.0})
    b = edit.apply(dcgan, start, again, {0: 1.0})
    assert torch.allclose(a.codes, b.codes) and not torch.equal(a.codes, start.codes)
    assert torch.equal(edit.apply(dcgan, start, again, {0: 0.0}).codes, start.codes)


def test_linear_local_traversal(dcgan, mapping):
    """Linear option: z + t·v on the DCGAN; on a style-based model w + t·u in the chosen W+ layers."""
    from steering.methods import METHODS

    faces = METHODS["localbasis"].run(dcgan, {"num_directions": 4, "traversal": "linear", "feature": "block1"})
    basis = local_basis(dcgan, start_latents(dcgan, 0), 4, "block1")
    assert faces.kind == "linear" and faces.space == "z"
    assert torch.allclose(faces.vectors, basis.latent.T, atol=1e-5)
    style = METHODS["localbasis"].run(mapping, {"num_directions": 4, "traversal": "linear", "layers": "0:2"})
    basis = local_basis(mapping, start_latents(mapping, 0), 4)
    assert style.space == "w" and style.layers == (0, 1)
    assert torch.allclose(style.vectors, basis.output.T, atol=1e-5)
    with pytest.raises(Exception, match="cannot be limited to some layers"):
        METHODS["localbasis"].run(mapping, {"num_directions": 2, "layers": "0:2"})


def test_ict_on_the_mapping_with_a_layer_range(mapping, monkeypatch):
    """The paper's ICT on StyleGAN2: z moves, w = f(z) goes into the chosen W+ layers, the others keep the start's w;
    every frame's w lies on f(Z) (it is f of the frame's z)."""
    from steering.methods import METHODS, ict
    from steering.methods.ict import traverse

    control = METHODS["localbasis"].run(mapping, {"num_directions": 2, "step_size": 0.2})
    assert control.space == "z"
    start = start_latents(mapping, 0)
    frames = traverse(mapping, start, control, 0, [-0.4, 0.0, 0.4], layers="1:3")
    assert frames.space == "w+" and frames.codes.shape == (3, mapping.num_layers, 512)
    w0 = mapping.to_space(start, "w").codes[0]
    assert torch.allclose(frames.codes[:, 0], w0.expand(3, -1)) and torch.allclose(frames.codes[:, 3], w0.expand(3, -1))
    monkeypatch.setattr(ict, "MAX_BASES", 4)  # every step is a Jacobian: the steps of one request are bounded
    with pytest.raises(InvalidValueError, match="at most 4 steps"):
        control.walk(mapping, start, 0, [0.2 * 5])
    monkeypatch.undo()
    whole = control.walk(mapping, start, 0, [-0.4, 0.0, 0.4])
    assert torch.allclose(frames.codes[:, 1], mapping.to_space(whole, "w").codes, atol=1e-5)
    assert not torch.allclose(frames.codes[0, 1], w0)


def test_ict_reads_the_psi_of_the_latents_it_moves(mapping):
    """The field's partial network is taken at the ψ of the latents being moved, not at the control's own start: on
    StyleGAN2, ``w = w̄ + ψ·(f(z) − w̄)``, so at ψ = 0.5 every σ halves and the paper's scaled step doubles in z,
    and one step moves w by ``σ_ref·h`` whatever the ψ of the edited seed."""
    from steering.methods import METHODS

    h = 0.05
    control = METHODS["localbasis"].run(mapping, {"num_directions": 1, "seed": 3, "step_size": h})
    assert control.params["truncation"] == 1.0 and control.params["speed"] == "output"
    moved_w = {}
    for psi in (1.0, 0.5):
        start = start_latents(mapping, 3, truncation=psi)
        moved = edit.apply(mapping, start, control, {0: h})
        with torch.no_grad():
            shift = mapping.to_space(moved, "w").codes - mapping.to_space(start, "w").codes
        moved_w[psi] = float(shift.norm())
    expected = h * float(control.tensors["scale"][0])
    assert moved_w[1.0] == pytest.approx(expected, rel=0.05)
    assert moved_w[0.5] == pytest.approx(expected, rel=0.05), moved_w


def test_guided_traversal_follows_the_global_direction_first(mapping):
    """The guided field's first step is the local direction whose u is most aligned with the SeFa direction (in w),
    signed along it, times a factor in [a, 2 − a]; the same path is drawn again for the same seed."""
    from steering.controls.field import FieldInputs, field_function
    from steering.methods import METHODS

    control = METHODS["localbasis"].run(mapping, {"num_directions": 2, "traversal": "guided", "randomness": 0.5})
    assert control.field == "local-basis-guided" and control.params["guide_side"] == "output"
    start = start_latents(mapping, 0)
    basis = local_basis(mapping, start, control.params["search"])
    guide = control.tensors["guide"][1]
    scores = basis.output.T @ guide
    j = int(scores.abs().argmax())
    step = field_function("local-basis-guided")(
        mapping, start.codes, FieldInputs(1, control.tensors, control.params, None)
    )
    factor = float(step[0].norm())
    assert 0.5 <= factor <= 1.5
    assert torch.allclose(step[0] / factor, torch.sign(scores[j]) * basis.latent[:, j], atol=1e-4)
    a = control.walk(mapping, start, 1, [0.3, 0.6])
    b = control.walk(mapping, start, 1, [0.3, 0.6])
    assert torch.equal(a.codes, b.codes)
    beside = start_latents(mapping, 5)  # the same latent walks the same way alone or second in a batch
    alone = edit.apply(mapping, start, control, {1: 0.6}).codes
    batched = edit.apply(mapping, Latents.cat([beside, start]), control, {1: 0.6}).codes
    torch.testing.assert_close(batched[1:], alone, atol=1e-6, rtol=0)


# ----- warpage and trust ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["faces", "mapping"])
def test_warpage_ordering(case, dcgan, mapping):
    """At every k: 0 < nearby (ε = 0.1) < random pairs < random subspaces; the global bases are compared on the side
    they live on (z for the faces, w for the mapping network)."""
    from steering.analysis.warpage import BASELINE, NEARBY, RANDOM_PAIRS, warpage

    generator, feature = (dcgan, "block1") if case == "faces" else (mapping, None)
    found = warpage(generator, feature=feature, max_dim=6, pairs=6, epsilon=0.1, seed=0)
    assert found.side == ("latent" if case == "faces" else "output") and found.dims == list(range(1, 7))
    assert set(found.curves) == {RANDOM_PAIRS, NEARBY, "vs sefa", "vs ganspace", BASELINE}
    for i, k in enumerate(found.dims):
        near, far, chance = found.curves[NEARBY][i], found.curves[RANDOM_PAIRS][i], found.curves[BASELINE][i]
        assert 0 < near < far < chance <= math.sqrt(k) * math.pi / 2, (k, near, far, chance)
    projection = warpage(generator, feature=feature, max_dim=3, pairs=2, metric="projection", references=())
    assert all(0 <= v <= 1 for curve in projection.curves.values() for v in curve)


def test_trust_of_global_directions(dcgan, mapping):
    """A local direction itself is trusted fully where it was computed; SeFa's directions score between 0 and 1,
    compared on their own side (z for the faces, w for the mapping network); chance is √(k/n)."""
    from steering.analysis.warpage import trust
    from steering.methods import METHODS

    start = start_latents(dcgan, 7)
    local = METHODS["localbasis"].run(
        dcgan, {"num_directions": 3, "traversal": "linear", "seed": 7, "feature": "block1"}
    )
    found = trust(dcgan, start, local, k=5, feature="block1")
    assert found.scores == pytest.approx([1.0, 1.0, 1.0], abs=1e-4) and found.best == [0, 1, 2]
    assert found.chance == pytest.approx(math.sqrt(5 / 100))
    sefa = trust(dcgan, start, METHODS["sefa"].run(dcgan, {"num_directions": 4}), k=5, feature="block1")
    assert all(0 < s <= 1 for s in sefa.scores)
    w_sefa = trust(mapping, start_latents(mapping, 1), METHODS["sefa"].run(mapping, {"num_directions": 4}), k=10)
    assert all(0 < s <= 1 for s in w_sefa.scores) and w_sefa.chance == pytest.approx(math.sqrt(10 / 512))


# ----- CLI ------------------------------------------------------------------------------------------------------------
def test_cli_basis_and_warpage(dcgan, tmp_path, capsys):
    """`basis` prints the spectrum (JSON too) and writes an ICT strip; `warpage` prints the curves and a CSV whose
    rows order as the paper's: nearby < random pairs < random subspaces."""
    import csv
    import json

    from PIL import Image

    from steering.cli import main

    assert main(["-q", "basis", "dcgan-faces", "--seed", "3", "-k", "4", "--feature", "block1", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    expected = local_basis(dcgan, start_latents(dcgan, 3), 4, "block1").values.tolist()
    assert info["feature"] == "block1" and info["jacobian"] == [16384, 100] and info["exact"]
    assert info["singular_values"] == pytest.approx(expected, rel=1e-5)
    strip = tmp_path / "strip.png"
    args = ["basis", "dcgan-faces", "--feature", "block1", "--ict", "1", "--frames", "3", "--step-size", "0.5"]
    assert main(["-q", *args, "-o", str(strip)]) == 0
    assert Image.open(strip).size[1] > 2 * 64  # two rows: ICT and linear
    assert main(["-q", *args]) == 2  # --ict without -o: a usage error, one line
    assert "go together" in capsys.readouterr().err
    curves = tmp_path / "curves.csv"
    plot = tmp_path / "curves.png"
    command = ["warpage", "dcgan-faces", "--feature", "block1", "--max-dim", "3", "--pairs", "3", "-o", str(curves)]
    command += ["--plot", str(plot)]
    assert main(["-q", *command]) == 0
    assert "random subspaces" in capsys.readouterr().out
    assert Image.open(plot).size == (640, 400)
    rows = list(csv.DictReader(curves.open()))
    assert [int(r["k"]) for r in rows] == [1, 2, 3]
    for row in rows:
        assert 0 < float(row["nearby pairs"]) < float(row["random pairs"]) < float(row["random subspaces"])


def test_a_linear_traversal_in_z_refuses_a_layer_range(mapping):
    """On a style-based model, the basis of a synthesis block from a start in z gives z directions: every W+ layer
    reads z, so a layer range is refused rather than recorded and ignored; the basis of w takes it."""
    from steering.methods import METHODS

    block = next(name for name in mapping.feature_names() if name not in ("w", "image"))
    options = {"num_directions": 2, "traversal": "linear", "layers": "0:2"}
    with pytest.raises(InvalidValueError, match="cannot be limited to some layers"):
        METHODS["localbasis"].run(mapping, {**options, "feature": block})
    in_w = METHODS["localbasis"].run(mapping, options)
    assert in_w.space == "w" and in_w.layers == (0, 1)
    everywhere = METHODS["localbasis"].run(mapping, {**options, "feature": block, "layers": "all"})
    assert everywhere.space == "z" and everywhere.layers is None


def test_more_directions_than_the_feature_has_and_a_vanishing_jacobian_are_refused(dcgan):
    """k above f's rank (a 32-d z mapped to an 8-d w) and a latent where f does not change (z = 0 on the faces: every
    unit before block1 is inactive, all σ = 0) get clear errors, not a mismatched control or one that never moves."""
    from steering.methods.localbasis import localbasis

    torch.manual_seed(0)
    narrow = StyleGAN2(size=8, style_dim=8, z_dim=32, n_mlp=1, channel_multiplier=1).eval()
    with pytest.raises(InvalidValueError, match="at most 8 directions, not 20"):
        localbasis(narrow, num_directions=20)
    assert len(localbasis(narrow, num_directions=8)) == 8
    zero = Latents(torch.zeros(1, dcgan.z_dim), "z")
    for traversal in ("linear", "iterative"):
        with pytest.raises(InvalidValueError, match="Jacobian is zero"):
            localbasis(dcgan, num_directions=3, traversal=traversal, start=zero)
