import numpy as np
import pytest

from vidcolor.smooth import WindowSmoother, cut_score, smooth_window, thumbnail


def _stream(ab, cuts, radius):
    smoother = WindowSmoother(radius)
    out = {}
    for t, (frame, cut) in enumerate(zip(ab, cuts, strict=True)):
        out.update(smoother.push(t, frame, cut))
    out.update(smoother.finish())
    return np.stack([out[t] for t in range(len(ab))])


@pytest.mark.parametrize("radius", [0, 1, 3, 5])
def test_streaming_equals_reference(radius):
    rng = np.random.default_rng(radius)
    ab = rng.normal(size=(17, 2, 4, 5)).astype(np.float32)
    cuts = [t in (0, 6, 7, 13) for t in range(17)]
    np.testing.assert_array_equal(_stream(ab, cuts, radius), smooth_window(ab, cuts, radius))


def test_window_reduces_flicker_within_a_shot():
    rng = np.random.default_rng(0)
    ab = (10 + rng.normal(scale=4, size=(30, 2, 1, 1))).astype(np.float32)
    out = smooth_window(ab, [t == 0 for t in range(30)], radius=3)
    assert np.abs(np.diff(out, axis=0)).mean() < 0.5 * np.abs(np.diff(ab, axis=0)).mean()


def test_never_mixes_across_a_cut():
    ab = np.concatenate([np.full((5, 2, 2, 2), -20.0), np.full((5, 2, 2, 2), 30.0)]).astype(
        np.float32
    )
    cuts = [t in (0, 5) for t in range(10)]
    out = smooth_window(ab, cuts, radius=4)
    np.testing.assert_array_equal(out[:5], ab[:5])
    np.testing.assert_array_equal(out[5:], ab[5:])


def test_triangle_weights():
    ab = np.zeros((3, 2, 1, 1), np.float32)
    ab[0] = 9.0
    out = smooth_window(ab, [True, False, False], radius=1)
    # frame 1 sees frames 0, 1, 2 with weights 1, 2, 1
    assert out[1, 0, 0, 0] == pytest.approx(9.0 / 4)


def test_holds_no_more_than_the_window():
    smoother = WindowSmoother(2)
    ready = []
    for t in range(10):
        ready += [i for i, _ in smoother.push(t, np.zeros((2, 1, 1), np.float32), t == 0)]
        assert len(smoother._frames) <= 2 * 2 + 1
        assert ready == list(range(max(0, t - 1)))
    ready += [i for i, _ in smoother.finish()]
    assert ready == list(range(10))


def test_push_out_of_order_is_refused():
    smoother = WindowSmoother(1)
    list(smoother.push(0, np.zeros((2, 1, 1), np.float32), True))
    with pytest.raises(ValueError, match="in order"):
        list(smoother.push(2, np.zeros((2, 1, 1), np.float32), False))


def test_cut_score_ignores_flicker_sees_cuts():
    rng = np.random.default_rng(1)
    frame = rng.uniform(0.2, 0.8, size=(96, 160)).astype(np.float32)
    other = rng.uniform(0.2, 0.8, size=(96, 160)).astype(np.float32)
    brighter = np.clip(frame + 0.1, 0, 1)
    assert cut_score(thumbnail(frame), thumbnail(brighter)) < 0.01
    assert cut_score(thumbnail(frame), thumbnail(other)) > 0.05
