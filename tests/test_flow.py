import cv2
import numpy as np
import pytest

from vidcolor.temporal import flow


def _texture(shape=(64, 96), seed=0):
    """A smooth random uint8 texture: DIS needs gradients to lock on to."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (shape[0] + 16, shape[1] + 16)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.5)


def _gray(image):
    return np.clip(np.rint((image - image.min()) * 255 / np.ptp(image)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("preset", sorted(flow.PRESETS))
def test_flow_convention_on_a_shifted_texture(preset):
    big = _texture()
    other = _gray(big)[8:-8, 8:-8]
    reference = _gray(big)[7:-9, 6:-10]  # reference(x) = other(x - (2, 1)): flow is (-2, -1)
    got = flow.dense_flow(reference, other, preset)
    inner = got[8:-8, 8:-8]
    assert np.median(inner[..., 0]) == pytest.approx(-2.0, abs=0.2)
    assert np.median(inner[..., 1]) == pytest.approx(-1.0, abs=0.2)
    warped = flow.warp(other.astype(np.float32), got)
    assert np.abs(warped - reference)[8:-8, 8:-8].mean() < 2.0  # vs ~20 levels unwarped
    assert np.abs(other.astype(np.float32) - reference)[8:-8, 8:-8].mean() > 10.0


def test_identical_frames_have_zero_flow():
    frame = _gray(_texture())
    assert not flow.dense_flow(frame, frame).any()


def test_warp_by_hand():
    image = np.float32([[0, 1, 2, 3], [10, 11, 12, 13]])
    right = np.zeros((2, 4, 2), np.float32)
    right[..., 0] = 1.0  # sample one pixel to the right; the last column repeats the edge
    np.testing.assert_array_equal(flow.warp(image, right), [[1, 2, 3, 3], [11, 12, 13, 13]])
    half = np.zeros((2, 4, 2), np.float32)
    half[..., 1] = 0.5  # half a row down: the mean of the two rows, bilinear
    np.testing.assert_allclose(flow.warp(image, half), [[5, 6, 7, 8], [10, 11, 12, 13]])
    stacked = np.stack([image, -image], axis=-1)
    np.testing.assert_array_equal(flow.warp(stacked, right)[..., 1], -flow.warp(image, right))


def _flows(backward_x, forward_x):
    b = np.zeros((2, len(backward_x), 2), np.float32)
    f = np.zeros_like(b)
    b[..., 0], f[..., 0] = backward_x, forward_x
    return b, f


def test_occluded_by_hand():
    # b = +1 everywhere and f = -1 everywhere: f sampled at x + b is -1, b + f_w = 0: consistent;
    # the flow is constant, so no motion boundary either.
    assert not flow.occluded(*_flows([1, 1, 1, 1], [-1, -1, -1, -1])).any()
    # f = +1: |b + f_w|^2 = 4 > 0.01 * (1 + 1) + 0.5 = 0.52 everywhere.
    assert flow.occluded(*_flows([1, 1, 1, 1], [1, 1, 1, 1])).all()
    # b = [0, 0, 1, 1], f = [0, 0, 0, -1]: f_w = f(x + b) = [f(0), f(1), f(3), f(3) (edge)]
    # = [0, 0, -1, -1] = -b, consistent. Forward differences of b along x: [0, -1, 0, 0 (last)];
    # only x = 1 has |grad b|^2 = 1 > 0.01 * |b|^2 + 0.002 = 0.002: a motion boundary.
    got = flow.occluded(*_flows([0, 0, 1, 1], [0, 0, 0, -1]))
    np.testing.assert_array_equal(got, [[False, True, False, False]] * 2)


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="uint8"):
        flow.dense_flow(np.zeros((16, 16), np.float32), np.zeros((16, 16), np.float32))
    with pytest.raises(ValueError, match="one size"):
        flow.dense_flow(np.zeros((16, 16), np.uint8), np.zeros((16, 20), np.uint8))
    with pytest.raises(ValueError, match="side of 12"):
        flow.dense_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        flow.occluded(np.zeros((4, 4, 2)), np.zeros((4, 5, 2)))


def test_to_uint8_rounds_and_clips():
    np.testing.assert_array_equal(
        flow.to_uint8(np.float32([-5, 0, 50, 100, 120]), 100.0), [0, 0, 128, 255, 255]
    )
