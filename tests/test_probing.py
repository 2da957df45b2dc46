"""probe(): counted frames and pts, stream listing, tags, and every refusal."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from media import (
    BFRAME_SPEC,
    FFV1_10BIT_SPEC,
    VFR_SPEC,
    ClipSpec,
    audio_packets,
    drop_leading_packets,
    frame_times,
    hide_leading_frames,
    make_audio,
    make_clip,
    make_cover_art_only,
    make_video_without_frames,
    video_pts,
)

from vidcolor.errors import InputError
from vidcolor.probing import format_info, probe, to_dict

HAS_VPX = {"libvpx", "libopus"} <= av.codecs_available

COUNT_CASES = {
    "bframes.mp4": BFRAME_SPEC,
    "ffv1.mkv": ClipSpec(codec="ffv1"),
    "ffv1_10bit.mkv": FFV1_10BIT_SPEC,
    "prores.mov": ClipSpec(codec="prores_ks", pix_fmt="yuv422p10le", frames=30),
    "vp8.webm": ClipSpec(codec="libvpx", audio=True, audio_codec="libopus"),
    "vfr.mp4": VFR_SPEC,
    "ntsc.mkv": ClipSpec(fps=Fraction(30000, 1001), frames=90, bframes=3),
}


@pytest.mark.parametrize("name", list(COUNT_CASES))
def test_counted_pts_equal_a_sequential_decode(make_cached_clip, name):
    if name.endswith(".webm") and not HAS_VPX:
        pytest.skip("PyAV build lacks libvpx/libopus")
    spec = COUNT_CASES[name]
    clip = make_cached_clip(name, spec)

    video = probe(clip).video

    decoded = video_pts(clip)
    assert video.frame_count == len(decoded) == spec.frames
    assert list(video.pts) == decoded


def test_vfr_clip_is_vfr_with_the_written_timestamps(vfr_clip):
    video = probe(vfr_clip).video

    assert video.vfr is True
    assert [p * video.time_base for p in video.pts] == frame_times(48, Fraction(24), vfr=True)


def test_cfr_clip_is_not_vfr(bframe_clip):
    video = probe(bframe_clip).video

    assert video.vfr is False
    assert video.fps == Fraction(24)
    assert video.duration == Fraction(100, 24)


def test_ntsc_rate_in_mkv_is_exact_and_not_vfr(make_cached_clip):
    clip = make_cached_clip("ntsc.mkv", COUNT_CASES["ntsc.mkv"])

    video = probe(clip).video

    assert video.time_base == Fraction(1, 1000)  # 33/34 ms durations: rounding, not VFR
    assert {b - a for a, b in zip(video.pts, video.pts[1:], strict=False)} == {33, 34}
    assert video.fps == Fraction(30000, 1001)
    assert video.vfr is False


def test_streams_list_audio_with_channels_and_rate(bframe_clip):
    info = probe(bframe_clip)

    assert [(s.index, s.kind, s.codec) for s in info.streams] == [
        (0, "video", "h264"),
        (1, "audio", "aac"),
    ]
    audio = info.streams[1]
    assert (audio.channels, audio.sample_rate) == (2, 48000)
    assert len(audio_packets(bframe_clip)) >= 100 / 24 * 48000 / 1024  # AAC: 1024 per packet
    assert info.streams[0].channels is None
    assert info.video.index == 0
    assert info.duration is not None and abs(info.duration - Fraction(100, 24)) < Fraction(1, 10)


def test_bit_depth_and_pix_fmt_of_10bit_ffv1(ffv1_10bit_clip):
    video = probe(ffv1_10bit_clip).video

    assert (video.pix_fmt, video.bit_depth, video.codec) == ("yuv420p10le", 10, "ffv1")
    assert (video.width, video.height) == (160, 96)


def test_untagged_clip_reports_unknown_color_and_square_pixels(bframe_clip):
    video = probe(bframe_clip).video

    assert (video.color_range, video.color_space) == ("unknown", "unknown")
    assert (video.color_primaries, video.color_trc) == ("unknown", "unknown")
    assert (video.sar, video.rotation, video.field_order) == (1, 0, "progressive")


def test_color_tags_and_sar_are_read(tmp_path):
    clip = make_clip(
        tmp_path / "tagged.mp4", frames=4, color_range="pc", color_tags="bt709", sar=Fraction(4, 3)
    )

    video = probe(clip).video

    assert video.color_range == "pc"
    assert (video.color_space, video.color_primaries, video.color_trc) == ("bt709",) * 3
    assert video.sar == Fraction(4, 3)


def test_container_color_tags_win_over_an_unspecified_bitstream(tmp_path):
    # prores_ks leaves its frame header's tags unspecified; the MOV colr atom has them.
    clip = make_clip(
        tmp_path / "tagged.mov", codec="prores_ks", pix_fmt="yuv422p10le", color_tags="bt709"
    )

    video = probe(clip).video

    assert (video.color_space, video.color_primaries, video.color_trc) == ("bt709",) * 3


@pytest.mark.parametrize(("name", "written", "expected"), [("r.mp4", 90, 90), ("r.mkv", -90, 270)])
def test_rotation_from_the_display_matrix(tmp_path, name, written, expected):
    clip = make_clip(tmp_path / name, frames=4, rotation=written)

    assert probe(clip).video.rotation == expected


def test_stream_argument_selects_another_video_stream(tmp_path):
    clip = tmp_path / "two.mkv"
    with av.open(str(clip), "w") as out:  # two video streams, different sizes
        streams = [out.add_stream("ffv1", rate=24) for _ in range(2)]
        for stream, width in zip(streams, (64, 96), strict=True):
            stream.width, stream.height, stream.pix_fmt = width, 32, "gray"
        for pts in range(3):
            for stream in streams:
                frame = av.VideoFrame.from_ndarray(np.zeros((32, stream.width), np.uint8), "gray")
                frame.pts = pts
                out.mux(stream.encode(frame))
        for stream in streams:
            out.mux(stream.encode())

    assert probe(clip).video.width == 64
    assert probe(clip, stream=1).video.width == 96


def test_file_starting_mid_gop_counts_only_decodable_frames(tmp_path):
    source = make_clip(tmp_path / "gop.mp4", frames=60, gop=20, bframes=0)
    clip = drop_leading_packets(source, tmp_path / "mid_gop.mkv", count=5)

    video = probe(clip).video

    # 55 packets, but the decoder drops the 15 frames before the keyframe at packet 20.
    assert video.frame_count == len(video_pts(clip)) == 40
    assert list(video.pts) == video_pts(clip)


def test_frames_hidden_by_an_mp4_edit_list_are_not_counted(tmp_path):
    source = make_clip(tmp_path / "src.mp4", frames=60, gop=30, bframes=3)
    clip = hide_leading_frames(source, tmp_path / "edit.mp4", count=10)
    with av.open(str(clip)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert sum(p.is_discard for p in packets) == 10  # the case under test really arises

    video = probe(clip).video

    assert video.frame_count == len(video_pts(clip)) == 50
    assert list(video.pts) == video_pts(clip)


def test_to_dict_is_json_with_fractions_and_summarized_pts(bframe_clip):
    data = json.loads(json.dumps(to_dict(probe(bframe_clip))))

    video = data["video"]
    assert video["fps"] == "24/1"
    assert video["time_base"] == "1/12288"
    assert video["pts"] == {"first": 0, "last": 99 * 512, "count": 100}
    assert video["frame_count"] == 100
    assert data["streams"][1]["channels"] == 2


def test_format_info_names_the_facts(vfr_clip):
    text = format_info(probe(vfr_clip))

    assert "48 frames" in text
    assert "VFR" in text
    assert "#0 video h264" in text


# ---------------------------------------------------------------- refusals


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "nope.mp4")


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(InputError, match="empty"):
        probe(empty)


def test_text_renamed_mp4(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are not the frames you are looking for\n" * 50)
    with pytest.raises(InputError, match="not a media file"):
        probe(text)


@pytest.mark.parametrize(("name", "codec"), [("tone.m4a", "aac"), ("tone.mka", "flac")])
def test_audio_only(tmp_path, name, codec):
    clip = make_audio(tmp_path / name, codec=codec)
    with pytest.raises(InputError, match="no video stream"):
        probe(clip)


def test_only_cover_art(tmp_path):
    clip = make_cover_art_only(tmp_path / "cover.mka")
    with pytest.raises(InputError, match="cover art"):
        probe(clip)


def test_video_stream_without_frames(tmp_path):
    clip = make_video_without_frames(tmp_path / "zero.mkv")
    with pytest.raises(InputError, match="no frames"):
        probe(clip)


@pytest.mark.parametrize(("stream", "message"), [(5, "has no stream 5"), (1, "audio, not video")])
def test_stream_argument_must_name_a_video_stream(bframe_clip, stream, message):
    with pytest.raises(InputError, match=message):
        probe(bframe_clip, stream=stream)


# ---------------------------------------------------------------- real clips


@pytest.mark.shared
@pytest.mark.parametrize(
    "name", ["chaplin.mp4", "a-bomb_blast_effects_part.mp4", "big_buck_bunny_0_30.webm"]
)
def test_real_clip_counts_equal_sequential_decode(shared_media, name):
    clip = shared_media / name

    video = probe(clip).video

    assert list(video.pts) == video_pts(clip)
    assert video.vfr is False


@pytest.mark.shared
def test_real_clip_with_two_programs(shared_media):
    clip = shared_media / "nasa_13013.mp4"

    info = probe(clip, stream=3)

    assert [s.kind for s in info.streams] == ["video", "audio", "subtitle"] * 2
    assert info.streams[2].codec == "mov_text"
    assert info.streams[4].sample_rate == 16000
    assert info.video.fps == Fraction(30000, 1001)
    assert info.video.color_space == "bt709"
    assert probe(clip).video.index == 0
    with pytest.raises(InputError, match="subtitle, not video"):
        probe(clip, stream=2)
