"""Issue 8's inputs, each as a user meets it: a real file made here, the real command line.

Refusals must come before any work, in one line that names the file and says why; whatever
is accepted must come out whole. Rows of the issue covered elsewhere: rotation, SAR and
variable frame rate in test_pipeline.py (``test_rotation_sar_and_color_tags_carried_over``,
``test_variable_frame_rate_keeps_every_timestamp``), 10-bit FFV1 luma in
``test_pipeline.py::test_ffv1_keeps_10_bit_luma``, bad config in test_cli.py, test_config.py.
The runs here use tiny frames and ``model.render_factor=4``: what is checked is what happens
to the file, not how good the color is.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from media import (
    ClipSpec,
    damage_packet,
    damaged_frames,
    decode_all_luma,
    make_audio,
    make_clip,
    make_cover_art_only,
    make_video_without_frames,
    video_pts,
)

from vidcolor.assemble import ffmpeg_exe
from vidcolor.cli import main
from vidcolor.decode import read_frames
from vidcolor.errors import DecodeError, InputError
from vidcolor.pipeline import _replaced_note
from vidcolor.probing import probe

FAST = ["-q", "--render-factor", "4", "--set", "encode.preset=ultrafast"]
TINY = ClipSpec(frames=12, size=(64, 48))


def vidcolor(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Runs the command line in this process: exit code, stdout, stderr."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    """The one error line of a failed run's stderr (notes may come before it)."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("vidcolor: error: ")]
    assert len(errors) == 1, err
    return errors[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def packets(path: Path, index: int) -> list[bytes]:
    """Payload of every packet of stream ``index`` (absolute), in file order."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams[index]) if p.size]


def ffmpeg(*args: object) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


# ---------------------------------------------------------------- files that are not video


def _text(path: Path) -> Path:
    path.write_text("these are not the frames you are looking for\n" * 40)
    return path


def _noise(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(8).integers(0, 256, 4096, np.uint8).tobytes())
    return path


def _mp4_cut_at_half(path: Path) -> Path:
    whole = make_clip(path.with_name("whole.mp4"), TINY).read_bytes()  # moov at the end
    path.write_bytes(whole[: len(whole) // 2])
    return path


UNREADABLE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing.mp4": (lambda p: p, "no such file"),
    "empty.mp4": (lambda p: (p.touch(), p)[1], "the file is empty"),
    "notes.mp4": (_text, "not a media file"),
    "noise.mkv": (_noise, "not a media file"),
    "folder.mp4": (lambda p: (p.mkdir(), p)[1], "not a regular file"),
    "cut.mp4": (_mp4_cut_at_half, "cut short"),
    "tone.m4a": (lambda p: make_audio(p, seconds=0.5), "no video stream (only audio)"),
    "zero.mkv": (make_video_without_frames, "has no frames"),
    "cover.mka": (make_cover_art_only, "only picture is cover art"),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unusable_input_is_refused_in_one_line_naming_it(tmp_path, capsys, name):
    make, why = UNREADABLE[name]
    source = make(tmp_path / name)
    before = sorted(tmp_path.iterdir())

    code, _, err = vidcolor(capsys, "run", source, "-o", tmp_path / "out.mkv", *FAST)

    line = error_line(err)
    assert code == 2
    assert str(source) in line and why in line, line
    assert sorted(tmp_path.iterdir()) == before  # no output, no work folder


# ---------------------------------------------------------------- damaged files


def _zero_middle(source: Path, target: Path) -> Path:
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle - 200 : middle + 200] = bytes(400)
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(
    "spec", [ClipSpec(frames=60, size=(64, 48)), ClipSpec(frames=60, size=(64, 48), codec="libvpx")]
)
def test_zeroed_middle_of_a_matroska_file_is_refused_not_shortened(tmp_path, capsys, spec):
    if spec.codec not in av.codecs_available:
        pytest.skip(f"PyAV build lacks {spec.codec}")
    suffix = ".webm" if spec.codec == "libvpx" else ".mkv"
    damaged = _zero_middle(make_clip(tmp_path / f"whole{suffix}", spec), tmp_path / f"d{suffix}")
    # The demuxer loses its way and ends early, without an error. Where the zeros land
    # differs from one encode to the next (x264's and the muxer's bytes vary), so the last
    # packet it delivers may hold some of them and fail to decode: packets are what count.
    with av.open(str(damaged)) as container:
        readable = sum(1 for packet in container.demux(video=0) if packet.size)
    assert 0 < readable < 60

    with pytest.raises(DecodeError, match=f"frame {readable} on") as caught:
        probe(damaged)
    assert caught.value.frame == readable

    out = tmp_path / "out.mkv"
    code, _, err = vidcolor(capsys, "run", damaged, "-o", out, *FAST)
    assert code == 2 and f"frame {readable} on" in error_line(err)
    assert not out.exists() and not list(tmp_path.glob(".*"))
    # What the message offers: a remuxed copy holds just the readable frames, and says so.
    copy = tmp_path / "copy.mkv"
    ffmpeg("-i", damaged, "-map", "0", "-c", "copy", copy)
    assert probe(copy).video.frame_count == readable


def test_lost_stretch_in_the_middle_of_a_matroska_file_is_refused(tmp_path):
    # Small clusters, as in a long film: the demuxer skips the damaged one and reads on.
    whole = make_clip(tmp_path / "whole.mkv", ClipSpec(frames=96, size=(64, 48), gop=12))
    clustered = tmp_path / "clustered.mkv"
    ffmpeg("-i", whole, "-c", "copy", "-cluster_time_limit", "400", clustered)
    with av.open(str(clustered)) as container:
        positions = {p.pts: p.pos for p in container.demux(video=0) if p.size}
    original = video_pts(clustered)
    data = bytearray(clustered.read_bytes())
    middle = positions[original[44]]
    data[middle - 30 : middle + 200] = bytes(230)
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    with av.open(str(damaged)) as container:  # what the demuxer still finds
        readable = sorted(p.pts for p in container.demux(video=0) if p.size)
    assert readable[-1] == original[-1] and len(readable) < 96  # a hole, the end intact
    first_lost = next(i for i, pts in enumerate(readable) if pts != original[i])

    with pytest.raises(DecodeError, match="index lists a keyframe") as caught:
        probe(damaged)
    assert caught.value.frame == first_lost and str(damaged) in str(caught.value)


CUT = {
    "h264.mkv": ClipSpec(frames=48, size=(64, 48)),
    "vp8.webm": ClipSpec(frames=48, size=(64, 48), codec="libvpx"),
    "ffv1.mkv": ClipSpec(frames=48, size=(64, 48), codec="ffv1"),
    "prores.mov": ClipSpec(frames=24, size=(64, 48), codec="prores_ks", pix_fmt="yuv422p10le"),
    "faststart.mp4": ClipSpec(frames=48, size=(64, 48)),
}


@pytest.mark.parametrize("name", list(CUT))
def test_file_cut_at_half_is_refused(tmp_path, name):
    spec = CUT[name]
    if spec.codec not in av.codecs_available:
        pytest.skip(f"PyAV build lacks {spec.codec}")
    whole = make_clip(tmp_path / f"whole{Path(name).suffix}", spec)
    if name.startswith("faststart"):  # the index first: a cut file still opens
        whole = whole.rename(tmp_path / "moov_last.mp4")
        ffmpeg("-i", whole, "-c", "copy", "-movflags", "+faststart", tmp_path / "whole.mp4")
        whole = tmp_path / "whole.mp4"
    cut = tmp_path / f"cut_{name}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])

    with pytest.raises(InputError, match="cut short") as caught:
        probe(cut)
    assert str(cut) in str(caught.value)


@pytest.fixture(scope="module")
def damaged_keyframe(tmp_path_factory) -> Path:
    """H.264 mp4, 24 frames, GOP 8, whose keyframe 16 (packet 16 in file order) is garbled."""
    folder = tmp_path_factory.mktemp("damaged")
    whole = make_clip(folder / "whole.mp4", ClipSpec(frames=24, size=(64, 48), gop=8, bframes=2))
    with av.open(str(whole)) as container:
        keyframes = [p.pts for p in container.demux(video=0) if p.size and p.is_keyframe]
    assert keyframes[2] == video_pts(whole)[16]  # packet 16 is frame 16, a keyframe
    return damage_packet(whole, folder / "damaged.mp4", 16)


def test_damaged_frame_in_the_middle_is_named(damaged_keyframe):
    info = probe(damaged_keyframe)  # the container is intact: 24 frames
    assert info.video.frame_count == 24

    frames = read_frames(info, 10, 24)
    assert [next(frames).index for _ in range(6)] == list(range(10, 16))
    with pytest.raises(DecodeError, match="frame 16 is damaged") as caught:
        next(frames)
    assert caught.value.frame == 16


@pytest.mark.slow
def test_run_on_a_damaged_frame_fails_naming_it_and_writes_no_output(
    tmp_path, capsys, local_ray, damaged_keyframe
):
    source = tmp_path / "film.mp4"
    shutil.copy(damaged_keyframe, source)
    before = digest(source)
    out = tmp_path / "film.color.mp4"

    code, _, err = vidcolor(capsys, "run", source, "-o", out, "--set", "chunks.size=12", *FAST)

    line = error_line(err)
    assert code == 2 and "frames 12..23" in line and "frame 16 is damaged" in line, line
    assert "use --skip-bad-frames to replace damaged frames by their neighbours" in line, line
    assert not out.exists() and not list(tmp_path.glob(".*vidcolor-partial*"))
    assert digest(source) == before


@pytest.fixture(scope="module")
def skipped_runs(tmp_path_factory, local_ray) -> dict[str, tuple[Path, int, str, str]]:
    """H.264 in MKV, 24 frames, GOP 6, keyframes 6 and 18 garbled, run with --skip-bad-frames
    to FFV1 in chunks of 8 and of 10, then again in chunks of 8 resuming the first run's kept
    work folder: each run's output (a copy), exit code, stdout and stderr."""
    folder = tmp_path_factory.mktemp("skip_bad")
    whole = make_clip(folder / "whole.mkv", ClipSpec(frames=24, size=(64, 48), gop=6, bframes=2))
    source = damage_packet(whole, folder / "film.mkv", 6, 18)  # packet k is frame k here
    assert damaged_frames(source) == [6, 18]
    runs = {"source": (source, 0, "", "")}
    for name, size, more in (("8", 8, ["--keep-work"]), ("10", 10, []),
                             ("resumed", 8, ["--keep-work", "--overwrite"])):  # fmt: skip
        out, stdout, stderr = folder / f"out{size}.mkv", io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["run", str(source), "-o", str(out), "--skip-bad-frames", "--codec",
                         "ffv1", "--set", f"chunks.size={size}", *more, *FAST])  # fmt: skip
        kept = Path(shutil.copy(out, folder / f"{name}.mkv")) if out.exists() else out
        runs[name] = kept, code, stdout.getvalue(), stderr.getvalue()  # "resumed" replaces out8
    return runs


