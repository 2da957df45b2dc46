"""Model names -> builders: ``create_model(name, **kw)`` for native models, ``build_model`` for any.

Two kinds of model are registered. Native models (:func:`list_models`, :func:`create_model`)
take Lab L and return ab and are what ``vidcolor train`` trains. Compatible models
(``list_models(compat=True)`` adds them; :func:`build_model` builds either kind) are DeOldify's
generators, which take ImageNet-normalised RGB and return RGB; they run imported weights
(``vidcolor weights import``), whose files name them with ``arch_kwargs={"folded": true}``.

Default decoder widths per encoder are chosen for size: ``unet_resnet18`` (the default model)
stays at or below 14 M parameters so its fp16 weights file fits in 30 MB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from vidcolor.models import deoldify, resnet
from vidcolor.models.unet import HINT_CHANNELS, UNet

__all__ = ["build_model", "create_model", "list_models"]

# Middle width 96 and these block widths keep unet_resnet18 at 13.8 M parameters.
_SMALL_DECODER: dict[str, Any] = {"middle_width": 96, "decoder_widths": (160, 128, 96, 64)}
# ResNet-50/101 end in 2048 channels; a wider decoder matches their larger skips.
_WIDE_DECODER: dict[str, Any] = {"middle_width": 256, "decoder_widths": (512, 256, 128, 64)}


def _unet(encoder: Callable[..., resnet.ResNet], defaults: dict[str, Any]) -> Callable[..., UNet]:
    """Make a builder: ``encoder`` (1 input channel, or L + hints with ``hints=True``) plus a
    UNet whose defaults ``**kw`` can override."""

    def build(*, hints: bool = False, **kw: Any) -> UNet:
        in_chans = HINT_CHANNELS if hints else 1
        return UNet(encoder(in_chans=in_chans), hints=hints, **{**defaults, **kw})

    return build


_MODELS: dict[str, Callable[..., UNet]] = {
    "unet_resnet18": _unet(resnet.resnet18, _SMALL_DECODER),
    "unet_resnet34": _unet(resnet.resnet34, _SMALL_DECODER),
    "unet_resnet50": _unet(resnet.resnet50, _WIDE_DECODER),
    "unet_resnet101": _unet(resnet.resnet101, _WIDE_DECODER),
}

_COMPAT: dict[str, Callable[..., nn.Module]] = {
    "deoldify_artistic": deoldify.deoldify_artistic,
    "deoldify_stable": deoldify.deoldify_stable,
    "deoldify_video": deoldify.deoldify_video,
}


def list_models(*, compat: bool = False) -> list[str]:
    """Native model names, smallest encoder first; with ``compat`` also DeOldify's generators."""
    return [*_MODELS, *_COMPAT] if compat else list(_MODELS)


def create_model(name: str, **kw: Any) -> UNet:
    """Build a freshly initialised native model by name.

    Args:
        name: one of :func:`list_models`.
        **kw: keyword arguments of :class:`~vidcolor.models.unet.UNet` overriding the defaults
            (``middle_width``, ``decoder_widths``, ``self_attention``, ``blur``, ``spectral``,
            ``ab_max``, ``head``, ``hints``: the 4-channel stem that takes ab hints).

    Raises:
        ValueError: ``name`` is unknown; the message lists the known names.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _MODELS[name](**kw)


def build_model(name: str, **kw: Any) -> nn.Module:
    """Build any registered model, native or compatible: what a weights file's ``arch`` names.

    Args:
        name: one of ``list_models(compat=True)``.
        **kw: as :func:`create_model` for a native model; ``folded`` for a DeOldify generator.

    Raises:
        ValueError: ``name`` is unknown; the message lists the known names.
    """
    if name in _COMPAT:
        return _COMPAT[name](**kw)
    if name not in _MODELS:
        known = ", ".join(list_models(compat=True))
        raise ValueError(f"unknown model {name!r}; known models: {known}")
    return create_model(name, **kw)
