"""Color hints from a CSV file: ``frame,x,y,r,g,b`` and an optional ``radius`` column.

Each row is one sRGB color (0-255 each) at the source's stored pixel ``(x, y)`` of a zero-based
frame; ``radius`` is how many pixels around it the color covers (default
:data:`DEFAULT_RADIUS`). Only the color's chroma (Lab a, b) is kept: the film's own luma stays.
Every row is checked before any work, and a wrong one is refused naming its line.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import torch

from vidcolor import color
from vidcolor.errors import InputError
from vidcolor.guidance.values import FrameHints, HintPoint
from vidcolor.media import VideoStreamInfo

COLUMNS = ("frame", "x", "y", "r", "g", "b")
OPTIONAL = ("radius",)
DEFAULT_RADIUS = 3  # px: a brush dot a user can see, small enough to stay inside one object


def read_hints(path: Path, video: VideoStreamInfo) -> tuple[FrameHints, ...]:
    """The hints of ``path`` for ``video``, grouped by frame, sorted by frame.

    Raises:
        InputError: The file cannot be read, its header is not ``frame,x,y,r,g,b[,radius]``,
            or a row is malformed, names a frame past the video, a pixel outside the picture
            or a value out of range; the message names the line and what to do.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a BOM
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise InputError(f"cannot read the hints file {path}: {reason}") from None
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    by_frame: dict[int, list[HintPoint]] = defaultdict(list)
    try:
        header = _header(path, next(rows, []))
        for row in rows:
            if any(cell.strip() for cell in row):
                frame, point = _row(row, header, video, path, rows.line_num)
                by_frame[frame].append(point)
    except csv.Error as error:
        raise InputError(f"{path}, line {rows.line_num}: not CSV ({error}); fix the line") from None
    if not by_frame:
        raise InputError(f"{path} holds no hints: add rows like 0,120,80,200,30,30 to it")
    return tuple(FrameHints(frame, tuple(points)) for frame, points in sorted(by_frame.items()))


def _header(path: Path, row: list[str]) -> tuple[str, ...]:
    names = tuple(cell.strip().lower() for cell in row)
    allowed = set(COLUMNS) | set(OPTIONAL)
    if set(COLUMNS) - set(names) or set(names) - allowed or len(set(names)) != len(names):
        raise InputError(
            f"{path}, line 1: the header must be {','.join(COLUMNS)} (and optionally "
            f"{','.join(OPTIONAL)}), got {','.join(names) or 'nothing'}"
        )
    return names


def _integer(cell: str, name: str, where: str) -> int:
    text = cell.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()):
        raise InputError(f"{where}: {name} {cell.strip()!r} is not an integer")
    return int(text)


def _row(
    row: list[str], header: tuple[str, ...], video: VideoStreamInfo, path: Path, line: int
) -> tuple[int, HintPoint]:
    """One row's frame and point, every value checked."""
    where = f"{path}, line {line}"
    if len(row) != len(header):
        raise InputError(f"{where}: {len(row)} values, but the header has {len(header)} "
                         f"({','.join(header)}); fix the row")  # fmt: skip
    values = {name: _integer(cell, name, where) for name, cell in zip(header, row, strict=True)}
    frame, x, y = values["frame"], values["x"], values["y"]
    rgb = (values["r"], values["g"], values["b"])
    radius = values.get("radius", DEFAULT_RADIUS)
    if not 0 <= frame < video.frame_count:
        raise InputError(f"{where}: frame {frame} is not in the video (frames 0.."
                         f"{video.frame_count - 1}); use zero-based frame numbers")  # fmt: skip
    width, height = video.width, video.height
    if not (0 <= x < width and 0 <= y < height):
        raise InputError(f"{where}: pixel ({x}, {y}) is outside the picture ({width}x{height}: "
                         f"x 0..{width - 1}, y 0..{height - 1})")  # fmt: skip
    if not all(0 <= v <= 255 for v in rgb):
        raise InputError(f"{where}: color {rgb} is out of range: r, g and b are sRGB 0..255")
    if not 0 <= radius <= max(width, height):
        raise InputError(f"{where}: radius {radius} is out of range (0..{max(width, height)} px)")
    return frame, HintPoint(x, y, radius, rgb, _ab(rgb), line)


def _ab(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """Lab a and b (D65) of an 8-bit sRGB color."""
    pixel = torch.tensor(rgb, dtype=torch.float64).reshape(3, 1, 1) / 255.0
    lab = color.rgb_to_lab(pixel)
    return float(lab[1, 0, 0]), float(lab[2, 0, 0])
