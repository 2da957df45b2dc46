"""Model names -> builders; ``create_model(name, **kw)`` is the one way to build a model.

Default decoder widths per encoder are chosen for size: ``unet_resnet18`` (the default model)
stays at or below 14 M parameters so its fp16 weights file fits in 30 MB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vidcolor.models import resnet
from vidcolor.models.unet import UNet

__all__ = ["create_model", "list_models"]

# Middle width 96 and these block widths keep unet_resnet18 at 13.8 M parameters.
_SMALL_DECODER: dict[str, Any] = {"middle_width": 96, "decoder_widths": (160, 128, 96, 64)}
# ResNet-50/101 end in 2048 channels; a wider decoder matches their larger skips.
_WIDE_DECODER: dict[str, Any] = {"middle_width": 256, "decoder_widths": (512, 256, 128, 64)}


def _unet(encoder: Callable[..., resnet.ResNet], defaults: dict[str, Any]) -> Callable[..., UNet]:
    """Make a builder: 1-channel ``encoder`` plus a UNet whose defaults ``**kw`` can override."""

    def build(**kw: Any) -> UNet:
        return UNet(encoder(in_chans=1), **{**defaults, **kw})

    return build


_MODELS: dict[str, Callable[..., UNet]] = {
    "unet_resnet18": _unet(resnet.resnet18, _SMALL_DECODER),
    "unet_resnet34": _unet(resnet.resnet34, _SMALL_DECODER),
    "unet_resnet50": _unet(resnet.resnet50, _WIDE_DECODER),
    "unet_resnet101": _unet(resnet.resnet101, _WIDE_DECODER),
}


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, smallest encoder first."""
    return list(_MODELS)


def create_model(name: str, **kw: Any) -> UNet:
    """Build a freshly initialised model by name.

    Args:
        name: one of :func:`list_models`.
        **kw: keyword arguments of :class:`~vidcolor.models.unet.UNet` overriding the defaults
            (``middle_width``, ``decoder_widths``, ``self_attention``, ``blur``, ``spectral``,
            ``ab_max``).

    Raises:
        ValueError: ``name`` is unknown; the message lists the known names.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _MODELS[name](**kw)
