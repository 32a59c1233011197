"""Typed errors: each says what went wrong and what the user can do about it."""

from __future__ import annotations


class SteeringError(Exception):
    """Base class for every error gan-steering raises on purpose."""


class ModelNotFoundError(SteeringError):
    """A model spec names no catalog entry, Hub file or local file."""


class CorruptFileError(SteeringError):
    """A file cannot be read: it is truncated, corrupt or of another format."""


class CheckpointFormatError(CorruptFileError):
    """A checkpoint file fits none of the layouts we know, or is corrupt."""


class UnsafeCheckpointError(CheckpointFormatError):
    """A checkpoint asks to run code or to build objects we do not allow."""


class DirectionsFileError(CorruptFileError):
    """A direction file is corrupt, truncated or not a gan-steering file."""


class LatentsFileError(CorruptFileError):
    """A latents file (a saved starting point) is corrupt, truncated or not a gan-steering file."""


class ImageInputError(SteeringError):
    """An image cannot be used: empty, not an image, too large, damaged, or in a mode we do not convert."""


class EncoderFileError(CorruptFileError):
    """An encoder file is corrupt, truncated or not a gan-steering encoder."""


class DirectionsMismatchError(SteeringError):
    """A direction file was made for another model, latent space or layer layout."""


class InvalidValueError(SteeringError, ValueError):
    """A parameter is NaN, out of range or otherwise unusable."""


class ResourceLimitError(InvalidValueError):
    """A request would need more memory or work than one request may take (see ``steering.limits``)."""


class CancelledError(SteeringError):
    """The user cancelled a long computation; nothing it would have produced was kept."""


class HubError(SteeringError):
    """The Hugging Face Hub could not give us what was asked for."""
