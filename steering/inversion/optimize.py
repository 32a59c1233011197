"""Inversion by optimisation: find latents whose image reconstructs a target image.

* **z** (models without a mapping network: DCGAN, PGGAN, BigGAN-deep): Adam on z from the best of 16 prior samples
  (for class-conditional models rendered with uniform classes) or an encoder's prediction, with a soft prior that
  keeps ‖z‖² near its expected value d.
* **w / w+** (style-based models), as NVlabs' ``projector.py`` (stylegan2-ada-pytorch): Adam from w̄ (the mean of
  10,000 mapped samples), learning rate ramped up over the first 5 % and down (cosine) over the last 25 % of the
  steps, Gaussian noise of 0.05·σ_w added to w and decaying to 0 at 75 %, and the per-layer **noise maps** optimised
  too, regularised by their multi-scale autocorrelation (weight 10⁵) and renormalised to zero mean and unit variance
  after every step. ``w+`` (Image2StyleGAN) gives every layer its own w.
* **Classes** (class-conditional models: the eyes cDCGAN, BigGAN-deep): ``classes="soft"`` (default) optimises
  class logits with z, the class vector being their softmax, starting from the best class (each class rendered at the
  initial z; for more than 64 classes, from uniform logits); ``classes="best"`` does the same for the first half of
  the steps, then renders the current z with every class, keeps the one that reconstructs best (one-hot; for more
  than 64 classes the most likely one) and refines z alone.
  A soft result is stored soft: every control reads soft classes.

Loss: ``loss.ReconstructionLoss``. The best iterate (lowest loss) is kept. Runs stop early when ``target_psnr`` is
reached or the loss has improved by less than 0.1 % over ``patience`` steps; ``progress(done, total)`` is called every
step (it raises ``CancelledError`` to cancel) and ``Inversion.steps`` yields a preview every ``preview_every`` steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import Tensor
from torch.nn import functional as F

from .. import limits
from ..errors import InvalidValueError
from ..models.base import WPLUS, Generator, Latents, Noise, W, Z
from ..values import check_count, check_number
from .image import PreparedImage
from .loss import LossWeights, ReconstructionLoss, psnr, ssim_score
from .perceptual import load_perceptual

Progress = Callable[[int, int], None]
CLASS_MODES = ("soft", "best")
MAX_STEPS = 20_000
#: Classes probed for the best starting class (one rendered image each).
MAX_PROBED_CLASSES = 64
_W_SAMPLES = 10_000
#: Prior samples rendered to choose the start in z (optimisation alone).
Z_PROBES = 16


@dataclass(frozen=True)
class InversionSettings:
    """How to invert. ``space``: ``z``, ``w`` or ``w+`` (default: ``w+`` for style-based models, ``z`` otherwise)."""

    space: str | None = None
    steps: int = 300
    learning_rate: float | None = None
    target_psnr: float | None = None
    patience: int = 60
    optimize_noise: bool = True
    noise_regularization: float = 1e5
    z_prior: float = 1e-3
    classes: str = "soft"
    weights: LossWeights = field(default_factory=LossWeights)
    use_perceptual: bool = True
    preview_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", check_count(self.steps, "the number of steps", 1, MAX_STEPS))
        if self.learning_rate is not None:
            object.__setattr__(self, "learning_rate", check_number(self.learning_rate, "the learning rate", 1e-6, 10.0))
        if self.target_psnr is not None:
            object.__setattr__(self, "target_psnr", check_number(self.target_psnr, "the target PSNR", 1.0, 100.0))
        object.__setattr__(self, "patience", check_count(self.patience, "the patience", 1, MAX_STEPS))
        object.__setattr__(self, "preview_every", check_count(self.preview_every, "the preview interval", 1, MAX_STEPS))
        for name in ("noise_regularization", "z_prior"):
            object.__setattr__(self, name, check_number(getattr(self, name), name.replace("_", " "), 0.0, 1e9))
        for name in ("l1", "l2", "structural", "perceptual"):
            check_number(getattr(self.weights, name), f"the {name} weight", 0.0, 1e6)
        if self.classes not in CLASS_MODES:
            raise InvalidValueError(f"classes must be one of {list(CLASS_MODES)}, got {str(self.classes)[:20]!r}")
        if self.space is not None and self.space not in (Z, W, WPLUS):
            raise InvalidValueError(f"the inversion space must be z, w or w+, got {str(self.space)[:20]!r}")

    def rate_for(self, space: str) -> float:
        """The learning rate: as given, else 0.2 in z, 0.1 in w / w+ (NVlabs' projector)."""
        return self.learning_rate if self.learning_rate is not None else (0.2 if space == Z else 0.1)

    def space_for(self, generator: Generator) -> str:
        space = self.space or (WPLUS if WPLUS in generator.latent_spaces else Z)
        generator.check_space(space)
        return space


@dataclass
class InversionState:
    """Where a running inversion is: shown as previews."""

    step: int
    total: int
    psnr: float
    best_psnr: float
    loss: float
    image: Tensor  # [1, C, R, R] in [-1, 1], the current render


@dataclass
class InversionResult:
    """The best latents found and how good they are. ``history``: (step, loss, PSNR) per step, step 0 = the start."""

    latents: Latents
    space: str
    psnr: float
    ssim: float
    steps: int
    stopped: str
    initial: str
    seconds: float
    history: list[tuple[int, float, float]]
    image: Tensor
    terms: list[str]
    source: dict[str, Any] = field(default_factory=dict)

    def steps_to(self, target_psnr: float) -> int | None:
        """The first step whose render reached ``target_psnr`` (0: the start already did), None if none did."""
        return next((step for step, _, value in self.history if value >= target_psnr), None)

    @property
    def class_index(self) -> int | None:
        classes = self.latents.classes
        return None if classes is None else int(classes[0].argmax())

    def describe(self) -> dict[str, Any]:
        """What a latents file records about how it was made (with the image's sha256, in ``source``)."""
        return {
            **self.source,
            "inversion": {
                "space": self.space,
                "steps": self.steps,
                "stopped": self.stopped,
                "initial": self.initial,
                "psnr": round(self.psnr, 3),
                "ssim": round(self.ssim, 4),
                "loss": self.terms,
            },
        }

    def save(self, path: Any, generator: Generator) -> Any:
        """A latents file (the model identity, the source image's sha256): a starting point for every control."""
        from ..start import save_latents

        return save_latents(self.latents, generator, path, source=self.describe())


def _target(generator: Generator, target: PreparedImage | Tensor) -> tuple[Tensor, dict[str, Any]]:
    pixels, source = (target.pixels, target.describe()) if isinstance(target, PreparedImage) else (target, {})
    expected = (generator.image_channels, generator.resolution, generator.resolution)
    if pixels.ndim != 4 or pixels.shape[0] != 1 or tuple(pixels.shape[1:]) != expected:
        raise InvalidValueError(f"the target must be one image of shape {list(expected)}, got {list(pixels.shape)}")
    if not bool(torch.isfinite(pixels).all()):
        raise InvalidValueError("the target image holds NaN or infinite values")
    return pixels.to(generator.device, torch.float32), source


def w_statistics(generator: Generator, seed: int = 0) -> tuple[Tensor, float]:
    """w̄ and σ_w = sqrt(E‖w − w̄‖²) from mapped samples (NVlabs: 10,000)."""
    count = min(_W_SAMPLES, limits.max_samples(generator.w_dim))
    with torch.no_grad():
        w = generator.sample(count, seed=seed, space=W).codes.float()
    mean = w.mean(0, keepdim=True)
    return mean, float((w - mean).square().sum(1).mean().sqrt())


def noise_regularisation(maps: list[Tensor]) -> Tensor:
    """NVlabs' projector: squared autocorrelation at one-pixel shifts, at every scale down to 8 px."""
    total = maps[0].new_zeros(())
    for noise in maps:
        if noise.shape[-1] < 2 or noise.shape[1] != 1:
            continue  # channel-wise noise (StyleGAN v1 'channel') has no spatial correlation to penalise
        while True:
            total = total + (noise * torch.roll(noise, shifts=1, dims=3)).mean() ** 2
            total = total + (noise * torch.roll(noise, shifts=1, dims=2)).mean() ** 2
            if noise.shape[2] <= 8:
                break
            noise = F.avg_pool2d(noise, kernel_size=2)
    return total


class Inversion:
    """One inversion run: ``steps(progress)`` yields ``InversionState`` previews and leaves ``result``; ``run`` does
    it all. ``init``: latents to start from (an encoder's prediction); default: the prior's mean / w̄."""

    def __init__(
        self,
        generator: Generator,
        target: PreparedImage | Tensor,
        settings: InversionSettings | None = None,
        init: Latents | None = None,
        initial: str | None = None,
    ) -> None:
        self.generator, self.settings = generator, settings or InversionSettings()
        self.space = self.settings.space_for(generator)
        self.pixels, self.source = _target(generator, target)
        perceptual = load_perceptual(generator.device) if self.settings.use_perceptual else None
        self.loss = ReconstructionLoss(self.settings.weights, perceptual)
        self.init = init
        prior = f"best of {Z_PROBES} prior samples" if self.space == Z else "mean"  # see ``_start``
        self.initial = initial or ("given" if init is not None else prior)
        self.result: InversionResult | None = None

    # ----- parameters ----------------------------------------------------------------------------------------------
    def _start(self) -> tuple[Tensor, float]:
        G, space = self.generator, self.space
        if self.init is not None:
            codes = G.to_space(self.init.to(G.device), space).codes.detach().float()
            scale = w_statistics(G, self.settings.seed)[1] if space != Z else 1.0
            return codes.clone(), scale
        if space == Z:  # the best of a few prior samples (z = 0 can be a dead point: every first-layer ReLU off)
            return self._best_sample(), 1.0
        mean, std = w_statistics(G, self.settings.seed)
        return (mean[:, None].repeat(1, G.num_layers, 1) if space == WPLUS else mean).clone(), std

    def _best_sample(self) -> Tensor:
        G = self.generator
        probes = G.sample(Z_PROBES, seed=self.settings.seed, space=Z)
        if probes.classes is not None:
            probes = probes.replace(classes=torch.full_like(probes.classes, 1.0 / G.num_classes))
        with torch.no_grad():
            losses, _ = self.loss(G.synthesize(probes), self.pixels.expand(Z_PROBES, -1, -1, -1))
        return probes.codes[int(losses.argmin())][None].clone().float()

    def _best_class(self, codes: Tensor, logits: Tensor) -> Tensor:
        """One-hot logits of the class that reconstructs best at ``codes`` (each class rendered; for more than
        ``MAX_PROBED_CLASSES`` classes, the most likely one of ``logits``)."""
        G = self.generator
        if G.num_classes > MAX_PROBED_CLASSES:
            index = int(logits.argmax(1))
        else:
            eye = torch.eye(G.num_classes, device=G.device)
            with torch.no_grad():
                images = G.synthesize(self._latents(codes.expand(G.num_classes, *codes.shape[1:]), eye))
                losses, _ = self.loss(images, self.pixels.expand_as(images))
            index = int(losses.argmin())
        return F.one_hot(torch.tensor([index], device=G.device), G.num_classes).float().clamp_min(1e-9).log()

    def _start_classes(self, codes: Tensor) -> Tensor | None:
        G = self.generator
        if not G.num_classes:
            return None
        if self.init is not None and self.init.classes is not None:
            return self.init.classes.to(G.device).float().clamp_min(1e-6).log()
        if G.num_classes > MAX_PROBED_CLASSES:
            return torch.zeros(1, G.num_classes, device=G.device)
        eye = torch.eye(G.num_classes, device=G.device)
        with torch.no_grad():
            images = G.synthesize(self._latents(codes.expand(G.num_classes, *codes.shape[1:]), eye))
            losses, _ = self.loss(images, self.pixels.expand_as(images))
        logits = torch.zeros(1, G.num_classes, device=G.device)
        logits[0, int(losses.argmin())] = math.log(100.0)  # ≈ 0.93 on the best class among 8
        return logits

    def _latents(self, codes: Tensor, classes: Tensor | None) -> Latents:
        truncation = self.init.truncation if self.init is not None else 1.0
        return Latents(codes, self.space, classes, truncation)

    def _render(self, codes: Tensor, classes: Tensor | None, maps: list[Tensor] | None) -> Tensor:
        latents = self._latents(codes, classes)
        if maps is None:
            return self.generator.synthesize(latents)
        return self.generator.synthesize_with_noise(latents, maps)  # type: ignore[attr-defined]

    # ----- the loop ------------------------------------------------------------------------------------------------
    def steps(self, progress: Progress | None = None) -> Iterator[InversionState]:
        G, s = self.generator, self.settings
        started = time.perf_counter()
        torch.manual_seed(s.seed)
        codes, w_std = self._start()
        logits = self._start_classes(codes)
        codes.requires_grad_(True)
        params: list[Tensor] = [codes]
        if logits is not None:
            params.append(logits.requires_grad_(True))
        snap_at = s.steps // 2 if logits is not None and s.classes == "best" else None
        maps: list[Tensor] | None = None
        if self.space != Z and s.optimize_noise and G.noise_modes:
            generator = torch.Generator().manual_seed(s.seed)
            maps = [torch.randn(b.shape, generator=generator).to(b).requires_grad_(True) for b in G.noise_buffers()]
            params += maps
        rate = s.rate_for(self.space)
        optimizer = torch.optim.Adam(params, lr=rate, betas=(0.9, 0.999))

        fixed: list[Tensor] = []  # "best": the one-hot class chosen half-way

        def classes_of(values: Tensor | None) -> Tensor | None:
            return fixed[0] if fixed else None if values is None else values.softmax(1)

        best: tuple[float, Tensor, Tensor | None, list[Tensor] | None] | None = None
        history: list[tuple[int, float, float]] = []
        stall_from, stall_loss, stopped = 0, math.inf, "all steps"
        best_psnr = -math.inf
        for step in range(s.steps + 1):  # step 0 measures the start; steps 1 … n each take one update
            t = step / s.steps
            if step == snap_at and logits is not None:  # "best": the best class at the current z, one-hot from here
                logits = self._best_class(codes.detach(), logits.detach())
                fixed.append(F.one_hot(logits.argmax(1), G.num_classes).float())
                best, stall_from, stall_loss = None, step, math.inf
            noise_scale = 0.0 if self.space == Z else w_std * 0.05 * max(0.0, 1.0 - t / 0.75) ** 2
            jitter = torch.randn_like(codes) * noise_scale if step and noise_scale else 0.0
            images = self._render(codes + jitter, classes_of(logits), maps)
            per_image, _ = self.loss(images, self.pixels)
            loss = per_image.sum()
            if self.space == Z and s.z_prior:
                loss = loss + s.z_prior * ((codes.square().mean(1) - 1.0).square()).sum()
            if maps is not None and s.noise_regularization:
                loss = loss + s.noise_regularization * noise_regularisation(maps)
            value = float(loss.detach())
            quality = float(psnr(images.detach(), self.pixels)[0])
            history.append((step, value, quality))
            best_psnr = max(best_psnr, quality)
            if best is None or value < best[0]:
                best = (
                    value,
                    codes.detach().clone(),
                    None if logits is None else logits.detach().clone(),
                    None if maps is None else [m.detach().clone() for m in maps],
                )
            if progress is not None:
                progress(step, s.steps)
            if step % s.preview_every == 0 or step == s.steps:
                yield InversionState(step, s.steps, quality, best_psnr, value, images.detach())
            if s.target_psnr is not None and quality >= s.target_psnr:
                stopped = "target reached"
                break
            if value < stall_loss * (1 - 1e-3):
                stall_from, stall_loss = step, value
            elif step - stall_from >= s.patience:
                stopped = "converged"
                break
            if step == s.steps:
                break
            lr_ramp = min(1.0, (1.0 - t) / 0.25)
            lr_ramp = (0.5 - 0.5 * math.cos(lr_ramp * math.pi)) * min(1.0, (t + 1 / s.steps) / 0.05)
            for group in optimizer.param_groups:
                group["lr"] = rate * lr_ramp
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if maps is not None:
                with torch.no_grad():
                    for m in maps:
                        m -= m.mean()
                        m *= m.square().mean().rsqrt()
        assert best is not None
        _, codes, logits, maps = best
        if snap_at is not None and not fixed and logits is not None:  # "best" stopped early: snap the result too
            logits = self._best_class(codes, logits)
            fixed.append(F.one_hot(logits.argmax(1), G.num_classes).float())
        with torch.no_grad():
            image = self._render(codes, classes_of(logits), maps)
            final_psnr, final_ssim = float(psnr(image, self.pixels)[0]), float(ssim_score(image, self.pixels)[0])
        noise = Noise.given(maps) if maps is not None else Noise()
        latents = Latents(codes.cpu(), self.space, None if logits is None else classes_of(logits).cpu(), 1.0, noise)
        if self.init is not None:
            latents = latents.replace(truncation=self.init.truncation)
        self.result = InversionResult(
            latents=latents,
            space=self.space,
            psnr=final_psnr,
            ssim=final_ssim,
            steps=history[-1][0],
            stopped=stopped,
            initial=self.initial,
            seconds=time.perf_counter() - started,
            history=history,
            image=image.cpu(),
            terms=self.loss.terms,
            source=dict(self.source),
        )

    def run(self, progress: Progress | None = None) -> InversionResult:
        for _ in self.steps(progress):
            pass
        assert self.result is not None
        return self.result


def invert(
    generator: Generator,
    target: PreparedImage | Tensor,
    settings: InversionSettings | None = None,
    *,
    encoder: Any = None,
    init: Latents | None = None,
    progress: Progress | None = None,
) -> InversionResult:
    """Invert ``target`` into ``generator``'s latent space (see the module); ``encoder`` (an ``Encoder`` for this
    model) predicts the starting latents."""
    initial = None
    if encoder is not None and init is None:
        pixels = target.pixels if isinstance(target, PreparedImage) else target
        init, initial = encoder.predict(generator, pixels), "encoder"
    return Inversion(generator, target, settings, init, initial).run(progress)


__all__ = ["CLASS_MODES", "Inversion", "InversionResult", "InversionSettings", "InversionState", "invert"]
