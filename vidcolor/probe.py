"""Read what a media file holds: every stream, and the exact frames of one video stream.

The frame count and every frame's pts are *counted* by demuxing the video stream, never
taken from headers: MKV and WebM store no frame count at all, MP4 headers count frames an
edit list hides, and a decoder drops frames a header still counts. Everything downstream
(chunk planning, frame-exact decoding, timestamps of the output) relies on these pts.

A damaged or cut file can demux short without any error (Matroska loses its way in zeroed
bytes and stops; a cut MP4 with its index first just ends), so the count is checked against
what the file states about itself: an MP4's sample count, a Matroska track's duration and the
keyframes its index lists. A file that falls short is refused, naming the first missing frame.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.stream import Disposition

from vidcolor.colortags import name_of
from vidcolor.errors import DecodeError, InputError, ffmpeg_reason

KINDS = ("video", "audio", "subtitle", "data", "attachment")
FIELD_ORDERS = ("unknown", "progressive", "tt", "bb", "tb", "bt")  # AVFieldOrder values

# ffmpeg's own fallback rate when nothing says otherwise (e.g. libavformat/rawdec.c).
_DEFAULT_FPS = Fraction(25)
# A header rate that disagrees with the counted mean rate by more than this is wrong (e.g.
# an interlaced stream's field rate, or a container's 1/1000 tick rate).
_RATE_TOLERANCE = Fraction(1, 100)
# Codec context attributes that describe the stream as the container declares it.
_DECLARED = ("color_range", "colorspace", "color_primaries", "color_trc", "field_order")
# How far the container's stated end of the video may lie past the last frame read, beyond one
# frame: a track's DURATION tag is exact to the millisecond; a Matroska segment's duration
# covers the audio too, which may run on a little longer than the picture.
_STREAM_SLACK = Fraction(1, 100)
_SEGMENT_SLACK = Fraction(1)
_REMEDY = (
    "Copy the file again from its source; to colorize only the frames that can be read, remux "
    "it first (ffmpeg -i IN -c copy OUT.mkv: the copy holds just those, and says so)"
)
# A chroma sample this far from neutral (of 256 levels) is color, not the noise of a lossy
# gray encode (at most 2-3 levels); a picture is colored when over 2% of its samples are.
_CHROMA_LEVELS = 8
_COLORED_SHARE = 0.02


@dataclass(frozen=True)
class StreamInfo:
    """One stream of the file, of any kind.

    Attributes:
        index: Absolute stream index in the file.
        kind: ``"video"``, ``"audio"``, ``"subtitle"``, ``"data"`` or ``"attachment"``.
        codec: Codec name as ffprobe spells it (``"h264"``, ``"mp3"``, ``"mov_text"``).
        language: The stream's language tag as written (``"eng"``, ``"und"``), or ``None``.
        title: The stream's ``title`` tag, or ``None``.
        channels: Audio channel count; ``None`` for other kinds.
        sample_rate: Audio sample rate in Hz; ``None`` for other kinds.
        attached_pic: A "video" stream that is really one cover-art picture.
    """

    index: int
    kind: str
    codec: str
    language: str | None
    title: str | None
    channels: int | None = None
    sample_rate: int | None = None
    attached_pic: bool = False


@dataclass(frozen=True)
class VideoStreamInfo:
    """The video stream vidcolor works on, with every frame's timestamp counted.

    Attributes:
        index: Absolute stream index in the file.
        codec: Codec name as ffprobe spells it.
        width: Decoded picture width in pixels.
        height: Decoded picture height in pixels.
        pix_fmt: Pixel format the decoder outputs (``"yuv420p"``, ``"yuv420p10le"`` ...).
        bit_depth: Bits per luma sample.
        fps: Nominal frame rate; 1001-based rates are exact (``Fraction(30000, 1001)``).
        time_base: Unit of ``pts``, in seconds.
        pts: Every frame's pts in presentation order, counted from the packets.
        vfr: Some frame sits more than a quarter frame off the ``fps`` grid.
        sar: Sample (pixel) aspect ratio; 1 when the file does not say.
        rotation: Counter-clockwise display rotation in degrees, 0, 90, 180 or 270 (the
            display matrix angle ffprobe prints, modulo 360).
        color_range: ``"tv"``, ``"pc"`` or ``"unknown"``.
        color_space: Matrix coefficients, e.g. ``"bt709"``, ``"smpte170m"``, ``"unknown"``.
        color_primaries: e.g. ``"bt709"``, ``"bt470bg"``, ``"unknown"``.
        color_trc: Transfer characteristics, e.g. ``"bt709"``, ``"unknown"``.
        field_order: ``"progressive"``, ``"tt"``, ``"bb"``, ``"tb"``, ``"bt"`` or ``"unknown"``.
        has_color: The first frame, or the keyframe nearest the middle, has chroma beyond the
            noise of a gray picture: a color or tinted source.
    """

    index: int
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    fps: Fraction
    time_base: Fraction
    pts: tuple[int, ...]
    vfr: bool
    sar: Fraction
    rotation: int
    color_range: str
    color_space: str
    color_primaries: str
    color_trc: str
    field_order: str
    has_color: bool = False

    @property
    def frame_count(self) -> int:
        """Number of frames a decoder outputs."""
        return len(self.pts)

    @property
    def duration(self) -> Fraction:
        """Seconds from the first frame's start to the last frame's end (one ``1/fps``)."""
        return (self.pts[-1] - self.pts[0]) * self.time_base + 1 / self.fps


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found in a file.

    Attributes:
        path: The probed file.
        format_name: Demuxer name, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"matroska,webm"``.
        size_bytes: File size.
        duration: Container duration in seconds, ``None`` when the container has none.
        video: The selected video stream.
        streams: Every stream of the file, in file order.
    """

    path: Path
    format_name: str
    size_bytes: int
    duration: Fraction | None
    video: VideoStreamInfo
    streams: tuple[StreamInfo, ...]


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
        why = _mp4_cut_short(path) or ffmpeg_reason(error)
        raise InputError(
            f"{path}: not a media file FFmpeg can read ({why}); give a video file"
        ) from None


