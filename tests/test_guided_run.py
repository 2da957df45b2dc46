"""Guided runs end to end (issue 17): references and hints through the real pipeline and eval."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from media import ClipSpec, decode_all_luma, make_clip

from vidcolor import evaluate, metrics
from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig, load_config
from vidcolor.evaluate.pictures import lab, to_gray
from vidcolor.guidance import load_guidance
from vidcolor.pipeline import run
from vidcolor.probing import probe

FAST = ["model.render_factor=4", "encode.codec=ffv1"]
TINT = np.array([1.0, 0.78, 0.5])  # a warm tint: Lab b well above 0

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("local_ray")]


def tinted(luma: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """A color picture of a frame as another tool might make it: another tone curve, a tint."""
    gray = (luma.astype(np.float64) / 255) ** gamma
    return np.round(np.clip(gray[..., None] * TINT, 0, 1)[..., ::-1] * 255).astype(np.uint8)


def frame_ab(path: Path) -> list[np.ndarray]:
    """Every frame's Lab ab (OpenCV's Lab), ``(H, W, 2)`` float32."""
    with av.open(str(path)) as container:
        rgbs = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return [cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[..., 1:] for x in rgbs]


def planes(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [np.concatenate([np.frombuffer(bytes(p), np.uint8) for p in f.planes])
                for f in container.decode(video=0)]  # fmt: skip


@pytest.fixture(scope="module")
def guided_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 60-frame clip with a cut at 30, and a tinted reference of frame 10."""
    folder = tmp_path_factory.mktemp("guided")
    clip = make_clip(
        folder / "clip.mkv", ClipSpec(frames=60, pattern="cut", cut_at=30, codec="ffv1")
    )
    luma = decode_all_luma(clip)[10]
    reference = folder / "refs" / "clip_000010.png"
    reference.parent.mkdir()
    assert cv2.imwrite(str(reference), tinted(luma, gamma=1.4))
    return clip, reference


def test_a_reference_colors_its_shot_alike_in_any_chunking_and_stops_at_the_cut(
    guided_clip: tuple[Path, Path], tmp_path: Path
) -> None:
    clip, reference = guided_clip
    runs = {}
    for name, extra in (("one", ["run.workers=1", "chunks.size=1000"]),
                        ("two", ["run.workers=2", "chunks.size=7"])):  # fmt: skip
        config = load_config(None, [*FAST, *extra])
        runs[name] = run(clip, tmp_path / f"{name}.mkv", config, references=[reference.parent])
    plain = run(clip, tmp_path / "plain.mkv", load_config(None, FAST)).output
    one, two, auto = planes(runs["one"].output), planes(runs["two"].output), planes(plain)
    assert all(np.array_equal(a, b) for a, b in zip(one, two, strict=True))
    # The second shot is colorized automatically, as without guidance.
    assert all(np.array_equal(a, b) for a, b in zip(one[30:], auto[30:], strict=True))
    assert not np.array_equal(one[20], auto[20])
    # The reference frame has the reference's colors; its shot carries them.
    truth = cv2.cvtColor(cv2.imread(str(reference)).astype(np.float32) / 255,
                         cv2.COLOR_BGR2Lab)[..., 1:]  # fmt: skip
    ours, theirs = frame_ab(runs["one"].output), frame_ab(plain)
    assert np.abs(ours[10] - truth).mean() < 1.5 < np.abs(theirs[10] - truth).mean()
    assert ours[25][..., 1].mean() > truth[..., 1].mean() - 4  # still warm at frame 25


def test_guidance_is_part_of_the_run_key(guided_clip: tuple[Path, Path], tmp_path: Path) -> None:
    clip, reference = guided_clip
    config = load_config(None, [*FAST, "run.keep_work=true", "chunks.size=20"])
    out = tmp_path / "out.mkv"
    run(clip, out, config)
    again = run(clip, out, config, overwrite=True)
    assert again.reused == 3  # the same settings reuse every segment
    guided = run(clip, out, config, overwrite=True, references=[reference])
    assert guided.reused == 0


def panning_color_clip(path: Path, frames: int = 24) -> Path:
    """A camera panning 2 px a frame over a picture of colored blobs, losslessly (4:4:4), as
    saturated as natural footage (half gray: fully saturated noise has an L* unlike its luma)."""
    rng = np.random.default_rng(7)
    blobs = cv2.GaussianBlur(rng.random((96, 240, 3)).astype(np.float32), (0, 0), 6)
    lo, hi = blobs.min(axis=(0, 1)), blobs.max(axis=(0, 1))
    blobs = (blobs - lo) / (hi - lo)
    blobs = 0.5 * blobs + 0.5 * blobs.mean(axis=2, keepdims=True)
    picture = np.round(255 * blobs).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv444p"
        for t in range(frames):
            rgb = np.ascontiguousarray(picture[:, 2 * t : 2 * t + 160])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def test_eval_scores_a_guided_run_above_the_automatic_one(tmp_path: Path) -> None:
    clip = panning_color_clip(tmp_path / "color.mkv")
    with av.open(str(clip)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    reference = tmp_path / "000000.png"
    assert cv2.imwrite(str(reference), first[..., ::-1])
    colorizer = Colorizer(ModelConfig(render_factor=4))
    common = {"render_factor": 4, "mean_ab": (0.0, 0.0)}
    auto = evaluate.evaluate_video(colorizer, clip, **common)
    guidance = load_guidance(probe(clip), [reference])
    guided = evaluate.evaluate_video(colorizer, clip, guidance=guidance, **common)
    # Frame 0 comes out with its reference's colors: as the true ab on the gray's lightness.
    best = evaluate.merge_gray_ab(to_gray(first), np.moveaxis(lab(first)[..., 1:], -1, 0))
    bound = metrics.psnr_rgb(best.astype(np.float64) / 255, first.astype(np.float64) / 255)
    assert guided["items"][0]["ours"]["psnr_rgb"] == pytest.approx(bound, abs=0.5)
    assert guided["methods"]["ours"]["psnr_rgb"] > auto["methods"]["ours"]["psnr_rgb"] + 3


@pytest.mark.shared
def test_a_real_clip_with_a_reference_from_another_tool(shared_media: Path, tmp_path: Path) -> None:
    """chaplin.mp4 with frame 60 recolored elsewhere: another tone curve, a warm tint."""
    from vidcolor.decode import read_frames

    source = tmp_path / "chaplin.mkv"  # its first 90 frames, losslessly (FFV1), audio kept
    info = probe(shared_media / "chaplin.mp4")
    lumas = [f.luma for f in read_frames(info, 0, 90)]
    with av.open(str(source), "w") as out:
        stream = out.add_stream("ffv1", rate=info.video.fps)
        stream.width, stream.height, stream.pix_fmt = info.video.width, info.video.height, "gray"
        for luma in lumas:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(luma, format="gray")))
        out.mux(stream.encode(None))
    reference = tmp_path / "chaplin_60.png"
    assert cv2.imwrite(str(reference), tinted(lumas[60], gamma=1.6))
    config = load_config(None, [*FAST, "chunks.size=40"])
    guided = run(source, tmp_path / "out.mkv", config, references=[reference])
    ours = frame_ab(guided.output)
    truth = cv2.cvtColor(cv2.imread(str(reference)).astype(np.float32) / 255,
                         cv2.COLOR_BGR2Lab)[..., 1:]  # fmt: skip
    assert np.abs(ours[60] - truth).mean() < 1.5
    for t in (50, 75):  # carried both ways, from the frame's colors and not the film's tones
        assert np.abs(ours[t] - truth).mean() < 4.0, t
