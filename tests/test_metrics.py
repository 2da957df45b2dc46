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


# ---------------------------------------------------------------- temporal consistency


def _static_luma(frames, shape=(32, 48)):
    """A still, textured luma video: the flow between any two frames is 0."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    texture = 0.5 + 0.3 * np.sin(x / 2.0) * np.cos(y / 3.0)
    return [texture] * frames


def test_pair_warp_error_by_hand():
    previous = np.zeros((2, 2, 3))
    current = np.repeat(np.float64([[0.1, 0.2], [0.3, 0.4]])[..., None], 3, axis=2)
    still = np.zeros((2, 2, 2), np.float32)
    valid = np.array([[True, True], [True, False]])
    # Valid pixels 0.1, 0.2, 0.3 in 3 channels: (0.01 + 0.04 + 0.09) * 3 / (3 * 3) = 0.14 / 3.
    got = metrics.pair_warp_error(current, previous, still, valid)
    assert got == pytest.approx(0.14 / 3, abs=1e-7)
    assert metrics.pair_warp_error(current, previous, still, np.zeros((2, 2), bool)) == 0.0


def test_pair_warp_error_follows_the_flow():
    # A row [0, 0.5, 1] moved one pixel left: frame t is frame t-1 sampled one pixel to the right
    # ([0.5, 1, 1] with the edge repeated), so flow (+1, 0) explains it with zero error.
    previous = np.repeat(np.float64([[0.0, 0.5, 1.0]])[..., None], 3, axis=2)
    current = np.repeat(np.float64([[0.5, 1.0, 1.0]])[..., None], 3, axis=2)
    right = np.zeros((1, 3, 2), np.float32)
    right[..., 0] = 1.0
    valid = np.ones((1, 3), bool)
    assert metrics.pair_warp_error(current, previous, right, valid) == pytest.approx(0, abs=1e-7)
    # Without the flow: differences 0.5, 0.5, 0 -> (0.25 + 0.25) / 3.
    still = np.zeros_like(right)
    got = metrics.pair_warp_error(current, previous, still, valid)
    assert got == pytest.approx(0.5 / 3, abs=1e-7)


def test_warp_error_of_a_flickering_still_video_by_hand():
    # Uniform frames of gray levels 0.2, 0.5, 0.5, 0.1 over a still texture: any warp of a
    # uniform frame is itself, so the pair errors are (0.3**2, 0, 0.4**2) = (0.09, 0, 0.16).
    levels = [0.2, 0.5, 0.5, 0.1]
    frames = [np.full((32, 48, 3), v) for v in levels]
    luma = _static_luma(4)
    assert metrics.warp_error(frames, luma) == pytest.approx(0.25 / 3, abs=1e-6)
    # A cut at frame 3 leaves out the pair (2, 3): (0.09 + 0) / 2.
    cuts = [True, False, False, True]
    assert metrics.warp_error(frames, luma, cuts) == pytest.approx(0.045, abs=1e-6)
    assert math.isnan(metrics.warp_error(frames[:1], luma[:1]))
    frozen = [frames[0]] * 4
    assert metrics.warp_error(frozen, luma) == 0.0


def test_channel_histograms_by_hand():
    rgb = np.float64([[[0, 1, 0.5], [0, 1, 1]], [[1 / 255, 1, 0.5], [0, 0, 0.5]]])
    hist = metrics.channel_histograms(rgb)
    assert hist.shape == (3, 256)
    np.testing.assert_allclose(hist.sum(axis=1), 1.0)
    assert (hist[0, 0], hist[0, 1]) == (0.75, 0.25)
    assert (hist[1, 255], hist[1, 0]) == (0.75, 0.25)
    assert (hist[2, 128], hist[2, 255]) == (0.75, 0.25)  # 0.5 * 255 = 127.5 rounds to 128


def test_js_divergence_by_hand():
    # Disjoint: m = (0.5, 0.5), KL(p || m) = KL(q || m) = ln 2.
    assert metrics.js_divergence(np.float64([1, 0]), np.float64([0, 1])) == pytest.approx(
        math.log(2)
    )
    # p = (0.5, 0.5), q = (1, 0): m = (0.75, 0.25);
    # KL(p || m) = 0.5 ln(0.5 / 0.75) + 0.5 ln(0.5 / 0.25) = 0.5 ln(4 / 3); KL(q || m) = ln(4 / 3);
    # JS = (0.5 ln(4 / 3) + ln(4 / 3)) / 2 = 0.75 ln(4 / 3) = 0.21576155433883565.
    got = metrics.js_divergence(np.float64([0.5, 0.5]), np.float64([1, 0]))
    assert got == pytest.approx(0.21576155433883565, abs=1e-12)
    assert metrics.js_divergence(np.float64([0.3, 0.7]), np.float64([0.3, 0.7])) == 0.0


def test_cdc_by_hand():
    # Uniform black (0) and white (1) frames 0 1 1 1 0: each channel's histogram is one spike,
    # so the JS divergence of two frames is ln 2 when they differ, else 0.
    #   d = 1: pairs 01 12 23 34 -> ln2, 0, 0, ln2 -> ln2 / 2
    #   d = 2: pairs 02 13 24    -> ln2, 0, ln2    -> 2 ln2 / 3
    #   d = 4: pair  04          -> 0
    # CDC = (1/2 + 2/3 + 0) ln2 / 3 = 7 ln2 / 18.
    frames = [np.full((2, 3, 3), float(v)) for v in (0, 1, 1, 1, 0)]
    assert metrics.cdc(frames) == pytest.approx(7 * math.log(2) / 18, abs=1e-12)
    # A cut at frame 3 (shots 0 1 1 | 1 0): d = 1: 01 12 34 -> 2 ln2 / 3; d = 2: 02 -> ln2;
    # d = 4: no pair, left out. CDC = (2/3 + 1) ln2 / 2 = 5 ln2 / 6.
    cuts = [True, False, False, True, False]
    assert metrics.cdc(frames, cuts=cuts) == pytest.approx(5 * math.log(2) / 6, abs=1e-12)
    assert metrics.cdc([frames[1]] * 5) == 0.0
    assert math.isnan(metrics.cdc(frames[:1]))


def test_temporal_scores_equal_the_functions():
    rng = np.random.default_rng(3)
    luma = _static_luma(6)
    videos = {
        "noisy": [rng.uniform(0, 1, (32, 48, 3)) for _ in range(6)],
        "steady": [np.full((32, 48, 3), 0.4)] * 6,
    }
    cuts = [True, False, False, True, False, False]
    scores = metrics.TemporalScores(list(videos))
    for t in range(6):
        rgb = {name: frames[t] for name, frames in videos.items()}
        ab = {name: frames[t][..., :2] * 50 for name, frames in videos.items()}
        scores.add(luma[t], rgb, ab, cuts[t])
    result = scores.result()
    for name, frames in videos.items():
        got = result[name]
        assert got["warp_error"] == pytest.approx(metrics.warp_error(frames, luma, cuts))
        ab = [f[..., :2] * 50 for f in frames]
        assert got["warp_error_ab"] == pytest.approx(metrics.warp_error(ab, luma, cuts))
        assert got["cdc"] == pytest.approx(metrics.cdc(frames, cuts=cuts))
    assert result["steady"] == {"warp_error": 0.0, "warp_error_ab": 0.0, "cdc": 0.0}
    assert result["noisy"]["warp_error"] > 0.1
