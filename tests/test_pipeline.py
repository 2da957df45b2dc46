"""End to end through the real pipeline: probe -> chunks -> Ray workers -> ffmpeg assembly."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import ray
from media import ClipSpec, audio_packets, decode_all_luma, make_clip

from vidcolor.config import load_config
from vidcolor.pipeline import run
from vidcolor.probing import probe

FAST = ["model.render_factor=4", "encode.preset=ultrafast"]


pytestmark = pytest.mark.usefixtures("local_ray")


def colorize(source: Path, out: Path, *overrides: str) -> Path:
    return run(source, out, load_config(None, [*FAST, *overrides])).output


def times(path: Path) -> list[Fraction]:
    """Every video frame's presentation time in seconds, exactly."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.pts * stream.time_base for frame in container.decode(stream)]


def decode_planes(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [
            np.concatenate([np.frombuffer(bytes(p), np.uint8) for p in f.planes])
            for f in container.decode(video=0)
        ]


def luma_psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([np.mean((x.astype(np.float64) - y) ** 2) for x, y in zip(a, b, strict=True)])
    return 10 * math.log10(255**2 / mse)


def test_embedded_ray_listens_on_loopback_only():
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    assert all(node["NodeManagerAddress"] == "127.0.0.1" for node in ray.nodes())


@pytest.mark.slow
def test_same_frames_fps_duration_and_audio(tmp_path, bframe_clip):
    out = colorize(bframe_clip, tmp_path / "out.mp4", "chunks.size=30")
    src, dst = probe(bframe_clip).video, probe(out).video
    assert dst.frame_count == src.frame_count == 100
    assert dst.fps == src.fps
    assert abs(dst.duration - src.duration) < 1 / src.fps
    assert times(out) == times(bframe_clip)
    assert audio_packets(out) == audio_packets(bframe_clip)
    assert len(audio_packets(out)) > 0


@pytest.mark.slow
def test_ffv1_output_keeps_luma_bit_for_bit(tmp_path, bframe_clip):
    out = colorize(bframe_clip, tmp_path / "out.mkv", "encode.codec=ffv1", "chunks.size=33")
    ours, source = decode_all_luma(out), decode_all_luma(bframe_clip)
    assert len(ours) == len(source)
    assert all(np.array_equal(a, b) for a, b in zip(ours, source, strict=True))


@pytest.mark.slow
def test_ffv1_keeps_10_bit_luma(tmp_path, ffv1_10bit_clip):
    out = colorize(ffv1_10bit_clip, tmp_path / "out.mkv", "encode.codec=ffv1")
    assert probe(out).video.bit_depth == 10
    ours, source = decode_all_luma(out), decode_all_luma(ffv1_10bit_clip)
    assert ours[0].dtype == np.uint16
    assert all(np.array_equal(a, b) for a, b in zip(ours, source, strict=True))


@pytest.mark.slow
def test_colorized_output_has_color(tmp_path, bframe_clip):
    out = colorize(bframe_clip, tmp_path / "out.mkv", "encode.codec=ffv1")
    with av.open(str(out)) as container:
        frame = next(container.decode(video=0))
        cb = np.frombuffer(bytes(frame.planes[1]), np.uint8)
    assert np.abs(cb.astype(int) - 128).max() > 5  # chroma is no longer neutral


@pytest.mark.slow
def test_h264_luma_within_half_db_of_plain_reencode(tmp_path):
    source = make_clip(tmp_path / "src.mkv", ClipSpec(codec="ffv1", frames=24, size=(192, 128)))
    ours = colorize(source, tmp_path / "ours.mp4", "encode.preset=medium")
    plain = tmp_path / "plain.mp4"
    with av.open(str(source)) as inp, av.open(str(plain), "w") as out:
        stream = out.add_stream("libx264", rate=inp.streams.video[0].average_rate)
        stream.width, stream.height, stream.pix_fmt = 192, 128, "yuv420p"
        stream.options = {"crf": "17", "preset": "medium"}
        for frame in inp.decode(video=0):
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    reference = decode_all_luma(source)
    ours_db, plain_db = (
        luma_psnr(decode_all_luma(ours), reference),
        luma_psnr(decode_all_luma(plain), reference),
    )
    assert ours_db >= plain_db - 0.5, (ours_db, plain_db)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["flow", "window"])
