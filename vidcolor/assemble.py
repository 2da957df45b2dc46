"""Joins the colorized segments and every other stream of the source into the output file.

This is the only module that runs the ffmpeg binary, always with an argument list, never a shell
string. ffmpeg's concat demuxer joins the segments
with stream copy; audio, subtitles, other video streams, chapters and metadata come from the
source, copied, and are converted only where the output container cannot hold them (and the
plan says so). The result is written beside the target under a temporary name and renamed
only when ffmpeg has finished, so a failed run never leaves a half-written file at the target.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from vidcolor.errors import FFmpegError, OutputError
from vidcolor.media import StreamInfo, VideoInfo

_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "mkv"}
_MUXERS = {"mp4": "mp4", "mov": "mov", "mkv": "matroska"}
# ffmpeg's words (strerror) for a write the disk or a size limit refused.
_DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")
_LOSSLESS_AUDIO = {"flac", "alac", "wavpack", "truehd", "mlp", "tta"}
_TEXT_SUBTITLES = {"subrip", "ass", "ssa", "webvtt", "text", "mov_text"}
# What each container holds by stream copy, per kind; None means "whatever ffmpeg can mux".
_COPYABLE: dict[str, dict[str, frozenset[str] | None]] = {
    "mp4": {
        "video": frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "mjpeg", "png"}),
        "audio": frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac", "mp2"}),
        "subtitle": frozenset({"mov_text", "dvd_subtitle"}),
    },
    "mov": {
        "video": frozenset({"h264", "hevc", "mpeg4", "prores", "mjpeg", "png", "dnxhd"}),
        "audio": frozenset({"aac", "mp3", "ac3", "eac3", "alac", "mp2"}),
        "subtitle": frozenset({"mov_text"}),
    },
    "mkv": {
        "video": None,
        "audio": None,
        "subtitle": frozenset(
            {
                "subrip",
                "ass",
                "ssa",
                "webvtt",
                "text",
                "dvd_subtitle",
                "hdmv_pgs_subtitle",
                "dvb_subtitle",
            }
        ),
    },
}


@dataclass(frozen=True)
class StreamPlan:
    """What happens to one source stream: copied, replaced by the colorized video, or converted."""

    source_index: int
    kind: str
    action: str  # "colorized" | "copy" | "convert"
    codec: str | None = None  # target codec when converted


@dataclass(frozen=True)
class OutputPlan:
    """The output file: where, which container, and each stream's fate, in source order."""

    path: Path
    container: str
    streams: tuple[StreamPlan, ...]
    notes: tuple[str, ...]


def container_for(path: Path) -> str | None:
    """The container of an output path's extension, or None if vidcolor cannot write it."""
    return _CONTAINERS.get(path.suffix.lower())


def default_output(source: Path, container: str) -> Path:
    """``movie.mp4`` -> ``movie.color.mp4`` beside the source."""
    return source.with_name(f"{source.stem}.color.{container}")


def plan_output(info: VideoInfo, container: str, path: Path) -> OutputPlan:
    """Decides each stream's fate in ``container``; notes say what the user may not expect.

    Raises:
        OutputError: when a stream can be neither copied nor converted into the container.
    """
    plans, notes = [], []
    for stream in info.streams:
        if stream.index == info.video.index:
            plans.append(StreamPlan(stream.index, "video", "colorized"))
            if info.video.has_color:
                notes.append(
                    f"stream {stream.index} already has color (a color or tinted source): "
                    "it is colorized from its luma alone, and its own color is replaced"
                )
            continue
        plan = _plan_stream(stream, container)
        if plan is None:
            if stream.kind in ("data", "attachment"):
                notes.append(
                    f"stream {stream.index} ({stream.kind}, {stream.codec}) is dropped: "
                    f".{container} cannot hold it; use an .mkv output to keep it"
                )
                continue
            raise OutputError(
                f"stream {stream.index} ({stream.kind}, {stream.codec}) cannot go into "
                f".{container}; choose an .mkv output with -o"
            )
        if plan.action == "convert":
            notes.append(
                f"stream {stream.index} ({stream.kind}, {stream.codec}) is converted to "
                f"{plan.codec}: .{container} cannot hold {stream.codec}"
            )
        plans.append(plan)
    return OutputPlan(path=path, container=container, streams=tuple(plans), notes=tuple(notes))


def _plan_stream(stream: StreamInfo, container: str) -> StreamPlan | None:
    if stream.kind in ("data", "attachment"):
        return StreamPlan(stream.index, stream.kind, "copy") if container == "mkv" else None
    allowed = _COPYABLE[container].get(stream.kind)
    if allowed is None or stream.codec in allowed:
        return StreamPlan(stream.index, stream.kind, "copy")
    target = _conversion(stream, container)
    return StreamPlan(stream.index, stream.kind, "convert", target) if target else None


def _conversion(stream: StreamInfo, container: str) -> str | None:
    if stream.kind == "audio":
        lossless = stream.codec in _LOSSLESS_AUDIO or stream.codec.startswith("pcm_")
        return "alac" if lossless else "aac"
    if stream.kind == "subtitle" and stream.codec in _TEXT_SUBTITLES:
        return "srt" if container == "mkv" else "mov_text"
    return None


