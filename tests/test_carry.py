"""Carrying guided colors along the flow (guidance.carry, guidance.plan): pure arrays, no files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidcolor.guidance import carry, fill
from vidcolor.guidance.carry import Guide, blend, carry_size, hint_guide
from vidcolor.guidance.plan import GuidedFrames, hint_maps, read_range
from vidcolor.guidance.values import FrameHints, Guidance, HintPoint, Reference

W, H = 96, 64


def scene(seed: int, width: int = 3 * W, height: int = 3 * H) -> tuple[np.ndarray, np.ndarray]:
    """A large textured picture: unit luma (smooth blobs) and an ab field tied to it."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 3)
    luma = (noise - noise.min()) / (noise.max() - noise.min())
    ab = np.stack([60 * luma - 30, 40 - 70 * luma]).astype(np.float32)
    return luma.astype(np.float32), ab


def panned(count: int, step: int = 2, seed: int = 0, cut_at: int | None = None):
    """``count`` frames of a camera panning right by ``step`` px per frame: (luma, ab) each;
    from ``cut_at`` on, another scene."""
    out = []
    for t in range(count):
        luma, ab = scene(seed + (1 if cut_at is not None and t >= cut_at else 0))
        x = 20 + step * t
        out.append((luma[H : 2 * H, x : x + W], ab[:, H : 2 * H, x : x + W]))
    return out


def feed(frames, start=0, stop=None, cut_at=None):
    stop = len(frames) if stop is None else stop
    return ((t, frames[t][0], t in (start, cut_at)) for t in range(start, stop))


def guide_at(frames, *guided):
    def guide(index, unit, lightness):
        if index in guided:
            return Guide(frames[index][1], np.ones((H, W), np.float32))
        return None

    return guide


def interior_error(carried, truth, margin=12):
    inner = (slice(None), slice(margin, -margin), slice(margin, -margin))
    return float(np.abs(carried.ab.astype(np.float32)[inner] - truth[inner]).mean())


def test_carry_size_keeps_small_frames_and_shrinks_large_ones():
    assert carry_size(480, 270) == (480, 270)
    assert carry_size(1920, 1080) == (480, 270)
    assert carry_size(720, 576) == (480, 384)


def test_forward_carry_follows_the_motion_and_stays_confident(monkeypatch):
    frames = panned(12)
    monkeypatch.setattr(fill, "FILL_CELL", 0)  # the tracking alone, without the fill
    out = carry.carry(feed(frames), guide_at(frames, 0), range(12), (W, H))
    assert sorted(out) == list(range(12))
    for t in (3, 11):
        # The colors follow the pan: far closer to the truth than frame 0's colors left in place.
        assert interior_error(out[t], frames[t][1]) < 0.25 * interior_error(
            carry.Carried(frames[0][1], None), frames[t][1]
        )
        assert float(out[t].confidence[12:-12, 12:-12].astype(np.float32).mean()) > 0.8
    # The strip that entered the frame at the right edge was never seen: no trust there.
    assert float(out[11].confidence[:, -4:].astype(np.float32).mean()) < 0.3

    # The fill gives it the colors of confident pixels as light as it (here, its own colors:
    # this scene's colors follow its lightness).
    monkeypatch.undo()
    filled = carry.carry(feed(frames), guide_at(frames, 0), range(12), (W, H))[11]
    strip = (slice(None), slice(4, -4), slice(-4, None))
    assert float(filled.confidence[strip[1:]].astype(np.float32).mean()) > 0.5
    assert np.abs(filled.ab.astype(np.float32)[strip] - frames[11][1][strip]).mean() < 0.5 * (
        np.abs(frames[11][1][strip]).mean()
    )


def test_backward_carry_from_a_later_frame(monkeypatch):
    frames = panned(10)
    monkeypatch.setattr(fill, "FILL_CELL", 0)
    out = carry.carry(feed(frames), guide_at(frames, 9), range(10), (W, H))
    assert interior_error(out[0], frames[0][1]) < 2.0
    # Panning right, frame 0's left edge is not in frame 9.
    assert float(out[0].confidence[:, :4].astype(np.float32).mean()) < 0.3


