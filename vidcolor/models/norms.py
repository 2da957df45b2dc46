"""Convolutions with spectral or weight norm in torch 1.x's state-dict layout, and their folding.

fastai v1 (and so DeOldify) wraps convs in ``torch.nn.utils.spectral_norm`` and ``weight_norm``;
checkpoints of that time store the parametrisation, not the weight used. These modules have the
same parameters and buffers, in the same order, so the files load with ``strict=True``;
:func:`fold_norms` then swaps each for a plain conv holding the weight they compute, the form
inference wants.
"""

from __future__ import annotations

from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SpectralNormConv", "WeightNormConv", "fold_norms"]

_EPS = 1e-12  # torch's spectral-norm epsilon
_M = TypeVar("_M", bound=nn.Module)


class SpectralNormConv(nn.Module):
    """Conv1d/Conv2d with spectral norm (Miyato et al. 2018) in torch 1.x's state-dict layout.

    Parameters ``bias`` (optional) and ``weight_orig``, buffers ``weight_u`` and ``weight_v``, in
    that order, as ``torch.nn.utils.spectral_norm`` leaves them. The weight used is
    ``weight_orig / sigma`` with ``sigma = u . (W v)``, ``W`` the weight as an ``(out, -1)``
    matrix. In eval mode u and v are used as stored (torch >= 1.0), so the output depends on the
    file alone; in training mode one power iteration updates them first, as torch does.
    """

    bias: nn.Parameter | None
    weight_u: Tensor
    weight_v: Tensor

    def __init__(self, ni: int, nf: int, ks: int = 1, *, bias: bool, dims: int = 2) -> None:
        super().__init__()
        self.dims = dims
        self.padding = (ks - 1) // 2
        self.bias = nn.Parameter(torch.zeros(nf)) if bias else None
        self.weight_orig = nn.Parameter(torch.empty(nf, ni, *(ks,) * dims))
        nn.init.kaiming_normal_(self.weight_orig)
        v = F.normalize(torch.randn(ni * ks**dims), dim=0, eps=_EPS)
        u = F.normalize(self.weight_orig.detach().flatten(1) @ v, dim=0, eps=_EPS)  # sigma > 0
        self.register_buffer("weight_u", u)
        self.register_buffer("weight_v", v)

    def weight(self) -> Tensor:
        """The normalised weight from the stored u and v, shape of ``weight_orig``."""
        u, v = self.weight_u, self.weight_v
        if self.training:  # as torch: the next call's in-place update must not reach backward
            u, v = u.clone(), v.clone()
        return self.weight_orig / torch.dot(u, self.weight_orig.flatten(1) @ v)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, ni, *S)`` to ``(N, nf, *S)``; S is (L,) or (H, W), kept by the padding."""
        if self.training:
            with torch.no_grad():
                mat = self.weight_orig.flatten(1)
                self.weight_v.copy_(F.normalize(mat.t() @ self.weight_u, dim=0, eps=_EPS))
                self.weight_u.copy_(F.normalize(mat @ self.weight_v, dim=0, eps=_EPS))
        conv = F.conv2d if self.dims == 2 else F.conv1d
        return conv(x, self.weight(), self.bias, padding=self.padding)


class WeightNormConv(nn.Module):
    """Conv2d with weight norm (Salimans & Kingma 2016) in torch's layout.

    Parameters ``bias``, ``weight_g`` of shape ``(nf, 1, 1, 1)`` and ``weight_v``; the weight
    used is ``g * v / |v|``, the norm taken per output channel.
    """

    def __init__(self, ni: int, nf: int, ks: int = 1) -> None:
        super().__init__()
        self.padding = (ks - 1) // 2
        self.bias = nn.Parameter(torch.zeros(nf))
        v = nn.init.kaiming_normal_(torch.empty(nf, ni, ks, ks))
        self.weight_g = nn.Parameter(v.flatten(1).norm(dim=1).view(nf, 1, 1, 1))
        self.weight_v = nn.Parameter(v)

    def weight(self) -> Tensor:
        """The weight ``g * v / |v|``, shape ``(nf, ni, ks, ks)``."""
        norm = self.weight_v.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        return self.weight_v * (self.weight_g / norm)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, ni, H, W)`` to ``(N, nf, H, W)``."""
        return F.conv2d(x, self.weight(), self.bias, padding=self.padding)


def fold_norms(model: _M) -> _M:
    """Replace every spectral- or weight-normalised conv by a plain conv, in place.

    The plain weight is what the eval-mode forward computes from the stored vectors (no power
    iteration), so an eval-mode model gives the same output, without recomputing ``sigma`` and
    dividing the largest weights (Stable's middle convs: 75 M values each) on every call.
    BatchNorm is left as it is. The result no longer loads DeOldify's files.

    Returns:
        ``model``.
    """
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, SpectralNormConv | WeightNormConv):
                setattr(parent, name, _plain_conv(child))
    return model


@torch.no_grad()
def _plain_conv(norm_conv: SpectralNormConv | WeightNormConv) -> nn.Module:
    """A Conv1d/Conv2d holding ``norm_conv``'s current weight and bias."""
    weight = norm_conv.weight().detach().clone()
    nf, ni, *kernel = weight.shape
    conv_cls = nn.Conv1d if len(kernel) == 1 else nn.Conv2d
    bias = norm_conv.bias
    conv = conv_cls(
        ni, nf, kernel[0], padding=norm_conv.padding, bias=bias is not None, device="meta"
    )
    conv.weight = nn.Parameter(weight)
    if bias is not None:
        conv.bias = nn.Parameter(bias.detach().clone())
    return conv
