"""DeOldify's published generators (Artistic, Stable, Video) as plain torch modules.

DeOldify (github.com/jantic/DeOldify) builds its generators with fastai v1: a ResNet body cut
before its pooling layer, then ``DynamicUnetDeep`` (Artistic) or ``DynamicUnetWide`` (Stable,
Video), all children of one numbered ``SequentialEx``. This module rebuilds them module for
module, so ``state_dict()`` has the published keys and shapes and ``load_state_dict(strict=True)``
takes the ``*_gen.pth`` files as they are (read them with :mod:`vidcolor.models.weights.legacy`):

    layers.0      ResNet body: 0 conv1, 1 bn1, 2 relu, 3 maxpool, 4..7 layer1..4 (torchvision names)
    layers.1, 2   BatchNorm, ReLU on the stride-32 features
    layers.3      middle: conv layers C -> 2C -> C
    layers.4..7   U-Net blocks up to strides 16, 8, 4, 2; self-attention in layers.5
    layers.8      pixel shuffle (weight norm) to full size
    layers.9      fastai's MergeLayer: concatenate the input image ("last_cross"); no parameters
    layers.10     res block of two conv layers
    layers.11     1x1 conv to 3 channels
    layers.12     SigmoidRange(-3, 3); no parameters

The blocks are in :mod:`vidcolor.models.deoldify_layers`, the spectral- and weight-norm convs
and :func:`fold_norms`, which turns them into plain convs for inference, in
:mod:`vidcolor.models.norms`. ``deoldify_*(folded=True)`` builds the folded layout that
``vidcolor weights import`` stores.

Facts from DeOldify's deoldify/{unet,layers,generators}.py and its copy of fastai v1:
- Every decoder conv is spectrally normalised (``NormType.Spectral``). With ``extra_bn`` the convs
  of the middle and of the blocks, the 1x1 conv before each block's pixel shuffle included, are
  followed by a BatchNorm and have no bias; the res block and the head have a bias and no BN.
- The last upsampler is fastai's ``PixelShuffle_ICNR`` with its default ``NormType.Weight``.
- Every pixel shuffle is blurred: the fastai copy tests ``if self.blur`` on a module, always true.
- The files were written by torch 1.0.x (fastai 1.0.51 needs torch >= 1.0): spectral norm is
  stored as ``weight_orig`` plus buffers ``weight_u`` and ``weight_v`` (its state version 1; no
  ``weight``), and every BatchNorm has ``num_batches_tracked`` (the files hold ``LongStorage``).

Input: DeOldify turns a frame to gray with PIL (``convert('LA').convert('RGB')``: ITU-R 601 luma
copied to three channels), stretches it to a square of ``16 * render_factor``, scales to [0, 1]
and normalises with the ImageNet statistics. Output: ``SigmoidRange(-3, 3)`` in that normalised
space, denormalised by fastai's ``pred_batch`` (the data were normalised with ``do_y=True``), so
RGB within mean +- 3 std per channel (-0.27 to 1.17), not clamped. DeOldify then casts
``255 * x`` to uint8 unclamped and keeps only its chroma, under the original luma (YUV).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vidcolor.models import resnet
from vidcolor.models.deoldify_layers import (
    PixelShuffleUp,
    ResBlock,
    SigmoidRange,
    UnetBlock,
    UnetBlockDeep,
    UnetBlockWide,
    conv_layer,
)
from vidcolor.models.norms import WeightNormConv, fold_norms

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PUBLISHED",
    "DeOldifyGenerator",
    "PublishedGenerator",
    "ResNetBody",
    "deoldify_artistic",
    "deoldify_stable",
    "deoldify_video",
    "fold_norms",
    "gray_to_input",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ResNetBody(nn.Sequential):
    """A ResNet's children up to ``layer4``, numbered as fastai's ``create_body`` leaves them."""

    def __init__(self, trunk: resnet.ResNet) -> None:
        t = trunk
        super().__init__(t.conv1, t.bn1, t.relu, t.maxpool, t.layer1, t.layer2, t.layer3, t.layer4)

    def forward(self, x: Tensor) -> list[Tensor]:
        """The features DeOldify's hooks keep, as :meth:`ResNet.forward_features` gives them."""
        conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4 = self
        stem = relu(bn1(conv1(x)))
        s4 = layer1(maxpool(stem))
        s8 = layer2(s4)
        s16 = layer3(s8)
        return [stem, s4, s8, s16, layer4(s16)]


