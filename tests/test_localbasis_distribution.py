"""Local Basis traversals stay on the model's distribution: on the embedded DCGANs and on a StyleGAN2 mapping network
with random weights, the ICT ends less atypical than linear traversals of the same length (see README, Local Basis:
the statistic and why it is measured in the output of the partial network)."""

from __future__ import annotations

import pytest
import torch

from steering.methods.localbasis import partial_network, start_latents
from steering.models.stylegan2 import StyleGAN2

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]


#: A one-sided sign test at the 1 % level: the ICT must end less atypical on at least this many of 32 seeds
#: (P(X ≥ 23) = 0.010 for X ~ Binomial(32, ½)).
WINS_OF_32 = 23


@pytest.fixture(scope="module")
def mapping():
    """StyleGAN2 with random weights and the paper's mapping network: 8 layers, 512-d (a small synthesis)."""
    torch.manual_seed(0)
    return StyleGAN2(size=8, style_dim=512, n_mlp=8).eval()


def _output_length(f, codes: torch.Tensor) -> float:
    with torch.no_grad():
        y = f(codes)
    return float((y[1:] - y[:-1]).norm(dim=1).sum())


def _compare_paths(generator, feature, seeds, globals_fn, class_index=None, steps=3, step=0.4):
    """Per seed: the atypicality of f's output at the end of an ICT (output speed) and at the end of each linear
    traversal in f's output of the same output path length; returns {name: tensor [seeds]}."""
    from steering import edit
    from steering.analysis.typicality import fit, summary
    from steering.methods import METHODS

    typical = fit(generator, feature, 2048, seed=100_000)
    start0 = start_latents(generator, 0, class_index=class_index)
    shape = generator.features(start0, [feature])[feature].shape[1:]

    def atypical(y: torch.Tensor) -> float:
        return float(((summary(y.reshape(1, *shape)) - typical.mean) @ typical.whitening).norm() / typical.median)

    found: dict[str, list[float]] = {}
    for seed in seeds:
        index = seed % 3
        start = start_latents(generator, seed, class_index=class_index)
        options = {"num_directions": index + 1, "feature": feature, "seed": seed, "step_size": step}
        if class_index is not None:
            options["class_index"] = class_index
        control = METHODS["localbasis"].run(generator, options)
        f = partial_network(generator, start, feature)
        path = edit.trajectory(generator, start, control, index, [step * i for i in range(steps + 1)])
        length = _output_length(f, path.codes)
        with torch.no_grad():
            y0, end = f(start.codes), f(path.codes[-1:])
        u = torch.func.jvp(f, (start.codes,), (control.tensors["reference"][index][None],))[1][0].detach()
        ends = {"ict": end, "linear": y0 + length * u / u.norm()}  # u_i = J v_i / σ_i
        for name, vector in globals_fn(index).items():
            ends[name] = y0 + length * vector.to(y0)
        for name, y in ends.items():
            found.setdefault(name, []).append(atypical(y))
    return {name: torch.tensor(values) for name, values in found.items()}


def _assert_ict_stays_closest(results: dict[str, torch.Tensor], wins_needed: int) -> None:
    ict = results.pop("ict")
    for name, other in results.items():
        wins = int((ict < other).sum())
        summary = (name, float(ict.mean()), float(other.mean()), wins, len(ict))
        assert float(ict.mean()) < float(other.mean()) and wins >= wins_needed, summary


def _feature_components(generator, feature: str, class_index: int | None, k: int = 3) -> torch.Tensor:
    """GANSpace's principal components of ``feature`` (before they are carried back to z): global directions in the
    partial network's output."""
    from steering.methods.ganspace import principal_components

    with torch.no_grad():
        samples = generator.sample(2048, seed=200_000, class_index=class_index)
        x = generator.features(samples, [feature])[feature].flatten(1)
    return principal_components(x, k)[1]


def test_ict_stays_closer_to_the_distribution_on_the_faces(dcgan):
    """32 seeds, equal path length in f's output (block1): the ICT's output stays on f(Z); the linear local
    traversal f(z₀) + t·u and the global GANSpace direction of that feature (its principal components) leave it."""
    components = _feature_components(dcgan, "block1", None)
    results = _compare_paths(dcgan, "block1", range(32), lambda i: {"ganspace": components[i]})
    _assert_ict_stays_closest(results, WINS_OF_32)


def test_ict_stays_closer_to_the_distribution_on_the_eyes(eyes):
    """The class-conditional eyes at a fixed class (blue): 8 seeds (its block1 Jacobian costs 4× the faces'), the
    ICT ends less atypical on average and on at least 6 of them."""
    components = _feature_components(eyes, "block1", 1)
    results = _compare_paths(eyes, "block1", range(8), lambda i: {"ganspace": components[i]}, class_index=1)
    _assert_ict_stays_closest(results, 6)


def test_ict_stays_closer_to_the_distribution_on_the_stylegan2_mapping(mapping):
    """The paper's own setting on the random-weight StyleGAN2 mapping (32 seeds, equal W path length): ICT's w stays
    on f(Z); the linear local traversal w + t·u and the global SeFa direction (in W, all layers) of the same length
    end more atypical."""
    from steering.methods import METHODS

    sefa = METHODS["sefa"].run(mapping, {"num_directions": 3}).vectors
    results = _compare_paths(mapping, "w", range(32), lambda i: {"sefa": sefa[i]})
    _assert_ict_stays_closest(results, WINS_OF_32)
