"""vidcolor shots: the first frame of every shot as a PNG, shots.csv and index.html."""

from __future__ import annotations

import csv
import re
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from media import CUT_SPEC, decode_all_luma, frame_times

import vidcolor
from vidcolor.cli import main
from vidcolor.config import Config
from vidcolor.errors import OutputError
from vidcolor.shots import timecode, write_shots


def seconds_code(t: Fraction) -> str:
    """The timecode of a time under a minute, written independently of ``timecode``."""
    assert t < 60
    return f"00:00:{float(t):06.3f}"


def test_the_shots_of_a_clip_with_a_cut(cut_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "shots"  # created, parents too
    shots = write_shots(cut_clip, out, Config())
    cut = CUT_SPEC.cut_at
    assert [(s.first, s.last) for s in shots] == [(0, cut - 1), (cut, CUT_SPEC.frames - 1)]
    luma = decode_all_luma(cut_clip)
    for frame in (0, cut):
        png = cv2.imread(str(out / f"{frame:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint8 and png.ndim == 2
        np.testing.assert_array_equal(png, luma[frame])
    times = frame_times(CUT_SPEC.frames, CUT_SPEC.fps)
    end = times[-1] + 1 / CUT_SPEC.fps
    with open(out / "shots.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["shot", "first_frame", "last_frame", "start", "end"],
        ["0", "0", str(cut - 1), seconds_code(times[0]), seconds_code(times[cut])],
        ["1", str(cut), str(CUT_SPEC.frames - 1), seconds_code(times[cut]), seconds_code(end)],
    ]
    page = (out / "index.html").read_text()
    images = set(re.findall(r'<img src="([^"]+)"', page))
    assert images == {p.name for p in out.glob("*.png")} == {"000000.png", f"{cut:06d}.png"}
    assert "http" not in page and "<script" not in page  # static: nothing fetched
    assert f"frames {cut}&ndash;{CUT_SPEC.frames - 1}" in page
    assert seconds_code(end) in page
    assert not list(out.glob("*.part"))  # every file renamed into place


def test_listed_cuts_only_through_the_cli(
    cut_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shots"
    assert main(["shots", str(cut_clip), "--out", str(out), "--cuts", "12,45", "--cuts-only"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["000000.png", "000012.png", "000045.png"]
    assert "3 shot(s)" in capsys.readouterr().out
    # With detection on, the listed cuts come on top of the detected one (the library call).
    again = vidcolor.write_shots(
        str(cut_clip), str(tmp_path / "both"), overrides=["smooth.cuts=12"]
    )
    assert [s.first for s in again] == [0, 12, CUT_SPEC.cut_at]
    assert (tmp_path / "both" / "000012.png").is_file()


def test_existing_shots_are_refused_unless_overwrite(cut_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "shots"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # a folder with other files is fine
    write_shots(cut_clip, out, Config())
    with pytest.raises(OutputError, match=r"already holds shots files .*--overwrite"):
        write_shots(cut_clip, out, Config())
    (out / "000030.png").write_bytes(b"stale")
    shots = write_shots(cut_clip, out, Config(), overwrite=True)
    assert cv2.imread(str(out / shots[1].image_name)) is not None  # rewritten
    assert (out / "notes.txt").read_text() == "mine"
    assert main(["shots", str(cut_clip), "--out", str(out)]) == 4
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="not a folder"):
        write_shots(cut_clip, tmp_path / "file", Config())


def test_a_10_bit_source_gives_16_bit_pngs(ffv1_10bit_clip: Path, tmp_path: Path) -> None:
    shots = write_shots(ffv1_10bit_clip, tmp_path / "s", Config())
    assert [s.first for s in shots] == [0]
    png = cv2.imread(str(tmp_path / "s" / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16
    np.testing.assert_array_equal(png >> 6, decode_all_luma(ffv1_10bit_clip)[0])
    assert (png & 0x3F).max() == 0  # the 10 bits shifted up, nothing invented below them


def test_timecode() -> None:
    assert timecode(Fraction(3723456, 1000)) == "01:02:03.456"
    assert timecode(Fraction(1001, 30000) * 3) == "00:00:00.100"  # 0.1001 s rounds down
    assert timecode(Fraction(0)) == "00:00:00.000"
