"""Colorization models: ResNet encoder, U-Net decoder, DeOldify's generators, registry, weights."""

from vidcolor.models.registry import build_model, create_model, list_models
from vidcolor.models.weights import WeightsInfo, file_sha256, load_weights, save_weights

__all__ = [
    "WeightsInfo",
    "build_model",
    "create_model",
    "file_sha256",
    "list_models",
    "load_weights",
    "save_weights",
]
