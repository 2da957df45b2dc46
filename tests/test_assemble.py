import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest

from vidcolor.assemble import (
    container_for,
    default_output,
    plan_output,
    segment_durations,
    write_concat_list,
)
from vidcolor.errors import OutputError
from vidcolor.media import StreamInfo, VideoInfo, VideoStreamInfo

VIDEO = VideoStreamInfo(
    index=0, codec="h264", width=64, height=48, pix_fmt="yuv420p", bit_depth=8,
    fps=Fraction(30000, 1001), time_base=Fraction(1, 30000), pts=tuple(range(0, 1001 * 50, 1001)),
    vfr=False, sar=Fraction(1), rotation=0, color_range="tv", color_space="unknown",
    color_primaries="unknown", color_trc="unknown", field_order="progressive",
)  # fmt: skip


def info_with(*others: StreamInfo) -> VideoInfo:
    streams = (StreamInfo(0, "video", "h264", None, None), *others)
    return VideoInfo(Path("/films/a.mp4"), "mov,mp4", 1000, Fraction(2), VIDEO, streams)


def test_durations_telescope_to_each_segment_start():
    # 29.97 fps: a frame lasts 33366.66... us, so naive per-segment rounding would drift.
    pts, tb, fps = VIDEO.pts, VIDEO.time_base, VIDEO.fps
    starts = list(range(0, 50, 7))
    durations = segment_durations(pts, starts, tb, fps)
    assert len(durations) == len(starts)
    for k, start in enumerate(starts):
        exact_us = (pts[start] - pts[0]) * tb * 1_000_000
        assert abs(sum(durations[:k]) - exact_us) <= Fraction(1, 2)
    assert abs(sum(durations) - 50 / fps * 1_000_000) <= Fraction(1, 2)


def test_concat_list_escapes_quotes(tmp_path):
    listing = tmp_path / "list.ffconcat"
    write_concat_list(listing, [Path("it's.mp4"), Path("b.mp4")], [1_500_000, 33_367])
    assert listing.read_text().splitlines() == [
        "ffconcat version 1.0",
        "file 'it'\\''s.mp4'",
        "duration 1.500000",
        "file 'b.mp4'",
        "duration 0.033367",
    ]


def test_containers_and_default_names():
    assert container_for(Path("x.MP4")) == "mp4"
    assert container_for(Path("x.mkv")) == "mkv"
    assert container_for(Path("x.webm")) is None
    assert default_output(Path("/f/movie.mp4"), "mp4") == Path("/f/movie.color.mp4")
    assert default_output(Path("/f/movie.webm"), "mkv") == Path("/f/movie.color.mkv")


def test_streams_copied_in_source_order():
    info = info_with(
        StreamInfo(1, "audio", "aac", "eng", None, 2, 48000),
        StreamInfo(2, "subtitle", "mov_text", "eng", None),
    )
    plan = plan_output(info, "mp4", Path("/o.mp4"))
    assert [(s.source_index, s.action) for s in plan.streams] == [
        (0, "colorized"),
        (1, "copy"),
        (2, "copy"),
    ]
    assert plan.notes == ()


def test_conversions_only_where_the_container_cannot_hold_the_stream():
    info = info_with(
        StreamInfo(1, "audio", "vorbis", None, None, 2, 44100),
        StreamInfo(2, "audio", "pcm_s24le", None, None, 2, 48000),
        StreamInfo(3, "subtitle", "mov_text", None, None),
    )
    mp4 = plan_output(info, "mp4", Path("/o.mp4"))
    assert [(s.action, s.codec) for s in mp4.streams[1:]] == [
        ("convert", "aac"),
        ("convert", "alac"),
        ("copy", None),
    ]
    assert len(mp4.notes) == 2 and "vorbis" in mp4.notes[0]
    mkv = plan_output(info, "mkv", Path("/o.mkv"))
    assert [(s.action, s.codec) for s in mkv.streams[1:]] == [
        ("copy", None),
        ("copy", None),
        ("convert", "srt"),
    ]


def test_refuses_what_it_cannot_keep():
    info = info_with(StreamInfo(1, "subtitle", "hdmv_pgs_subtitle", None, None))
    with pytest.raises(OutputError, match=r"stream 1 .*hdmv_pgs_subtitle.*mkv"):
        plan_output(info, "mp4", Path("/o.mp4"))
    assert plan_output(info, "mkv", Path("/o.mkv")).streams[1].action == "copy"


def test_data_streams_dropped_with_a_note_outside_mkv():
    info = info_with(StreamInfo(1, "data", "bin_data", None, None))
    plan = plan_output(info, "mp4", Path("/o.mp4"))
    assert len(plan.streams) == 1 and "dropped" in plan.notes[0]
    assert dataclasses.replace(plan, notes=()).streams[0].action == "colorized"


def test_a_source_with_color_gets_a_note_and_is_still_colorized():
    colored = dataclasses.replace(info_with(), video=dataclasses.replace(VIDEO, has_color=True))
    plan = plan_output(colored, "mp4", Path("/o.mp4"))
    assert [s.action for s in plan.streams] == ["colorized"]
    assert len(plan.notes) == 1 and "stream 0 already has color" in plan.notes[0]
    assert plan_output(info_with(), "mp4", Path("/o.mp4")).notes == ()
