"""Where weights come from: the embedded wheel, the Hub, local files; safe reading and one-time conversion."""

from .catalog import CATALOG, DEFAULT_MODEL, CatalogEntry
from .load import GeneratorCache, generators, load_generator, resolve

__all__ = ["CATALOG", "DEFAULT_MODEL", "CatalogEntry", "GeneratorCache", "generators", "load_generator", "resolve"]
