"""Built-in catalog: the checkpoints users reach for, with where they live and how to build them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .embedded import embedded_wheel

DEFAULT_MODEL = "dcgan-faces"


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    architecture: str
    repo_id: str | None = None  # None: an embedded wheel (see ``embedded.EMBEDDED``)
    filename: str | None = None
    revision: str | None = None
    extra_files: tuple[str, ...] = ()  # fetched beside the checkpoint (e.g. config.json)
    config: dict[str, Any] = field(default_factory=dict)  # overrides what detection finds
    license: str = ""


#: The eyes model's classes, in the order of its one-hot input (the wheel's ``eye_generator.classes``).
EYE_COLOURS = ("amber", "blue", "brown", "gray", "grayscale", "green", "hazel", "red")

CATALOG: dict[str, CatalogEntry] = {
    entry.name: entry
    for entry in [
        CatalogEntry(
            "dcgan-faces",
            "DCGAN 64×64 faces (embedded, from the gan-face-generate wheel, trained on DigiFace-1M)",
            "dcgan",
            license=embedded_wheel("dcgan-faces").license,
        ),
        CatalogEntry(
            "dcgan-eyes",
            "cDCGAN 128×128 eyes, 8 colour classes, embedded from the omniart-eye-generator==0.1 wheel",
            "dcgan",
            # the first layer reads [z; one-hot class] (108 channels): the split is not in the file
            config={"nz": 100, "num_classes": len(EYE_COLOURS), "class_names": list(EYE_COLOURS)},
            license=embedded_wheel("dcgan-eyes").license,
        ),
    ]
}


def register(entry: CatalogEntry) -> None:
    """Add or replace a catalog entry (used by architecture modules and by users' own code)."""
    CATALOG[entry.name] = entry


register(
    CatalogEntry(
        "biggan-deep-128",
        "BigGAN-deep 128×128, ImageNet (1000 classes), pytorch-pretrained-biggan conversion of DeepMind's TF-Hub model",
        "biggan-deep",
        repo_id="osanseviero/BigGAN-deep-128",
        filename="pytorch_model.bin",
        extra_files=("config.json",),
        license="weights: DeepMind BigGAN-deep (TF Hub, Apache-2.0), converted by pytorch-pretrained-BigGAN (MIT); "
        "check the Hub repo's model card",
    )
)


# StyleGAN2 config-f models (NVIDIA TF weights converted to rosinality's layout, as used by GANSpace/Local Basis).
for _name, _size, _what in [
    ("ffhq", 1024, "faces (FFHQ)"),
    ("car", 512, "cars (LSUN Car)"),
    ("cat", 256, "cats (LSUN Cat)"),
    ("church", 256, "churches (LSUN Church)"),
    ("horse", 256, "horses (LSUN Horse)"),
]:
    register(
        CatalogEntry(
            f"stylegan2-{_name}",
            f"StyleGAN2 config-f {_size}×{_size}, {_what}; NVIDIA weights in rosinality's PyTorch layout",
            "stylegan2",
            repo_id="aaronb/StyleGAN2",
            filename=f"stylegan2-{_name}-config-f.pt",
            license="NVIDIA Source Code License-NC (non-commercial)",
        )
    )
del _name, _size, _what


# NVlabs stylegan2-ada / stylegan3-repo network pickles, read through the restricted unpickler (no code runs).
for _name, _file, _what in [
    ("ffhq-1024", "stylegan2-ffhq-1024x1024.pkl", "faces (FFHQ) 1024×1024"),
    ("ffhq-256", "stylegan2-ffhq-256x256.pkl", "faces (FFHQ) 256×256"),
    ("metfaces-1024", "stylegan2-metfaces-1024x1024.pkl", "art portraits (MetFaces) 1024×1024"),
    ("afhqcat-512", "stylegan2-afhqcat-512x512.pkl", "cats (AFHQ) 512×512"),
    ("afhqdog-512", "stylegan2-afhqdog-512x512.pkl", "dogs (AFHQ) 512×512"),
    ("afhqwild-512", "stylegan2-afhqwild-512x512.pkl", "wild animals (AFHQ) 512×512"),
    ("celebahq-256", "stylegan2-celebahq-256x256.pkl", "faces (CelebA-HQ) 256×256"),
]:
    register(
        CatalogEntry(
            f"stylegan2-ada-{_name}",
            f"StyleGAN2-ADA {_what}; NVlabs pickle (may need a Hub token: the repo can be gated)",
            "stylegan2",
            repo_id="hysts/StyleGAN2",
            filename=f"models/{_file}",
            license="NVIDIA Source Code License-NC (non-commercial)",
        )
    )
del _name, _file, _what

# genforce PGGAN / StyleGAN v1 state dicts (genforce/sefa key names), mirrored on the Hub for SeFa's Space.
_GENFORCE_NOTE = "genforce conversion; the Hub card says Apache-2.0 (check it)"
for _name, _repo, _arch, _what, _license in [
    (
        "pggan-celebahq-1024",
        "huggan/pggan-celebahq-1024",
        "pggan",
        "PGGAN 1024×1024 faces (CelebA-HQ)",
        "NVIDIA PGGAN weights, CC BY-NC 4.0 (non-commercial)",
    ),
    (
        "stylegan-animeface-512",
        "huggan/stylegan_animeface512",
        "stylegan",
        "StyleGAN 512×512 anime faces",
        "third-party StyleGAN weights from genforce's model zoo, original licence unverified",
    ),
    (
        "stylegan-car-512",
        "huggan/stylegan_car512",
        "stylegan",
        "StyleGAN 512×512 cars (LSUN Car)",
        "NVIDIA StyleGAN weights, CC BY-NC 4.0 (non-commercial)",
    ),
    (
        "stylegan-cat-256",
        "huggan/stylegan_cat256",
        "stylegan",
        "StyleGAN 256×256 cats (LSUN Cat)",
        "NVIDIA StyleGAN weights, CC BY-NC 4.0 (non-commercial)",
    ),
]:
    register(
        CatalogEntry(
            _name,
            f"{_what}; genforce/sefa weights",
            _arch,
            repo_id=_repo,
            filename="pytorch_model.bin",
            license=f"{_license}; {_GENFORCE_NOTE}",
        )
    )
del _name, _repo, _arch, _what, _license
