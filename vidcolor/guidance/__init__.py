"""Guided colorization's inputs: reference pictures and color hints, read and checked before
any work.

``vidcolor run --references PATH... --hints FILE`` and ``vidcolor eval`` take them.
:func:`load_guidance` returns a :class:`~vidcolor.guidance.values.Guidance`: each reference's
chroma at its frame's size (:mod:`~vidcolor.guidance.references`, checked to show its frame
by :mod:`~vidcolor.guidance.match`) and each hinted frame's points
(:mod:`~vidcolor.guidance.hints`), with digests for the run key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from vidcolor.guidance.hints import read_hints
from vidcolor.guidance.references import frame_number, load_references
from vidcolor.guidance.values import FrameHints, Guidance, HintPoint, Reference
from vidcolor.media import VideoInfo

__all__ = [
    "FrameHints",
    "Guidance",
    "HintPoint",
    "Reference",
    "frame_number",
    "load_guidance",
    "load_references",
    "read_hints",
]


def load_guidance(
    info: VideoInfo,
    references: Sequence[Path] = (),
    hints: Path | None = None,
    *,
    on_note: Callable[[str], None] | None = None,
) -> Guidance:
    """The checked references (files or folders) and hints (a CSV file) for ``info``'s video.

    The hints file is checked first: it costs no decoding.

    Raises:
        InputError: Whatever :func:`~vidcolor.guidance.hints.read_hints` or
            :func:`~vidcolor.guidance.references.load_references` refuses.
    """
    frame_hints = read_hints(Path(hints), info.video) if hints is not None else ()
    found = load_references([Path(p) for p in references], info, on_note=on_note)
    return Guidance(found, frame_hints)
