"""Frame-exact decoding of one range of frames, as the source's own luma.

A range ``[start, stop)`` is addressed by frame index into ``VideoInfo.video.pts`` (the
counted presentation order), so neighbouring chunks decoded by different workers meet
exactly: no frame twice, none lost. The PyAV reader seeks to the keyframe before
``start``, decodes forward, and checks every frame's pts against the probe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from vidcolor.errors import DecodeError
from vidcolor.probe import VideoInfo

BACKENDS = ("pyav", "decord", "auto")
DECORD_BATCH = 32  # frames per decord get_batch call: bounds memory at 32 RGB frames
# Seek targets tried in turn, as frames before ``start``, until decoding does not start
# after ``start``. A demuxer that seeks by decode timestamp can land on the keyframe just
# after a target within the B-frame delay before it; 32 frames back clears any real
# reorder delay (H.264 allows 16). The larger step covers a sparse seek index; the last
# resort is the first frame, from which every frame is reachable.
_SEEK_BACKOFF = (0, 32, 512)
# p010/p012/p016/p210/p410 ... keep 10 or 12 bits in the high end of 16 (shifted samples);
# the swscale path shifts them back to native values.
_SHIFTED = re.compile(r"^p[0-9]{3}(le|be)$")
_GRAY_FORMATS = ("gray", "gray9le", "gray10le", "gray12le", "gray14le", "gray16le")


@dataclass(frozen=True)
class Frame:
    """One decoded frame of the selected video stream.

    Attributes:
        index: Position in presentation order (index into ``VideoInfo.video.pts``).
        pts: Presentation timestamp in the stream's ``time_base``.
        luma: ``(H, W)`` Y plane at the source's own bit depth and range, no conversion:
            uint8 for 8-bit sources, uint16 (native-endian, values < 2**bit_depth) above.
    """

    index: int
    pts: int
    luma: np.ndarray


def read_frames(
    info: VideoInfo, start: int, stop: int, *, backend: str = "pyav", threads: int = 0
) -> Iterator[Frame]:
    """Frames ``start .. stop - 1`` of ``info.video``, in order.

    Args:
        info: The probed file.
        start: First frame index, ``0 <= start <= stop``.
        stop: One past the last frame index, ``<= info.video.frame_count``.
        backend: ``"pyav"`` (bit-exact, default), ``"decord"`` (approximate luma, see
            :func:`_read_decord`) or ``"auto"`` (pyav, decord if PyAV cannot open the file).
        threads: Decoder threads; 0 lets the decoder choose.

    Raises:
        ValueError: Bad range or backend name (raised at once, not on first ``next``).
        DecodeError: While iterating: a frame cannot be decoded, or its pts is not the
            probed pts of its index (the file and the probe disagree).
    """
    count = info.video.frame_count
    if not 0 <= start <= stop <= count:
        raise ValueError(f"frame range {start}..{stop} is outside 0..{count}")
    if backend not in BACKENDS:
        raise ValueError(f"decode backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        backend = "pyav" if _pyav_opens(info) else "decord"
    if backend == "decord":
        return _read_decord(info, start, stop, threads)
    return _read_pyav(info, start, stop, threads)


def _pyav_opens(info: VideoInfo) -> bool:
    try:
        av.open(str(info.path.absolute())).close()
    except av.FFmpegError:
        return False
    return True


# ---------------------------------------------------------------- PyAV


def _read_pyav(info: VideoInfo, start: int, stop: int, threads: int) -> Iterator[Frame]:
    if start == stop:
        return
    video = info.video
    with _open(info) as container:
        stream = container.streams[video.index]
        stream.codec_context.thread_type = "AUTO"  # frame + slice threads
        stream.codec_context.thread_count = threads
        frames = _frames_from(container, stream, info, start)
        for index in range(start, stop):
            try:
                frame = next(frames, None)
            except av.FFmpegError as error:
                why = getattr(error, "strerror", None) or error
                raise DecodeError(
                    f"{info.path}: cannot decode frame {index} ({why}); the file may be damaged",
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
    if (frame.width, frame.height) != (video.width, video.height):
        raise DecodeError(
            f"{info.path}: frame {index} is {frame.width}x{frame.height}, the stream "
            f"starts at {video.width}x{video.height}; a picture size that changes within "
            "a stream is not supported (or the file is damaged there)",
            frame=index,
        )
    if frame.is_corrupt:  # the decoder hid errors in it, e.g. with its neighbours' pixels
        raise DecodeError(
            f"{info.path}: frame {index} is damaged (the decoder had to conceal errors in "
            "it); repair or copy the file again from its source",
            frame=index,
        )


def _open(info: VideoInfo) -> Any:
    """The probed file, opened again; it must still hold the probed video stream."""
    try:
        container = av.open(str(info.path.absolute()))  # absolute: "a:b.mp4" is no protocol
    except (av.FFmpegError, OSError) as error:
        why = getattr(error, "strerror", None) or error
        raise DecodeError(f"{info.path}: cannot open it again ({why}); was it changed?") from None
    streams = container.streams
    if not (info.video.index < len(streams) and streams[info.video.index].type == "video"):
        container.close()
        raise DecodeError(f"{info.path}: video stream {info.video.index} is gone; was it changed?")
    return container


def _frames_from(container: Any, stream: Any, info: VideoInfo, start: int) -> Iterator[Any]:
    """Decoded frames from frame ``start`` on, after seeking to a keyframe before it."""
    pts = info.video.pts
    target = pts[start]
    landed = None
    for point in _seek_points(start):
        frames = _decoded_after_seek(container, stream, pts[point], target)
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


def _seek_points(start: int) -> list[int]:
    """Frame indices to seek to for ``start``, nearest first, ending with the first frame."""
    return [start - back for back in _SEEK_BACKOFF if start - back > 0] + [0]


def _decoded_after_seek(container: Any, stream: Any, seek_pts: int, target: int) -> Iterator[Any]:
    """Seek back to the keyframe at or before ``seek_pts`` and drop frames before ``target``."""
    container.seek(seek_pts, stream=stream, backward=True)  # also flushes the decoder
    for packet in container.demux(stream):
        for frame in packet.decode():
            if frame.pts is not None and frame.pts >= target:
                yield frame


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


# ---------------------------------------------------------------- decord


def _read_decord(info: VideoInfo, start: int, stop: int, threads: int) -> Iterator[Frame]:
    """Frames through decord: a fallback reader whose luma is NOT bit-exact.

    decord only returns RGB24, and its YUV -> RGB24 conversion is lossy: it rounds to 8
    bits, clips anything outside the nominal range (limited-range Y below 16 or above 235
    becomes RGB 0 or 255), folds in upsampled chroma, and drops the low bits of >8-bit
    sources. The luma here is the rounded BT.601 Y of that RGB, mapped back to the
    source's range and depth, so it is close to the source's Y but not equal to it. That
    is why "pyav" is the default and decord only a fallback for files PyAV cannot open.
    """
    import decord  # deferred: only this fallback needs it

    video = info.video
    main = next(s.index for s in info.streams if s.kind == "video" and not s.attached_pic)
    if video.index != main:
        raise DecodeError(f"{info.path}: decord reads only video stream {main}; use backend 'pyav'")
    reader = decord.VideoReader(str(info.path), ctx=decord.cpu(0), num_threads=threads)
    if len(reader) < stop:
        raise DecodeError(
            f"{info.path}: decord sees {len(reader)} frames, the probe counted "
            f"{video.frame_count}; use backend 'pyav'",
            frame=len(reader),
        )
    full_range = video.color_range == "pc" or video.pix_fmt.startswith("yuvj")
    for first in range(start, stop, DECORD_BATCH):
        indices = list(range(first, min(first + DECORD_BATCH, stop)))
        rgb = reader.get_batch(indices).asnumpy()
        for index, picture in zip(indices, rgb, strict=True):
            luma = rgb_to_luma(picture, video.bit_depth, full_range=full_range)
            yield Frame(index=index, pts=video.pts[index], luma=luma)


def rgb_to_luma(rgb: np.ndarray, bit_depth: int, *, full_range: bool) -> np.ndarray:
    """Rounded BT.601 Y of full-range RGB24, in the given range and bit depth.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB, full range (as decord returns it).
        bit_depth: Depth of the result; values are scaled by ``2 ** (bit_depth - 8)``.
        full_range: Keep 0..255 (``"pc"``) instead of mapping to 16..235 (``"tv"``).

    Returns:
        ``(H, W)`` uint8 for ``bit_depth <= 8``, else uint16.
    """
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601 luma weights
    y = rgb.astype(np.float32) @ weights
    if not full_range:
        y = 16 + y * (219 / 255)
    y = y * 2 ** max(bit_depth - 8, 0)
    return np.rint(y).astype(np.uint8 if bit_depth <= 8 else np.uint16)