def test_nothing_crosses_a_cut():
    frames = panned(12, cut_at=6)
    out = carry.carry(feed(frames, cut_at=6), guide_at(frames, 0), range(12), (W, H))
    assert sorted(out) == list(range(6))
    back = carry.carry(feed(frames, cut_at=6), guide_at(frames, 11), range(12), (W, H))
    assert sorted(back) == list(range(6, 12))


def test_a_chunk_gets_what_the_whole_shot_gets():
    frames = panned(20)
    guided = (2, 17)
    whole = carry.carry(feed(frames), guide_at(frames, *guided), range(20), (W, H))
    lo, hi = read_range(8, 12, guided, 20)
    assert (lo, hi) == (2, 18)
    part = carry.carry(feed(frames, lo, hi), guide_at(frames, *guided), range(8, 12), (W, H))
    assert sorted(part) == [8, 9, 10, 11]
    for t in part:
        assert np.array_equal(part[t].ab, whole[t].ab)
        assert np.array_equal(part[t].confidence, whole[t].confidence)


def test_two_guides_are_blended_by_distance():
    frames = panned(9)
    first = Guide(np.full((2, H, W), 20.0, np.float32), np.ones((H, W), np.float32))
    last = Guide(np.full((2, H, W), -20.0, np.float32), np.ones((H, W), np.float32))

    def guide(index, unit, lightness):
        return {0: first, 8: last}.get(index)

    out = carry.carry(feed(frames), guide, range(9), (W, H))
    centre = (slice(None), slice(20, -20), slice(30, -30))
    means = [float(out[t].ab.astype(np.float32)[centre].mean()) for t in range(9)]
    assert means[0] == pytest.approx(20.0) and means[8] == pytest.approx(-20.0)
    assert means == sorted(means, reverse=True)  # nearer guide, more weight
    assert abs(means[4]) < 1.0


def test_confidence_tapers_to_zero_at_reach():
    assert carry._taper(0) == 1.0 and carry._taper(carry.REACH) == 0.0
    assert read_range(carry.REACH + 10, carry.REACH + 20, (0,), 10_000) is None
    assert read_range(100, 110, (0, 500), 10_000) == (0, 501)


def test_blend_trusts_carried_colors_by_confidence():
    predicted = np.zeros((2, 8, 8), np.float32)
    carried = carry.Carried(np.full((2, 4, 4), 10.0, np.float16), np.full((4, 4), 0.5, np.float16))
    out = blend(predicted, carried, (8, 8))
    assert out.shape == (2, 8, 8) and np.allclose(out, 5.0)
    assert blend(predicted, None, (8, 8)) is predicted


def test_a_hint_colors_its_object_not_the_background():
    lightness = np.full((H, W), 20.0, np.float32)
    lightness[16:48, 16:48] = 80.0  # a bright square on a dark background
    predicted = np.zeros((2, H, W), np.float32)
    point = HintPoint(x=64, y=64, radius=2, rgb=(200, 40, 40), ab=(50.0, 30.0))
    # Hint coordinates are in the source's pixels: the source here is twice the carry size.
    guide = hint_guide(predicted, lightness, [point], (2 * W, 2 * H))
    assert np.allclose(guide.ab[:, 32, 32], (50.0, 30.0), atol=1e-3)
    assert guide.confidence[32, 32] > 0.9
    inside, outside = guide.confidence[20, 44], guide.confidence[32, 52]  # same distance
    assert inside > 0.5 > 0.05 > outside
    assert guide.confidence[2, 2] < 0.01


def test_hint_maps_mark_discs_at_the_render_size():
    point = HintPoint(x=100, y=50, radius=10, rgb=(0, 0, 0), ab=(12.0, -7.0))
    ab, mask = hint_maps([point], (200, 100), (100, 50))
    assert mask.shape == (1, 50, 100) and mask[0, 25, 50] == 1.0
    assert ab[:, 25, 50].tolist() == [12.0, -7.0]
    assert mask.sum() == pytest.approx(np.pi * 25, rel=0.35)
    assert mask[0, 5, 5] == 0.0


