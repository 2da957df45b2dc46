"""Colorization models: ResNet encoder, DeOldify-style U-Net decoder, registry, weight files."""

from vidcolor.models.registry import create_model, list_models
from vidcolor.models.weights import WeightsInfo, file_sha256, load_weights, save_weights

__all__ = [
    "WeightsInfo",
    "create_model",
    "file_sha256",
    "list_models",
    "load_weights",
    "save_weights",
]