def _mp4_cut_short(path: Path) -> str | None:
    """Why an MP4/MOV that FFmpeg cannot open is broken, when its top-level boxes tell."""
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
    pts, first = _scan_packets(container, stream, path)
    if pts is None:
        pts, first = _scan_frames(path, stream.index)
    if not pts or first is None:
        raise InputError(f"{path}: video stream {stream.index} has no frames; nothing to colorize")
    time_base = Fraction(stream.time_base)
    fps = _frame_rate(stream, pts, time_base)
    _check_complete(container, stream, pts, _listed_keyframes(path, container, stream), fps, path)
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


def _scan_packets(container: Any, stream: Any, path: Path) -> tuple[list[int] | None, Any]:
    """pts of every frame-carrying packet, and the first decoded frame; fast, no full decode.

    Returns ``(None, None)`` when packets cannot be trusted to map 1:1 to output frames:
    a packet without pts, or a first packet that is not a keyframe. A decoder drops the
    frames before the first keyframe, so only decoding tells how many frames there are.

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
                    f"incomplete; the file is cut short or damaged there. {_REMEDY}",
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
    if _is_mov(container) and 0 < packets < stream.frames:
        raise DecodeError(
            f"{path}: video stream {stream.index} ends after {packets} of the {stream.frames} "
            f"frames its index lists; the file is cut short. {_REMEDY}",
            packets,
        )
    if first is None or first.pts is None:
        return sorted(pts), first
    # A decoder outputs in presentation order, so a pts below its first frame's was
    # dropped at the start (HEVC RASL pictures after a leading CRA, open-GOP leading
    # B-frames): such packets carry no frame.
    return sorted(p for p in pts if p >= first.pts), first


def _scan_frames(path: Path, index: int) -> tuple[list[int], Any]:
    """pts of every decoded frame: the slow, always-true count for awkward streams."""
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


def _is_mov(container: Any) -> bool:
    return "mov" in container.format.name.split(",")


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


def _check_complete(
    container: Any, stream: Any, pts: list[int], listed: list[int], fps: Fraction, path: Path
) -> None:
    """Refuses a stream whose readable frames stop short of what the file itself states.

    A demuxer that loses its way in damaged data (Matroska after zeroed bytes) or meets the
    end of a cut file stops without an error; counting alone would colorize the rest of the
    film away in silence. Two statements are checked: every keyframe the index lists was
    read, and the last frame ends where the container says the stream (or file) ends.

    Raises:
        DecodeError: naming the first frame that cannot be read.
    """
    counted = set(pts)
    missing = next((t for t in listed if t not in counted), None)
    time_base = Fraction(stream.time_base)
    if missing is not None:
        frame = bisect.bisect_left(pts, missing)
        raise DecodeError(
            f"{path}: the file's index lists a keyframe at {float(missing * time_base):.3f} s "
            f"that cannot be read; frames are lost from about frame {frame} on (or the index "
            f"is damaged). {_REMEDY}",
            frame,
        )
    declared, slack = _declared_end(container, stream)
    end = pts[-1] * time_base + 1 / fps
    if declared is not None and declared - end > slack + 1 / fps:
        raise DecodeError(
            f"{path}: video stream {stream.index} can be read up to frame {len(pts) - 1} "
            f"({float(end):.3f} s), but the file says it runs to {float(declared):.3f} s; "
            f"it is damaged or cut short from frame {len(pts)} on. {_REMEDY}",
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


def to_dict(info: VideoInfo) -> dict[str, Any]:
    """JSON-ready form of ``info``; fractions become ``"num/den"``, pts are summarized."""
    video = info.video
    described = {k: _plain(v) for k, v in vars(video).items() if k != "pts"}
    described["pts"] = {"first": video.pts[0], "last": video.pts[-1], "count": video.frame_count}
    described["frame_count"] = video.frame_count
    described["duration"] = _plain(video.duration)
    return {
        "path": str(info.path),
        "format_name": info.format_name,
        "size_bytes": info.size_bytes,
        "duration": _plain(info.duration),
        "video": described,
        "streams": [{k: _plain(v) for k, v in vars(s).items()} for s in info.streams],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return value


def format_info(info: VideoInfo) -> str:
    """Human-readable summary for ``vidcolor probe``, one fact group per line."""
    video = info.video
    seconds = f"{float(info.duration):.3f} s" if info.duration is not None else "no duration"
    rate = "VFR, average" if video.vfr else "CFR"
    lines = [
        f"{info.path}: {info.format_name}, {info.size_bytes} bytes, {seconds}",
        f"video stream {video.index}: {video.codec} {video.width}x{video.height} "
        f"{video.pix_fmt} ({video.bit_depth}-bit), {_rate(video.fps)} fps ({rate})",
        f"  {video.frame_count} frames, {float(video.duration):.3f} s, "
        f"pts {video.pts[0]}..{video.pts[-1]} in {video.time_base} s",
        f"  sar {video.sar.numerator}:{video.sar.denominator}, rotation {video.rotation}, "
        f"field order {video.field_order}",
        f"  color range {video.color_range}, space {video.color_space}, "
        f"primaries {video.color_primaries}, trc {video.color_trc}",
        "streams:",
    ]
    lines += [_stream_line(s, s.index == video.index) for s in info.streams]
    return "\n".join(lines)


def _rate(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{fps} (~{float(fps):.3f})"


def _stream_line(stream: StreamInfo, selected: bool) -> str:
    parts = [f"  #{stream.index} {stream.kind} {stream.codec}"]
    if stream.language:
        parts.append(f"[{stream.language}]")
    if stream.title:
        parts.append(f'"{stream.title}"')
    if stream.channels is not None:
        parts.append(f"{stream.channels} ch {stream.sample_rate} Hz")
    if stream.attached_pic:
        parts.append("(cover art)")
    if selected:
        parts.append("<- colorized")
    return " ".join(parts)
