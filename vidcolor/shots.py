"""``vidcolor shots``: the first frame of every shot, for a user to paint or replace.

The shots are found exactly as a run finds its cuts (:class:`~vidcolor.temporal.cuts.CutDetector`
on every frame's unit luma, with ``smooth.cut_threshold``, ``smooth.cuts`` and
``smooth.detect_cuts``), so the frames written here are the frames a run starts its shots at.
Each shot's first frame becomes a gray PNG at the stored size, named by its zero-based frame
number (``000450.png``): the name a reference for that frame carries
(:mod:`vidcolor.guidance`). ``shots.csv`` lists the shots, ``index.html`` shows them.

The PNG holds the source's own Y samples, unconverted: 8-bit for an 8-bit source, 16-bit above,
shifted left to fill 16 bits (a 10-bit sample ``v`` is stored as ``v << 6``) so the picture
looks right in an editor. Frames are read one at a time: memory does not grow with the film.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vidcolor import color
from vidcolor.config import Config
from vidcolor.decode import read_frames
from vidcolor.errors import OutputError
from vidcolor.media import Frame, VideoInfo, VideoStreamInfo
from vidcolor.probing import probe
from vidcolor.resume import write_bytes_atomic
from vidcolor.temporal.cuts import CutDetector, listed_cuts

CSV_NAME = "shots.csv"
SHEET_NAME = "index.html"
CSV_HEADER = ("shot", "first_frame", "last_frame", "start", "end")
_PNG = re.compile(r"\d{6,}\.png")  # the frames this command writes


@dataclass(frozen=True)
class Shot:
    """One shot: a run of frames between two cuts.

    Attributes:
        index: Zero-based shot number.
        first: Its first frame (zero-based, into ``VideoInfo.video.pts``).
        last: Its last frame, inclusive.
        start: Seconds from the film's first frame to the start of ``first``.
        end: Seconds from the film's first frame to the end of ``last``.
    """

    index: int
    first: int
    last: int
    start: Fraction
    end: Fraction

    @property
    def image_name(self) -> str:
        """The file name of its first frame's picture: ``000450.png``."""
        return frame_image_name(self.first)


def frame_image_name(frame: int) -> str:
    """``000450.png`` for frame 450 (six digits, more when needed)."""
    return f"{frame:06d}.png"


def timecode(seconds: Fraction) -> str:
    """``HH:MM:SS.mmm``, rounded to the millisecond."""
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def write_shots(
    source: Path,
    out_dir: Path,
    config: Config,
    *,
    stream: int | None = None,
    overwrite: bool = False,
) -> tuple[Shot, ...]:
    """Finds the shots of ``source`` and writes their first frames, ``shots.csv`` and
    ``index.html`` into ``out_dir`` (created when missing).

    Args:
        config: Its ``smooth`` section decides the cuts, as in a run; ``decode`` how frames
            are read.
        stream: Index of the video stream (default: the one a run colorizes).
        overwrite: Replace the shots files of an earlier call in ``out_dir``.

    Raises:
        InputError: The source cannot be read.
        ConfigError: A listed cut is not a frame of the video.
        OutputError: ``out_dir`` already holds shots files (without ``overwrite``), is not a
            folder, or cannot be written.
    """
    info = probe(Path(source), stream=stream)
    listed = listed_cuts(config.smooth.cuts, info.video.frame_count)
    _prepare_folder(out_dir, overwrite)
    smooth = config.smooth
    detector = CutDetector(smooth.cut_threshold, listed, smooth.detect_cuts)
    frames = read_frames(
        info,
        0,
        info.video.frame_count,
        backend=config.decode.backend,
        replace_bad=config.decode.skip_bad_frames,
    )
    firsts = []
    full_range = info.video.color_range == "pc"
    for frame in frames:
        unit = color.luma_to_unit(frame.luma, info.video.bit_depth, full_range)
        if detector.is_cut(frame.index, unit):
            _write_png(out_dir / frame_image_name(frame.index), frame, info.video.bit_depth)
            firsts.append(frame.index)
    shots = shots_of(info.video, firsts)
    _write(out_dir / CSV_NAME, shots_csv(shots).encode("utf-8"))
    _write(out_dir / SHEET_NAME, contact_sheet(info, shots).encode("utf-8"))
    return shots


