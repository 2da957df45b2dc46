"""What guidance is, once read and checked: references, hint points, and the two together.

Values only, as :mod:`vidcolor.media`: this module imports no I/O library, so the worker, the
evaluation and the run key can take them and tests can build them. Each value has a
:meth:`digest`, the sha256 of what decides its effect on the output, for the run key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class Reference:
    """A picture of one frame whose chroma that frame takes.

    Attributes:
        path: The image file.
        frame: The zero-based frame it shows (from its file name).
        ab: ``(2, H, W)`` float32 Lab a and b (D65) at the frame's stored size: only the
            reference's chroma is used.
        lightness: ``(H, W)`` float32 Lab L in [0, 100] of the reference, at the same size:
            its own, which may differ from the film's (another tool, tonal edits).
        score: How well its structure matched its frame's luma (:mod:`~vidcolor.guidance.match`).
        image_sha256: sha256 of the file's bytes.
    """

    path: Path
    frame: int
    ab: np.ndarray
    lightness: np.ndarray
    score: float
    image_sha256: str

    def digest(self) -> str:
        """sha256 of what decides ``ab``: the frame, the image's bytes and the size it is
        scaled to (not of ``ab``'s floats, whose last bits may differ between machines)."""
        height, width = self.ab.shape[-2:]
        text = f"reference\nframe {self.frame}\nsize {width}x{height}\nimage {self.image_sha256}\n"
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class HintPoint:
    """One color a user gave at one pixel of one frame.

    Attributes:
        x: Column in the source's stored pixels, ``0 <= x < width``.
        y: Row, ``0 <= y < height``.
        radius: Pixels around ``(x, y)`` that the hint covers (0: that pixel only).
        rgb: The sRGB color as given, 0-255 each.
        ab: Its Lab a and b (D65): the part of the color a hint sets.
        line: The line of the hints file it came from, for messages.
    """

    x: int
    y: int
    radius: int
    rgb: tuple[int, int, int]
    ab: tuple[float, float]
    line: int = 0


@dataclass(frozen=True)
class FrameHints:
    """Every hint point of one frame, in file order."""

    frame: int
    points: tuple[HintPoint, ...]

    def digest(self) -> str:
        """sha256 of the frame and each point's position, radius and sRGB integers."""
        rows = "".join(f"{p.x} {p.y} {p.radius} {p.rgb[0]} {p.rgb[1]} {p.rgb[2]}\n"
                       for p in self.points)  # fmt: skip
        return hashlib.sha256(f"hints\nframe {self.frame}\n{rows}".encode()).hexdigest()


@dataclass(frozen=True)
class Guidance:
    """A run's references and hints, checked against its video; both sorted by frame."""

    references: tuple[Reference, ...] = ()
    hints: tuple[FrameHints, ...] = ()

    @property
    def frames(self) -> tuple[int, ...]:
        """Every frame that has a reference or hints, sorted."""
        return tuple(sorted({r.frame for r in self.references} | {h.frame for h in self.hints}))

    def digest(self) -> str:
        """sha256 of every reference's and hint frame's digest, in frame order; the same for
        the same guidance however its files were named or listed."""
        parts = [f"r {r.digest()}" for r in self.references] + [
            f"h {h.digest()}" for h in self.hints
        ]
        return hashlib.sha256("\n".join(["guidance", *parts]).encode()).hexdigest()
