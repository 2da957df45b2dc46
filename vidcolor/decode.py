"""Frame-exact decoding of one range of frames, as the source's own luma.

A range ``[start, stop)`` is addressed by frame index into ``VideoInfo.video.pts`` (the
counted presentation order), so neighbouring chunks decoded by different workers meet
exactly: no frame twice, none lost. The PyAV reader seeks to the keyframe before
``start``, decodes forward, and checks every frame's pts against the probe.

A frame the decoder cannot decode, or flags as damaged, is an error naming it; with
``replace_bad`` it is replaced instead by its nearest good neighbour's picture (the earlier
one, else the later one), under its own index and pts. The pixels a decoder makes of the
frames after a damaged one depend on what it decoded before (measured: frames that refer to
a concealed picture come out differently when decoding began one keyframe earlier), so that
reader starts the decoder afresh at every keyframe: each frame is then decoded the same way
whichever chunk reads it, and the output does not depend on where the film was cut.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from vidcolor.errors import DecodeError, ffmpeg_reason
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
_SKIP_HINT = "or use --skip-bad-frames to replace damaged frames by their neighbours"
# Frames before ``start`` searched first for a good frame to stand in for a damaged first
# frame of a range; the search widens by this factor until it reaches the first frame.
_REACH = 32


@dataclass(frozen=True)
class Frame:
    """One decoded frame of the selected video stream.

    Attributes:
        index: Position in presentation order (index into ``VideoInfo.video.pts``).
        pts: Presentation timestamp in the stream's ``time_base``.
        luma: ``(H, W)`` Y plane at the source's own bit depth and range, no conversion:
            uint8 for 8-bit sources, uint16 (native-endian, values < 2**bit_depth) above.
        replaced_by: For a frame the decoder could not decode (``replace_bad``), the index
            of the good frame whose picture ``luma`` is; ``None`` for a decoded frame.
    """

    index: int
    pts: int
    luma: np.ndarray
    replaced_by: int | None = None


def read_frames(
    info: VideoInfo,
    start: int,
    stop: int,
    *,
    backend: str = "pyav",
    threads: int = 0,
    replace_bad: bool = False,
) -> Iterator[Frame]:
    """Frames ``start .. stop - 1`` of ``info.video``, in order.

    Args:
        info: The probed file.
        start: First frame index, ``0 <= start <= stop``.
        stop: One past the last frame index, ``<= info.video.frame_count``.
        backend: ``"pyav"`` (bit-exact, default), ``"decord"`` (approximate luma, see
            :func:`_read_decord`) or ``"auto"`` (pyav, decord if PyAV cannot open the file).
        threads: Decoder threads; 0 lets the decoder choose (1 with ``replace_bad``).
        replace_bad: Give a frame the decoder cannot decode, flags as damaged or never
            delivers the picture of the nearest good frame before it (anywhere in the
            film), or after it when there is none before; its ``replaced_by`` says which.
            PyAV only: decord cannot tell a damaged frame.

    Raises:
        ValueError: Bad range or backend name, or ``replace_bad`` with decord (raised at
            once, not on first ``next``).
        DecodeError: While iterating: a frame cannot be decoded, or its pts is not the
            probed pts of its index (the file and the probe disagree). With
            ``replace_bad``: no frame from a damaged one to the end of the film decodes,
            or a picture changes size.
    """
    count = info.video.frame_count
    if not 0 <= start <= stop <= count:
        raise ValueError(f"frame range {start}..{stop} is outside 0..{count}")
    if backend not in BACKENDS:
        raise ValueError(f"decode backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        backend = "pyav" if _pyav_opens(info) else "decord"
    if backend == "decord":
        if replace_bad:
            raise ValueError(
                "replace_bad needs the pyav backend: decord cannot tell a damaged frame"
            )
        return _read_decord(info, start, stop, threads)
    if replace_bad:
        return _read_replacing(info, start, stop)
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
        stream = _video_stream(container, info, threads)
        frames = _frames_from(container, stream, info, start)
        for index in range(start, stop):
            try:
                frame = next(frames, None)
            except av.FFmpegError as error:
                why = ffmpeg_reason(error)
                raise DecodeError(
                    f"{info.path}: cannot decode frame {index} ({why}); the file may be "
                    f"damaged: copy it again from its source, {_SKIP_HINT}",
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
    _check_size(frame, index, info)
    if frame.is_corrupt:  # the decoder hid errors in it, e.g. with its neighbours' pixels
        raise DecodeError(
            f"{info.path}: frame {index} is damaged (the decoder had to conceal errors in "
            f"it); repair or copy the file again from its source, {_SKIP_HINT}",
            frame=index,
        )


def _check_size(frame: Any, index: int, info: VideoInfo) -> None:
    video = info.video
    if (frame.width, frame.height) != (video.width, video.height):
        raise DecodeError(
            f"{info.path}: frame {index} is {frame.width}x{frame.height}, the stream "
            f"starts at {video.width}x{video.height}; a picture size that changes within "
            "a stream is not supported (or the file is damaged there)",
            frame=index,
        )


def _open(info: VideoInfo) -> Any:
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


def _video_stream(container: Any, info: VideoInfo, threads: int) -> Any:
    stream = container.streams[info.video.index]
    stream.codec_context.thread_type = "AUTO"  # frame + slice threads
    stream.codec_context.thread_count = threads
    return stream


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


# ---------------------------------------------------------------- PyAV, damaged frames replaced


def _read_replacing(info: VideoInfo, start: int, stop: int) -> Iterator[Frame]:
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
            _check_size(frame, index, info)
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
                _check_size(frame, index, info)
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
    with _open(info) as container:
        landing, packets = _packets_from(container, _video_stream(container, info, 1), info, first)
        expected = first if landing is None else bisect.bisect_left(pts, landing)
        try:
            for frame in _decode_afresh(info, packets):
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
    for point in _seek_points(first):
        container.seek(info.video.pts[point], stream=stream, backward=True)
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
                packets = _keyframe_on(opened.enter_context(_open(info)), info, boundary)
                boundary, fresh = None, True


def _keyframe_on(container: Any, info: VideoInfo, boundary: int) -> Iterator[Any]:
    """Packets of ``container`` from the keyframe at pts ``boundary`` on, none decoded yet."""
    index = min(bisect.bisect_left(info.video.pts, boundary), info.video.frame_count - 1)
    _, packets = _packets_from(container, _video_stream(container, info, 1), info, index)
    return itertools.dropwhile(
        lambda p: not (p.is_keyframe and p.pts is not None and p.pts >= boundary), packets
    )


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