REPLACED_NOTE = "vidcolor: note: 2 damaged frame(s) replaced by their neighbours: 6, 18\n"


@pytest.mark.slow
def test_skip_bad_frames_keeps_every_frame_and_timestamp_and_names_the_replaced(skipped_runs):
    out, code, stdout, stderr = skipped_runs["8"]
    assert code == 0, stderr
    assert REPLACED_NOTE in stderr and "3 chunk(s), 2 damaged frame(s) replaced;" in stdout
    source = skipped_runs["source"][0]
    assert probe(out).video.pts == probe(source).video.pts  # 24 frames, each its own pts
    luma = decode_all_luma(out)  # FFV1 keeps the source's luma exactly
    assert np.array_equal(luma[6], luma[5]) and np.array_equal(luma[18], luma[17])
    assert not np.array_equal(luma[7], luma[6])


@pytest.mark.slow
def test_skip_bad_frames_output_is_the_same_for_any_chunk_size(skipped_runs):
    # Smoothing radius 4. Chunks of 8: frame 6 is in chunk 0 and in chunk 1's halo, frame 18
    # in chunk 1's halo and in chunk 2. Chunks of 10: frame 6 is the first frame chunk 1 reads.
    (eight, _, _, _), (ten, code, _, stderr) = skipped_runs["8"], skipped_runs["10"]
    assert code == 0 and REPLACED_NOTE in stderr, stderr
    a, b = planes(eight), planes(ten)
    assert len(a) == len(b) == 24
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.slow
def test_resumed_run_still_names_the_replaced_frames(skipped_runs):
    out, code, stdout, stderr = skipped_runs["resumed"]
    assert code == 0, stderr
    assert "resuming: 3 of 3 segment(s) reused" in stderr and REPLACED_NOTE in stderr
    assert "3 reused, 2 damaged frame(s) replaced;" in stdout
    assert planes(out) == planes(skipped_runs["8"][0])


