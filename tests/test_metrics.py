import math

import numpy as np
import pytest

from vidcolor import metrics

# A 2x2 image of pure red, green, blue and white, at 0-255:
#   rg = |R - G|           = [255, 255, 0, 0]         mean 127.5, std 127.5
#   yb = |(R + G) / 2 - B| = [127.5, 127.5, 255, 0]   mean 127.5, std 127.5 / sqrt(2)
#   CF = sqrt(127.5**2 + 127.5**2 / 2) + 0.3 * sqrt(2 * 127.5**2)
#      = 127.5 * sqrt(1.5) + 0.3 * 127.5 * sqrt(2) = 210.2486398631985
# (the paper's signed rg = [255, -255, 0, 0] would give std 180.3 and mean 0: another value).
PRIMARIES = np.float64([[[1, 0, 0], [0, 1, 0]], [[0, 0, 1], [1, 1, 1]]])
PRIMARIES_CF = 210.2486398631985


def _picture(seed=0, shape=(6, 5, 3)):
    return np.random.default_rng(seed).uniform(0.1, 0.9, shape)


def test_psnr_rgb_of_a_constant_offset():
    truth = _picture()
    # Every channel of every pixel 5 levels off: MSE = 25, so 10 * log10(255**2 / 25).
    expected = 10 * math.log10(255**2 / 25)  # 34.15140352195873
    assert metrics.psnr_rgb(truth + 5 / 255, truth) == pytest.approx(expected, abs=1e-9)


def test_psnr_of_identical_inputs_is_inf():
    truth = _picture()
    assert metrics.psnr_rgb(truth, truth.copy()) == math.inf
    assert metrics.psnr_ab(truth * 100, truth * 100) == math.inf


def test_psnr_ab_ignores_lightness_and_uses_peak_255():
    truth = _picture() * 100
    pred = truth + np.float64([40.0, 3.0, 4.0])  # L off by 40, a by 3, b by 4
    # MSE over the a and b channels = (3**2 + 4**2) / 2 = 12.5; peak 255 (OpenCV 8-bit Lab).
    expected = 10 * math.log10(255**2 / 12.5)  # 37.1617...
    assert metrics.psnr_ab(pred, truth) == pytest.approx(expected, abs=1e-9)


def test_colorfulness_by_hand():
    assert metrics.colorfulness(PRIMARIES) == pytest.approx(PRIMARIES_CF, abs=1e-9)


def test_colorfulness_of_gray_is_zero():
    gray = np.repeat(_picture(shape=(6, 5, 1)), 3, axis=2)
    assert metrics.colorfulness(gray) == 0.0


def test_delta_colorfulness():
    gray = np.full((2, 2, 3), 0.5)
    # Means over items: outputs (0 + CF) / 2, truths (CF + CF) / 2 -> difference CF / 2.
    got = metrics.delta_colorfulness([gray, PRIMARIES], [PRIMARIES, PRIMARIES])
    assert got == pytest.approx(PRIMARIES_CF / 2, abs=1e-9)
    assert metrics.delta_colorfulness([PRIMARIES], [PRIMARIES]) == 0.0


def test_inputs_are_checked():
    with pytest.raises(ValueError, match=r"\(H, W, 3\).*\(3, 4, 4\)"):
        metrics.colorfulness(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="equal shapes"):
        metrics.psnr_rgb(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="as many outputs as truths"):
        metrics.delta_colorfulness([PRIMARIES], [])
