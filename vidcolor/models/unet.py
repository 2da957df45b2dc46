"""DeOldify-style U-Net decoder: L channel in, ab channels out.

The structure follows DeOldify's ``DynamicUnetDeep`` (built on fastai v1's ``DynamicUnet``),
written out as plain modules with an explicit ``forward``:

    L -> ResNet stem/layer1..4 -> BN, ReLU, middle convs
      -> UnetBlock x4 (up to strides 16, 8, 4, 2; self-attention at 1/8)
      -> PixelShuffle_ICNR to full size -> concat input ("last_cross") -> ResBlock -> 1x1 conv
      -> ab = ab_max * tanh(.)

With ``hints=True`` the encoder's stem takes 4 channels: L, a sparse ab hint map and its mask
(Zhang et al. 2017, "Real-Time User-Guided Image Colorization with Learned Deep Priors"); all
zeros is the automatic mode. The last cross still concatenates L alone, so a hint network has
every tensor of the automatic one except a wider ``encoder.conv1.weight``.

Unlike DeOldify the channel widths are arguments, so a small model is possible; with
``middle_width`` = deepest encoder width and ``decoder_widths=None`` they are DeOldify's own.

One module past 300 lines, as torchvision's ``resnet.py``: helpers, blocks, the model, in the
order of the diagram above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from vidcolor.models import abbins
from vidcolor.models.resnet import ResNet

__all__ = [
    "HINT_CHANNELS",
    "PixelShuffleICNR",
    "ResBlock",
    "SelfAttention",
    "UNet",
    "UnetBlock",
    "icnr_",
]


HINT_CHANNELS = 4  # L, hint a, hint b, hint mask


def _maybe_spectral(conv: nn.Conv2d, spectral: bool) -> nn.Module:
    """Wrap ``conv`` in spectral norm (Miyato et al. 2018) when asked; DeOldify trains so."""
    return spectral_norm(conv) if spectral else conv


def _he_conv(ni: int, nf: int, ks: int, bias: bool) -> nn.Conv2d:
    """Conv with "same" padding, He-normal weights and zero bias, as fastai initialises."""
    conv = nn.Conv2d(ni, nf, kernel_size=ks, padding=(ks - 1) // 2, bias=bias)
    nn.init.kaiming_normal_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def conv_layer(
    ni: int,
    nf: int,
    ks: int = 3,
    *,
    act: bool = True,
    bn: bool = True,
    zero_bn: bool = False,
    spectral: bool = False,
) -> nn.Sequential:
    """fastai's ``conv_layer``: conv, then ReLU, then BatchNorm (BN after the activation).

    The convolution has a bias only when no BatchNorm follows. ``zero_bn`` starts the BN
    scale at 0 (fastai's ``NormType.BatchZero``) so the layer outputs zeros at init.
    """
    layers = [_maybe_spectral(_he_conv(ni, nf, ks, bias=not bn), spectral)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    if bn:
        norm = nn.BatchNorm2d(nf)
        nn.init.constant_(norm.weight, 0.0 if zero_bn else 1.0)
        layers.append(norm)
    return nn.Sequential(*layers)


@torch.no_grad()
def icnr_(weight: Tensor, scale: int = 2) -> Tensor:
    """ICNR init (Aitken et al. 2017, arXiv:1707.02937) of a conv feeding ``PixelShuffle``.

    ``PixelShuffle(scale)`` sends output channel ``c * scale**2 + k`` to sub-pixel ``k`` of
    channel ``c``; giving all ``scale**2`` channels of a group the same He-normal kernel makes
    the shuffled output a nearest-neighbour upsampling, free of checkerboard artefacts at init.

    Args:
        weight: conv weight of shape ``(C * scale**2, C_in, kh, kw)``; filled in place.
        scale: upsampling factor of the following ``PixelShuffle``.

    Returns:
        ``weight``.
    """
    base = torch.empty(weight.shape[0] // scale**2, *weight.shape[1:], dtype=weight.dtype)
    nn.init.kaiming_normal_(base)
    return weight.copy_(base.repeat_interleave(scale**2, dim=0))


class PixelShuffleICNR(nn.Module):
    """Upsample x2: 1x1 conv to ``4 * nf`` (ICNR init), ReLU, PixelShuffle, then blur.

    The blur (replication pad + 2x2 average, stride 1) is fastai's fix for the remaining
    checkerboard pattern (Sugawara et al. 2018, arXiv:1806.02658); it keeps the size.
    """

    def __init__(self, ni: int, nf: int, *, blur: bool = True, spectral: bool = False) -> None:
        super().__init__()
        conv = _he_conv(ni, nf * 4, 1, bias=True)
        icnr_(conv.weight)  # the bias starts at 0: a bias per sub-pixel would break ICNR
        self.conv = _maybe_spectral(conv, spectral)
        self.relu = nn.ReLU(inplace=True)
        self.shuf = nn.PixelShuffle(2)
        self.blur = nn.Sequential(nn.ReplicationPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, stride=1))
        self.use_blur = blur

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, ni, H, W)`` to ``(N, nf, 2H, 2W)``."""
        x = self.shuf(self.relu(self.conv(x)))
        return self.blur(x) if self.use_blur else x


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2018, arXiv:1805.08318) as in fastai v1.

    ``out = x + gamma * attention(x)`` with ``gamma`` starting at 0, so the block is the
    identity at init and the network learns how much non-local context to mix in. Names
    follow fastai: the weight of source position ``i`` for output position ``j`` is
    ``softmax_i(query_i . key_j)``, unscaled.
    """

    def __init__(self, channels: int, *, spectral: bool = False) -> None:
        super().__init__()
        self.query = _maybe_spectral(_he_conv(channels, channels // 8, 1, False), spectral)
        self.key = _maybe_spectral(_he_conv(channels, channels // 8, 1, False), spectral)
        self.value = _maybe_spectral(_he_conv(channels, channels, 1, False), spectral)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, C, H, W)`` to the same shape."""
        n, c, h, w = x.shape
        # scaled_dot_product_attention softmaxes over its key axis, hence fastai's query there;
        # it avoids materialising the (HW, HW) matrix on backends with fused kernels.
        q = self.key(x).flatten(2).transpose(1, 2)  # (N, HW, C/8), output positions j
        k = self.query(x).flatten(2).transpose(1, 2)  # (N, HW, C/8), source positions i
        v = self.value(x).flatten(2).transpose(1, 2)  # (N, HW, C)
        o = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        return x + self.gamma * o.transpose(1, 2).reshape(n, c, h, w)


