"""One temporal stage: frames in order in, smoothed ab out, with the shots' first frames found.

The worker runs it over a chunk (its halo included) and ``vidcolor eval`` over a whole clip, so
what is scored is what a run writes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

import numpy as np

from vidcolor.config import SmoothConfig
from vidcolor.temporal.cuts import CutDetector
from vidcolor.temporal.smooth import Smoother


class TemporalStage:
    """Cut detection feeding a :class:`~vidcolor.temporal.smooth.Smoother`.

    Args:
        smooth: The smoothing settings (mode, radius, tolerance, cut threshold, detection).
        listed: Frames the user listed as starting a shot.
        find_cuts: Look for cuts even when nothing is smoothed (the evaluation scores shots);
            by default cuts are looked for only when smoothing needs them: with a radius of 0
            no frame before a chunk is read, so a cut at its first frame could not be seen.
    """

    def __init__(
        self, smooth: SmoothConfig, listed: Collection[int] = (), *, find_cuts: bool = False
    ) -> None:
        self.smoother = Smoother(smooth.mode, smooth.radius, smooth.luma_tolerance)
        looks = find_cuts or self.smoother.radius > 0
        self.detector = (
            CutDetector(smooth.cut_threshold, listed, smooth.detect_cuts) if looks else None
        )

    @property
    def finds_cuts(self) -> bool:
        return self.detector is not None

    def push(
        self, index: int, unit: np.ndarray, ab: np.ndarray, lightness: np.ndarray
    ) -> tuple[bool, Iterator[tuple[int, np.ndarray]]]:
        """Hands on frame ``index``: its luma ``(H, W)`` in [0, 1] (for cuts), its predicted ab
        ``(2, h, w)`` and the lightness ``(h, w)`` the network saw (for the flow).

        Returns:
            Whether the frame starts a shot, and the frames (index, smoothed ab) now finished;
            iterate the latter before the next push.
        """
        cut = self.detector is not None and self.detector.is_cut(index, unit)
        return cut, self.smoother.push(index, ab, cut, lightness)

    def finish(self) -> Iterator[tuple[int, np.ndarray]]:
        """The frames still held at the end."""
        return self.smoother.finish()