def segment_durations(
    pts: Sequence[int], starts: Sequence[int], time_base: Fraction, fps: Fraction
) -> list[int]:
    """Each segment's duration in whole microseconds, for the concat list.

    The concat demuxer places segment k at the sum of the durations before it, in microseconds.
    Each duration is the difference of the *rounded* start times, so the sum telescopes to the
    rounded start of segment k: the error stays under half a microsecond however many segments
    there are, and every frame lands back on its own source timestamp.
    """
    end = (pts[-1] - pts[0]) * time_base + 1 / fps
    bounds = [(pts[s] - pts[0]) * time_base for s in starts] + [end]
    micros = [round(b * 1_000_000) for b in bounds]
    return [b - a for a, b in itertools.pairwise(micros)]


def write_concat_list(path: Path, segments: Sequence[Path], durations: Sequence[int]) -> None:
    """Writes an ffconcat file; paths are quoted and escaped, durations exact in microseconds.

    Raises:
        ValueError: a path with a line break, which no quoting carries in this line-based
            format (the rest of the line would be read as a directive).
    """
    lines = ["ffconcat version 1.0"]
    for segment, micros in zip(segments, durations, strict=True):
        if "\n" in str(segment) or "\r" in str(segment):
            raise ValueError(
                f"segment path {str(segment)!r} has a newline or carriage return; "
                "ffconcat cannot list it"
            )
        quoted = str(segment).replace("'", "'\\''")
        lines += [f"file '{quoted}'", f"duration {micros // 1_000_000}.{micros % 1_000_000:06d}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def ffmpeg_exe() -> str:
    """The ffmpeg binary: $VIDCOLOR_FFMPEG, else ffmpeg on PATH, else imageio-ffmpeg's own."""
    chosen = os.environ.get("VIDCOLOR_FFMPEG") or shutil.which("ffmpeg")
    if chosen:
        return chosen
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def assemble(info: VideoInfo, plan: OutputPlan, concat_list: Path, *, overwrite: bool) -> Path:
    """Muxes the joined segments with the source's other streams into ``plan.path``.

    Raises:
        FFmpegError: with ffmpeg's command, exit code and last lines of stderr.
        OutputError: if the disk has no room for the output, or the target appeared meanwhile
            and ``overwrite`` is False.
    """
    target = plan.path
    partial = target.with_name(f".{target.stem}.vidcolor-partial{target.suffix}")
    cmd = _command(info, plan, concat_list, partial)
    try:
        try:
            _run(cmd, "joining the segments")
        except FFmpegError as error:
            full = next((why for why in _DISK_FULL if why in error.stderr), None)
            if full is None:
                raise
            raise OutputError(
                f"no room to write {target} ({full}); make room on that disk and run the "
                "same command again"
            ) from None
        if target.exists() and not overwrite:
            raise OutputError(f"{target} appeared during the run; not replaced (use --overwrite)")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _command(info: VideoInfo, plan: OutputPlan, concat_list: Path, out: Path) -> list[str]:
    """The ffmpeg argument list: input 0 is the joined segments, input 1 the source.

    Paths are absolute, so a name starting with '-' or containing ':' is never read as an
    option or a protocol.
    """
    joined: list[str] = ["-f", "concat", "-safe", "0"]
    # The concat demuxer starts the joined video at zero; shift it back to the source's first
    # timestamp so that it stays in sync with the source's audio.
    start = info.video.pts[0] * info.video.time_base
    if start:
        joined += ["-itsoffset", f"{float(start):.6f}"]
    if info.video.rotation:
        joined += ["-display_rotation:v:0", str(info.video.rotation)]
    cmd = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        *joined,
        "-i",
        str(concat_list.resolve()),
        "-i",
        str(info.path.resolve()),
    ]
    for stream in plan.streams:
        cmd += ["-map", "0:v:0" if stream.action == "colorized" else f"1:{stream.source_index}"]
    cmd += ["-c", "copy"]
    for out_index, stream in enumerate(plan.streams):
        if stream.action == "colorized":
            cmd += [f"-map_metadata:s:{out_index}", f"1:s:{stream.source_index}"]
            if info.video.sar != 1:
                # Matroska takes the aspect ratio from the container, which PyAV cannot set on
                # the segments; with stream copy, -aspect sets exactly that.
                dar = info.video.width * info.video.sar / info.video.height
                cmd += [f"-aspect:{out_index}", f"{dar.numerator}:{dar.denominator}"]
        elif stream.action == "convert" and stream.codec:
            cmd += [f"-c:{out_index}", stream.codec]
            if stream.codec == "aac":
                cmd += [f"-b:{out_index}", "256k"]
    cmd += [
        "-map_metadata",
        "1",
        "-map_chapters",
        "1",
        "-f",
        _MUXERS[plan.container],
        str(out.resolve()),
    ]
    return cmd


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        raise FFmpegError(what, cmd, proc.returncode, proc.stderr)
