"""Weights files, one module each: vidcolor's own safetensors format
(:mod:`~vidcolor.models.weights.format`), DeOldify's pickled checkpoints read without unpickling
code (:mod:`~vidcolor.models.weights.legacy`), the user's installed weights
(:mod:`~vidcolor.models.weights.installed`; ``vidcolor weights`` in
:mod:`~vidcolor.models.weights.manage`) and the shipped default with its pin
(:mod:`~vidcolor.models.weights.shipped`).
"""

from vidcolor.models.weights.format import (
    WeightsInfo,
    check_weights_file,
    load_weights,
    read_metadata,
    save_weights,
)
from vidcolor.models.weights.shipped import resolve_weights

__all__ = [
    "WeightsInfo",
    "check_weights_file",
    "load_weights",
    "read_metadata",
    "resolve_weights",
    "save_weights",
]