def reference(frame: int, ab: np.ndarray) -> Reference:
    return Reference(path=None, frame=frame, ab=ab, lightness=np.zeros(ab.shape[1:]),  # type: ignore[arg-type]
                     score=1.0, image_sha256="0" * 64)  # fmt: skip


def test_a_reference_frame_takes_the_references_own_colors():
    frames = panned(4)
    guided = GuidedFrames(Guidance((reference(0, frames[0][1]),)), (W, H), (W, H), False)
    assert np.array_equal(guided.exact(0, (W, H)), frames[0][1])
    assert guided.exact(1, (W, H)) is None

    def predict(unit, hint_ab, mask):
        raise AssertionError("a reference needs no network")

    out = guided.carried(feed(frames), range(4), predict)
    assert sorted(out) == [0, 1, 2, 3]


def test_a_hinted_frame_asks_the_network_once_with_its_hints_when_it_takes_them():
    frames = panned(3)
    point = HintPoint(x=40, y=30, radius=1, rgb=(0, 0, 0), ab=(30.0, 10.0))
    calls = []

    def predict(unit, hint_ab, mask):
        calls.append(None if mask is None else float(mask.sum()))
        return np.zeros((2, H // 2, W // 2), np.float32)

    for takes in (False, True):
        calls.clear()
        guided = GuidedFrames(Guidance((), (FrameHints(1, (point,)),)), (W, H), (W // 2, H // 2),
                              takes)  # fmt: skip
        out = guided.carried(feed(frames), range(3), predict)
        assert len(calls) == 1 and (calls[0] is None) != takes
        assert np.allclose(out[1].ab.astype(np.float32)[:, 30, 40], (30.0, 10.0), atol=0.1)


def test_fill_gives_an_unsure_patch_the_colors_of_confident_pixels_as_light_as_it():
    # Left half dark and blue, right half light and red; an unsure band in each half.
    lightness = np.full((64, 96), 30.0, np.float32)
    lightness[:, 48:] = 80.0
    ab = np.zeros((2, 64, 96), np.float32)
    ab[:, :, :48] = np.array([-5.0, -40.0])[:, None, None]
    ab[:, :, 48:] = np.array([50.0, 30.0])[:, None, None]
    confidence = np.ones((64, 96), np.float32)
    confidence[20:40, 16:32] = confidence[20:40, 64:80] = 0.0
    guessed = ab.copy()
    guessed[:, 20:40, 16:32] = guessed[:, 20:40, 64:80] = 0.0  # what the holes carried

    filled_ab, filled_confidence = fill.fill(guessed, confidence, lightness)

    assert np.abs(filled_ab[:, 22:38, 18:30] - ab[:, 22:38, 18:30]).max() < 1.0
    assert np.abs(filled_ab[:, 22:38, 66:78] - ab[:, 22:38, 66:78]).max() < 1.0
    assert filled_confidence[20:40, 16:32].min() > 0.5
    assert filled_confidence.max() <= 1.0
    sure = confidence == 1.0
    assert np.array_equal(filled_confidence[sure], confidence[sure])
    assert np.allclose(filled_ab[:, sure], ab[:, sure])


def test_fill_leaves_a_patch_unlike_anything_confident_to_the_network():
    lightness = np.full((64, 96), 30.0, np.float32)
    lightness[20:40, 40:56] = 90.0  # the only light pixels, and none of them confident
    ab = np.zeros((2, 64, 96), np.float32)
    ab[0] = 40.0
    confidence = np.ones((64, 96), np.float32)
    confidence[20:40, 40:56] = 0.0

    _, filled_confidence = fill.fill(ab, confidence, lightness)

    assert filled_confidence[24:36, 44:52].max() < 0.05
