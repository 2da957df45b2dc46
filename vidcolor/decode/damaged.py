"""The ``replace_bad`` reader: damaged frames get their nearest good neighbour's picture.

The pixels a decoder makes of the frames after a damaged one depend on what it decoded before
(measured: frames that refer to a concealed picture come out differently when decoding began one
keyframe earlier), so this reader starts the decoder afresh at every keyframe: each frame is then
decoded the same way whichever chunk reads it, and the output does not depend on where the film
was cut.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from vidcolor.decode.pyav import (
    check_size,
    in_presentation_order,
    luma_plane,
    open_container,
    seek_points,
    seek_timestamp,
    video_stream,
)
from vidcolor.errors import DecodeError, ffmpeg_reason
from vidcolor.media import Frame, VideoInfo

# Frames before ``start`` searched first for a good frame to stand in for a damaged first
# frame of a range; the search widens by this factor until it reaches the first frame.
_REACH = 32


def read_replacing(info: VideoInfo, start: int, stop: int) -> Iterator[Frame]:
    """Frames ``start .. stop - 1``, each damaged one with its nearest good neighbour's picture.

    Reads before ``start`` for an earlier good frame when ``start`` is damaged, and on past
    ``stop`` while damaged frames wait for a later one (when the film begins damaged).
    """
    if start == stop:
        return
    pts = info.video.pts
    good: tuple[int, Any] | None = None  # the latest good frame: index, luma (or its frame)
    waiting: list[int] = []  # damaged frames with no good frame before them
    for index, frame in _judged(info, start):
        if frame is not None:
            check_size(frame, index, info)
            good = (index, frame if index < start else luma_plane(frame))
            yield from (Frame(i, pts[i], good[1], replaced_by=index) for i in waiting)
            waiting.clear()
        if index >= stop and not waiting:
            return
        if not start <= index < stop:
            continue
        if frame is None and good is None and index == start:
            good = _good_before(info, start)
        if good is None:
            waiting.append(index)
            continue
        if not isinstance(good[1], np.ndarray):  # a frame read before start stands in
            good = (good[0], luma_plane(good[1]))
        yield Frame(index, pts[index], good[1], None if frame is not None else good[0])
    if waiting:
        raise DecodeError(
            f"{info.path}: no frame from frame {waiting[0]} to the end of the film can be "
            "decoded; the file is damaged there: copy it again from its source",
            frame=waiting[0],
        )


def _good_before(info: VideoInfo, start: int) -> tuple[int, Any] | None:
    """The latest good frame before ``start`` (index, decoded frame); None if all are damaged."""
    reach = _REACH
    while True:
        first, found = max(0, start - reach), None
        for index, frame in _judged(info, first):
            if index >= start:
                break
            if frame is not None:
                check_size(frame, index, info)
                found = (index, frame)
        if found is not None or first == 0:
            return found
        reach *= 8


def _judged(info: VideoInfo, first: int) -> Iterator[tuple[int, Any]]:
    """(index, decoded frame) for every frame from the keyframe at or before ``first`` to the
    end of the film, in order; None for a frame the decoder flagged damaged or never delivered
    (its packet could not be decoded). A frame delivered out of order counts as never delivered.
    """
    pts = info.video.pts
    with open_container(info) as container:
        landing, packets = _packets_from(container, video_stream(container, info, 1), info, first)
        expected = first if landing is None else bisect.bisect_left(pts, landing)
        try:
            for frame in in_presentation_order(container, _decode_afresh(info, packets)):
                index = len(pts) if frame.pts is None else bisect.bisect_left(pts, frame.pts)
                if index < expected or index == len(pts) or pts[index] != frame.pts:
                    continue  # before the range, late, again, or not a counted frame
                yield from ((missing, None) for missing in range(expected, index))
                yield index, None if frame.is_corrupt else frame
                expected = index + 1
        except av.FFmpegError as error:  # reading the file, not decoding a frame, failed
            why = ffmpeg_reason(error)
            raise DecodeError(
                f"{info.path}: cannot read on from frame {expected} ({why}); copy the file "
                "again from its source",
                frame=expected,
            ) from None
    yield from ((missing, None) for missing in range(expected, len(pts)))


def _packets_from(
    container: Any, stream: Any, info: VideoInfo, first: int
) -> tuple[int | None, Iterator[Any]]:
    """The pts of the packet a seek for frame ``first`` lands on, and the packets from it on.

    Packets, not frames, tell where a seek landed: the frame there may be the damaged one.
    """
    target = info.video.pts[first]
    for point in seek_points(first):
        container.seek(seek_timestamp(stream, info, point), stream=stream, backward=True)
        packets = container.demux(stream)
        lead = next(packets, None)
        if lead is not None and (lead.pts is None or lead.pts <= target):
            return lead.pts, itertools.chain([lead], packets)
    raise DecodeError(
        f"{info.path}: cannot reach frame {first} (pts {target}); no packet before it. Remux "
        "the file (ffmpeg -i IN -c copy OUT.mkv) and retry",
        frame=first,
    )


def _decode_afresh(info: VideoInfo, packets: Iterator[Any]) -> Iterator[Any]:
    """Decoded frames of ``packets``, with a new decoder from each keyframe on.

    At a keyframe that follows other frames the decoder goes on until it has output every
    frame before that keyframe (the leading frames of an open GOP need the GOP before); then a
    new decoder, on the file opened anew, starts at the keyframe. Each GOP is so decoded as if
    decoding began there. Flushing the old decoder is not enough: FFV1 keeps the pictures it
    conceals damage from across a flush (measured). A run of keyframes (an intra-only codec)
    is decoded in one go. Packets a decoder cannot decode are skipped: their frames never come
    out.
    """
    with contextlib.ExitStack() as opened:
        boundary: int | None = None  # pts of the keyframe that ends what the decoder is on
        fresh = True  # only keyframes fed to this decoder
        while (packet := next(packets, None)) is not None:
            if boundary is None and not fresh and packet.is_keyframe and packet.pts is not None:
                boundary = packet.pts
            fresh = fresh and packet.is_keyframe
            try:
                frames = packet.decode()
            except av.FFmpegError:
                frames = []
            done = boundary is not None and not packet.size  # an empty packet ends the file
            if boundary is not None:
                past = [n for n, f in enumerate(frames) if f.pts is not None and f.pts >= boundary]
                frames, done = (frames[: past[0]], True) if past else (frames, done)
            yield from frames
            if boundary is not None and done:
                opened.close()  # the decoder before, unless it is the caller's
                packets = _keyframe_on(opened.enter_context(open_container(info)), info, boundary)
                boundary, fresh = None, True


def _keyframe_on(container: Any, info: VideoInfo, boundary: int) -> Iterator[Any]:
    """Packets of ``container`` from the keyframe at pts ``boundary`` on, none decoded yet."""
    index = min(bisect.bisect_left(info.video.pts, boundary), info.video.frame_count - 1)
    _, packets = _packets_from(container, video_stream(container, info, 1), info, index)
    return itertools.dropwhile(
        lambda p: not (p.is_keyframe and p.pts is not None and p.pts >= boundary), packets
    )