class UnetBlock(nn.Module):
    """Upsample the lower features, merge the skip, two conv layers (DeOldify's UnetBlockDeep).

    Args:
        up_in_c: channels of the lower (coarser) features.
        skip_c: channels of the skip features at twice the resolution.
        out_c: output channels.
        self_attention: append :class:`SelfAttention` after the second conv.
        blur: blur after the pixel shuffle.
        spectral: spectral norm on every conv.
    """

    def __init__(
        self,
        up_in_c: int,
        skip_c: int,
        out_c: int,
        *,
        self_attention: bool = False,
        blur: bool = True,
        spectral: bool = False,
    ) -> None:
        super().__init__()
        self.shuf = PixelShuffleICNR(up_in_c, up_in_c // 2, blur=blur, spectral=spectral)
        self.bn = nn.BatchNorm2d(skip_c)
        self.relu = nn.ReLU()
        self.conv1 = conv_layer(up_in_c // 2 + skip_c, out_c, spectral=spectral)
        self.conv2 = conv_layer(out_c, out_c, spectral=spectral)
        self.attn = SelfAttention(out_c, spectral=spectral) if self_attention else nn.Identity()

    def forward(self, lower: Tensor, skip: Tensor) -> Tensor:
        """Map ``(N, up_in_c, H, W)`` and ``(N, skip_c, 2H, 2W)`` to ``(N, out_c, 2H, 2W)``."""
        x = self.relu(torch.cat([self.shuf(lower), self.bn(skip)], dim=1))
        return self.attn(self.conv2(self.conv1(x)))


class ResBlock(nn.Module):
    """``x + conv(conv(x))``; the second BN starts at zero so the block is the identity at init.

    fastai's ``res_block`` (zero-init BN: Goyal et al. 2017, arXiv:1706.02677).
    """

    def __init__(self, channels: int, *, spectral: bool = False) -> None:
        super().__init__()
        self.conv1 = conv_layer(channels, channels, spectral=spectral)
        self.conv2 = conv_layer(channels, channels, zero_bn=True, spectral=spectral)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, C, H, W)`` to the same shape."""
        return x + self.conv2(self.conv1(x))


def deoldify_widths(middle_width: int, skip_channels: Sequence[int]) -> tuple[int, ...]:
    """DeOldify's block widths (``nf_factor=1``): each block keeps its input width
    (half the lower features plus the skip), the last block halves it.

    Args:
        middle_width: channels leaving the middle block.
        skip_channels: skip widths from deepest to shallowest (strides 16, 8, 4, 2).
    """
    widths: list[int] = []
    up = middle_width
    for skip in skip_channels:
        up = up // 2 + skip
        widths.append(up)
    widths[-1] //= 2
    return tuple(widths)


class UNet(nn.Module):
    """ResNet-UNet mapping the Lab L channel to the ab channels.

    Args:
        encoder: ResNet trunk with ``in_chans=1`` (``in_chans=4`` with ``hints``).
        middle_width: width of the middle block, which maps the deepest features through
            ``2 * middle_width`` to ``middle_width`` channels; ``None`` keeps the deepest
            encoder width, DeOldify's ``ni -> 2 ni -> ni``.
        decoder_widths: output widths of the four UnetBlocks (strides 16, 8, 4, 2); ``None``
            derives DeOldify's from the encoder (see :func:`deoldify_widths`).
        self_attention: self-attention in the block whose output is at 1/8 scale, as DeOldify.
        blur: blur after every pixel shuffle.
        spectral: spectral norm on every decoder conv.
        head: "ab" regresses ab through tanh; "bins" predicts a distribution over quantized ab
            (Zhang et al. 2016, see :mod:`vidcolor.models.abbins`), decoded by annealed mean.
        temperature: annealed-mean temperature of the "bins" head.
        logit_bias: ``Q`` values added to the bin logits before decoding, or ``None``. A
            network trained without class rebalancing predicts calibrated probabilities whose
            mode is too often a neutral bin; adding ``log`` of the rebalancing weights
            (:func:`abbins.prior_bias`) applies the rebalancing at inference instead (logit
            adjustment, Menon et al. 2021), with a strength chosen on validation images.
        hints: the network also takes an ab hint map and its mask (see :meth:`forward`).
        ab_max: output bound in Lab units of the "ab" head. The ab gamut of sRGB (D65) spans about
            a in [-86, 98], b in [-108, 95], so 110 reaches every sRGB colour while
            ``tanh`` keeps predictions inside a plausible range.

    Attributes:
        size_multiple: H and W of the input must be multiples of this (the encoder's stride).
        hints: whether the network accepts hints; weights files say so in ``arch_kwargs``.
    """

    size_multiple = 32
    centres: Tensor  # (Q, 2) ab of the bins, a buffer
    logit_bias: Tensor  # (Q,) added to the bin logits before decoding, a buffer; both float32

    def __init__(
        self,
        encoder: ResNet,
        *,
        middle_width: int | None = None,
        decoder_widths: Sequence[int] | None = None,
        self_attention: bool = True,
        blur: bool = True,
        spectral: bool = False,
        ab_max: float = 110.0,
        head: str = "ab",
        hints: bool = False,
        temperature: float = abbins.TEMPERATURE,
        logit_bias: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        want = HINT_CHANNELS if hints else 1
        if encoder.in_chans != want:
            what = "L, hint ab and mask" if hints else "L"
            raise ValueError(f"encoder must take {want} input channels ({what}), "
                             f"got {encoder.in_chans}")  # fmt: skip
        ch = encoder.channels
        mid = ch[4] if middle_width is None else middle_width
        if decoder_widths is None:
            decoder_widths = deoldify_widths(mid, ch[3::-1])
        widths = tuple(decoder_widths)
        if len(widths) != 4:
            raise ValueError(f"decoder_widths needs 4 entries (strides 16, 8, 4, 2), got {widths}")
        if head not in ("ab", "bins"):
            raise ValueError(f"head must be 'ab' or 'bins', got {head!r}")
        self.encoder = encoder
        self.ab_max = ab_max
        self.head_kind = head
        self.hints = hints
        self.temperature = temperature
        self.middle = nn.Sequential(
            nn.BatchNorm2d(ch[4]),
            nn.ReLU(),
            conv_layer(ch[4], 2 * mid, spectral=spectral),
            conv_layer(2 * mid, mid, spectral=spectral),
        )
        kw = {"blur": blur, "spectral": spectral}
        self.up16 = UnetBlock(mid, ch[3], widths[0], **kw)
        self.up8 = UnetBlock(widths[0], ch[2], widths[1], self_attention=self_attention, **kw)
        self.up4 = UnetBlock(widths[1], ch[1], widths[2], **kw)
        self.up2 = UnetBlock(widths[2], ch[0], widths[3], **kw)
        self.up1 = PixelShuffleICNR(widths[3], widths[3], **kw)
        self.res = ResBlock(widths[3] + 1, spectral=spectral)
        outputs = 2 if head == "ab" else len(abbins.bin_centres())
        self.head = conv_layer(widths[3] + 1, outputs, ks=1, act=False, bn=False, spectral=spectral)
        centres = torch.from_numpy(abbins.bin_centres())
        self.register_buffer("centres", centres, persistent=False)  # derived, not a weight
        bias = torch.zeros(len(centres)) if logit_bias is None else torch.tensor(logit_bias)
        if bias.shape != (len(centres),):
            raise ValueError(f"logit_bias needs {len(centres)} values, got {tuple(bias.shape)}")
        self.register_buffer("logit_bias", bias.float(), persistent=False)  # in arch_kwargs

    def forward(
        self, lum: Tensor, hint_ab: Tensor | None = None, hint_mask: Tensor | None = None
    ) -> Tensor:
        """Predict ab from L, and from user hints where the network takes them.

        Args:
            lum: Lab lightness in [0, 100], shape ``(N, 1, H, W)`` with H, W multiples of 32.
            hint_ab: ``(N, 2, H, W)`` ab in Lab units where a hint is given (anything, usually
                0, elsewhere); ``None`` = no hints (the automatic mode, as all zeros).
            hint_mask: ``(N, 1, H, W)``, 1 where a hint is given, else 0; with ``hint_ab``.

        Returns:
            ab in Lab units, shape ``(N, 2, H, W)``: ``ab_max * tanh`` of the head for
            ``head="ab"``, the annealed mean of the bin distribution for ``head="bins"``.

        Raises:
            ValueError: a bad shape, or hints given to a network without hint inputs.
        """
        features = self.features(lum, hint_ab, hint_mask)
        if self.head_kind == "bins":
            conv = cast(nn.Conv2d, self.head[0])
            return abbins.decode_head(
                features, conv.weight, conv.bias, self.centres, self.temperature, self.logit_bias
            )
        return self.ab_max * torch.tanh(self.head(features).float())

    def head_output(
        self, lum: Tensor, hint_ab: Tensor | None = None, hint_mask: Tensor | None = None
    ) -> Tensor:
        """The head before decoding: ``(N, 2, H, W)`` for ``head="ab"``, bin logits
        ``(N, Q, H, W)`` for ``head="bins"`` (what the classification loss trains)."""
        return self.head(self.features(lum, hint_ab, hint_mask))

    def features(
        self, lum: Tensor, hint_ab: Tensor | None = None, hint_mask: Tensor | None = None
    ) -> Tensor:
        """The decoder's full-resolution features, the head's input, in the network's dtype."""
        _check_input(lum)
        # [0, 100] -> [-1, 1], the range the convs are initialised for; scaled in float32
        # before any cast, so a bfloat16 network sees L in steps of 0.2, not 0.4.
        x = (lum.float() / 50.0 - 1.0).to(self.encoder.conv1.weight.dtype)
        stem, s4, s8, s16, s32 = self.encoder.forward_features(
            self._stem_input(x, hint_ab, hint_mask)
        )
        y = self.middle(s32)
        y = self.up16(y, s16)
        y = self.up8(y, s8)
        y = self.up4(y, s4)
        y = self.up2(y, stem)
        y = self.up1(y)
        return self.res(torch.cat([y, x], dim=1))  # DeOldify's "last_cross": full-res input detail

    def _stem_input(self, x: Tensor, hint_ab: Tensor | None, hint_mask: Tensor | None) -> Tensor:
        """``x`` (scaled L) alone, or with the hints: ab / ``ab_max`` (the range [-1, 1] that L
        has) and the mask; zeros when no hints are given."""
        if (hint_ab is None) != (hint_mask is None):
            raise ValueError("give hint_ab and hint_mask together, or neither")
        if not self.hints:
            if hint_ab is not None:
                raise ValueError("this network takes no hints (weights without hint inputs)")
            return x
        n, _, h, w = x.shape
        if hint_ab is None or hint_mask is None:
            return torch.cat([x, x.new_zeros(n, HINT_CHANNELS - 1, h, w)], dim=1)
        if tuple(hint_ab.shape) != (n, 2, h, w) or tuple(hint_mask.shape) != (n, 1, h, w):
            want = f"({n}, 2, {h}, {w}) and ({n}, 1, {h}, {w})"
            got = f"{tuple(hint_ab.shape)} and {tuple(hint_mask.shape)}"
            raise ValueError(f"expected hints of shape {want}, got {got}")
        hints = torch.cat([hint_ab.float() / self.ab_max, hint_mask.float()], dim=1)
        return torch.cat([x, hints.to(x.dtype)], dim=1)

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> UNet:
        """Moves and casts like any module, except that the bin centres and logit bias stay
        float32: the head is decoded in float32 whatever the network's dtype."""
        tables = {"centres": self.centres, "logit_bias": self.logit_bias}
        super()._apply(fn, recurse)
        for name, table in tables.items():
            setattr(self, name, table.to(getattr(self, name).device))
        return self


def _check_input(lum: Tensor) -> None:
    """Raise ValueError naming the shape unless it is ``(N, 1, H, W)`` with H, W % 32 == 0."""
    shape = tuple(lum.shape)
    if lum.ndim != 4 or shape[1] != 1:
        raise ValueError(f"expected L of shape (N, 1, H, W), got {shape}")
    if shape[2] % UNet.size_multiple or shape[3] % UNet.size_multiple:
        raise ValueError(
            f"H and W must be multiples of {UNet.size_multiple}, got shape {shape}; "
            "pad or resize the frame first"
        )
