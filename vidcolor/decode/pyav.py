"""The PyAV reader (the default, bit-exact), and the PyAV pieces the damaged-frame reader shares.

Opening the probed file again (it must still hold the probed stream), where to seek for a frame,
and the luma plane of a decoded frame at the source's own depth and range: used by
:func:`read_pyav` here and by :mod:`vidcolor.decode.damaged`.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import av
import numpy as np

from vidcolor.errors import DecodeError, ffmpeg_reason
from vidcolor.media import Frame, VideoInfo

# Seek targets tried in turn, as frames before ``start``, until decoding does not start
# after ``start``. A demuxer that seeks by decode timestamp can land on the keyframe just
# after a target within the B-frame delay before it; 32 frames back clears any real
# reorder delay (H.264 allows 16). The larger step covers a sparse seek index; the last
# resort is the first frame, from which every frame is reachable.
_SEEK_BACKOFF = (0, 32, 512)
# p010/p012/p016/p210/p410 ... keep 10 or 12 bits in the high end of 16 (shifted samples);
# the swscale path shifts them back to native values.
_SHIFTED = re.compile(r"^p[0-9]{3}(le|be)$")
# Containers that store no presentation timestamps, only the order of the coded frames: the
# pts of their frames are guessed by libavformat's parser, and for DivX-style packed B-frames
# (MPEG-4 Part 2 in AVI) the guess goes with the wrong picture: Megamind.avi (OpenCV's sample)
# decodes its pictures in display order, as ffmpeg's, but labelled 1 2 3 5 4 6 8 7 ...
_GUESSED_PTS_FORMATS = frozenset({"avi"})
# Output frames over which such labels are put back in order: no decoder reorders further
# (H.264's largest reorder delay is 16 frames).
_REORDER_WINDOW = 16
_GRAY_FORMATS = ("gray", "gray9le", "gray10le", "gray12le", "gray14le", "gray16le")
SKIP_HINT = "or use --skip-bad-frames to replace damaged frames by their neighbours"


def open_container(info: VideoInfo) -> Any:
    """The probed file, opened again; it must still hold the probed video stream."""
    try:
        container = av.open(str(info.path.absolute()))  # absolute: "a:b.mp4" is no protocol
    except (av.FFmpegError, OSError) as error:
        why = ffmpeg_reason(error)
        raise DecodeError(f"{info.path}: cannot open it again ({why}); was it changed?") from None
    streams = container.streams
    if not (info.video.index < len(streams) and streams[info.video.index].type == "video"):
        container.close()
        raise DecodeError(f"{info.path}: video stream {info.video.index} is gone; was it changed?")
    return container


def video_stream(container: Any, info: VideoInfo, threads: int) -> Any:
    """The probed video stream of ``container``, its decoder set to ``threads`` threads."""
    stream = container.streams[info.video.index]
    stream.codec_context.thread_type = "AUTO"  # frame + slice threads
    stream.codec_context.thread_count = threads
    return stream


def seek_timestamp(stream: Any, info: VideoInfo, point: int) -> int:
    """The timestamp to seek to for frame ``point``: its pts, or for the first frame the
    stream's start when that is earlier.

    Demuxers seek by their index's timestamps, often decode timestamps: Megamind.avi's first
    frame has pts 1 and dts 0, and a seek to 1 lands on the second frame.
    """
    pts = info.video.pts[point]
    start = stream.start_time
    return min(pts, start) if point == 0 and start is not None else pts


def in_presentation_order(container: Any, frames: Iterable[Any]) -> Iterator[Any]:
    """Decoded ``frames`` with their pts in presentation order.

    A decoder outputs pictures in presentation order; where the container stores no pts
    (:data:`_GUESSED_PTS_FORMATS`) the guessed labels can come out of order, and each frame
    gets the smallest label not yet given among the next :data:`_REORDER_WINDOW` frames, which
    is what ffmpeg shows for them (its best-effort timestamps). Elsewhere frames pass unchanged:
    no frame is held back, so no memory is spent.
    """
    if container.format.name not in _GUESSED_PTS_FORMATS:
        yield from frames
        return
    held: deque[Any] = deque()
    labels: list[int] = []
    for frame in frames:
        held.append(frame)
        if frame.pts is not None:
            heapq.heappush(labels, frame.pts)
        if len(held) > _REORDER_WINDOW:
            yield _relabelled(held.popleft(), labels)
    while held:
        yield _relabelled(held.popleft(), labels)


def _relabelled(frame: Any, labels: list[int]) -> Any:
    if frame.pts is not None:
        frame.pts = heapq.heappop(labels)
    return frame


def check_size(frame: Any, index: int, info: VideoInfo) -> None:
    """Raises unless ``frame`` (frame ``index``) has the size the stream starts at."""
    video = info.video
    if (frame.width, frame.height) != (video.width, video.height):
        raise DecodeError(
            f"{info.path}: frame {index} is {frame.width}x{frame.height}, the stream "
            f"starts at {video.width}x{video.height}; a picture size that changes within "
            "a stream is not supported (or the file is damaged there)",
            frame=index,
        )


def seek_points(start: int) -> list[int]:
    """Frame indices to seek to for ``start``, nearest first, ending with the first frame."""
    return [start - back for back in _SEEK_BACKOFF if start - back > 0] + [0]


def luma_plane(frame: Any) -> np.ndarray:
    """The Y plane of a decoded ``av.VideoFrame`` at native depth and range.

    Planar YUV and gray frames give plane 0 as is: no chroma copy, no pixel format
    conversion, line padding dropped. Other layouts (RGB, packed YUV, palette, shifted
    p010-style) go through swscale to the gray format of the same depth first.

    Returns:
        ``(H, W)`` uint8 for depth <= 8, else uint16; a copy that outlives the frame.
    """
    fmt = frame.format
    depth = int(fmt.components[0].bits)
    if not _luma_is_plane0(fmt):
        gray = "gray" if depth <= 8 else f"gray{depth}le"
        if gray not in _GRAY_FORMATS:
            gray = "gray16le"
        frame = frame.reformat(format=gray)
        fmt = frame.format
    plane = frame.planes[0]
    dtype = np.dtype(np.uint8) if depth <= 8 else np.dtype(">u2" if fmt.is_big_endian else "<u2")
    samples = plane.line_size // dtype.itemsize
    rows = np.frombuffer(plane, dtype, count=samples * plane.height).reshape(plane.height, samples)
    # Copy: the decoder reuses the buffer for later frames.
    return rows[:, : plane.width].astype(np.uint8 if depth <= 8 else np.uint16)


def _luma_is_plane0(fmt: Any) -> bool:
    """Plane 0 holds the luma samples alone, unshifted (yuv*p*, yuvj*, nv12, gray*)."""
    components = fmt.components
    alone = all(c.plane != 0 for c in components[1:])
    return (
        components[0].is_luma
        and components[0].plane == 0
        and alone
        and not fmt.is_rgb
        and not fmt.has_palette
        and not _SHIFTED.match(fmt.name)
    )


def opens(info: VideoInfo) -> bool:
    """Whether PyAV can open the file at all."""
    try:
        av.open(str(info.path.absolute())).close()
    except av.FFmpegError:
        return False
    return True


def read_pyav(info: VideoInfo, start: int, stop: int, threads: int) -> Iterator[Frame]:
    """Frames ``start .. stop - 1``, bit-exact: seek to a keyframe before ``start``, decode
    forward, check every frame's pts against the probe."""
    if start == stop:
        return
    video = info.video
    with open_container(info) as container:
        stream = video_stream(container, info, threads)
        frames = _frames_from(container, stream, info, start)
        for index in range(start, stop):
            try:
                frame = next(frames, None)
            except av.FFmpegError as error:
                why = ffmpeg_reason(error)
                raise DecodeError(
                    f"{info.path}: cannot decode frame {index} ({why}); the file may be "
                    f"damaged: copy it again from its source, {SKIP_HINT}",
                    frame=index,
                ) from None
            if frame is None:
                raise DecodeError(
                    f"{info.path}: decoding stopped before frame {index} of {video.frame_count}"
                    "; the file may be truncated",
                    frame=index,
                )
            _check(frame, index, info)
            yield Frame(index=index, pts=frame.pts, luma=luma_plane(frame))


