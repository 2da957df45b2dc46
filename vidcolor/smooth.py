"""Temporal smoothing of predicted chroma (ab) across frames, reset at scene cuts.

A per-frame colorizer flickers: the same object gets slightly different ab from one frame to the
next. A centred window averages each frame's ab with its neighbours within ``radius`` frames,
weighted by a triangle (nearer frames count more), and never across a scene cut: a frame only
takes from frames of its own shot.

Cuts are found on luma alone, since the input is gray. The decision for the pair (t-1, t) looks
only at those two frames, and frame t's window only at frames t-radius .. t+radius, so the result
for a frame never depends on which frames happen to share its chunk (chunk invariance).

Everything here is pure: arrays in, arrays out, no files.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence

import cv2
import numpy as np

THUMB_SIZE = (64, 36)  # (width, height): enough to see a cut, small enough to cost nothing


def thumbnail(luma_unit: np.ndarray) -> np.ndarray:
    """A small float32 ``(36, 64)`` copy of a frame's luma in [0, 1], for cut detection."""
    return cv2.resize(luma_unit, THUMB_SIZE, interpolation=cv2.INTER_AREA)


def cut_score(previous: np.ndarray, current: np.ndarray) -> float:
    """How different two consecutive thumbnails are: mean absolute difference, in [0, 1].

    Each thumbnail is first shifted to zero mean, so that the global brightness flicker of old
    film (whole-frame exposure changes) does not read as a cut, while a change of content does.
    """
    a = previous - previous.mean()
    b = current - current.mean()
    return float(np.abs(a - b).mean())


def window_weights(radius: int) -> np.ndarray:
    """Triangle weights for offsets -radius .. radius (unnormalised), float64."""
    offsets = np.arange(-radius, radius + 1)
    return (radius + 1 - np.abs(offsets)).astype(np.float64)


def smooth_window(ab: np.ndarray, cuts: Sequence[bool], radius: int) -> np.ndarray:
    """Smooths a whole sequence at once; the reference that :class:`WindowSmoother` streams.

    Args:
        ab: ``(N, 2, H, W)`` predicted ab per frame.
        cuts: N flags; ``cuts[t]`` is True when frame t starts a new shot.
        radius: frames on each side; 0 returns a copy.

    Returns:
        ``(N, 2, H, W)`` float32 smoothed ab.
    """
    if ab.ndim != 4 or ab.shape[1] != 2:
        raise ValueError(f"smooth_window expects ab of shape (N, 2, H, W), got {ab.shape}")
    if len(cuts) != len(ab):
        raise ValueError(f"smooth_window got {len(cuts)} cut flags for {len(ab)} frames")
    shot = np.cumsum(np.asarray(cuts, dtype=np.int64))
    weights = window_weights(radius)
    out = np.empty(ab.shape, dtype=np.float32)
    for t in range(len(ab)):
        lo, hi = max(0, t - radius), min(len(ab), t + radius + 1)
        same = [j for j in range(lo, hi) if shot[j] == shot[t]]
        out[t] = _weighted_mean([ab[j] for j in same], [weights[j - t + radius] for j in same])
    return out


def _weighted_mean(frames: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    total = np.zeros(frames[0].shape, dtype=np.float64)
    for frame, w in zip(frames, weights, strict=True):
        total += w * frame
    return (total / sum(weights)).astype(np.float32)


class WindowSmoother:
    """Streaming form of :func:`smooth_window`: push frames in order, get smoothed frames out.

    Holds at most ``2 * radius + 1`` frames of ab. Frame t comes out once frame t + radius has
    been pushed (or a cut or the end shows that no later frame of its shot will come).
    """

    def __init__(self, radius: int) -> None:
        self.radius = radius
        self._weights = window_weights(radius)
        self._frames: deque[tuple[int, np.ndarray, int]] = deque()  # (index, ab, shot)
        self._shot = 0
        self._next_out: int | None = None

    def push(self, index: int, ab: np.ndarray, cut: bool) -> Iterator[tuple[int, np.ndarray]]:
        """Adds frame ``index`` (which must follow the previous one) and yields ready frames."""
        if self._frames and index != self._frames[-1][0] + 1:
            raise ValueError(
                f"frames must be pushed in order: got {index} after {self._frames[-1][0]}"
            )
        if self._next_out is None:
            self._next_out = index
        if cut:
            self._shot += 1
        self._frames.append((index, ab, self._shot))
        while self._next_out is not None and self._ready(self._next_out, index):
            yield self._emit(self._next_out)

    def finish(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yields every frame still held; call once after the last push."""
        while self._frames and self._next_out is not None and self._next_out <= self._frames[-1][0]:
            yield self._emit(self._next_out)

    def _ready(self, t: int, newest: int) -> bool:
        if t > newest:
            return False
        return newest >= t + self.radius or self._shot_of(newest) != self._shot_of(t)

    def _shot_of(self, t: int) -> int:
        return self._frames[t - self._frames[0][0]][2]

    def _emit(self, t: int) -> tuple[int, np.ndarray]:
        shot = self._shot_of(t)
        members = [
            (ab, self._weights[j - t + self.radius])
            for j, ab, s in self._frames
            if abs(j - t) <= self.radius and s == shot
        ]
        smoothed = _weighted_mean([m[0] for m in members], [m[1] for m in members])
        self._next_out = t + 1
        while self._frames and self._frames[0][0] < self._next_out - self.radius:
            self._frames.popleft()
        return t, smoothed
