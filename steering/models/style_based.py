"""What style-based generators (StyleGAN, StyleGAN2) share: W+ codes checked at the synthesis boundary, the noise
inputs (chosen per request by ``Latents.noise``, never state on the model) and the named features (``w``,
per-resolution block outputs ``b{r}``, ``image``)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..errors import InvalidValueError
from .base import GIVEN_NOISE, NOISE_MODES, WPLUS, Generator, Latents, Noise, W


class StyleBasedGenerator(Generator):
    """A Generator with a mapping network and one ``w`` per synthesis layer."""

    @abstractmethod
    def block_resolutions(self) -> list[int]:
        """The resolutions of the synthesis blocks, in order (feature ``b{r}`` is block ``r``'s output)."""

    @abstractmethod
    def _run(self, wplus: Tensor, wanted: set[str], noise: list[Tensor | None]) -> dict[str, Tensor]:
        """Run synthesis on W+ codes with the given noise inputs, returning the ``wanted`` features."""

    @property
    def noise_modes(self) -> tuple[str, ...]:
        return NOISE_MODES

    @abstractmethod
    def noise_buffers(self) -> list[Tensor]:
        """The stored noise, one tensor per noise input, in synthesis order (``const`` noise)."""

    def noise_inputs(self, noise: Noise) -> list[Tensor | None]:
        """The noise each input adds for ``noise``: the stored buffers, one fixed realisation drawn from its seed
        (numpy, not torch: a torch random op inside vmap/jacrev is refused, and the draw must not depend on them), or
        none. Synthesis stays a pure function of the latents in every mode."""
        buffers = self.noise_buffers()
        if noise.mode == "none":
            return [None] * len(buffers)
        if noise.mode == "const":
            return list(buffers)
        if noise.mode == GIVEN_NOISE:
            shapes = [tuple(b.shape) for b in buffers]
            if [tuple(m.shape) for m in noise.maps] != shapes:
                raise InvalidValueError(f"the given noise maps do not fit this model's noise inputs {shapes}")
            return [m.to(b) for m, b in zip(noise.maps, buffers, strict=True)]
        rng = np.random.default_rng(noise.seed)
        return [torch.from_numpy(rng.standard_normal(tuple(b.shape), dtype=np.float32)).to(b) for b in buffers]

    def synthesize(self, latents: Latents) -> Tensor:
        image = self._run(self._wplus(latents), {"image"}, self.noise_inputs(latents.noise))["image"]
        assert image.shape[1:] == (self.image_channels, self.resolution, self.resolution), image.shape
        return image

    def synthesize_with_noise(self, latents: Latents, maps: Sequence[Tensor]) -> Tensor:
        """Images with these noise tensors, one per noise input (they may require grad: an inversion optimises them);
        ``latents.noise`` is ignored."""
        shapes = [tuple(b.shape) for b in self.noise_buffers()]
        if [tuple(m.shape) for m in maps] != shapes:
            raise InvalidValueError(f"noise maps must have the shapes {shapes}")
        return self._run(self._wplus(latents), {"image"}, [m.to(self.dtype) for m in maps])["image"]

    def _wplus(self, latents: Latents) -> Tensor:
        """The latents as W+ codes [N, num_layers, w_dim] in the model's dtype, shape-checked."""
        wplus = self.to_space(latents, WPLUS).codes.to(self.dtype)
        expected = (self.num_layers, self.w_dim)
        if wplus.ndim != 3 or tuple(wplus.shape[1:]) != expected:
            raise InvalidValueError(f"w+ must have shape [N, {expected[0]}, {expected[1]}], got {list(wplus.shape)}")
        return wplus

    def feature_names(self) -> list[str]:
        return ["w", *(f"b{r}" for r in self.block_resolutions()), "image"]

    def features(self, latents: Latents, names: Sequence[str]) -> dict[str, Tensor]:
        """``w``: the mapping output (truncated by ψ; z or w latents only); ``b{r}``: block outputs; ``image``."""
        self.check_features(names)
        result: dict[str, Tensor] = {}
        if "w" in names:
            if latents.space == WPLUS:
                raise InvalidValueError("feature 'w' needs z or w latents, not w+")
            result["w"] = self.to_space(latents, W).codes
        rest = set(names) - {"w"}
        if rest:
            result.update(self._run(self._wplus(latents), rest, self.noise_inputs(latents.noise)))
        return {name: result[name] for name in names}
