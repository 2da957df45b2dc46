"""A run's guidance applied to a range of frames: which frames to read, each guided frame's
guide, the carried colors and the final blend, the same for the worker and ``vidcolor eval``.

A hinted frame's guide starts from the network's colors of that frame, predicted alone (batch
of one), with the hints as its inputs when the weights accept them; :class:`GuidedFrames`
reaches the network through a callable, :func:`carry_chunk` is the worker's pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from vidcolor import color
from vidcolor.colorize import Colorizer, render_lightness
from vidcolor.config import DecodeConfig
from vidcolor.decode import read_frames
from vidcolor.guidance import carry
from vidcolor.guidance.carry import Carried, Guide
from vidcolor.guidance.values import FrameHints, Guidance, HintPoint
from vidcolor.media import VideoInfo
from vidcolor.temporal.cuts import CutDetector

# predict(unit luma (H, W), hint ab (2, h, w) | None, hint mask (1, h, w) | None) -> the
# network's ab (2, h, w), all at the render size, for one frame.
Predict = Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], np.ndarray]


class GuidedFrames:
    """One video's guidance, ready to color any range of its frames.

    Args:
        guidance: The checked references and hints.
        frame: The video's stored (width, height).
        render: The network's render (width, height).
        hints_in: Whether the network takes hint inputs (the weights say).
    """

    def __init__(
        self,
        guidance: Guidance,
        frame: tuple[int, int],
        render: tuple[int, int],
        hints_in: bool,
    ) -> None:
        self.frame, self.render, self.hints_in = frame, render, hints_in
        self.size = carry.carry_size(*frame)
        self.references = {r.frame: r for r in guidance.references}
        self.hints = {h.frame: h for h in guidance.hints}
        self.guided = guidance.frames

    def __bool__(self) -> bool:
        return bool(self.guided)

    def read_range(self, start: int, stop: int, frame_count: int) -> tuple[int, int] | None:
        """The frames ``[lo, hi)`` to read to color ``start .. stop - 1``; None: no guide near."""
        return read_range(start, stop, self.guided, frame_count)

    def carried(
        self, frames: Iterable[tuple[int, np.ndarray, bool]], wanted: range, predict: Predict
    ) -> dict[int, Carried]:
        """The carried colors of ``wanted``'s frames (see :func:`carry.carry`)."""

        def guide(index: int, unit: np.ndarray, lightness: np.ndarray) -> Guide | None:
            return self.guide(index, unit, lightness, predict)

        return carry.carry(frames, guide, wanted, self.size)

    def guide(
        self, index: int, unit: np.ndarray, lightness: np.ndarray, predict: Predict
    ) -> Guide | None:
        """Frame ``index``'s guide at the carry size, or None if it has no guidance."""
        reference, hints = self.references.get(index), self.hints.get(index)
        if reference is None and hints is None:
            return None
        if reference is not None:
            found = carry.reference_guide(reference.ab, self.size)
            if hints is None:
                return found
            base = found.ab
        else:
            assert hints is not None
            maps = hint_maps(hints.points, self.frame, self.render) if self.hints_in else None
            predicted = predict(unit, *(maps or (None, None)))
            base = carry.resize_ab(predicted, self.size)
        spread = carry.hint_guide(base, lightness, _points(hints), self.frame)
        if reference is not None:
            return Guide(spread.ab, np.ones_like(spread.confidence))
        return spread

    def exact(self, index: int, size: tuple[int, int]) -> np.ndarray | None:
        """A reference frame's own ab at ``size`` (width, height), when it has no hints: the
        reference frame comes out with the reference's colors, not carried ones."""
        reference = self.references.get(index)
        if reference is None or index in self.hints:
            return None
        return carry.resize_ab(reference.ab, size)


def _points(hints: FrameHints | None) -> tuple[HintPoint, ...]:
    return () if hints is None else hints.points


def hint_maps(
    points: Iterable[HintPoint], frame: tuple[int, int], render: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The network's hint inputs at ``render`` size: ab ``(2, h, w)`` and mask ``(1, h, w)``,
    each point a disc of its radius (at least one render pixel) holding its ab."""
    width, height = render
    ab = np.zeros((2, height, width), np.float32)
    mask = np.zeros((1, height, width), np.float32)
    sx, sy = width / frame[0], height / frame[1]
    for point in points:
        centre = (int((point.x + 0.5) * sx), int((point.y + 0.5) * sy))
        radius = round(point.radius * max(sx, sy))
        for channel, value in ((ab[0], point.ab[0]), (ab[1], point.ab[1]), (mask[0], 1.0)):
            cv2.circle(channel, centre, radius, float(value), -1)
    return ab, mask


def carry_chunk(
    guided: GuidedFrames,
    info: VideoInfo,
    wanted: range,
    colorizer: Colorizer,
    detector: CutDetector,
    decode: DecodeConfig,
) -> dict[int, Carried]:
    """The worker's pass before a chunk: the colors carried onto the frames of ``wanted``.

    It reads from the nearest guided frame before them to the nearest after (within reach),
    so a shot that spans chunks gets what one chunk gives; a hinted frame is predicted alone,
    whatever its chunk. ``detector`` finds the cuts as the chunk's own pass does.
    """
    video = info.video
    span = guided.read_range(wanted.start, wanted.stop, video.frame_count)
    if span is None:
        return {}
    depth, full_range = video.bit_depth, video.color_range == "pc"

    def units() -> Iterator[tuple[int, np.ndarray, bool]]:
        frames = read_frames(info, *span, backend=decode.backend,
                             replace_bad=decode.skip_bad_frames)  # fmt: skip
        for frame in frames:
            unit = color.luma_to_unit(frame.luma, depth, full_range)
            yield frame.index, unit, detector.is_cut(frame.index, unit)

    def predict(unit: np.ndarray, hint_ab: np.ndarray | None, mask: np.ndarray | None):
        hints = () if hint_ab is None or mask is None else (hint_ab[None], mask[None])
        return colorizer.predict(render_lightness(unit, guided.render)[None], *hints)[0]

    return guided.carried(units(), wanted, predict)


def read_range(
    start: int, stop: int, guided: Sequence[int], frame_count: int
) -> tuple[int, int] | None:
    """The frames ``[lo, hi)`` to read to carry colors onto frames ``start .. stop - 1``, or
    None when no guided frame is within :data:`~vidcolor.guidance.carry.REACH` of them."""
    before = [g for g in guided if start - carry.REACH <= g < start]
    inside = [g for g in guided if start <= g < stop]
    after = [g for g in guided if stop <= g < stop + carry.REACH]
    if not (before or inside or after):
        return None
    lo = max(before) if before else start
    hi = min(after) + 1 if after else stop
    return lo, min(hi, frame_count)