def test_replaced_frames_are_listed_compactly():
    assert _replaced_note([3, 30, 31, 40, 41, 42, 43, 57]) == (
        "8 damaged frame(s) replaced by their neighbours: 3, 30, 31, 40..43, 57"
    )


def test_skip_bad_frames_with_decord_is_refused_before_any_work(tmp_path, capsys):
    source = make_clip(tmp_path / "film.mp4", TINY)
    code, _, err = vidcolor(capsys, "run", source, "--skip-bad-frames", "--set",
                            "decode.backend=decord", *FAST)  # fmt: skip
    line = error_line(err)
    assert code == 3 and "decode.skip_bad_frames needs decode.backend pyav or auto" in line
    assert not list(tmp_path.glob("*.color.*")) and not list(tmp_path.glob(".*vidcolor-work"))


def planes(path: Path) -> list[bytes]:
    """Every video frame's planes, as bytes, in presentation order."""
    with av.open(str(path)) as container:
        return [b"".join(bytes(p) for p in f.planes) for f in container.decode(video=0)]


# ---------------------------------------------------------------- odd sizes, 10 bits, color


@pytest.fixture(scope="module")
def odd_color_source(tmp_path_factory) -> Path:
    """321x241 FFV1 yuv420p10le in MKV, 8 frames, with color in its chroma planes."""
    spec = ClipSpec(frames=8, size=(321, 241), codec="ffv1", bit_depth=10, chroma=True)
    return make_clip(tmp_path_factory.mktemp("odd") / "odd.mkv", spec)


