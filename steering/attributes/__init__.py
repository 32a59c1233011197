"""Attributes of generated images on the latent: scored or labelled samples, latent classifier heads, labelled-set
files and the disentanglement measurement (what GradCtrl and its linear baselines are built from)."""

from .heads import Heads, Training, jacobian, probabilities, train_heads
from .labels import LabelledSet, LabelsFileError
from .samples import Attribute, AttributeSamples, Labelled, confident, edit_space, score_samples
from .train import Sampling, Trained, train

__all__ = [
    "Attribute",
    "AttributeSamples",
    "Heads",
    "Labelled",
    "LabelledSet",
    "LabelsFileError",
    "Sampling",
    "Trained",
    "Training",
    "confident",
    "edit_space",
    "jacobian",
    "probabilities",
    "score_samples",
    "train",
    "train_heads",
]
