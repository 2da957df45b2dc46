"""What :func:`vidcolor.probe.probe` reports about a file, and its forms for JSON and people.

The value types (:class:`VideoInfo` and the streams it lists) live here, apart from the code
that reads files, so ``vidcolor probe`` can print them and every stage can take them;
:mod:`vidcolor.probe` re-exports them, and the rest of the package imports them from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any


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
    """What :func:`vidcolor.probe.probe` found in a file.

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
