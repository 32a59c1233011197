"""The method registry's declared parameters (what --help and the Discover tab offer) match what the methods take."""

from __future__ import annotations

import pytest

from steering.errors import InvalidValueError
from steering.methods import METHODS


def test_declared_parameter_bounds_are_the_ones_the_methods_accept():
    """What the CLI's --help and the Discover tab's boxes offer is what the methods take: a ψ of 0 or 2 and SC²GAN
    below 32 samples were offered, then refused by the method."""
    for name in ("gradctrl", "boundaries", "sc2gan", "localbasis", "interpolation", "transfer"):
        psi = METHODS[name].parameter("truncation")
        assert (psi.minimum, psi.maximum) == (0.01, 1.0), name
        with pytest.raises(InvalidValueError):
            psi.parse(0)
    assert METHODS["sc2gan"].parameter("num_samples").minimum == 32
    with pytest.raises(InvalidValueError, match="32"):
        METHODS["sc2gan"].parameter("num_samples").parse(16)