def shots_of(video: VideoStreamInfo, firsts: Iterable[int]) -> tuple[Shot, ...]:
    """The shots that begin at the frames ``firsts`` (sorted, the first one 0), with their
    timecodes from the frames' pts; the last shot ends where the last frame ends."""
    starts = sorted(firsts)
    stops = [*starts[1:], video.frame_count]
    origin = video.pts[0]

    def seconds(frame: int) -> Fraction:
        if frame == video.frame_count:
            return (video.pts[-1] - origin) * video.time_base + 1 / video.fps
        return (video.pts[frame] - origin) * video.time_base

    return tuple(
        Shot(index, first, stop - 1, seconds(first), seconds(stop))
        for index, (first, stop) in enumerate(zip(starts, stops, strict=True))
    )


def shots_csv(shots: Iterable[Shot]) -> str:
    """``shots.csv``'s text: the header ``shot,first_frame,last_frame,start,end``, a row each."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for shot in shots:
        writer.writerow(
            [shot.index, shot.first, shot.last, timecode(shot.start), timecode(shot.end)]
        )
    return text.getvalue()


def contact_sheet(info: VideoInfo, shots: Iterable[Shot]) -> str:
    """``index.html``: every shot's first frame by relative path, with its number, frames and
    timecodes. Static: no script, no style sheet or font fetched from anywhere."""
    video = info.video
    cells = "\n".join(
        f'<figure><a href="{shot.image_name}"><img src="{shot.image_name}" loading="lazy" '
        f'alt="frame {shot.first}"></a><figcaption>shot {shot.index}: frames {shot.first}'
        f"&ndash;{shot.last}<br>{timecode(shot.start)} &ndash; {timecode(shot.end)}"
        "</figcaption></figure>"
        for shot in shots
    )
    title = html.escape(info.path.name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Shots of {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
main {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; width: 240px; }}
img {{ width: 240px; height: auto; display: block; background: #888; }}
figcaption {{ font-size: 0.85em; }}
</style></head>
<body><h1>{title}</h1>
<p>{video.frame_count} frames, {video.width}x{video.height}; the first frame of each shot,
named by its zero-based frame number. Paint one, or put a color version of that frame in its
place, and give it to <code>vidcolor run --references</code>.</p>
<main>
{cells}
</main></body></html>
"""


def _prepare_folder(out_dir: Path, overwrite: bool) -> None:
    """Creates ``out_dir``, or checks that its shots files may be replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} is not a folder; choose another --out")
    if out_dir.is_dir() and not overwrite:
        ours = sorted(p.name for p in out_dir.iterdir() if _is_shots_file(p.name))
        if ours:
            raise OutputError(
                f"{out_dir} already holds shots files ({ours[0]} ...); "
                "use --overwrite to replace them, or choose another --out"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {out_dir}: {error.strerror}") from None


def _is_shots_file(name: str) -> bool:
    return name in (CSV_NAME, SHEET_NAME) or _PNG.fullmatch(name) is not None


def _write_png(path: Path, frame: Frame, bit_depth: int) -> None:
    """The frame's Y plane as a gray PNG, written through a temporary name."""
    luma = frame.luma
    if bit_depth > 8:
        luma = (luma.astype(np.uint16) << (16 - bit_depth)).astype(np.uint16)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(luma))
    if not ok:
        raise OutputError(f"cannot encode frame {frame.index} as PNG")
    _write(path, data.tobytes())


def _write(path: Path, data: bytes) -> None:
    try:
        write_bytes_atomic(path, data)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror}") from None
