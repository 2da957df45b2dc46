"""The building blocks of DeOldify's decoder, as fastai v1 and DeOldify define them.

Attribute names and child indices follow fastai's modules, so a state dict built from these has
the keys of DeOldify's published files; :mod:`vidcolor.models.deoldify` assembles them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidcolor.models.norms import SpectralNormConv

__all__ = [
    "PixelShuffleUp",
    "ResBlock",
    "SelfAttention",
    "SigmoidRange",
    "UnetBlock",
    "UnetBlockDeep",
    "UnetBlockWide",
    "conv_layer",
]


def conv_layer(
    ni: int, nf: int, ks: int = 3, *, act: bool = True, bn: bool = True, attn: bool = False
) -> nn.Sequential:
    """DeOldify's ``custom_conv_layer`` with spectral norm: conv, ReLU, BatchNorm, attention.

    Indices are fastai's (0 conv, 1 ReLU, 2 BN, 3 attention; 1 BN without the ReLU); the conv has
    a bias only when no BatchNorm follows.
    """
    layers: list[nn.Module] = [SpectralNormConv(ni, nf, ks, bias=not bn)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    if bn:
        layers.append(nn.BatchNorm2d(nf))
    if attn:
        layers.append(SelfAttention(nf))
    return nn.Sequential(*layers)


class SelfAttention(nn.Module):
    """fastai v1's SAGAN self-attention: 1x1 spectral-norm Conv1d over flattened positions.

    ``out_j = x_j + gamma * sum_i value_i * softmax_i(query_i . key_j)``, unscaled.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query = SpectralNormConv(channels, channels // 8, bias=False, dims=1)
        self.key = SpectralNormConv(channels, channels // 8, bias=False, dims=1)
        self.value = SpectralNormConv(channels, channels, bias=False, dims=1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, C, H, W)`` to the same shape."""
        n, c, h, w = x.shape
        flat = x.flatten(2)
        # The softmax runs over source positions i, the keys of scaled_dot_product_attention, so
        # fastai's ``query`` goes there; fused kernels then avoid the (HW, HW) matrix.
        q = self.key(flat).transpose(1, 2)
        k = self.query(flat).transpose(1, 2)
        v = self.value(flat).transpose(1, 2)
        o = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        return x + self.gamma * o.transpose(1, 2).reshape(n, c, h, w)


class PixelShuffleUp(nn.Module):
    """Upsample x2: ``conv`` to ``4 nf`` channels, ReLU, PixelShuffle, blur (pad + 2x2 mean).

    DeOldify's ``CustomPixelShuffle_ICNR`` and fastai's ``PixelShuffle_ICNR``; only ``conv``
    holds parameters, so the two differ in the conv they get.
    """

    def __init__(self, conv: nn.Sequential) -> None:
        super().__init__()
        self.conv = conv
        self.shuf = nn.PixelShuffle(2)
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, ni, H, W)`` to ``(N, nf, 2H, 2W)``."""
        return self.blur(self.pad(self.shuf(self.relu(self.conv(x)))))


def _block_shuffle(ni: int, nf: int) -> PixelShuffleUp:
    """A U-Net block's upsampler: spectral-norm 1x1 conv without bias, then BatchNorm."""
    return PixelShuffleUp(conv_layer(ni, 4 * nf, ks=1, act=False))


class UnetBlock(nn.Module):
    """Upsample the lower features, resize to the skip if odd sizes differ, merge with the
    BatchNormed skip, ReLU; subclasses add the convs."""

    out_c: int
    shuf: PixelShuffleUp
    bn: nn.BatchNorm2d
    relu: nn.ReLU

    def merge(self, lower: Tensor, skip: Tensor) -> Tensor:
        """Map ``(N, up_in_c, h, w)`` and ``(N, skip_c, H, W)`` to ``(N, up_c + skip_c, H, W)``."""
        up = self.shuf(lower)
        if up.shape[-2:] != skip.shape[-2:]:
            up = F.interpolate(up, size=skip.shape[-2:], mode="nearest")
        return self.relu(torch.cat([up, self.bn(skip)], dim=1))


class UnetBlockDeep(UnetBlock):
    """DeOldify's ``UnetBlockDeep``: upsample to ``up_in_c // 2``, merge, two conv layers."""

    def __init__(self, up_in_c: int, skip_c: int, out_c: int, *, self_attention: bool) -> None:
        super().__init__()
        self.out_c = out_c
        self.shuf = _block_shuffle(up_in_c, up_in_c // 2)
        self.bn = nn.BatchNorm2d(skip_c)
        self.conv1 = conv_layer(up_in_c // 2 + skip_c, out_c)
        self.conv2 = conv_layer(out_c, out_c, attn=self_attention)
        self.relu = nn.ReLU()

    def forward(self, lower: Tensor, skip: Tensor) -> Tensor:
        """Map ``(N, up_in_c, h, w)`` and ``(N, skip_c, H, W)`` to ``(N, out_c, H, W)``."""
        return self.conv2(self.conv1(self.merge(lower, skip)))


class UnetBlockWide(UnetBlock):
    """DeOldify's ``UnetBlockWide``: upsample to ``out_c``, merge, one conv layer."""

    def __init__(self, up_in_c: int, skip_c: int, out_c: int, *, self_attention: bool) -> None:
        super().__init__()
        self.out_c = out_c
        self.shuf = _block_shuffle(up_in_c, out_c)
        self.bn = nn.BatchNorm2d(skip_c)
        self.conv = conv_layer(out_c + skip_c, out_c, attn=self_attention)
        self.relu = nn.ReLU()

    def forward(self, lower: Tensor, skip: Tensor) -> Tensor:
        """Map ``(N, up_in_c, h, w)`` and ``(N, skip_c, H, W)`` to ``(N, out_c, H, W)``."""
        return self.conv(self.merge(lower, skip))


class ResBlock(nn.Module):
    """fastai's ``res_block`` with spectral norm: ``x + relu(conv(relu(conv(x))))``, biased convs.

    ``layers`` mirrors its ``SequentialEx`` (keys ``layers.0.0.*``, ``layers.1.0.*``).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([conv_layer(channels, channels, bn=False) for _ in range(2)])

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, C, H, W)`` to the same shape."""
        conv1, conv2 = self.layers
        return x + conv2(conv1(x))


class SigmoidRange(nn.Module):
    """``low + (high - low) * sigmoid(x)``."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise; any shape."""
        return torch.sigmoid(x) * (self.high - self.low) + self.low
