"""The probe's report: :class:`~vidcolor.media.VideoInfo` as JSON and for people."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from vidcolor.media import StreamInfo, VideoInfo


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
