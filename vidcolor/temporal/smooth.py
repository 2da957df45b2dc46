"""Temporal smoothing of predicted chroma (ab) across frames, never across a scene cut.

A per-frame colorizer flickers: the same object gets slightly different ab from one frame to the
next. Each frame's ab is averaged with its neighbours within ``radius`` frames of its own shot,
weighted by a triangle (nearer frames count more). Modes:

- ``flow``: each neighbour is first warped onto the frame along optical flow computed on their
  lightness (:mod:`vidcolor.temporal.flow`), and each warped pixel counts only as far as its
  lightness agrees with the frame's own: Tukey's biweight of the largest difference in its 3x3
  neighbourhood, zero beyond ``tolerance`` L units. Pixels with no match in a neighbour
  (occlusions, new or moving objects) keep their own prediction instead of a ghost of what was
  there.
- ``window``: the plain average, no flow: cheap, but moving things smear.
- ``off``: every frame as predicted.

Frame t's result depends only on frames t-radius .. t+radius and the cut flags between them, so
it never depends on which frames happen to share its chunk (chunk invariance).

Everything here is pure: arrays in, arrays out, no files.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import cv2
import numpy as np

from vidcolor.config import SMOOTH_MODES as MODES
from vidcolor.temporal import flow

# DIS preset of the smoothing flow: ~1.5 ms per pair at 320x192 on one busy core. "medium", at
# 3x the cost, lowered the chroma warp error of two real clips by at most 0.03 of off's.
FLOW_PRESET = "fast"
# A warped pixel is judged by the worst lightness difference in its 3x3 neighbourhood: where the
# flow misses an edge by a pixel, bilinear sampling mixes object and background, and a mean
# would dilute the one bad pixel (measured on tests/test_temporal.py's moving square: largest ab
# error in the trail 24 Lab units with a 3x3 mean, 2.3 with the max, at equal smoothing of the
# real clips).
_NEIGHBOURHOOD = np.ones((3, 3), np.uint8)


class _Held(NamedTuple):
    """One frame as the smoother keeps it."""

    number: int  # frame index
    ab: np.ndarray  # (2, H, W) as pushed
    shot: int
    lightness: np.ndarray | None = None  # flow mode: (H, W) float32 Lab L
    gray: np.ndarray | None = None  # flow mode: (H, W) uint8 L, DIS's input
    stack: np.ndarray | None = None  # flow mode: (H, W, 3) float32 L, a, b; one remap moves all


def window_weights(radius: int) -> np.ndarray:
    """Triangle weights for offsets -radius .. radius (unnormalised), float64."""
    offsets = np.arange(-radius, radius + 1)
    return (radius + 1 - np.abs(offsets)).astype(np.float64)


def agreement(difference: np.ndarray, tolerance: float) -> np.ndarray:
    """Tukey's biweight ``(1 - (d / tolerance)**2)**2`` of a lightness difference, 0 beyond.

    Args:
        difference: ``(H, W)`` float32 absolute difference in L units.
        tolerance: L units at which a warped pixel stops counting at all.
    """
    ratio = np.minimum(difference / np.float32(tolerance), np.float32(1.0))
    return (1.0 - ratio * ratio) ** 2


def smooth_sequence(
    ab: np.ndarray,
    cuts: Sequence[bool],
    *,
    mode: str,
    radius: int,
    tolerance: float,
    lightness: np.ndarray | None = None,
) -> np.ndarray:
    """Smooths a whole sequence at once: the reference that :class:`Smoother` streams.

    Args:
        ab: ``(N, 2, H, W)`` predicted ab per frame.
        cuts: N flags; ``cuts[t]`` is True when frame t starts a new shot.
        mode: One of :data:`MODES`.
        radius: Frames on each side; 0 returns a copy.
        tolerance: ``flow``: the lightness difference (L units) at which a warped pixel stops
            counting.
        lightness: ``(N, H, W)`` Lab L the ab was predicted from; needed by ``flow``.

    Returns:
        ``(N, 2, H, W)`` float32 smoothed ab.
    """
    if ab.ndim != 4 or ab.shape[1] != 2:
        raise ValueError(f"smooth_sequence expects ab of shape (N, 2, H, W), got {ab.shape}")
    if len(cuts) != len(ab):
        raise ValueError(f"smooth_sequence got {len(cuts)} cut flags for {len(ab)} frames")
    radius = _radius(mode, radius)
    shot = np.cumsum(np.asarray(cuts, dtype=np.int64))
    held = [_Held(t, ab[t], int(shot[t])) for t in range(len(ab))]
    if mode == "flow" and radius:
        if lightness is None:
            raise ValueError("flow smoothing needs the lightness of every frame")
        held = [_with_lightness(h, lightness[h.number]) for h in held]
    out = np.empty(ab.shape, dtype=np.float32)
    for t, centre in enumerate(held):
        near = held[max(0, t - radius) : t + radius + 1]
        members = [h for h in near if h.shot == centre.shot]
        out[t] = _combine(mode, centre, members, radius, tolerance)
    return out


def _radius(mode: str, radius: int) -> int:
    if mode not in MODES:
        raise ValueError(f"smoothing mode must be one of {', '.join(MODES)}, got {mode!r}")
    return 0 if mode == "off" else radius


class Smoother:
    """Push frames in order, get smoothed frames out.

    Holds at most ``2 * radius + 1`` frames. Frame t comes out once frame t + radius has been
    pushed (or a cut or the end shows that no later frame of its shot will come).
    """

    def __init__(self, mode: str, radius: int, tolerance: float) -> None:
        self.mode = mode
        self.radius = _radius(mode, radius)
        self.tolerance = tolerance
        self._frames: deque[_Held] = deque()
        self._shot = 0
        self._next_out: int | None = None

    def push(
        self, index: int, ab: np.ndarray, cut: bool, lightness: np.ndarray | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Adds frame ``index`` (which must follow the previous one) and yields ready frames.

        Args:
            index: Frame number.
            ab: ``(2, H, W)`` predicted ab.
            cut: Whether this frame starts a new shot.
            lightness: ``(H, W)`` float32 Lab L at the size of ``ab``; required by ``flow``.
        """
        if self._frames and index != self._frames[-1].number + 1:
            raise ValueError(
                f"frames must be pushed in order: got {index} after {self._frames[-1].number}"
            )
        if self._next_out is None:
            self._next_out = index
        self._shot += int(cut)
        held = _Held(index, ab, self._shot)
        if self.mode == "flow" and self.radius:
            held = _with_lightness(held, lightness)
        self._frames.append(held)
        while self._next_out is not None and self._ready(self._next_out, index):
            yield self._emit(self._next_out)

    def finish(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yields every frame still held; call once after the last push."""
        while self._frames and self._next_out is not None:
            if self._next_out > self._frames[-1].number:
                return
            yield self._emit(self._next_out)

    def _ready(self, t: int, newest: int) -> bool:
        if t > newest:
            return False
        return newest >= t + self.radius or self._held(newest).shot != self._held(t).shot

    def _held(self, t: int) -> _Held:
        return self._frames[t - self._frames[0].number]

    def _emit(self, t: int) -> tuple[int, np.ndarray]:
        centre = self._held(t)
        members = [
            f for f in self._frames if abs(f.number - t) <= self.radius and f.shot == centre.shot
        ]
        smoothed = _combine(self.mode, centre, members, self.radius, self.tolerance)
        self._next_out = t + 1
        while self._frames and self._frames[0].number < self._next_out - self.radius:
            self._frames.popleft()
        return t, smoothed


def _combine(
    mode: str, centre: _Held, members: Sequence[_Held], radius: int, tolerance: float
) -> np.ndarray:
    """Frame ``centre`` smoothed with ``members`` (the frames of its shot in its window)."""
    weights = window_weights(radius)
    if mode == "flow" and len(members) > 1:
        return _flow_mean(centre, members, weights, tolerance)
    offsets = [m.number - centre.number + radius for m in members]
    return _weighted_mean([m.ab for m in members], [weights[o] for o in offsets])


def _flow_mean(
    centre: _Held, members: Sequence[_Held], weights: np.ndarray, tolerance: float
) -> np.ndarray:
    """Weighted mean of the members' ab warped onto ``centre``, with per-pixel weights."""
    assert centre.gray is not None and centre.lightness is not None
    radius = len(weights) // 2
    own = np.float32(weights[radius])
    total = own * np.moveaxis(centre.ab, 0, -1).astype(np.float32)
    norm = np.full(centre.lightness.shape, own, np.float32)
    for other in members:
        if other.number == centre.number:
            continue
        assert other.gray is not None and other.stack is not None
        moved = flow.warp(other.stack, flow.dense_flow(centre.gray, other.gray, FLOW_PRESET))
        difference = cv2.dilate(np.abs(moved[..., 0] - centre.lightness), _NEIGHBOURHOOD)
        weight = agreement(difference, tolerance)
        weight *= np.float32(weights[other.number - centre.number + radius])
        total += weight[..., None] * moved[..., 1:]
        norm += weight
    return np.ascontiguousarray(np.moveaxis(total / norm[..., None], -1, 0))


def _with_lightness(held: _Held, lightness: np.ndarray | None) -> _Held:
    if lightness is None or lightness.shape != held.ab.shape[1:]:
        got = None if lightness is None else lightness.shape
        raise ValueError(f"flow smoothing needs lightness of shape {held.ab.shape[1:]}, got {got}")
    lightness = np.ascontiguousarray(lightness, np.float32)
    stack = np.concatenate([lightness[..., None], np.moveaxis(held.ab, 0, -1)], axis=-1)
    return held._replace(
        lightness=lightness,
        gray=flow.to_uint8(lightness, 100.0),
        stack=np.ascontiguousarray(stack, np.float32),
    )


def _weighted_mean(frames: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    total = np.zeros(frames[0].shape, dtype=np.float64)
    for frame, w in zip(frames, weights, strict=True):
        total += w * frame
    return (total / sum(weights)).astype(np.float32)
