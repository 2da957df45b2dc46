"""Check that a video stream was read whole: a damaged or cut file must not pass as short.

A damaged or cut file can demux short without any error (Matroska loses its way in zeroed
bytes and stops; a cut MP4 with its index first just ends), so the frames read are checked
against what the file states about itself: an MP4's sample count, a Matroska track's duration
and the keyframes its index lists. A file that falls short is refused, naming the first missing
frame. :mod:`vidcolor.probing.count` counts the frames first.
"""

from __future__ import annotations

import bisect
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vidcolor.errors import DecodeError
from vidcolor.probing.count import REMEDY

# How far the container's stated end of the video may lie past the last frame read, beyond one
# frame: a track's DURATION tag is exact to the millisecond; a Matroska segment's duration
# covers the audio too, which may run on a little longer than the picture.
_STREAM_SLACK = Fraction(1, 100)
_SEGMENT_SLACK = Fraction(1)


def mp4_cut_short(path: Path) -> str | None:
    """Why an MP4/MOV that FFmpeg cannot open is broken, when its top-level boxes tell.

    Args:
        path: A file FFmpeg refused to open.

    Returns:
        A reason for the error message, or ``None`` when the file is no MP4/MOV or its boxes
        look whole.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if handle.read(8)[4:] not in (b"ftyp", b"wide", b"mdat", b"moov", b"free"):
            return None
        boxes, offset = [], 0
        while offset + 8 <= size:
            handle.seek(offset)
            header = handle.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:
                length = size - offset
            if length < 8:
                return "an MP4 box with a broken size: the file is damaged"
            boxes.append(kind)
            offset += length
    if offset > size:
        return f"the file ends inside its {boxes[-1].decode('latin-1')!r} box: it is cut short"
    if b"moov" not in boxes:
        return "an MP4 without its index (moov box): cut short, or never finished"
    return None


def _listed_keyframes(path: Path, container: Any, stream: Any) -> list[int]:
    """pts of the keyframes a Matroska file's index (Cues) lists: each must have been read.

    The demuxer loads the index only on a first seek, and adds entries of its own while it
    reads, so a second opening of the file seeks once and takes the index as written. Only
    Matroska: an MP4's index holds decode timestamps, not presentation ones. Best effort: a
    file whose index cannot be read gets the other checks alone.
    """
    if "matroska" not in container.format.name:
        return []
    try:
        with av.open(str(path.absolute())) as other:
            indexed = other.streams[stream.index]
            other.seek(2**62, stream=indexed, backward=True)
            return sorted({e.timestamp for e in indexed.index_entries if e.is_keyframe})
    except (av.FFmpegError, OSError, ValueError, OverflowError, IndexError):
        return []


def check_complete(container: Any, stream: Any, pts: list[int], fps: Fraction, path: Path) -> None:
    """Refuses a stream whose readable frames stop short of what the file itself states.

    A demuxer that loses its way in damaged data (Matroska after zeroed bytes) or meets the
    end of a cut file stops without an error; counting alone would colorize the rest of the
    film away in silence. Two statements are checked: every keyframe the index lists was
    read, and the last frame ends where the container says the stream (or file) ends.

    Args:
        container: The open container ``stream`` belongs to.
        stream: The video stream whose frames were counted.
        pts: Every counted frame's pts, sorted, in ``stream.time_base`` units.
        fps: The stream's frame rate.
        path: The file, for messages and for a second opening to read its index.

    Raises:
        DecodeError: naming the first frame that cannot be read.
    """
    listed = _listed_keyframes(path, container, stream)
    counted = set(pts)
    missing = next((t for t in listed if t not in counted), None)
    time_base = Fraction(stream.time_base)
    if missing is not None:
        frame = bisect.bisect_left(pts, missing)
        raise DecodeError(
            f"{path}: the file's index lists a keyframe at {float(missing * time_base):.3f} s "
            f"that cannot be read; frames are lost from about frame {frame} on (or the index "
            f"is damaged). {REMEDY}",
            frame,
        )
    declared, slack = _declared_end(container, stream)
    end = pts[-1] * time_base + 1 / fps
    if declared is not None and declared - end > slack + 1 / fps:
        raise DecodeError(
            f"{path}: video stream {stream.index} can be read up to frame {len(pts) - 1} "
            f"({float(end):.3f} s), but the file says it runs to {float(declared):.3f} s; "
            f"it is damaged or cut short from frame {len(pts)} on. {REMEDY}",
            len(pts),
        )


def _declared_end(container: Any, stream: Any) -> tuple[Fraction | None, Fraction]:
    """Where the container says the video ends, in seconds, and how exactly it says it.

    A track's DURATION tag (FFmpeg and mkvmerge write one into Matroska), else a Matroska
    segment's duration. An MP4's own frame count is checked while demuxing instead; other
    containers state nothing reliable (FFmpeg estimates an MPEG-TS duration from its bitrate).
    """
    for key, value in stream.metadata.items():
        if key.upper().split("-")[0] == "DURATION":
            seconds = _clock(value)
            if seconds is not None:
                return seconds, _STREAM_SLACK
    if "matroska" in container.format.name and container.duration:
        start = max(container.start_time or 0, 0)
        return Fraction(start + container.duration, av.time_base), _SEGMENT_SLACK
    return None, _STREAM_SLACK


def _clock(text: str) -> Fraction | None:
    """``"01:02:03.500000000"`` -> 3723.5 seconds; ``None`` if it is not such a clock."""
    parts = text.strip().split(":")
    if len(parts) != 3 or not all(p.replace(".", "", 1).isdigit() for p in parts):
        return None
    hours, minutes, seconds = parts
    return Fraction(int(hours) * 3600 + int(minutes) * 60) + Fraction(seconds)
