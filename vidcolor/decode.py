"""Frame-exact decoding of one range of frames, as the source's own luma.

A range ``[start, stop)`` is addressed by frame index into ``VideoInfo.video.pts`` (the
counted presentation order), so neighbouring chunks decoded by different workers meet
exactly: no frame twice, none lost. The PyAV reader seeks to the keyframe before
``start``, decodes forward, and checks every frame's pts against the probe.

A frame the decoder cannot decode, or flags as damaged, is an error naming it; with
``replace_bad`` it is replaced instead by its nearest good neighbour's picture (the earlier
one, else the later one), under its own index and pts (:mod:`vidcolor.replace`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import av
import numpy as np

from vidcolor.errors import DecodeError, ffmpeg_reason
from vidcolor.frames import Frame, check_size, luma_plane, open_container, seek_points, video_stream
from vidcolor.probe import VideoInfo
from vidcolor.replace import read_replacing

BACKENDS = ("pyav", "decord", "auto")
DECORD_BATCH = 32  # frames per decord get_batch call: bounds memory at 32 RGB frames
_SKIP_HINT = "or use --skip-bad-frames to replace damaged frames by their neighbours"


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
        return read_replacing(info, start, stop)
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
    check_size(frame, index, info)
    if frame.is_corrupt:  # the decoder hid errors in it, e.g. with its neighbours' pixels
        raise DecodeError(
            f"{info.path}: frame {index} is damaged (the decoder had to conceal errors in "
            f"it); repair or copy the file again from its source, {_SKIP_HINT}",
            frame=index,
        )


def _frames_from(container: Any, stream: Any, info: VideoInfo, start: int) -> Iterator[Any]:
    """Decoded frames from frame ``start`` on, after seeking to a keyframe before it."""
    pts = info.video.pts
    target = pts[start]
    landed = None
    for point in seek_points(start):
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


def _decoded_after_seek(container: Any, stream: Any, seek_pts: int, target: int) -> Iterator[Any]:
    """Seek back to the keyframe at or before ``seek_pts`` and drop frames before ``target``."""
    container.seek(seek_pts, stream=stream, backward=True)  # also flushes the decoder
    for packet in container.demux(stream):
        for frame in packet.decode():
            if frame.pts is not None and frame.pts >= target:
                yield frame


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
