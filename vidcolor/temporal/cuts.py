"""Where shots begin: scene cuts found on luma, and cuts the user lists.

The input is gray, so hue and saturation carry nothing: a cut is declared where two consecutive
frames' luma differ by more than a threshold. The decision for frame t looks only at frames t-1
and t, so it never depends on which frames share a chunk (chunk invariance).

A user can list frames that start a new shot (``--cuts 120,455`` or a file with one frame number
per line): they are cuts in addition to the detected ones, or the only ones with detection off.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import cv2
import numpy as np

from vidcolor.errors import ConfigError

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


class CutDetector:
    """Flags the frames that start a new shot, fed frames in order.

    The first frame fed is always flagged: nothing before it is known. That flag is harmless for
    chunk invariance, since a chunk's first frame is read only as context (halo) for its owned
    frames, or is the first frame of the film.
    """

    def __init__(self, threshold: float, listed: Collection[int] = (), detect: bool = True):
        self.threshold = threshold
        self.listed = frozenset(listed)
        self.detect = detect
        self._previous: tuple[int, np.ndarray] | None = None

    def is_cut(self, index: int, luma_unit: np.ndarray) -> bool:
        """Whether frame ``index`` (luma ``(H, W)`` in [0, 1]) starts a shot."""
        thumb = thumbnail(luma_unit)
        previous, self._previous = self._previous, (index, thumb)
        if previous is None or previous[0] != index - 1 or index in self.listed:
            return True
        return self.detect and cut_score(previous[1], thumb) > self.threshold


def listed_cuts(value: str | int | None, frame_count: int | None = None) -> tuple[int, ...]:
    """The frames a user listed as cuts, sorted and unique.

    Args:
        value: None or "" (none), a frame number, a comma-separated list (``"120, 455"``), or
            the path of a text file with frame numbers one per line or comma-separated
            (blank lines and ``#`` comments are ignored).
        frame_count: When given, frames at or past it are refused.

    Raises:
        ConfigError: naming the entry that is not a non-negative integer, a frame past the
            end, or a file that cannot be read.
    """
    if value is None or value == "":
        return ()
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"smooth.cuts must be frame numbers or a file, got {value!r}")
    text, where, path = str(value), "smooth.cuts", Path(str(value))
    if isinstance(value, str) and not _looks_like_numbers(value):
        if not path.is_file():
            raise ConfigError(
                f"cuts {value!r} is neither a file nor frame numbers like 120,455; "
                "check the path or the list"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read cuts file {path}: {error}") from None
        where = f"cuts file {path}"
    frames = sorted({_frame(item, where) for item in _items(text)})
    if frame_count is not None and frames and frames[-1] >= frame_count:
        raise ConfigError(
            f"{where} lists frame {frames[-1]}, but the video has frames 0..{frame_count - 1}"
        )
    return tuple(frames)


def _looks_like_numbers(text: str) -> bool:
    """Digits and separators, perhaps with a typo (sign, decimal point) worth naming."""
    return all(c.isdigit() or c in ", \t-+." for c in text)


def _items(text: str) -> list[str]:
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return [item.strip() for line in lines for item in line.split(",") if item.strip()]


def _frame(item: str, where: str) -> int:
    if not (item.isascii() and item.isdigit()):
        raise ConfigError(f"{where}: {item!r} is not a frame number (a non-negative integer)")
    return int(item)
