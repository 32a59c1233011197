"""Local Basis: the top-k solver against the full Jacobian (k = 10), the passes-vs-accuracy trade-off, a 24-step ICT
against 24 bare forwards, and (``--typicality``) how atypical traversals of equal length end.

Cases (one process, interleaved medians, see ``common.py``):

* the StyleGAN2 mapping network (random weights: 8 layers, 512-d; the paper's partial network);
* a large DCGAN feature map: the embedded eyes model's last block (64×64×64 = 262144 values over a 100-d z); with
  ``--random-dcgan`` also a random-weight DCGAN with a 512-d latent (its 32×32 block, 65536 values).

Run: ``python bench/bench_localbasis.py`` (``--device cuda`` on a GPU; ``--typicality 32`` adds the distribution
table over 32 seeds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians

from steering.analysis.grassmann import projection_distance
from steering.methods import jacobian
from steering.methods.localbasis import partial_network, start_latents
from steering.models.dcgan import DCGAN
from steering.models.stylegan2 import StyleGAN2
from steering.sources import load_generator

K = 10


def synced(device: torch.device, run):
    def call():
        out = run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    return call


def bench_top_k(name: str, generator, feature: str | None, device: torch.device, repeats: int, settings) -> None:
    """Exact vs top-k at k = 10: time, products, projection distances; then accuracy against iterations."""
    start = start_latents(generator, 0)
    start = start.replace(codes=start.codes.to(device))
    f = partial_network(generator, start, feature)
    x = start.codes[0]
    m, d = int(f(x[None]).shape[1]), int(x.numel())
    exact = jacobian.exact(f, x, K)
    oversample, iterations = settings
    cases = {
        "full Jacobian": synced(device, lambda: jacobian.exact(f, x, K)),
        "top-k": synced(device, lambda: jacobian.top_k(f, x, K, oversample, iterations)),
    }
    medians = interleaved_medians(cases, repeats=repeats, warmup=1, block=1)
    found = jacobian.top_k(f, x, K, oversample, iterations)
    ratio = medians["full Jacobian"] / medians["top-k"]
    print(f"{name}: J is {m}×{d} ({f.feature} over z), k = {K}, {device}")
    print(f"  full Jacobian (+ Gram eigh)  {medians['full Jacobian'] * 1e3:9.1f} ms  ({min(m, d)} products, one pass)")
    print(
        f"  top-k (p={oversample}, q={iterations})  {medians['top-k'] * 1e3:9.1f} ms  ({found.products} products in "
        f"{found.passes} passes): {ratio:.2f}× faster, projection distance "
        f"{projection_distance(found.right, exact.right):.1e} (latent side) "
        f"{projection_distance(found.left, exact.left):.1e} (output side)"
    )
    print("  passes-vs-accuracy (oversample 5): iterations, products, passes, ms, distance (latent, output)")
    for q in range(0, 9):
        if (K + 5) * (q + 1) >= min(m, d):
            break
        run = synced(device, lambda q=q: jacobian.top_k(f, x, K, 5, q))
        seconds = interleaved_medians({"t": run}, repeats=max(3, repeats // 3), warmup=1, block=1)["t"]
        found = run()
        print(
            f"    q={q}  {found.products:5d}  {found.passes:3d}  {seconds * 1e3:8.1f}  "
            f"{projection_distance(found.right, exact.right):.1e}  {projection_distance(found.left, exact.left):.1e}"
        )
    fewest = _fewest_products(f, x, exact, min(m, d))
    if fewest is not None:
        p, q, products = fewest
        print(
            f"  fewest products reaching {TARGET:g} on both sides (oversample {OVERSAMPLES}, q ≤ 8): {products} "
            f"(p={p}, q={q}); even at the full Jacobian's cost per product the top-k would be at most "
            f"{min(m, d) / products:.2f}× faster"
        )


TARGET = 1e-3
OVERSAMPLES = (0, 2, 5, 10, 20)


def _fewest_products(f, x: torch.Tensor, exact, side: int) -> tuple[int, int, int] | None:
    """Over oversamples and rounds, the top-k run with the fewest products whose subspaces (both sides) are within
    ``TARGET`` of the exact ones: ``(oversample, rounds, products)``; ``None`` when none is (or each would be exact)."""
    best = None
    for p in OVERSAMPLES:
        for q in range(0, 9):
            if (K + p) * (q + 1) >= side:
                break
            found = jacobian.top_k(f, x, K, p, q)
            worst = max(projection_distance(found.right, exact.right), projection_distance(found.left, exact.left))
            if worst < TARGET:
                if best is None or found.products < best[2]:
                    best = (p, q, found.products)
                break
    return best


def bench_ict(name: str, generator, feature: str | None, device: torch.device, repeats: int) -> None:
    """24 ICT steps (a basis each) against 24 bare forwards of the generator (batch 1)."""
    from steering import edit
    from steering.methods import METHODS

    start = start_latents(generator, 0)
    control = METHODS["localbasis"].run(generator, {"num_directions": 1, "feature": feature, "step_size": 0.125})
    strengths = [0.125 * i for i in range(1, 25)]
    frames = edit.trajectory(generator, start, control, 0, strengths)

    @torch.no_grad()
    def forwards() -> object:
        return [generator.synthesize(frames.select(i)) for i in range(24)]

    def ict() -> object:
        return control.walk(generator, start, 0, strengths)

    medians = interleaved_medians(
        {"24 forwards": synced(device, forwards), "24-step ICT": synced(device, ict)},
        repeats=repeats,
        warmup=1,
        block=1,
    )
    ratio = medians["24-step ICT"] / medians["24 forwards"]
    print(
        f"{name}: 24-step ICT ({control.params['feature']}) {medians['24-step ICT'] * 1e3:.0f} ms vs 24 bare forwards "
        f"{medians['24 forwards'] * 1e3:.0f} ms: {ratio:.3g}× ({medians['24-step ICT'] / 24 * 1e3:.1f} ms per step)"
    )


def typicality_table(seeds: int) -> None:
    """Atypicality of f's output at the end of traversals of equal output path length (the test's statistic), for
    every comparison: those the tests assert and those they do not (z-space directions on the DCGANs)."""
    from steering import edit
    from steering.analysis.typicality import fit, summary
    from steering.methods import METHODS
    from steering.methods.ganspace import principal_components
    from steering.methods.localbasis import local_basis

    torch.manual_seed(0)
    models = [
        ("dcgan-faces", load_generator("dcgan-faces"), "block1", None),
        ("dcgan-eyes (class 2)", load_generator("dcgan-eyes"), "block1", 2),
        ("stylegan2 mapping (random)", StyleGAN2(size=8, style_dim=512, n_mlp=8).eval(), "w", None),
    ]
    for name, generator, feature, klass in models:
        typical = fit(generator, feature, 2048, seed=100_000)
        shape = generator.features(start_latents(generator, 0, class_index=klass), [feature])[feature].shape[1:]
        with torch.no_grad():
            samples = generator.sample(2048, seed=200_000, class_index=klass, space="z")
            pcs = principal_components(generator.features(samples, [feature])[feature].flatten(1), 3)[1]
        sefa = METHODS["sefa"].run(generator, {"num_directions": 3}).vectors
        gans = METHODS["ganspace"].run(generator, {"num_directions": 3}).vectors
        rows: dict[str, list[float]] = {}
        for seed in range(seeds):
            index, step = seed % 3, 0.3
            start = start_latents(generator, seed, class_index=klass)
            f = partial_network(generator, start, feature)
            options = {"num_directions": index + 1, "feature": feature, "seed": seed, "step_size": step}
            if klass is not None:
                options["class_index"] = klass
            control = METHODS["localbasis"].run(generator, options)
            path = edit.trajectory(generator, start, control, index, [step * i for i in range(5)])
            with torch.no_grad():
                y = f(path.codes)
            length = float((y[1:] - y[:-1]).norm(dim=1).sum())
            basis = local_basis(generator, start, index + 1, feature)
            ends = {"ICT": y[-1:], "linear f(z0)+t·u": y[:1] + length * basis.output[:, index]}
            if feature == "w":
                ends["sefa (w)"] = y[:1] + length * sefa[index]
                ends["ganspace (w)"] = y[:1] + length * gans[index]
            else:
                ends["ganspace PCs of f"] = y[:1] + length * pcs[index]
                for label, vector in (
                    ("z + t·v", basis.latent[:, index]),
                    ("sefa (z)", sefa[index]),
                    ("ganspace (z)", gans[index]),
                ):
                    ends[label] = f(start.codes + _reach(f, start.codes, vector, length) * vector[None]).detach()
            for label, end in ends.items():
                value = ((summary(end.reshape(1, *shape)) - typical.mean) @ typical.whitening).norm() / typical.median
                rows.setdefault(label, []).append(float(value))
        ict = torch.tensor(rows["ICT"])
        print(f"{name}, f = {feature}, {seeds} seeds: atypicality of f's output (1 = a median sample)")
        for label, values in rows.items():
            v = torch.tensor(values)
            wins = "" if label == "ICT" else f"   ICT lower on {float((ict < v).float().mean()) * 100:.0f}% of seeds"
            print(f"  {label:<20} mean {float(v.mean()):.3f}{wins}")


def _reach(f, z: torch.Tensor, vector: torch.Tensor, length: float, samples: int = 64) -> float:
    """The t at which the straight z path z + t·v has moved f's output by ``length`` (path length)."""
    ts = torch.linspace(0, 20.0, samples)
    with torch.no_grad():
        y = f(z + ts[:, None] * vector[None])
    cumulative = torch.cat([torch.zeros(1), (y[1:] - y[:-1]).norm(dim=1).cumsum(0)])
    i = min(int((cumulative < length).sum()), samples - 1)
    share = (length - cumulative[i - 1]) / (cumulative[i] - cumulative[i - 1]).clamp_min(1e-12)
    return float(ts[i - 1] + share * (ts[i] - ts[i - 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--typicality", type=int, default=0, metavar="SEEDS", help="also the distribution table")
    parser.add_argument("--random-dcgan", action="store_true", help="also a random-weight DCGAN with a 512-d z")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: steadier on busy cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    torch.manual_seed(0)
    mapping = StyleGAN2(size=8, style_dim=512, n_mlp=8).eval().to(device)  # the mapping of every config-f model
    bench_top_k("StyleGAN2 mapping (random weights)", mapping, "w", device, args.repeats, (5, 6))
    eyes = load_generator("dcgan-eyes", device=str(device))
    bench_top_k("dcgan-eyes block4", eyes, "block4", device, max(3, args.repeats // 3), (5, 4))
    if args.random_dcgan:  # a flat spectrum: the Krylov space does not converge (shown in the README)
        torch.manual_seed(1)
        big = DCGAN(nz=512, ngf=64, num_blocks=3).eval().to(device)
        bench_top_k("DCGAN, 512-d z (random weights) block3", big, "block3", device, max(3, args.repeats // 3), (5, 6))
    began = time.perf_counter()
    bench_ict("dcgan-faces", load_generator("dcgan-faces", device=str(device)), None, device, max(3, args.repeats // 3))
    torch.manual_seed(0)
    stylegan = StyleGAN2(size=256, style_dim=512, n_mlp=8).eval().to(device)
    bench_ict("StyleGAN2 256 px (random weights)", stylegan, None, device, 2)
    print(f"(ICT benches took {time.perf_counter() - began:.0f} s)")
    if args.typicality:
        typicality_table(args.typicality)


if __name__ == "__main__":
    main()
