"""Steering methods: each a pure function ``(generator, parameters) -> Control`` with its ``Method`` entry.

``METHODS`` is the one table the CLI and the Discover tab read (name, title, function, kind produced, parameters,
value label); adding a method adds an entry here and nothing to either of them.
"""

from . import boundaries as _boundaries
from . import ganspace as _ganspace
from . import gradctrl as _gradctrl
from . import interpolation as _interpolation
from . import localbasis as _localbasis
from . import principal as _principal
from . import sc2gan as _sc2gan
from . import sefa as _sefa
from . import steerability as _steerability
from . import transfer as _transfer
from .ganspace import ganspace
from .interpolation import interpolation
from .registry import Method, Parameter, all_parameters
from .sefa import sefa

#: Method name -> its entry, in the order the UI lists them.
METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        _sefa.METHOD,
        _ganspace.METHOD,
        _steerability.METHOD,
        _principal.METHOD,
        _transfer.METHOD,
        _localbasis.METHOD,
        _gradctrl.METHOD,
        _boundaries.METHOD,
        _sc2gan.METHOD,
        _interpolation.METHOD,
    )
}


def method(name: str) -> Method:
    """The method called ``name`` (a clear error listing the known ones otherwise)."""
    from ..errors import InvalidValueError

    if name not in METHODS:
        raise InvalidValueError(f"unknown method {str(name)[:40]!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


__all__ = ["METHODS", "Method", "Parameter", "all_parameters", "ganspace", "interpolation", "method", "sefa"]
