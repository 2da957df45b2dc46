"""ResNet encoder with torchvision's parameter names and no classifier head.

Laid out like torchvision's ``models/resnet.py``: helpers, blocks, the model, builders. The
``state_dict`` keys are exactly torchvision's (``conv1.weight``, ``layer1.0.downsample.0.weight``,
``layer4.2.bn3.running_var``, ...), so ImageNet checkpoints load by name. torchvision's
``avgpool`` has no parameters and its ``fc.weight``/``fc.bias`` are simply absent here: a U-Net
encoder never classifies, so load torchvision checkpoints with ``fc.*`` dropped.

The stem takes ``in_chans`` channels (3 for RGB checkpoints, 1 for vidcolor's L-channel model).
Skip features come from :meth:`ResNet.forward_features`, an explicit list of stages; no hooks.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution with no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, inplanes, H, W)`` to ``(N, planes, H/stride, W/stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand with a residual connection (ResNet-50/101).

    The stride sits on the 3x3 convolution (torchvision's "ResNet v1.5").
    """

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(N, inplanes, H, W)`` to ``(N, 4 * planes, H/stride, W/stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet trunk (stem + four stages) returning the features of every stride.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages.
        in_chans: input channels of the stem convolution.

    Attributes:
        channels: channel counts of the five features returned by :meth:`forward_features`.
        reductions: their strides relative to the input: ``(2, 4, 8, 16, 32)``.
    """

    reductions = (2, 4, 8, 16, 32)

    def __init__(
        self, block: type[BasicBlock | Bottleneck], layers: list[int], in_chans: int = 3
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_chans, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.in_chans = in_chans
        self.channels = tuple([64] + [p * block.expansion for p in (64, 128, 256, 512)])
        self._init_weights()

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        """Build one stage; only its first block changes stride or width."""
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers: list[nn.Module] = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        """torchvision's initialisation: He (fan-out) for convolutions, BN as identity."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """Run the trunk and keep the output of every stage.

        Args:
            x: images, shape ``(N, in_chans, H, W)``.

        Returns:
            Five tensors: ``relu(bn1(conv1(x)))`` of shape ``(N, channels[0], H/2, W/2)`` and
            the outputs of ``layer1`` .. ``layer4``, of shape ``(N, channels[i], H/s, W/s)`` for
            strides ``s`` = 4, 8, 16, 32 (sizes rounded up when H, W are not multiples of 32).
        """
        stem = self.relu(self.bn1(self.conv1(x)))
        s4 = self.layer1(self.maxpool(stem))
        s8 = self.layer2(s4)
        s16 = self.layer3(s8)
        s32 = self.layer4(s16)
        return [stem, s4, s8, s16, s32]

    def forward(self, x: Tensor) -> list[Tensor]:
        """Same as :meth:`forward_features`; there is no classifier head."""
        return self.forward_features(x)


def resnet18(in_chans: int = 3) -> ResNet:
    """ResNet-18 trunk; with ``in_chans=3`` it holds torchvision's 11,689,512 params minus fc."""
    return ResNet(BasicBlock, [2, 2, 2, 2], in_chans=in_chans)


def resnet34(in_chans: int = 3) -> ResNet:
    """ResNet-34 trunk; with ``in_chans=3`` it holds torchvision's 21,797,672 params minus fc."""
    return ResNet(BasicBlock, [3, 4, 6, 3], in_chans=in_chans)


def resnet50(in_chans: int = 3) -> ResNet:
    """ResNet-50 trunk; with ``in_chans=3`` it holds torchvision's 25,557,032 params minus fc."""
    return ResNet(Bottleneck, [3, 4, 6, 3], in_chans=in_chans)


def resnet101(in_chans: int = 3) -> ResNet:
    """ResNet-101 trunk; with ``in_chans=3`` it holds torchvision's 44,549,160 params minus fc."""
    return ResNet(Bottleneck, [3, 4, 23, 3], in_chans=in_chans)