@pytest.fixture(scope="module")
def odd_runs(tmp_path_factory, local_ray, odd_color_source) -> dict[str, tuple[Path, str]]:
    """The source colorized to FFV1 and to ProRes: each output, and the run's stderr."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("odd_out")
    runs = {}
    for codec, suffix in (("ffv1", "mkv"), ("prores", "mov")):
        out = folder / f"out.{suffix}"
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["run", str(odd_color_source), "-o", str(out), "--codec", codec, *FAST])
        assert code == 0, err.getvalue()
        runs[codec] = out, err.getvalue()
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["ffv1", "prores"])
def test_odd_size_and_10_bits_kept_by_ffv1_and_prores(odd_runs, codec):
    out, _ = odd_runs[codec]
    video = probe(out).video
    assert (video.width, video.height, video.bit_depth) == (321, 241, 10)
    assert video.frame_count == 8


@pytest.mark.slow
def test_ffv1_keeps_odd_sized_10_bit_luma_exactly(odd_runs, odd_color_source):
    ours, source = decode_all_luma(odd_runs["ffv1"][0]), decode_all_luma(odd_color_source)
    assert len(ours) == len(source) == 8
    assert all(np.array_equal(a, b) for a, b in zip(ours, source, strict=True))


@pytest.mark.slow
def test_source_with_color_warns_and_is_colorized_from_luma(odd_runs, odd_color_source):
    assert probe(odd_color_source).video.has_color
    _, err = odd_runs["ffv1"]
    assert "already has color" in err and "its own color is replaced" in err
    with av.open(str(odd_runs["ffv1"][0])) as out, av.open(str(odd_color_source)) as src:
        ours, theirs = next(out.decode(video=0)), next(src.decode(video=0))
        assert bytes(ours.planes[1]) != bytes(theirs.planes[1])  # chroma made anew


def test_gray_source_gets_no_color_warning(make_cached_clip):
    assert not probe(make_cached_clip("gray.mp4", TINY)).video.has_color


def test_odd_size_h264_is_refused_before_any_work(tmp_path, capsys, odd_color_source):
    code, _, err = vidcolor(capsys, "run", odd_color_source, "-o", tmp_path / "out.mp4", *FAST)
    line = error_line(err)
    assert code == 4 and "even width and height" in line and "--codec ffv1" in line
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- interlaced


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "codec", "suffix"),
    [
        (ClipSpec(frames=8, size=(64, 48), codec="ffv1", field_order="tt"), "ffv1", "mkv"),
        (ClipSpec(frames=8, size=(64, 48), field_order="bb"), "h264", "mp4"),
    ],
    ids=["ffv1-tt", "h264-bb"],
)
def test_interlaced_source_keeps_its_field_order_undeinterlaced(
    tmp_path, capsys, local_ray, spec, codec, suffix
):
    source = make_clip(tmp_path / "interlaced.mkv", spec)
    assert probe(source).video.field_order == spec.field_order
    out = tmp_path / f"out.{suffix}"

    code, _, err = vidcolor(capsys, "run", source, "-o", out, "--codec", codec, *FAST)

    assert code == 0, err
    assert probe(out).video.field_order == spec.field_order
    with av.open(str(out)) as container:
        assert all(frame.interlaced_frame for frame in container.decode(video=0))
    if codec == "ffv1":  # every line as it was: nothing deinterlaced
        ours, theirs = decode_all_luma(out), decode_all_luma(source)
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


# ---------------------------------------------------------------- many streams


@pytest.fixture(scope="module")
def many_streams(tmp_path_factory) -> Path:
    """MKV: video H.264 and FFV1, audio AAC and FLAC, subtitles SubRip and ASS."""
    folder = tmp_path_factory.mktemp("many")
    first = make_clip(folder / "first.mp4", ClipSpec(frames=12, size=(64, 48), audio=True))
    second = make_clip(folder / "second.mkv", ClipSpec(frames=12, size=(64, 48), codec="ffv1"))
    flac = make_audio(folder / "flac.mka", seconds=0.5, codec="flac")
    srt = folder / "en.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,400\nHello\n")
    ass = folder / "fr.ass"
    ffmpeg("-i", srt, ass)
    many = folder / "many.mkv"
    ffmpeg("-i", first, "-i", second, "-i", flac, "-i", srt, "-i", ass,
           "-map", "0:v", "-map", "1:v", "-map", "0:a", "-map", "2:a", "-map", "3", "-map", "4",
           "-c", "copy", many)  # fmt: skip
    return many


@pytest.mark.slow
def test_chosen_video_stream_colorized_every_other_stream_kept(
    tmp_path, capsys, local_ray, many_streams
):
    source = probe(many_streams)
    kinds = [(s.kind, s.codec) for s in source.streams]
    assert kinds == [("video", "h264"), ("video", "ffv1"), ("audio", "aac"), ("audio", "flac"),
                     ("subtitle", "subrip"), ("subtitle", "ass")]  # fmt: skip
    assert source.video.index == 0  # without --stream: the first video stream
    out = tmp_path / "out.mkv"

    code, _, err = vidcolor(
        capsys, "run", many_streams, "-o", out, "--stream", "1", "--codec", "ffv1", *FAST
    )

    assert code == 0, err
    result = probe(out)
    assert [(s.kind, s.codec) for s in result.streams] == kinds
    for index in (0, 2, 3, 4, 5):  # copied bit for bit
        assert packets(out, index) == packets(many_streams, index), index
    colorized = probe(out, stream=1).video
    assert colorized.frame_count == 12 and colorized.pts == probe(many_streams, 1).video.pts
    assert packets(out, 1) != packets(many_streams, 1)


# ---------------------------------------------------------------- file names


@pytest.mark.slow
def test_awkward_file_names_work_in_and_out(tmp_path, capsys, local_ray):
    folder = tmp_path / "in 'a' \"folder\" é"
    source = make_clip(folder / "-take \"one\" 'two' ü\nline:2.mkv", TINY)
    out_folder = tmp_path / "out folder ü"
    out_folder.mkdir()
    out = out_folder / "-colored \"one\" 'two'\nline:2.mkv"

    code, stdout, err = vidcolor(capsys, "run", f"--output={out}", *FAST, "--", source)

    assert code == 0, err
    assert probe(out).video.pts == probe(source).video.pts
    assert sorted(out_folder.iterdir()) == [out]  # no work folder or partial file left
    assert str(out) in stdout
    code, stdout, _ = vidcolor(capsys, "probe", "--", out)
    assert code == 0 and "12 frames" in stdout


def test_error_naming_a_file_with_a_line_break_stays_on_one_line(tmp_path, capsys):
    name = tmp_path / "two\nlines.mp4"
    name.write_text("not video")
    code, _, err = vidcolor(capsys, "run", name, *FAST)
    assert code == 2 and err.count("\n") == 1 and "two\\nlines.mp4" in err


# ---------------------------------------------------------------- where the output goes


@pytest.mark.parametrize(
    ("output", "why", "code"),
    [
        ("{tmp}/nowhere/out.mp4", "does not exist", 4),
        ("{tmp}/sub/../clip.mp4", "is the input", 4),
        ("{tmp}/link.mp4", "is the input", 4),
        ("{tmp}/taken.mp4", "already exists", 4),
    ],
)
def test_bad_output_is_refused_before_any_work(tmp_path, capsys, output, why, code):
    source = make_clip(tmp_path / "clip.mp4", TINY)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.mp4").symlink_to(source)
    (tmp_path / "taken.mp4").write_bytes(b"someone's file")
    before = {p: digest(p) for p in tmp_path.iterdir() if p.is_file()}

    result, _, err = vidcolor(capsys, "run", source, "-o", output.format(tmp=tmp_path), *FAST)

    assert result == code and why in error_line(err)
    assert {p: digest(p) for p in tmp_path.iterdir() if p.is_file()} == before
    assert not list(tmp_path.glob(".*"))


def _without_root_overrides() -> None:
    """In the child before exec: root loses its power to write where permissions say no
    (capabilities CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, dropped from the bounding set)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unwritable_output_folder_is_refused_before_any_work(tmp_path):
    source = make_clip(tmp_path / "clip.mp4", TINY)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    as_root = os.geteuid() == 0
    try:
        result = subprocess.run(
            [sys.executable, "-m", "vidcolor.cli", "run", source, "-o", locked / "out.mp4"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
            preexec_fn=_without_root_overrides if as_root else None,
        )  # fmt: skip
    except subprocess.SubprocessError as error:
        pytest.skip(f"cannot drop root's capabilities here: {error}")
    finally:
        locked.chmod(0o755)
    assert result.returncode == 4, result.stderr
    assert "not writable" in error_line(result.stderr) and str(locked) in result.stderr
    assert list(locked.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "locked"]


# ---------------------------------------------------------------- a full disk


FFMPEG_ON_A_FULL_DISK = """\
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
os.execv({ffmpeg!r}, [{ffmpeg!r}, *sys.argv[1:]])
"""


@pytest.mark.slow
def test_disk_full_while_joining_leaves_no_output_and_the_input_intact(
    tmp_path, capsys, monkeypatch, local_ray
):
    source = make_clip(tmp_path / "clip.mkv", ClipSpec(frames=12, size=(64, 48), audio=True))
    before = digest(source)
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f"#!{sys.executable}\n" + FFMPEG_ON_A_FULL_DISK.format(
        limit=8192, ffmpeg=ffmpeg_exe()))  # fmt: skip
    wrapper.chmod(0o755)
    monkeypatch.setenv("VIDCOLOR_FFMPEG", str(wrapper))
    out = tmp_path / "out.mkv"

    code, _, err = vidcolor(capsys, "run", source, "-o", out, "--codec", "ffv1", *FAST)

    line = error_line(err)
    assert code == 4 and "no room" in line and str(out) in line, line
    assert not out.exists() and not list(tmp_path.glob(".*vidcolor-partial*"))
    assert digest(source) == before
    assert "kept in" in err  # the colorized segments wait for the same command, to resume
