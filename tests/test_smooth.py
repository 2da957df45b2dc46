import numpy as np
import pytest

from vidcolor.config import SmoothConfig
from vidcolor.errors import ConfigError
from vidcolor.temporal.cuts import CutDetector, cut_score, listed_cuts, thumbnail
from vidcolor.temporal.smooth import Smoother, agreement, smooth_sequence

TOLERANCE = SmoothConfig().luma_tolerance


def _stream(ab, cuts, mode, radius, lightness=None):
    smoother = Smoother(mode, radius, TOLERANCE)
    out = {}
    for t, (frame, cut) in enumerate(zip(ab, cuts, strict=True)):
        out.update(smoother.push(t, frame, cut, None if lightness is None else lightness[t]))
    out.update(smoother.finish())
    return np.stack([out[t] for t in range(len(ab))])


def _window(ab, cuts, radius):
    return smooth_sequence(ab, cuts, mode="window", radius=radius, tolerance=TOLERANCE)


def _textured(frames, shape=(24, 32), seed=0):
    """Lightness frames of one static texture, and random ab."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    texture = (50 + 20 * np.sin(x / 2.0) * np.cos(y / 3.0)).astype(np.float32)
    lightness = np.repeat(texture[None], frames, axis=0)
    ab = rng.normal(scale=10, size=(frames, 2, *shape)).astype(np.float32)
    return lightness, ab


@pytest.mark.parametrize("radius", [0, 1, 3, 5])
def test_streaming_window_equals_a_direct_sum(radius):
    rng = np.random.default_rng(radius)
    ab = rng.normal(size=(17, 2, 4, 5)).astype(np.float32)
    cuts = [t in (0, 6, 7, 13) for t in range(17)]
    shot = np.cumsum(cuts)
    expected = np.empty_like(ab)
    for t in range(17):
        near = [j for j in range(17) if abs(j - t) <= radius and shot[j] == shot[t]]
        weights = [radius + 1 - abs(j - t) for j in near]
        total = sum(w * ab[j].astype(np.float64) for w, j in zip(weights, near, strict=True))
        expected[t] = total / sum(weights)
    np.testing.assert_allclose(_stream(ab, cuts, "window", radius), expected, atol=1e-6)
    np.testing.assert_array_equal(_window(ab, cuts, radius), _stream(ab, cuts, "window", radius))


@pytest.mark.parametrize("radius", [1, 3])
def test_streaming_flow_equals_reference(radius):
    lightness, ab = _textured(12)
    cuts = [t in (0, 5) for t in range(12)]
    reference = smooth_sequence(
        ab, cuts, mode="flow", radius=radius, tolerance=TOLERANCE, lightness=lightness
    )
    np.testing.assert_array_equal(_stream(ab, cuts, "flow", radius, lightness), reference)


def test_flow_on_a_static_scene_is_the_window():
    # Zero motion and equal lightness: every warped pixel agrees fully, flow == window.
    lightness, ab = _textured(9)
    cuts = [t == 0 for t in range(9)]
    flow = smooth_sequence(ab, cuts, mode="flow", radius=2, lightness=lightness, tolerance=24.0)
    np.testing.assert_allclose(flow, _window(ab, cuts, 2), atol=1e-4)


def test_off_returns_the_predictions():
    _, ab = _textured(5)
    out = smooth_sequence(ab, [True] + [False] * 4, mode="off", radius=3, tolerance=TOLERANCE)
    np.testing.assert_array_equal(out, ab)


def test_window_reduces_flicker_within_a_shot():
    rng = np.random.default_rng(0)
    ab = (10 + rng.normal(scale=4, size=(30, 2, 1, 1))).astype(np.float32)
    out = _window(ab, [t == 0 for t in range(30)], radius=3)
    assert np.abs(np.diff(out, axis=0)).mean() < 0.5 * np.abs(np.diff(ab, axis=0)).mean()


@pytest.mark.parametrize("mode", ["window", "flow"])
def test_never_mixes_across_a_cut(mode):
    lightness, _ = _textured(10)
    ab = np.concatenate([np.full((5, 2, 24, 32), -20.0), np.full((5, 2, 24, 32), 30.0)])
    cuts = [t in (0, 5) for t in range(10)]
    out = smooth_sequence(
        ab.astype(np.float32), cuts, mode=mode, radius=4, lightness=lightness, tolerance=TOLERANCE
    )
    np.testing.assert_array_equal(out[:5], ab[:5])
    np.testing.assert_array_equal(out[5:], ab[5:])


def test_triangle_weights():
    ab = np.zeros((3, 2, 1, 1), np.float32)
    ab[0] = 9.0
    out = _window(ab, [True, False, False], radius=1)
    # frame 1 sees frames 0, 1, 2 with weights 1, 2, 1
    assert out[1, 0, 0, 0] == pytest.approx(9.0 / 4)


def test_agreement_is_tukeys_biweight():
    # d = 0, 12, 24, 30 at tolerance 24: (1 - 0)**2, (1 - 0.25)**2, 0, 0.
    got = agreement(np.float32([0, 12, 24, 30]), 24.0)
    np.testing.assert_allclose(got, [1.0, 0.5625, 0.0, 0.0])


@pytest.mark.parametrize("mode", ["window", "flow"])
def test_holds_no_more_than_the_window(mode):
    smoother = Smoother(mode, 2, TOLERANCE)
    lightness, ab = _textured(10, shape=(16, 16))
    ready = []
    for t in range(10):
        ready += [i for i, _ in smoother.push(t, ab[t], t == 0, lightness[t])]
        assert len(smoother._frames) <= 2 * 2 + 1
        assert ready == list(range(max(0, t - 1)))
    ready += [i for i, _ in smoother.finish()]
    assert ready == list(range(10))


def test_push_out_of_order_or_without_lightness_is_refused():
    smoother = Smoother("window", 1, TOLERANCE)
    list(smoother.push(0, np.zeros((2, 1, 1), np.float32), True))
    with pytest.raises(ValueError, match="in order"):
        list(smoother.push(2, np.zeros((2, 1, 1), np.float32), False))
    with pytest.raises(ValueError, match=r"lightness of shape \(1, 1\)"):
        list(Smoother("flow", 1, TOLERANCE).push(0, np.zeros((2, 1, 1), np.float32), True))
    with pytest.raises(ValueError, match="flow, window, off"):
        Smoother("median", 1, TOLERANCE)


def test_cut_score_ignores_flicker_sees_cuts():
    rng = np.random.default_rng(1)
    frame = rng.uniform(0.2, 0.8, size=(96, 160)).astype(np.float32)
    other = rng.uniform(0.2, 0.8, size=(96, 160)).astype(np.float32)
    brighter = np.clip(frame + 0.1, 0, 1)
    assert cut_score(thumbnail(frame), thumbnail(brighter)) < 0.01
    assert cut_score(thumbnail(frame), thumbnail(other)) > 0.05


def test_cut_detector_flags_first_frame_listed_and_detected():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.2, 0.8, size=(2, 36, 64)).astype(np.float32)
    frames = [a, a, b, b, b, a]  # a content change at 2 and 5
    detector = CutDetector(0.15, listed=[3])
    assert [detector.is_cut(i, f) for i, f in enumerate(frames)] == [
        True, False, True, True, False, True,
    ]  # fmt: skip
    listed_only = CutDetector(0.15, listed=[3], detect=False)
    assert [listed_only.is_cut(i, f) for i, f in enumerate(frames)] == [
        True, False, False, True, False, False,
    ]  # fmt: skip


def test_listed_cuts_from_text_numbers_and_files(tmp_path):
    assert listed_cuts(None) == ()
    assert listed_cuts("") == ()
    assert listed_cuts(120) == (120,)
    assert listed_cuts("455, 120,120") == (120, 455)
    path = tmp_path / "cuts.txt"
    path.write_text("# shots of reel 2\n455\n\n120  # the train\n7,9\n")
    assert listed_cuts(str(path), frame_count=1000) == (7, 9, 120, 455)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("12,-3", ["'-3'", "non-negative integer"]),
        ("12,x", ["neither a file nor frame numbers"]),
        ("cuts.txt", ["'cuts.txt'", "neither a file"]),
        ("3, 1.5", ["'1.5'", "not a frame number"]),
        (-4, ["non-negative integer"]),
        ("10,99", ["frame 99", "frames 0..49"]),
    ],
)
def test_listed_cuts_errors_name_the_problem(value, words):
    with pytest.raises(ConfigError) as info:
        listed_cuts(value, frame_count=50)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_listed_cuts_file_entries_are_checked(tmp_path):
    path = tmp_path / "cuts.txt"
    path.write_text("12\nfortytwo\n")
    with pytest.raises(ConfigError, match=r"cuts\.txt: 'fortytwo' is not a frame number"):
        listed_cuts(str(path))