def test_identical_for_workers_and_chunk_sizes(tmp_path, bframe_clip, mode):
    common = ("encode.codec=ffv1", f"smooth.mode={mode}")
    one = colorize(bframe_clip, tmp_path / "one.mkv", *common, "run.workers=1", "chunks.size=1000")
    two = colorize(bframe_clip, tmp_path / "two.mkv", *common, "run.workers=2", "chunks.size=7")
    a, b = decode_planes(one), decode_planes(two)
    assert len(a) == len(b) == 100
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.slow
def test_smoothing_stops_at_a_cut(tmp_path):
    # Two lossless clips whose frames differ only before the cut, which falls on a chunk start
    # (chunks of 7): from the cut on, their colorized frames must be bit-identical.
    spec = ClipSpec(codec="ffv1", frames=24, pattern="cut", cut_at=14)
    other_start = dataclasses.replace(spec, scenes=(2, 1))
    clips = [make_clip(tmp_path / "a.mkv", spec), make_clip(tmp_path / "b.mkv", other_start)]
    decoded = {}
    for detect in ("true", "false"):
        for clip in clips:
            config = load_config(
                None, [*FAST, "encode.codec=ffv1", "chunks.size=7", f"smooth.detect_cuts={detect}"]
            )
            summary = run(clip, tmp_path / f"{clip.stem}_{detect}.mkv", config)
            assert summary.cuts == ((14,) if detect == "true" else ())
            decoded[clip.stem, detect] = decode_planes(summary.output)
    a, b = decoded["a", "true"], decoded["b", "true"]
    assert all(np.array_equal(x, y) for x, y in zip(a[14:], b[14:], strict=True))
    assert not np.array_equal(a[13], b[13])
    # The test can fail: with detection off, the first frames after the cut take color from
    # the different frames before it.
    assert not np.array_equal(decoded["a", "false"][14], decoded["b", "false"][14])


@pytest.mark.slow
def test_listed_and_detected_cuts_are_reported(tmp_path, cut_clip):
    listed = tmp_path / "cuts.txt"
    listed.write_text("# a cut the detector cannot see\n5\n")
    config = load_config(None, [*FAST, f"smooth.cuts={listed}", "chunks.size=20"])
    assert run(cut_clip, tmp_path / "listed.mp4", config).cuts == (5, 30)


@pytest.mark.slow
def test_variable_frame_rate_keeps_every_timestamp(tmp_path, vfr_clip):
    out = colorize(vfr_clip, tmp_path / "out.mp4", "chunks.size=10")
    assert probe(out).video.vfr
    assert times(out) == times(vfr_clip)


@pytest.mark.slow
def test_18_fps_film_stays_18_fps_in_mkv(tmp_path):
    source = make_clip(tmp_path / "film.mkv", ClipSpec(fps=Fraction(18), frames=40, audio=True))
    out = colorize(source, tmp_path / "out.mkv", "chunks.size=16")
    assert probe(out).video.fps == Fraction(18)
    assert times(out) == times(source)
    assert audio_packets(out) == audio_packets(source)


@pytest.mark.slow
@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "h264"), (".mkv", "ffv1")])
def test_rotation_sar_and_color_tags_carried_over(tmp_path, suffix, codec):
    spec = ClipSpec(frames=8, rotation=90, sar=Fraction(4, 3), color_tags="bt709",
                    color_range="tv")  # fmt: skip
    source = make_clip(tmp_path / f"src{suffix}", spec)
    out = colorize(source, tmp_path / f"out{suffix}", f"encode.codec={codec}")
    src, dst = probe(source).video, probe(out).video
    assert (dst.rotation, dst.sar) == (src.rotation, src.sar) == (90, Fraction(4, 3))
    for tag in ("color_range", "color_space", "color_primaries", "color_trc"):
        assert getattr(dst, tag) == getattr(src, tag) != "unknown", tag


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.parametrize(
    "name",
    ["chaplin.mp4", "a-bomb_blast_effects_part.mp4", "nasa_13013.mp4", "big_buck_bunny_0_30.webm"],
)
def test_real_clips_keep_every_stream(tmp_path, shared_media, name):
    source = shared_media / name
    summary = run(
        source,
        tmp_path / f"out{Path(name).suffix}".replace(".webm", ".mkv"),
        load_config(None, [*FAST, "chunks.size=120"]),
    )
    src, dst = probe(source), probe(summary.output)
    kinds = [(s.kind, s.codec if s.kind != "video" else None) for s in src.streams]
    assert [(s.kind, s.codec if s.kind != "video" else None) for s in dst.streams] == kinds
    assert dst.video.frame_count == src.video.frame_count
    assert times(summary.output) == times(source)
    for index in range(sum(s.kind == "audio" for s in src.streams)):
        assert audio_packets(summary.output, index) == audio_packets(source, index)
