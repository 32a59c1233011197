"""Built-in catalog: the checkpoints users reach for, with where they live and how to build them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "dcgan-faces"


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    architecture: str
    repo_id: str | None = None  # None: the embedded wheel
    filename: str | None = None
    revision: str | None = None
    extra_files: tuple[str, ...] = ()  # fetched beside the checkpoint (e.g. config.json)
    config: dict[str, Any] = field(default_factory=dict)  # overrides what detection finds
    license: str = ""


CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in [
        CatalogEntry(
            "dcgan-faces",
            "DCGAN 64×64 faces (embedded, from the gan-face-generate wheel, trained on DigiFace-1M)",
            "dcgan",
            license="code MIT; weights from DigiFace-1M, non-commercial research use only",
        ),
    ]
}


def register(entry: CatalogEntry) -> None:
    """Add or replace a catalog entry (used by architecture modules and by users' own code)."""
    CATALOG[entry.name] = entry
