"""What style-based generators (StyleGAN, StyleGAN2) share: W+ codes checked at the synthesis boundary and the
named features (``w``, per-resolution block outputs ``b{r}``, ``image``)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Sequence

from torch import Tensor

from ..errors import InvalidValueError
from .base import WPLUS, Generator, Latents, W


class StyleBasedGenerator(Generator):
    """A Generator with a mapping network and one ``w`` per synthesis layer."""

    @abstractmethod
    def block_resolutions(self) -> list[int]:
        """The resolutions of the synthesis blocks, in order (feature ``b{r}`` is block ``r``'s output)."""

    @abstractmethod
    def _run(self, wplus: Tensor, wanted: set[str]) -> dict[str, Tensor]:
        """Run synthesis on W+ codes, returning the ``wanted`` features (``b{r}`` and/or ``image``)."""

    def _wplus(self, latents: Latents) -> Tensor:
        """The latents as W+ codes [N, num_layers, w_dim] in the model's dtype, shape-checked."""
        wplus = self.to_space(latents, WPLUS).codes
        for tensor in self.parameters():
            wplus = wplus.to(tensor.dtype)
            break
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
            result.update(self._run(self._wplus(latents), rest))
        return {name: result[name] for name in names}
