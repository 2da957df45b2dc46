import cv2
import numpy as np
import pytest
import torch

from vidcolor import color

# Golden Lab values from OpenCV, an independent implementation (float input, D65, sRGB):
#   cv2.cvtColor(np.float32([[[r, g, b]]]), cv2.COLOR_RGB2Lab)
# OpenCV's float path interpolates the sRGB curve with a spline table, which puts it up to
# ~0.2 Lab units off the exact formula for mid-tones; hence the tolerance.
RGB = np.float32([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0.5, 0.5, 0.5], [0.2, 0.4, 0.1]])


def _cv2_lab(rgb):
    return cv2.cvtColor(rgb[None], cv2.COLOR_RGB2Lab)[0]


def _as_image(rows):
    return torch.from_numpy(np.ascontiguousarray(rows.T[:, :, None])).double()  # (3, N, 1)


def test_rgb_to_lab_matches_opencv():
    ours = color.rgb_to_lab(_as_image(RGB))[:, :, 0].T.numpy()
    np.testing.assert_allclose(ours, _cv2_lab(RGB), atol=0.25)


def test_lab_round_trip():
    rgb = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    back = color.lab_to_rgb(color.rgb_to_lab(rgb))
    assert torch.allclose(back, rgb, atol=1e-6)


def test_gray_lightness_matches_lab_of_neutral():
    y = torch.linspace(0, 1, 11, dtype=torch.float64)
    rgb = y[None, :, None].expand(3, 11, 1)
    assert torch.allclose(color.gray_to_lightness(y), color.rgb_to_lab(rgb)[0, :, 0], atol=1e-9)


def test_neutral_colors_have_zero_chroma():
    lightness = torch.full((1, 4, 4), 60.0)
    ab = torch.zeros(2, 4, 4)
    for matrix in color.MATRICES:
        assert color.lab_to_chroma(lightness, ab, matrix).abs().max() < 1e-4


def test_chroma_matches_opencv_ycrcb():
    # OpenCV's RGB2YCrCb is BT.601, full range:
    #   Cr = (R - Y) * 0.713 + 0.5, Cb = (B - Y) * 0.564 + 0.5 for float input
    rgb = np.float32([[0.9, 0.2, 0.1], [0.1, 0.3, 0.8], [0.5, 0.5, 0.5]])
    ycrcb = cv2.cvtColor(rgb[None], cv2.COLOR_RGB2YCrCb)[0]
    ours = color.rgb_to_chroma(_as_image(rgb), "bt601")[:, :, 0].T.numpy()
    np.testing.assert_allclose(ours[:, 0], ycrcb[:, 2] - 0.5, atol=1e-3)
    np.testing.assert_allclose(ours[:, 1], ycrcb[:, 1] - 0.5, atol=1e-3)


def test_luma_to_unit_ranges():
    assert color.luma_to_unit(np.array([16, 235, 0, 255], np.uint8), 8, False).tolist() == [
        0.0,
        1.0,
        0.0,
        1.0,
    ]
    assert color.luma_to_unit(np.array([64, 940], np.uint16), 10, False).tolist() == [0.0, 1.0]
    assert color.luma_to_unit(np.array([0, 255], np.uint8), 8, True).tolist() == [0.0, 1.0]


def test_quantize_chroma_levels():
    c = torch.tensor([[[-0.5]], [[0.5]]]).reshape(2, 1, 1).double()
    assert color.quantize_chroma(c, 8, False).ravel().tolist() == [16, 240]
    assert color.quantize_chroma(c, 10, False).ravel().tolist() == [64, 960]
    assert color.quantize_chroma(torch.zeros(2, 1, 1), 8, True).ravel().tolist() == [128, 128]


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"\(\*, 3, H, W\).*\(2, 4, 4\)"):
        color.rgb_to_lab(torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="ab"):
        color.lab_to_chroma(torch.zeros(1, 4, 4), torch.zeros(3, 4, 4), "bt709")
    with pytest.raises(ValueError, match="unknown matrix"):
        color.rgb_to_chroma(torch.zeros(3, 1, 1), "bt999")


def test_matrix_for_untagged_follows_player_convention():
    assert color.matrix_for("unknown", 480) == "bt601"
    assert color.matrix_for("unknown", 1080) == "bt709"
    assert color.matrix_for("bt709", 480) == "bt709"
    assert color.matrix_for("smpte170m", 1080) == "bt601"