def _check(frame: Any, index: int, info: VideoInfo) -> None:
    """Raises unless ``frame`` is frame ``index`` as the probe counted it, whole."""
    video = info.video
    if frame.pts != video.pts[index]:
        raise DecodeError(
            f"{info.path}: frame {index} decoded with pts {frame.pts}, the probe "
            f"counted {video.pts[index]}; the file changed or its timestamps are broken",
            frame=index,
        )
    check_size(frame, index, info)
    if frame.is_corrupt:  # the decoder hid errors in it, e.g. with its neighbours' pixels
        raise DecodeError(
            f"{info.path}: frame {index} is damaged (the decoder had to conceal errors in "
            f"it); repair or copy the file again from its source, {SKIP_HINT}",
            frame=index,
        )


def _frames_from(container: Any, stream: Any, info: VideoInfo, start: int) -> Iterator[Any]:
    """Decoded frames from frame ``start`` on, after seeking to a keyframe before it."""
    pts = info.video.pts
    target = pts[start]
    landed = None
    for point in seek_points(start):
        frames = _decoded_after_seek(container, stream, seek_timestamp(stream, info, point), target)
        first = next(frames, None)
        if first is not None and first.pts == target:
            yield first
            yield from frames
            return
        landed = landed if first is None else first.pts  # overshot: seek earlier
    raise DecodeError(
        f"{info.path}: cannot reach frame {start} (pts {target}); decoding from the start "
        f"gives pts {landed} first. Remux the file (ffmpeg -i IN -c copy OUT.mkv) and retry",
        frame=start,
    )


def _decoded_after_seek(container: Any, stream: Any, seek_pts: int, target: int) -> Iterator[Any]:
    """Seek back to the keyframe at or before ``seek_pts`` and drop frames before ``target``."""
    container.seek(seek_pts, stream=stream, backward=True)  # also flushes the decoder
    decoded = (frame for packet in container.demux(stream) for frame in packet.decode())
    for frame in in_presentation_order(container, decoded):
        if frame.pts is not None and frame.pts >= target:
            yield frame
