"""read_frames(): any range decodes to exactly the frames of one sequential decode."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from media import (
    BFRAME_SPEC,
    FFV1_10BIT_SPEC,
    ClipSpec,
    clip_luma,
    damage_packet,
    damaged_frames,
    decode_all_luma,
    drop_leading_packets,
    frame_ticks,
    hide_leading_frames,
    make_clip,
    read_index,
    video_pts,
)

import vidcolor.decode.pyav as pyav_reader
from vidcolor.decode import read_frames
from vidcolor.decode.decord import rgb_to_luma
from vidcolor.errors import DecodeError
from vidcolor.probing import probe


@pytest.fixture(scope="module")
def bframe_reference(bframe_clip):
    """(info, luma of every frame, pts of every frame) of the B-frame clip."""
    return probe(bframe_clip), decode_all_luma(bframe_clip), video_pts(bframe_clip)


def _assert_range_matches(info, luma, pts, start, stop, **kwargs):
    frames = list(read_frames(info, start, stop, **kwargs))
    assert [f.index for f in frames] == list(range(start, stop))
    for frame in frames:
        assert frame.pts == pts[frame.index], f"pts of frame {frame.index}"
        assert np.array_equal(frame.luma, luma[frame.index]), f"luma of frame {frame.index}"


@pytest.mark.parametrize("size", [1, 7, 33, 100])
def test_chunked_reads_equal_sequential_decode(bframe_reference, size):
    info, luma, pts = bframe_reference
    count = info.video.frame_count
    assert count == BFRAME_SPEC.frames

    for start in range(0, count, size):
        _assert_range_matches(info, luma, pts, start, min(start + size, count))


def test_frames_carry_their_own_index_code(bframe_reference):
    info, _, _ = bframe_reference

    frames = list(read_frames(info, 55, 65))  # across the keyframe at 60

    assert [read_index(f.luma) for f in frames] == list(range(55, 65))
    assert frames[0].luma.dtype == np.uint8
    assert frames[0].luma.shape == (96, 160)


def test_single_thread_decoder_gives_the_same_frames(bframe_reference):
    info, luma, pts = bframe_reference

    _assert_range_matches(info, luma, pts, 40, 70, threads=1)


def test_overshooting_seek_is_retried_earlier(bframe_reference, monkeypatch):
    info, luma, pts = bframe_reference
    seeks = []
    real = pyav_reader._decoded_after_seek

    def overshoot_first_seek(container, stream, seek_pts, target):
        # Pretend the demuxer landed on the keyframe at 60, after every target below.
        seeks.append(seek_pts)
        landed = info.video.pts[70] if len(seeks) == 1 else seek_pts
        return real(container, stream, landed, target)

    monkeypatch.setattr(pyav_reader, "_decoded_after_seek", overshoot_first_seek)

    _assert_range_matches(info, luma, pts, 45, 50)
    assert seeks == [pts[45], pts[13]]  # then 32 frames earlier


def test_pts_disagreeing_with_the_probe_raises_naming_the_frame(bframe_reference):
    info, _, _ = bframe_reference
    shifted = list(info.video.pts)
    shifted[12] += 1
    broken = dataclasses.replace(info, video=dataclasses.replace(info.video, pts=tuple(shifted)))

    with pytest.raises(DecodeError, match="frame 12") as caught:
        list(read_frames(broken, 10, 20))

    assert caught.value.frame == 12


@pytest.mark.parametrize(("start", "stop"), [(-1, 3), (5, 4), (0, 101)])
def test_bad_ranges_are_refused_at_once(bframe_reference, start, stop):
    info, _, _ = bframe_reference
    with pytest.raises(ValueError, match="outside"):
        read_frames(info, start, stop)


def test_empty_range_and_unknown_backend(bframe_reference):
    info, _, _ = bframe_reference
    assert list(read_frames(info, 7, 7)) == []
    with pytest.raises(ValueError, match="backend"):
        read_frames(info, 0, 1, backend="opencv")


def test_10bit_ffv1_gives_exact_uint16(ffv1_10bit_clip):
    info = probe(ffv1_10bit_clip)
    luma = decode_all_luma(ffv1_10bit_clip)

    frames = list(read_frames(info, 5, 17))

    for frame in frames:
        assert frame.luma.dtype == np.uint16
        assert np.array_equal(frame.luma, luma[frame.index])
        # FFV1 is lossless: the decoded plane is the generated one, low bits included.
        assert np.array_equal(frame.luma, clip_luma(FFV1_10BIT_SPEC, frame.index))


def test_vfr_pts_are_preserved(vfr_clip):
    info = probe(vfr_clip)
    ticks = frame_ticks(48, vfr=True)
    unit = info.video.time_base.denominator // 24  # time_base ticks per 1/24 s

    frames = list(read_frames(info, 3, 30))

    assert [f.pts for f in frames] == [t * unit for t in ticks[3:30]]
    assert [read_index(f.luma) for f in frames] == list(range(3, 30))


def test_range_across_a_hard_cut(cut_clip):
    info = probe(cut_clip)

    frames = list(read_frames(info, 26, 34))

    assert [read_index(f.luma) for f in frames] == list(range(26, 34))
    body = [f.luma[16:].astype(int) for f in frames]  # below the index code strip
    jumps = [np.abs(b - a).mean() for a, b in itertools.pairwise(body)]
    assert int(np.argmax(jumps)) == 3  # frame 29 -> 30, the cut
    assert jumps[3] > 3 * max(jumps[:3] + jumps[4:])


def test_rgb_source_luma_is_converted_to_gray(tmp_path):
    clip = make_clip(tmp_path / "rgb.mkv", codec="ffv1", pix_fmt="bgr0", frames=6)
    info = probe(clip)

    frames = list(read_frames(info, 2, 6))

    for frame in frames:
        expected = clip_luma(ClipSpec(), frame.index).astype(int)
        assert frame.luma.dtype == np.uint8
        assert np.abs(frame.luma.astype(int) - expected).max() <= 1  # gray -> bgr0 -> gray


def test_clip_starting_mid_gop_reads_exactly(tmp_path):
    source = make_clip(tmp_path / "gop.mp4", frames=60, gop=20, bframes=0)
    clip = drop_leading_packets(source, tmp_path / "mid_gop.mkv", count=5)
    info = probe(clip)
    luma, pts = decode_all_luma(clip), video_pts(clip)

    for start in range(0, info.video.frame_count, 9):
        for replace_bad in (False, True):
            stop = min(start + 9, info.video.frame_count)
            _assert_range_matches(info, luma, pts, start, stop, replace_bad=replace_bad)


def test_clip_with_edit_list_reads_exactly(tmp_path):
    source = make_clip(tmp_path / "src.mp4", frames=60, gop=30, bframes=3)
    clip = hide_leading_frames(source, tmp_path / "edit.mp4", count=10)
    info = probe(clip)
    luma, pts = decode_all_luma(clip), video_pts(clip)

    assert read_index(next(read_frames(info, 0, 1)).luma) == 10  # first shown frame
    for start in range(0, info.video.frame_count, 7):
        for replace_bad in (False, True):
            stop = min(start + 7, info.video.frame_count)
            _assert_range_matches(info, luma, pts, start, stop, replace_bad=replace_bad)


# ---------------------------------------------------------------- damaged frames replaced


@pytest.mark.parametrize("size", [7, 33])
def test_replacing_reader_reads_a_whole_file_exactly(bframe_reference, size):
    info, luma, pts = bframe_reference
    count = info.video.frame_count

    for start in range(0, count, size):
        stop = min(start + size, count)
        _assert_range_matches(info, luma, pts, start, stop, replace_bad=True)
        assert all(f.replaced_by is None for f in read_frames(info, start, stop, replace_bad=True))


@pytest.fixture(scope="module")
def damaged_keyframe(tmp_path_factory):
    """H.264 mp4, 24 frames, GOP 8, whose keyframe 16 (packet 16 in file order) is garbled."""
    folder = tmp_path_factory.mktemp("damaged")
    whole = make_clip(folder / "whole.mp4", ClipSpec(frames=24, size=(64, 48), gop=8, bframes=2))
    return whole, damage_packet(whole, folder / "damaged.mp4", 16)


def test_damaged_first_frame_of_a_range_shows_the_good_frame_before_it(damaged_keyframe):
    _, damaged = damaged_keyframe
    info = probe(damaged)
    assert damaged_frames(damaged) == [16]

    frames = list(read_frames(info, 16, 20, replace_bad=True))  # seeks to damaged keyframe 16

    assert [f.index for f in frames] == [16, 17, 18, 19]
    assert [f.pts for f in frames] == list(info.video.pts[16:20])
    assert [f.replaced_by for f in frames] == [15, None, None, None]
    fifteen = next(read_frames(info, 15, 16))
    assert np.array_equal(frames[0].luma, fifteen.luma) and read_index(frames[0].luma) == 15


def test_film_that_begins_damaged_shows_its_first_good_frame(damaged_keyframe):
    whole, _ = damaged_keyframe
    # The probe refuses a file whose first frame does not decode; read_frames is asked
    # directly, with the intact file's frames (the container is the same).
    damaged = damage_packet(whole, whole.with_name("first.mp4"), 0)
    info = dataclasses.replace(probe(whole), path=damaged)

    frames = list(read_frames(info, 2, 10, replace_bad=True))

    assert [f.index for f in frames] == list(range(2, 10))
    assert [f.replaced_by for f in frames] == [8] * 6 + [None, None]  # GOP 0 is lost
    assert [read_index(f.luma) for f in frames] == [8] * 7 + [9]


@pytest.mark.parametrize(
    ("name", "spec", "packet"),
    [
        # A damaged P-frame: the frames that refer to it come out of the decoder unflagged,
        # with pixels that depend on whether it began at their keyframe or one GOP earlier.
        ("p_frame.mp4", ClipSpec(frames=48, size=(64, 48), gop=12, bframes=2), 13),
        # FFV1 conceals damage from a picture it keeps even across a flush.
        ("ffv1.mkv", ClipSpec(frames=30, size=(64, 48), codec="ffv1"), 13),
    ],
)
def test_replaced_frames_do_not_depend_on_where_reading_starts(tmp_path, name, spec, packet):
    damaged = damage_packet(make_clip(tmp_path / name, spec), tmp_path / f"d_{name}", packet)
    info = probe(damaged)
    count = info.video.frame_count
    whole = list(read_frames(info, 0, count, replace_bad=True))
    assert [f.index for f in whole if f.replaced_by is not None] == damaged_frames(damaged) != []

    for size in (5, 12):
        for start in range(0, count, size):
            for frame in read_frames(info, start, min(start + size, count), replace_bad=True):
                same = whole[frame.index]
                assert frame.replaced_by == same.replaced_by, (size, frame.index)
                assert np.array_equal(frame.luma, same.luma), (size, frame.index)


def test_decord_cannot_replace_damaged_frames(bframe_reference):
    info, _, _ = bframe_reference
    with pytest.raises(ValueError, match="replace_bad needs the pyav backend"):
        read_frames(info, 0, 1, backend="decord", replace_bad=True)


# ---------------------------------------------------------------- decord


def test_decord_picks_the_same_frames_as_pyav(bframe_reference):
    info, luma, pts = bframe_reference
    reference = np.stack(luma).astype(np.float32)

    frames = list(read_frames(info, 0, info.video.frame_count, backend="decord"))

    assert [f.index for f in frames] == list(range(info.video.frame_count))
    assert [f.pts for f in frames] == pts
    for frame in frames:
        mse = ((reference - frame.luma.astype(np.float32)) ** 2).mean(axis=(1, 2))
        assert int(mse.argmin()) == frame.index
        # Close but not exact: decord's RGB24 round trip rounds and clips (see docstring).
        assert np.abs(frame.luma.astype(int) - luma[frame.index]).mean() < 1.0


def test_auto_backend_is_pyav(bframe_reference):
    info, luma, pts = bframe_reference
    _assert_range_matches(info, luma, pts, 20, 30, backend="auto")


def test_rgb_to_luma_maps_gray_to_the_source_range():
    gray = np.array([[[0, 0, 0], [128, 128, 128], [255, 255, 255]]], np.uint8)

    assert rgb_to_luma(gray, 8, full_range=True).tolist() == [[0, 128, 255]]
    assert rgb_to_luma(gray, 8, full_range=False).tolist() == [[16, 126, 235]]
    ten = rgb_to_luma(gray, 10, full_range=False)
    assert ten.dtype == np.uint16 and ten.tolist() == [[64, 504, 940]]


# ---------------------------------------------------------------- real clips


@pytest.mark.shared
def test_chaplin_random_ranges_equal_sequential_decode(shared_media):
    clip = shared_media / "chaplin.mp4"
    info = probe(clip)
    luma, pts = decode_all_luma(clip), video_pts(clip)
    count = info.video.frame_count
    rng = random.Random(1913)

    for _ in range(6):
        start = rng.randrange(count)
        stop = min(count, start + rng.randint(1, 40))
        _assert_range_matches(info, luma, pts, start, stop)
    _assert_range_matches(info, luma, pts, count - 3, count)


# ---------------------------------------------------------------- AVI: no stored pts

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")  # Debian's opencv-doc


def _ffmpeg_luma_md5(path: Path, rgb: bool) -> list[tuple[int, str]]:
    """(pts, md5 of the Y plane) of every frame as the ffmpeg binary decodes it: an
    independent reference (its own demuxer loop and best-effort timestamps)."""
    import subprocess

    import imageio_ffmpeg

    plane = ["-pix_fmt", "gray"] if rgb else ["-vf", "extractplanes=y"]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0"]
    command += ["-fps_mode", "passthrough", *plane, "-f", "framemd5", "-"]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = [line.split(",") for line in lines.splitlines() if line and not line.startswith("#")]
    return [(int(row[1]), row[5].strip()) for row in rows]


def _assert_like_ffmpeg(path: Path, rgb: bool = False, sizes=(1000, 37, 7), **kwargs) -> None:
    reference = _ffmpeg_luma_md5(path, rgb)
    info = probe(path)
    assert info.video.pts == tuple(pts for pts, _ in reference)  # count and every pts
    count = info.video.frame_count
    for size in sizes:
        got = [
            (frame.pts, hashlib.md5(frame.luma.tobytes()).hexdigest())
            for start in range(0, count, size)
            for frame in read_frames(info, start, min(start + size, count), **kwargs)
        ]
        assert got == reference, f"chunks of {size}"


def make_avi(path: Path, frames: int = 40) -> Path:
    """MPEG-4 Part 2 in AVI with B-frames whose first two frames are keyframes: the first
    frame has pts 1 and dts 0, and a seek to pts 1 lands on the second (as in Megamind.avi)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=Fraction(24000, 1001))
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.max_b_frames, stream.codec_context.gop_size = 2, 12
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(clip_luma(ClipSpec(), index)[:64, :96], "gray")
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            if index == 1:
                frame.pict_type = av.video.frame.PictureType.I
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_generated_avi_decodes_from_its_first_frame_in_any_chunks(tmp_path):
    avi = make_avi(tmp_path / "bframes.avi")
    info = probe(avi)
    assert info.video.frame_count == 40 and info.video.pts[0] == 1  # the case at hand
    _assert_like_ffmpeg(avi)
    _assert_like_ffmpeg(avi, sizes=(1000, 9), replace_bad=True)


@pytest.mark.parametrize(
    ("name", "rgb"), [("Megamind.avi", False), ("vtest.avi", False), ("tree.avi", True)]
)
def test_opencv_sample_avis_decode_like_ffmpeg(name, rgb):
    # Megamind.avi: DivX-style packed B-frames, pts 1..270; vtest.avi: msmpeg4v3; tree.avi:
    # Cinepak in RGB (its luma goes through swscale, as ffmpeg's gray does).
    path = OPENCV_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found (Debian package opencv-doc)")
    _assert_like_ffmpeg(path, rgb, sizes=(1000, 37))
    if name == "Megamind.avi":
        _assert_like_ffmpeg(path, rgb, sizes=(1000, 50), replace_bad=True)
