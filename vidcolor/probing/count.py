"""Count a video stream's frames: every frame's pts, from its packets or, where those cannot be
trusted, by decoding it.

Counted, never taken from headers: MKV and WebM store no frame count at all, MP4 headers count
frames an edit list hides, and a decoder drops frames a header still counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av

from vidcolor.errors import DecodeError, InputError, ffmpeg_reason

REMEDY = (
    "Copy the file again from its source; to colorize only the frames that can be read, remux "
    "it first (ffmpeg -i IN -c copy OUT.mkv: the copy holds just those, and says so)"
)


def scan_packets(container: Any, stream: Any, path: Path) -> tuple[list[int] | None, Any]:
    """pts of every frame-carrying packet, and the first decoded frame; fast, no full decode.

    Returns ``(None, None)`` when packets cannot be trusted to map 1:1 to output frames:
    a packet without pts, or a first packet that is not a keyframe. A decoder drops the
    frames before the first keyframe, so only decoding tells how many frames there are.

    Args:
        container: The open container ``stream`` belongs to.
        stream: The video stream to count.
        path: The file, for messages.

    Raises:
        DecodeError: The demuxer fails or hands over a packet it could not read whole, or an
            MP4 delivers fewer packets than its sample table lists (cut short).
    """
    pts: list[int] = []
    first = None
    packets = 0
    try:
        for packet in container.demux(stream):
            if packet.is_corrupt:  # e.g. the file ends inside it
                raise DecodeError(
                    f"{path}: frame {packets} of video stream {stream.index} (in file order) is "
                    f"incomplete; the file is cut short or damaged there. {REMEDY}",
                    packets,
                )
            if first is None:  # also feeds the empty end-of-stream packet, which flushes
                first = next(iter(packet.decode()), None)
            if packet.size == 0:
                continue
            if not packets and not packet.is_keyframe:
                return None, None
            packets += 1
            if packet.is_discard:  # before an MP4 edit list's start: decoded, never shown
                continue
            if packet.pts is None:
                return None, None
            pts.append(packet.pts)
    except av.FFmpegError as error:
        raise DecodeError(
            f"{path}: cannot read video stream {stream.index} after {len(pts)} frame(s) "
            f"({ffmpeg_reason(error)}); the file is damaged",
            len(pts),
        ) from None
    if is_mov(container) and 0 < packets < stream.frames:
        raise DecodeError(
            f"{path}: video stream {stream.index} ends after {packets} of the {stream.frames} "
            f"frames its index lists; the file is cut short. {REMEDY}",
            packets,
        )
    if first is None or first.pts is None:
        return sorted(pts), first
    # A decoder outputs in presentation order, so a pts below its first frame's was
    # dropped at the start (HEVC RASL pictures after a leading CRA, open-GOP leading
    # B-frames): such packets carry no frame.
    return sorted(p for p in pts if p >= first.pts), first


def scan_frames(path: Path, index: int) -> tuple[list[int], Any]:
    """pts of every decoded frame, and the first frame: the slow, always-true count.

    For the streams :func:`scan_packets` cannot count; opens ``path`` anew.

    Args:
        path: The file.
        index: Absolute index of the video stream to decode.

    Raises:
        InputError: A decoded frame carries no pts.
        DecodeError: Decoding fails, naming the frame.
    """
    pts: list[int] = []
    first = None
    with av.open(str(path.absolute())) as container:
        try:
            for frame in container.decode(container.streams[index]):
                if frame.pts is None:
                    raise InputError(
                        f"{path}: video frames carry no timestamps; remux it first "
                        "(ffmpeg -i IN -c copy OUT.mkv) and try again"
                    )
                pts.append(frame.pts)
                first = frame if first is None else first
        except av.FFmpegError as error:
            raise DecodeError(
                f"{path}: cannot decode frame {len(pts)} ({ffmpeg_reason(error)})", len(pts)
            ) from None
    return sorted(pts), first


def is_mov(container: Any) -> bool:
    return "mov" in container.format.name.split(",")