def _deep_blocks(up_c: int, skips: tuple[int, ...], nf_factor: float) -> list[UnetBlock]:
    """``DynamicUnetDeep``'s blocks: each keeps its merged width times ``nf_factor``; the last
    halves it first. Self-attention sits in the second block (fastai's ``i == n - 3``)."""
    blocks: list[UnetBlock] = []
    for i, skip_c in enumerate(skips):
        merged = up_c // 2 + skip_c
        out_c = int((merged // 2 if i == len(skips) - 1 else merged) * nf_factor)
        blocks.append(UnetBlockDeep(up_c, skip_c, out_c, self_attention=i == 1))
        up_c = out_c
    return blocks


def _wide_blocks(up_c: int, skips: tuple[int, ...], nf_factor: float) -> list[UnetBlock]:
    """``DynamicUnetWide``'s blocks: ``n_out = 512 * nf_factor`` (halved for the last) and each
    block's output ``n_out // 2``."""
    blocks: list[UnetBlock] = []
    for i, skip_c in enumerate(skips):
        n_out = int(512 * nf_factor) // (2 if i == len(skips) - 1 else 1)
        blocks.append(UnetBlockWide(up_c, skip_c, n_out // 2, self_attention=i == 1))
        up_c = n_out // 2
    return blocks


class DeOldifyGenerator(nn.Module):
    """DeOldify's generator: ResNet body, ``DynamicUnetDeep`` or ``DynamicUnetWide`` decoder.

    Args:
        trunk: 3-channel ResNet whose children become ``layers.0``.
        wide: ``DynamicUnetWide`` (Stable, Video) instead of ``DynamicUnetDeep`` (Artistic).
        nf_factor: decoder width factor (1.5 Artistic, 2 Stable and Video).

    Fresh modules are randomly initialised; they exist to receive published weights.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, trunk: resnet.ResNet, *, wide: bool, nf_factor: float) -> None:
        super().__init__()
        stem_c, s4_c, s8_c, s16_c, s32_c = trunk.channels
        make_blocks = _wide_blocks if wide else _deep_blocks
        blocks = make_blocks(s32_c, (s16_c, s8_c, s4_c, stem_c), nf_factor)
        width = blocks[-1].out_c
        cross = width + trunk.in_chans
        self.layers = nn.ModuleList(
            [
                ResNetBody(trunk),
                nn.BatchNorm2d(s32_c),
                nn.ReLU(),
                nn.Sequential(conv_layer(s32_c, 2 * s32_c), conv_layer(2 * s32_c, s32_c)),
                *blocks,
                PixelShuffleUp(nn.Sequential(WeightNormConv(width, 4 * width))),
                nn.Identity(),  # fastai's MergeLayer; forward concatenates
                ResBlock(cross),
                conv_layer(cross, 3, ks=1, act=False, bn=False),
                SigmoidRange(-3.0, 3.0),
            ]
        )
        shape = (1, 3, 1, 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(shape), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(shape), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Colorize.

        Args:
            x: ImageNet-normalised RGB, shape ``(N, 3, H, W)``, H and W even; DeOldify feeds
                gray copied to three channels (:func:`gray_to_input`) at ``16 * render_factor``.

        Returns:
            RGB, shape ``(N, 3, H, W)``: ``SigmoidRange(-3, 3)`` denormalised, so within
            -0.27 .. 1.17 and not clamped, as DeOldify's ``pred_batch`` returns it.
        """
        _check_input(x)
        body, bn, relu, middle, up16, up8, up4, up2, up1, _, res, head, out_range = self.layers
        stem, s4, s8, s16, s32 = body(x)
        y = middle(relu(bn(s32)))
        y = up2(up4(up8(up16(y, s16), s8), s4), stem)
        y = res(torch.cat([up1(y), x], dim=1))  # MergeLayer(dense=True): features, then input
        return out_range(head(y)) * self.std + self.mean


def _check_input(x: Tensor) -> None:
    """Raise ValueError naming the shape unless it is ``(N, 3, H, W)`` with H, W even."""
    shape = tuple(x.shape)
    if x.ndim != 4 or shape[1] != 3:
        raise ValueError(f"expected normalised RGB of shape (N, 3, H, W), got {shape}")
    if shape[2] % 2 or shape[3] % 2:
        raise ValueError(
            f"H and W must be even (DeOldify renders at multiples of 16), got shape {shape}; "
            "resize the frame first"
        )


def gray_to_input(gray: Tensor) -> Tensor:
    """DeOldify's model input from luma: copy to three channels, normalise with ImageNet stats.

    Args:
        gray: luma in [0, 1] (PIL's "L": ITU-R 601), shape ``(N, 1, H, W)``.

    Returns:
        Shape ``(N, 3, H, W)``.
    """
    if gray.ndim != 4 or gray.shape[1] != 1:
        raise ValueError(f"expected luma of shape (N, 1, H, W), got {tuple(gray.shape)}")
    mean = gray.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = gray.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (gray.expand(-1, 3, -1, -1) - mean) / std


def deoldify_artistic(*, folded: bool = False) -> DeOldifyGenerator:
    """Artistic: ResNet-34 body, ``DynamicUnetDeep``, ``nf_factor`` 1.5.

    Args:
        folded: apply :func:`fold_norms`, giving the layout of imported weights files.
    """
    model = DeOldifyGenerator(resnet.resnet34(), wide=False, nf_factor=1.5)
    return fold_norms(model) if folded else model


def deoldify_stable(*, folded: bool = False) -> DeOldifyGenerator:
    """Stable: ResNet-101 body, ``DynamicUnetWide``, ``nf_factor`` 2; ``folded`` as above."""
    model = DeOldifyGenerator(resnet.resnet101(), wide=True, nf_factor=2)
    return fold_norms(model) if folded else model


def deoldify_video(*, folded: bool = False) -> DeOldifyGenerator:
    """Video: the Stable architecture (``ColorizeVideo_gen.pth`` holds other weights)."""
    return deoldify_stable(folded=folded)


@dataclass(frozen=True)
class PublishedGenerator:
    """One of DeOldify's published generator files.

    Attributes:
        filename: the file's name in DeOldify's README.
        build: builder of the matching architecture.
        keys: number of state-dict entries (computed from the architecture).
        tensor_bytes: bytes of tensor data in the file (computed: fp32 and int64 buffers).
        file_mb: file size in MB shown by Hugging Face for copies of the file.
        render_factor: DeOldify's default for the file (``deoldify/visualize.py``: 35 for the
            image colorizers, 21 for the video one).
    """

    filename: str
    build: Callable[[], DeOldifyGenerator]
    keys: int
    tensor_bytes: int
    file_mb: int
    render_factor: int


# keys and tensor_bytes are computed from the architectures (no published count was found). They
# agree with two outside sources: the file sizes Hugging Face lists for copies of the files
# (huggingface.co/spensercai/DeOldify: 255 MB, 874 MB, 874 MB; its pickle scan names only
# OrderedDict, FloatStorage, LongStorage, _rebuild_tensor_v2 and slice), and the shapes of all 282
# (Artistic) and 602 (Stable) weights in ColorfulSoft/DeOldify.NET, a port of the published files.
PUBLISHED: dict[str, PublishedGenerator] = {
    "artistic": PublishedGenerator(
        "ColorizeArtistic_gen.pth", deoldify_artistic, 378, 255_070_532, 255, 35
    ),
    "stable": PublishedGenerator(
        "ColorizeStable_gen.pth", deoldify_stable, 754, 873_920_916, 874, 35
    ),
    "video": PublishedGenerator("ColorizeVideo_gen.pth", deoldify_video, 754, 873_920_916, 874, 21),
}
