"""SeFa and GANSpace on the real embedded DCGAN."""

from __future__ import annotations

import pytest
import torch

from steering import edit
from steering.errors import InvalidValueError
from steering.methods import ganspace, sefa
from steering.methods.sefa import factorize, selected_weight


def test_sefa_eigenvectors_orthonormal_and_sorted(dcgan):
    weight, _, _ = selected_weight(dcgan)
    values, vectors = factorize(weight)
    eye = torch.eye(vectors.shape[0], dtype=vectors.dtype)
    torch.testing.assert_close(vectors @ vectors.T, eye, atol=1e-5, rtol=0)
    assert bool((values[:-1] >= values[1:]).all())
    # row-normalised A: trace(AᵀA) = number of (non-zero) rows, and the eigenvalues sum to the trace
    rows = int((weight.norm(dim=1) > 0).sum())
    torch.testing.assert_close(values.sum(), torch.tensor(float(rows), dtype=values.dtype), rtol=1e-5, atol=0)


def test_sefa_vectors_are_eigenvectors(dcgan):
    weight, _, _ = selected_weight(dcgan)
    a = weight.double() / weight.double().norm(dim=1, keepdim=True)
    values, vectors = factorize(weight)
    for i in (0, 1, 50):
        v, lam = vectors[i].double(), float(values[i])
        torch.testing.assert_close(a.T @ a @ v, lam * v, atol=1e-5 * float(values[0]), rtol=0)


def test_sefa_directions_keep_eigenvalues(dcgan):
    directions = sefa(dcgan, num_directions=5, use_cache=False)
    assert len(directions) == 5 and directions.values is not None
    assert directions.space == "z" and directions.method == "sefa"
    assert directions.model.sha256 == dcgan.identity.sha256
    lo, hi = directions.strength_range
    assert lo < 0 < hi


@torch.no_grad()
def _pixel_change_per_unit(generator, direction: torch.Tensor, seeds: range, step: float = 2.0) -> float:
    changes = []
    for seed in seeds:
        z = generator.sample(1, seed=seed)
        moved = z.replace(codes=z.codes + step * direction.to(z.codes))
        changes.append((generator.synthesize(moved) - generator.synthesize(z)).abs().mean() / step)
    return float(torch.stack(changes).mean())


def test_top_sefa_direction_changes_image_more_than_random(dcgan):
    top = sefa(dcgan, num_directions=1, use_cache=False).vectors[0]
    seeds = range(8)
    top_change = _pixel_change_per_unit(dcgan, top, seeds)
    gen = torch.Generator().manual_seed(123)
    randoms = []
    for _ in range(4):
        r = torch.randn(dcgan.z_dim, generator=gen)
        randoms.append(_pixel_change_per_unit(dcgan, r / r.norm(), seeds))
    assert top_change > 1.5 * (sum(randoms) / len(randoms)), (top_change, randoms)


def test_sefa_rejects_bad_parameters(dcgan):
    with pytest.raises(InvalidValueError, match="number of directions"):
        sefa(dcgan, num_directions=0)
    with pytest.raises(InvalidValueError, match="layer"):
        sefa(dcgan, layers="5:9")


def test_ganspace_regresses_layer_pca_to_latent(dcgan):
    directions = ganspace(dcgan, num_directions=4, num_samples=600, use_cache=False)
    assert directions.params["feature"] == "fc" and directions.space == "z"
    torch.testing.assert_close(directions.vectors.norm(dim=1), torch.ones(4))
    assert bool((directions.values[:-1] >= directions.values[1:]).all())
    # the first latent direction moves the first layer mostly along its first principal component
    (projection,) = dcgan.latent_projections()
    response = directions.vectors @ projection.weight.T  # [k, F]: change of "fc" per unit step
    assert response.norm(dim=1)[0] > 0
    moved = edit.apply(dcgan, dcgan.sample(1, seed=0), directions, {0: 3.0})
    assert not torch.equal(moved.codes, dcgan.sample(1, seed=0).codes)
