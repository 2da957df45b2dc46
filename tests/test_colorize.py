"""Tests of vidcolor.colorize.Colorizer: what it computes in bfloat16, and what it refuses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidcolor.colorize import Colorizer, keep_narrow_strided_convs_exact
from vidcolor.config import ModelConfig
from vidcolor.errors import VidcolorError


def _colorizer(precision: str) -> Colorizer:
    return Colorizer(ModelConfig(render_factor=4, batch_size=1, device="cpu", precision=precision))


def _lightness(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 100, (1, height, width)).astype(np.float32)


def _float32_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    bias = None if conv.bias is None else conv.bias.float()
    w = conv.weight.float()
    return F.conv2d(x.float(), w, bias, conv.stride, conv.padding, conv.dilation, conv.groups)


@pytest.mark.parametrize("width", [1, 2, 3, 8])
def test_a_strided_bfloat16_conv_of_a_narrow_input_gives_the_float32_result(width):
    # oneDNN's bfloat16 kernel returned NaN or values off by more than their own size for
    # inputs 1 or 2 wide (torch 2.13): the guarded conv must agree with float32.
    torch.manual_seed(0)
    conv = nn.Conv2d(256, 512, 3, stride=2, padding=1, bias=False).to(torch.bfloat16)
    keep_narrow_strided_convs_exact(conv)
    x = torch.randn(1, 256, 8, width).to(torch.bfloat16)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        exact = _float32_conv(conv, x)
        for _ in range(3):
            got = conv(x)
            assert got.dtype == torch.bfloat16
            error = ((got.float() - exact).abs().max() / exact.abs().max()).item()
            assert error < 0.01  # bfloat16 keeps 8 bits: rounding alone is under 0.4 %


@pytest.mark.slow
def test_every_conv_of_a_bfloat16_colorizer_at_a_32_wide_render_matches_float32():
    colorizer = _colorizer("bfloat16")
    checked, wrong = [], []

    def check(name):
        def hook(conv, inputs, output):
            exact = _float32_conv(conv, inputs[0])
            error = ((output.float() - exact).abs().max() / exact.abs().max()).item()
            checked.append(name)
            if not error < 0.05:  # NaN fails too
                wrong.append((name, tuple(inputs[0].shape), error))

        return hook

    for name, module in colorizer.model.named_modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(check(name))  # after the guard's: sees what it returns
    colorizer.predict(_lightness(64, 32))
    assert "encoder.layer4.0.conv1" in checked  # the conv that read 2-wide inputs wrongly
    assert wrong == []


@pytest.mark.slow
def test_a_32_wide_render_in_bfloat16_repeats_exactly_between_other_sizes():
    colorizer = _colorizer("bfloat16")
    narrow, other = _lightness(64, 32), _lightness(64, 96, seed=1)
    first = colorizer.predict(narrow)
    for _ in range(12):
        colorizer.predict(other)
        assert np.array_equal(colorizer.predict(narrow), first)


def test_non_finite_colors_are_an_error_naming_what_to_change():
    colorizer = _colorizer("float32")
    with torch.no_grad():
        colorizer.model.encoder.conv1.weight[0, 0, 0, 0] = math.nan
    with pytest.raises(VidcolorError, match=r"non-finite colors.*64x32 render.*precision=float32"):
        colorizer.predict(_lightness(32, 64))
