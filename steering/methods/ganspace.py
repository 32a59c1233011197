"""GANSpace: PCA of sampled latents or of a layer's activations (Härkönen et al., NeurIPS 2020).

* Style-based models: PCA on sampled ``w``; the components are the directions, their std-devs the natural step.
* Otherwise (or with ``feature=``): PCA on the activations of a named feature; the components are carried back to
  the latent by least-squares regression of the latents on the activations' PCA coordinates.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor

from .. import limits
from ..batch import Engine, Features, Job, JobResult, SeededLatents, run
from ..batch.job import LATENTS
from ..cache import cached
from ..directions import Directions
from ..errors import InvalidValueError
from ..models.base import Generator, W, Z
from ..stages import Stages
from ..values import MAX_SEED, check_count, layer_range
from .common import canonical_signs, strength_range
from .registry import LAYERS, NUM_DIRECTIONS, Method, Parameter

#: Up to this many values per sample PCA is exact (a covariance matrix); above, randomized (``niter`` passes).
EXACT_VALUES = 2048
#: Passes of the randomized solver over the samples (subspace iterations), and its extra directions.
NITER, OVERSAMPLE = 6, 16


def principal_components(x: Tensor, k: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """``(mean [F], components [k, F], variances [k])`` of the rows of ``x`` [N, F]."""
    return streamed_components(lambda: iter((x,)), k, seed)


def streamed_components(
    blocks: Callable[[], Iterator[Tensor]],
    k: int,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``principal_components`` of the rows of ``blocks()`` (an iterator of [n_i, F] row blocks, read again for each
    pass): the samples are never put together or copied centred, so memory holds one block at a time. Exact (the
    covariance, float64) up to ``EXACT_VALUES`` values per row; above, the randomized range finder with ``NITER``
    subspace iterations (Halko, Martinsson & Tropp), seeded. ``progress(done, total)`` counts the passes over the
    samples (it may raise to cancel between two passes)."""
    count, total = 0, None
    for block in blocks():
        count += len(block)
        part = block.double().sum(dim=0)
        total = part if total is None else total + part
    if total is None or count < 2:
        raise InvalidValueError("PCA needs at least two samples")
    passes = [1, 2 if total.numel() <= EXACT_VALUES else 3 + 2 * NITER]  # done, in all

    def read() -> Iterator[Tensor]:
        if progress is not None:
            progress(*passes)
        passes[0] += 1
        return blocks()

    mean = total / count
    width = mean.numel()
    if width <= EXACT_VALUES:
        cov = torch.zeros(width, width, dtype=torch.float64)
        for block in read():
            centred = block.double() - mean
            cov += centred.T @ centred
        values, vectors = torch.linalg.eigh(cov / (count - 1))
        if progress is not None:
            progress(passes[1], passes[1])
        order = torch.argsort(values, descending=True)[:k]
        return mean.float(), vectors[:, order].T.float(), values[order].float()
    q = min(k + OVERSAMPLE, count, width)
    centre = mean.float()  # the randomized solver works in float32, as torch.svd_lowrank does
    omega = torch.randn(width, q, generator=torch.Generator().manual_seed(seed))

    def times(right: Tensor) -> Tensor:  # (X − μ) R, [N, q]
        shift = centre @ right
        return torch.cat([block.float() @ right - shift for block in read()])

    def transposed_times(left: Tensor) -> Tensor:  # (X − μ)ᵀ L, [F, q]
        out, start = torch.zeros(width, left.shape[1]), 0
        for block in read():
            rows = left[start : start + len(block)]
            out += block.float().T @ rows
            start += len(block)
        return out - centre[:, None] @ left.sum(dim=0, keepdim=True)

    basis = torch.linalg.qr(times(omega)).Q
    for _ in range(NITER):
        basis = torch.linalg.qr(times(torch.linalg.qr(transposed_times(basis)).Q)).Q
    _, singular, vh = torch.linalg.svd(transposed_times(basis).T, full_matrices=False)  # B = Qᵀ(X − μ) [q, F]
    if progress is not None:
        progress(passes[1], passes[1])
    return mean.float(), vh[:k], singular[:k] ** 2 / (count - 1)


#: Rows per stored shard of the sampling job at most, and its bytes at most (a whole number of batches, at least
#: one): the PCA holds one shard at a time, so a stored job of any size fits in memory.
SHARD_ROWS = 8192
SHARD_BYTES = 64 << 20


