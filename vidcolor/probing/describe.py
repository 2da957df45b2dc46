"""Read what a media file holds: every stream, and the exact frames of one video stream.

The frame count and every frame's pts are *counted* by demuxing the video stream, never
taken from headers: MKV and WebM store no frame count at all, MP4 headers count frames an
edit list hides, and a decoder drops frames a header still counts. Everything downstream
(chunk planning, frame-exact decoding, timestamps of the output) relies on these pts.

The frames are counted by :mod:`vidcolor.probing.count`, and the count is then checked against
what the file states about itself (:mod:`vidcolor.probing.complete`): a damaged or cut file that
falls short is refused. The values returned are :mod:`vidcolor.media`'s.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.stream import Disposition

from vidcolor.colortags import name_of
from vidcolor.errors import InputError, ffmpeg_reason
from vidcolor.media import StreamInfo, VideoInfo, VideoStreamInfo
from vidcolor.probing.complete import check_complete, mp4_cut_short
from vidcolor.probing.count import scan_frames, scan_packets

KINDS = ("video", "audio", "subtitle", "data", "attachment")
FIELD_ORDERS = ("unknown", "progressive", "tt", "bb", "tb", "bt")  # AVFieldOrder values

# ffmpeg's own fallback rate when nothing says otherwise (e.g. libavformat/rawdec.c).
_DEFAULT_FPS = Fraction(25)
# A header rate that disagrees with the counted mean rate by more than this is wrong (e.g.
# an interlaced stream's field rate, or a container's 1/1000 tick rate).
_RATE_TOLERANCE = Fraction(1, 100)
# Codec context attributes that describe the stream as the container declares it.
_DECLARED = ("color_range", "colorspace", "color_primaries", "color_trc", "field_order")
# A chroma sample this far from neutral (of 256 levels) is color, not the noise of a lossy
# gray encode (at most 2-3 levels); a picture is colored when over 2% of its samples are.
_CHROMA_LEVELS = 8
_COLORED_SHARE = 0.02


def probe(path: str | Path, stream: int | None = None) -> VideoInfo:
    """Describe ``path`` and count the frames of one of its video streams.

    Args:
        path: Media file.
        stream: Absolute index of the video stream to use; ``None`` picks the first video
            stream that is not cover art.

    Raises:
        InputError: The file is missing, empty, not media, has no usable video stream, the
            stream has no frames, or ``stream`` is not a video stream of the file.
        DecodeError: The first frame of the stream cannot be decoded, or the stream ends
            before the file itself says it does (damaged or cut short).
    """
    path = Path(path)
    with _open(path) as container:
        streams = tuple(_describe_stream(s) for s in container.streams)
        video = _describe_video(container, _select_video(container, path, stream), path)
        duration = container.duration
        return VideoInfo(
            path=path,
            format_name=container.format.name,
            size_bytes=path.stat().st_size,
            duration=None if duration is None else Fraction(duration, av.time_base),
            video=video,
            streams=streams,
        )


def _open(path: Path) -> Any:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file; give a video file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; give a video file")
    try:
        # Absolute: FFmpeg would read "take:2.mp4" as protocol "take" and refuse it.
        return av.open(str(path.absolute()))
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        why = mp4_cut_short(path) or ffmpeg_reason(error)
        raise InputError(
            f"{path}: not a media file FFmpeg can read ({why}); give a video file"
        ) from None


def _is_cover_art(stream: Any) -> bool:
    return bool(stream.disposition & Disposition.attached_pic)


def _select_video(container: Any, path: Path, index: int | None) -> Any:
    streams = container.streams
    if index is not None:
        if not 0 <= index < len(streams):
            raise InputError(
                f"{path}: has no stream {index} (it has {len(streams)}); "
                "pick a video stream listed by `vidcolor probe`"
            )
        chosen = streams[index]
        if chosen.type != "video" or _is_cover_art(chosen):
            what = "cover art" if chosen.type == "video" else chosen.type
            raise InputError(
                f"{path}: stream {index} is {what}, not video; "
                "pick a video stream listed by `vidcolor probe`"
            )
        return chosen
    videos = [s for s in streams if s.type == "video"]
    moving = [s for s in videos if not _is_cover_art(s)]
    if moving:
        return moving[0]
    if videos:
        raise InputError(f"{path}: its only picture is cover art, not video; nothing to colorize")
    kinds = ", ".join(s.type for s in streams) or "nothing"
    raise InputError(f"{path}: has no video stream (only {kinds}); give a video file")


def _describe_stream(stream: Any) -> StreamInfo:
    context = stream.codec_context
    audio = stream.type == "audio" and context is not None
    return StreamInfo(
        index=stream.index,
        kind=stream.type if stream.type in KINDS else "data",
        codec=_codec_name(stream),
        language=stream.metadata.get("language"),
        title=stream.metadata.get("title"),
        channels=context.channels if audio else None,
        sample_rate=context.sample_rate if audio else None,
        attached_pic=stream.type == "video" and _is_cover_art(stream),
    )


def _codec_name(stream: Any) -> str:
    # canonical_name is avcodec_get_name(): "mp3", not the decoder's name "mp3float".
    if stream.codec_context is not None:
        return str(stream.codec_context.codec.canonical_name)
    return str(getattr(stream, "name", None) or "unknown")


def _describe_video(container: Any, stream: Any, path: Path) -> VideoStreamInfo:
    context = stream.codec_context
    if context is None:
        raise InputError(
            f"{path}: video stream {stream.index} ({_codec_name(stream)}) has no decoder in "
            "this FFmpeg; convert it first, e.g. ffmpeg -i IN -c:v ffv1 OUT.mkv"
        )
    # Read the container's tags before decoding: the decoder overwrites the context with
    # the bitstream's, which can be unspecified where the container is not (ProRes in MOV).
    declared = {name: getattr(context, name) for name in _DECLARED}
    pts, first = scan_packets(container, stream, path)
    if pts is None:
        pts, first = scan_frames(path, stream.index)
    if not pts or first is None:
        raise InputError(f"{path}: video stream {stream.index} has no frames; nothing to colorize")
    time_base = Fraction(stream.time_base)
    fps = _frame_rate(stream, pts, time_base)
    check_complete(container, stream, pts, fps, path)
    pix_fmt = first.format.name
    return VideoStreamInfo(
        index=stream.index,
        codec=_codec_name(stream),
        width=first.width,
        height=first.height,
        pix_fmt=pix_fmt,
        bit_depth=int(first.format.components[0].bits),
        fps=fps,
        time_base=time_base,
        pts=tuple(pts),
        vfr=_is_vfr(pts, fps, time_base),
        sar=_sar(stream),
        rotation=round(first.rotation / 90) * 90 % 360,  # snaps rare non-right angles
        color_range=_color_range(declared["color_range"], first.color_range, pix_fmt),
        color_space=_tag("space", declared["colorspace"], first.colorspace),
        color_primaries=_tag("primaries", declared["color_primaries"], first.color_primaries),
        color_trc=_tag("transfer", declared["color_trc"], first.color_trc),
        field_order=_field_order(declared["field_order"]),
        has_color=_is_colored(first) or _is_colored(_middle_frame(container, stream, pts)),
    )


def _sar(stream: Any) -> Fraction:
    sar = stream.sample_aspect_ratio
    return Fraction(sar) if sar and sar > 0 else Fraction(1)


def _middle_frame(container: Any, stream: Any, pts: list[int]) -> Any:
    """A frame at the keyframe before the middle of the stream; ``None`` if it cannot be had.

    Only for the color check, which must not fail the probe: a film often opens in black.
    """
    try:
        container.seek(pts[len(pts) // 2], stream=stream, backward=True)
        for packet in container.demux(stream):
            for frame in packet.decode():
                return frame
    except (av.FFmpegError, ValueError, OverflowError):
        return None
    return None


def _is_colored(frame: Any) -> bool:
    """More than ``_COLORED_SHARE`` of the picture's chroma lies beyond gray's noise."""
    if frame is None or len(frame.format.components) < 3 or frame.width < 1:
        return False
    width = min(frame.width, 256)  # enough to see color; bounded for 4K and 8K frames
    height = max(1, frame.height * width // frame.width)
    try:  # (3, h, w) uint8 from any source format
        planes = frame.to_ndarray(format="yuv444p", width=width, height=height)
    except (av.FFmpegError, ValueError):
        return False
    off = np.abs(planes[1:].astype(np.int16) - 128).max(axis=0) > _CHROMA_LEVELS
    return bool(off.mean() > _COLORED_SHARE)


def _frame_rate(stream: Any, pts: list[int], time_base: Fraction) -> Fraction:
    """The header rate when the counted pts agree with it, else the counted mean rate."""
    header = stream.average_rate or stream.guessed_rate
    measured = None
    if len(pts) > 1 and pts[-1] > pts[0]:
        measured = (len(pts) - 1) / ((pts[-1] - pts[0]) * time_base)
    if header and header > 0:
        header = Fraction(header)
        if measured is None or abs(header / measured - 1) <= _RATE_TOLERANCE:
            return _snap_rate(header)
    return _snap_rate(measured) if measured else _DEFAULT_FPS


def _snap_rate(rate: Fraction) -> Fraction:
    """Exact integer or NTSC (n*1000/1001) rate when within 1e-4, else a small fraction.

    Header rates arrive as e.g. 2997/100 or 2400000/100103 (an MP4's frames/duration);
    the encoder and the chunk planner need 30000/1001 and 24000/1001 exactly.
    """
    for candidate in (Fraction(round(rate)), Fraction(round(rate * 1001 / 1000) * 1000, 1001)):
        if candidate > 0 and abs(rate / candidate - 1) < Fraction(1, 10_000):
            return candidate
    return rate.limit_denominator(1001)


def _is_vfr(pts: list[int], fps: Fraction, time_base: Fraction) -> bool:
    """True when some frame is more than a quarter frame off the constant-rate grid.

    A quarter frame, not zero: MKV/WebM store timestamps in whole milliseconds, so a CFR
    29.97 fps stream has durations alternating 33 and 34 ms. That rounding (at most half a
    tick, 0.5 ms of a 33.4 ms frame) must not count as variable frame rate.
    """
    # Integer form of |pts[i] - pts[0] - i * period| > period / 4, with
    # period = 1 / (fps * time_base) in time_base units.
    scale = fps.numerator * time_base.numerator
    period = fps.denominator * time_base.denominator
    return any(abs(4 * ((p - pts[0]) * scale - i * period)) > period for i, p in enumerate(pts))


def _color_range(context_code: int, frame_code: int, pix_fmt: str) -> str:
    name = _tag("range", context_code, frame_code)
    # yuvj* formats are full range by definition even when no tag says so (MJPEG, JPEG).
    if name == "unknown" and pix_fmt.startswith("yuvj"):
        return "pc"
    return name


def _field_order(code: int) -> str:
    return FIELD_ORDERS[code] if 0 <= code < len(FIELD_ORDERS) else "unknown"


def _tag(kind: str, context_code: int, frame_code: int) -> str:
    """The stream's tag, or the decoded frame's when the stream leaves it unspecified."""
    name = name_of(kind, context_code)
    return name if name != "unknown" else name_of(kind, frame_code)
