"""The value types: derived fields, and a module that imports no I/O library."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

from vidcolor.media import Segment, VideoStreamInfo


def stream(pts: tuple[int, ...], fps: Fraction, time_base: Fraction) -> VideoStreamInfo:
    return VideoStreamInfo(
        index=0, codec="h264", width=64, height=48, pix_fmt="yuv420p", bit_depth=8, fps=fps,
        time_base=time_base, pts=pts, vfr=False, sar=Fraction(1), rotation=0,
        color_range="tv", color_space="bt709", color_primaries="bt709", color_trc="bt709",
        field_order="progressive",
    )  # fmt: skip


def test_frame_count_and_duration_come_from_the_counted_pts():
    # 18 fps film in a 1/90000 time base, starting late: the duration spans first to last + 1.
    video = stream(tuple(range(9000, 9000 + 36 * 5000, 5000)), Fraction(18), Fraction(1, 90000))
    assert video.frame_count == 36
    assert video.duration == Fraction(35 * 5000, 90000) + Fraction(1, 18) == 2


def test_a_segment_is_unrecorded_until_the_work_folder_fills_in_its_size_and_digest():
    segment = Segment(3, "segment_000003.mkv", 40, cuts=(125,))
    assert (segment.size, segment.sha256, segment.replaced) == (0, "", ())


def test_the_value_module_imports_no_io_library():
    heavy = "{'av', 'cv2', 'torch', 'ray'}"
    code = f"import sys, vidcolor.media; print(sorted({heavy} & set(sys.modules)))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