def sampling_job(space: str, feature: str | None, n: int, seed: int, batch: int, values: int = 0) -> Job:
    """The batch job GANSpace samples with: blocks of ``batch`` latents per seed (``seed + start``, as GANSpace has
    always drawn them), the latents and, with ``feature``, its flattened activations (``values`` per row)."""
    measures = (Features((feature,)),) if feature is not None else ()
    rows = min(SHARD_ROWS, SHARD_BYTES // (4 * max(1, values)))
    return Job(
        SeededLatents(n, seed=seed, block=batch, space=space),
        measures=measures,
        batch_size=batch,
        shard_size=batch * max(1, rows // batch),
    )


def _sampled(
    generator: Generator,
    space: str,
    feature: str | None,
    n: int,
    seed: int,
    batch: int,
    progress: Callable[[int, int], None] | None = None,
    engine: str | Engine | None = None,
    store: str | os.PathLike[str] | None = None,
    values: int | None = None,
) -> JobResult:
    """The sampling job's result: latents in ``space`` and, with ``feature``, its activations (``progress(done,
    total)`` after each batch; ``values``: the feature's values per sample, where the caller knows them)."""
    if values is None:
        values = _values_per_sample(generator, space, feature)
    job = sampling_job(space, feature, n, seed, batch, generator.space_dim(space) + values)
    return run(job, generator, engine=engine, store=store, progress=progress)


def _samples(
    generator: Generator, space: str, feature: str | None, n: int, seed: int, batch: int
) -> tuple[Tensor, Tensor]:
    """Latents [n, d] and the PCA inputs [n, F], put together (for checks; ``ganspace`` streams them)."""
    result = _sampled(generator, space, feature, n, seed, batch)
    if feature is None:
        codes = result.column(LATENTS)
        return codes, codes
    columns = result.columns(LATENTS, f"feature.{feature}")
    return columns[LATENTS], columns[f"feature.{feature}"]


@torch.no_grad()
def _values_per_sample(generator: Generator, space: str, feature: str | None) -> int:
    """How many values PCA reads per sample (one sample is run to learn the feature's size)."""
    if feature is None:
        return 0
    latents = generator.sample(1, seed=0, space=space)
    return int(generator.features(latents, [feature])[feature].numel())


def ganspace(
    generator: Generator,
    num_directions: int = 10,
    feature: str | None = None,
    num_samples: int = 10_000,
    seed: int = 0,
    layers: str | Sequence[int] = "all",
    batch_size: int = 500,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    engine: str | Engine | None = None,
    store: str | os.PathLike[str] | None = None,
) -> Directions:
    """Principal directions; ``feature=None`` means PCA on ``w`` (style models) or on the first layer otherwise.

    ``progress(done, total)`` reports the samples drawn, then the PCA's passes over them, as one bar that a raising
    callback cancels at any stage (not called on a cache hit). The samples are a batch job
    (``steering.batch``): ``engine="ray"`` draws them on a Ray cluster, ``store`` keeps them as shards in a folder
    (a killed run resumes; the directions are the same either way).
    """
    space = W if W in generator.latent_spaces else Z
    if feature is None and space == Z:
        feature = generator.latent_projections()[0].name
    if feature is not None and feature not in generator.feature_names():
        raise InvalidValueError(f"unknown feature {feature!r}; choose from {generator.feature_names()}")
    dim = generator.space_dim(space)
    num_directions = check_count(num_directions, "the number of directions", 1, dim)
    num_samples = check_count(num_samples, "the number of GANSpace samples", 2 * num_directions, limits.MAX_SAMPLES)
    seed = check_count(seed, "the sampling seed", 0, MAX_SEED - num_samples)
    # Each block of ``batch`` samples is drawn from its own seed, so the block size is part of what the samples are.
    batch = min(check_count(batch_size, "the batch size", 1, 100_000), num_samples)
    used = layer_range(generator, layers)
    params = {
        "num_directions": num_directions,
        "feature": feature,
        "num_samples": num_samples,
        "seed": seed,
        "layers": list(used),
        "batch_size": batch,
    }

    def compute() -> Directions:
        values = _values_per_sample(generator, space, feature)
        if store is None:  # the samples stay in memory (once: the PCA streams over them, never copies them)
            limits.check_samples(num_samples, dim + values, "GANSpace samples", copies=1)
        stages = Stages(progress, ("sampling", "PCA"))
        result = _sampled(generator, space, feature, num_samples, seed, batch, stages(0), engine, store, values)
        column = LATENTS if feature is None else f"feature.{feature}"
        mean, components, variances = streamed_components(
            lambda: (shard[column] for shard in result.shards()), num_directions, seed, stages(1)
        )
        codes = result.column(LATENTS)
        if feature is None:
            vectors = components
        else:  # regress latents on the PCA coordinates: codes ≈ coords @ M, one latent direction per row of M
            coords = torch.cat([(shard[column] - mean) @ components.T for shard in result.shards()])
            solution = torch.linalg.lstsq(coords.double(), (codes - codes.mean(0)).double()).solution
            vectors = (solution / solution.norm(dim=1, keepdim=True)).float()
        vectors = canonical_signs(vectors)
        spread = ((codes - codes.mean(0)) @ vectors.T).std(dim=0)
        return Directions(
            vectors=vectors,
            space=space,
            method="ganspace",
            model=generator.identity,
            names=[f"pc {i}" for i in range(len(vectors))],
            params=params,
            values=variances,
            scales=spread,
            layers=None if space == Z or generator.num_layers == 1 else used,
            strength_range=strength_range(spread),
        )

    return cached(generator, "ganspace", params, compute) if use_cache else compute()


METHOD = Method(
    name="ganspace",
    title="GANSpace (PCA)",
    function=ganspace,
    kind="linear",
    parameters=(
        NUM_DIRECTIONS,
        LAYERS,
        Parameter("num_samples", "int", 10_000, "Number of samples", minimum=2, flags=("--samples",)),
        Parameter("seed", "int", 0, "Sampling seed", minimum=0),
        Parameter("feature", "feature", None, "PCA on this feature (default: w, or the first layer)"),
    ),
    value_label="variances",
    description="PCA of sampled w (style-based models) or of a layer's activations, carried back to the latent",
)

__all__ = ["METHOD", "ganspace", "principal_components"]
