import json
import math
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from media import make_clip

from vidcolor import evaluate, metrics
from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig, SmoothConfig
from vidcolor.errors import InputError

RENDER_FACTOR = 4  # the network sees 64 px on the long side: fast on CPU
SHARED = Path(__file__).resolve().parents[2] / "shared"
HELDOUT = SHARED / "data" / "colorize" / "heldout" / "bsds500_test"
# (width, height) of the generated pictures: two landscape, one portrait, so two render sizes.
SIZES = {"a.png": (96, 64), "b.jpg": (64, 96), "c.png": (96, 64)}


def _cv2_lab(rgb_uint8):
    # Independent Lab: OpenCV's float path (D65), within ~0.2 of the exact formula.
    return cv2.cvtColor(rgb_uint8.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)


def _picture(width, height, seed):
    """A colorful uint8 RGB picture: ramps plus a random color per 16x16 block."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    blocks = rng.uniform(0, 255, (height // 16 + 1, width // 16 + 1, 3))[y // 16, x // 16]
    ramps = np.stack([255 * x / width, 255 * y / height, 128 + 0 * x], axis=-1)
    return np.rint((blocks + ramps) / 2).astype(np.uint8)


def _write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer(ModelConfig(render_factor=RENDER_FACTOR, batch_size=2, device="cpu"))


@pytest.fixture
def folder(tmp_path):
    for seed, (name, size) in enumerate(SIZES.items()):
        _write(tmp_path / "pictures" / name, _picture(*size, seed))
    (tmp_path / "pictures" / "notes.txt").write_text("not an image")
    return tmp_path / "pictures"


def test_list_images_finds_pictures_only_in_name_order(folder):
    _write(folder / "sub" / "d.jpeg", _picture(64, 64, 9))
    names = [p.relative_to(folder).as_posix() for p in evaluate.list_images(folder)]
    assert names == ["a.png", "b.jpg", "c.png", "sub/d.jpeg"]


def test_evaluate_images_report(colorizer, folder, tmp_path):
    sheet = tmp_path / "sheet.png"
    report = evaluate.evaluate_images(
        colorizer, folder, render_factor=RENDER_FACTOR, mean_ab=(5.0, 10.0), sheet_path=sheet
    )
    assert report["count"] == 3
    assert [item["name"] for item in report["items"]] == list(SIZES)
    assert set(report["methods"]) == {"ours", "gray", "mean_ab"}
    for scores in report["methods"].values():
        assert set(scores) == {
            "psnr_rgb",
            "psnr_ab",
            "colorfulness",
            "delta_colorfulness",
            "count",
        }
        assert scores["count"] == 3
        assert all(math.isfinite(v) for v in scores.values())
    truths = [cv2.cvtColor(cv2.imread(str(folder / n)), cv2.COLOR_BGR2RGB) for n in SIZES]
    gray = report["methods"]["gray"]
    assert gray["colorfulness"] == 0.0
    # ab = 0 against the truth's ab: PSNR from the mean of a**2 + b**2 over both channels.
    expected = [10 * math.log10(255**2 / np.mean(_cv2_lab(t)[..., 1:] ** 2)) for t in truths]
    assert gray["psnr_ab"] == pytest.approx(np.mean(expected), abs=0.05)
    truth_cf = np.mean([metrics.colorfulness(t / 255) for t in truths])
    assert report["truth"]["colorfulness"] == pytest.approx(truth_cf, rel=1e-6)
    assert gray["delta_colorfulness"] == pytest.approx(truth_cf, rel=1e-6)
    assert report["methods"]["mean_ab"]["colorfulness"] > 0
    assert report["sheet"] == str(sheet)
    # 3 rows of 160 px; a row is 3 tiles, 240 px wide for 96x64 pictures (107 for 64x96).
    assert cv2.imread(str(sheet)).shape == (3 * 160, 3 * 240, 3)


def test_colorize_image_matches_the_batched_evaluation(colorizer, folder):
    report = evaluate.evaluate_images(
        colorizer, folder, render_factor=RENDER_FACTOR, mean_ab=(0.0, 0.0), limit=2, sheet_path=None
    )
    assert report["count"] == 2
    assert report["sheet"] is None
    truth = cv2.cvtColor(cv2.imread(str(folder / "b.jpg")), cv2.COLOR_BGR2RGB)
    out = evaluate.colorize_image(colorizer, truth, render_factor=RENDER_FACTOR)
    assert out.shape == truth.shape
    assert out.dtype == np.uint8
    # Alone or in a batch of two with another render size, a picture comes out the same.
    got = metrics.psnr_rgb(out / 255, truth / 255)
    assert got == pytest.approx(report["items"][1]["ours"]["psnr_rgb"], abs=1e-9)


def test_mean_ab_of_a_solid_color(tmp_path):
    _write(tmp_path / "solid.png", np.full((8, 12, 3), (200, 100, 50), np.uint8))
    # cv2.cvtColor(np.float32([[[200, 100, 50]]]) / 255, cv2.COLOR_RGB2Lab)
    #   -> [[[53.515625, 36.375, 45.3125]]]
    assert evaluate.mean_ab(tmp_path) == pytest.approx((36.375, 45.3125), abs=0.3)


def test_mean_ab_weights_pixels_and_respects_limit(tmp_path):
    _write(tmp_path / "1.png", np.full((2, 2, 3), (200, 100, 50), np.uint8))
    _write(tmp_path / "2.png", np.full((4, 4, 3), (40, 90, 220), np.uint8))
    # 4 pixels of one color and 16 of the other, Lab from OpenCV as above.
    first = _cv2_lab(np.uint8([[[200, 100, 50]]]))[0, 0, 1:]
    second = _cv2_lab(np.uint8([[[40, 90, 220]]]))[0, 0, 1:]
    expected = (4 * first + 16 * second) / 20
    assert evaluate.mean_ab(tmp_path) == pytest.approx(tuple(expected), abs=0.3)
    assert evaluate.mean_ab(tmp_path, limit=1) == pytest.approx(tuple(first), abs=0.3)


def test_no_pictures_is_an_input_error(tmp_path, colorizer):
    with pytest.raises(InputError, match=r"no \.jpg"):
        evaluate.mean_ab(tmp_path)
    with pytest.raises(InputError, match=r"no \.jpg"):
        evaluate.evaluate_images(colorizer, tmp_path, render_factor=4, mean_ab=(0, 0))


def test_evaluate_video(colorizer, tmp_path):
    clip = make_clip(
        tmp_path / "color.mp4", frames=6, size=(96, 64), chroma=True, sar=Fraction(4, 3)
    )
    sheet = tmp_path / "video_sheet.png"
    report = evaluate.evaluate_video(
        colorizer,
        clip,
        render_factor=RENDER_FACTOR,
        mean_ab=(0.0, 0.0),
        max_frames=4,
        sheet_path=sheet,
        sheet_rows=3,
    )
    assert report["kind"] == "video"
    assert [item["frame"] for item in report["items"]] == [0, 1, 2, 3]
    assert report["methods"]["ours"]["count"] == 4
    assert report["truth"]["colorfulness"] > 0  # chroma=True: the clip really has color
    assert report["methods"]["gray"]["colorfulness"] == 0.0
    # With mean ab = 0 the mean_ab baseline (L + ab through lab_to_rgb) is the gray picture.
    methods = report["methods"]
    assert methods["mean_ab"]["psnr_rgb"] == pytest.approx(methods["gray"]["psnr_rgb"], abs=0.01)
    assert methods["mean_ab"]["colorfulness"] < 0.5
    # 3 frames of 96x64 shown at 4:3 sample aspect: tiles 128 * 160 / 64 = 320 px wide.
    assert cv2.imread(str(sheet)).shape == (3 * 160, 3 * 320, 3)
    # Scored as a video too: ours smoothed as configured, temporal metrics for every method.
    assert report["smooth"]["mode"] == SmoothConfig().mode
    assert report["smooth"]["cuts"] == []
    for scores in [*methods.values(), report["truth"]]:
        assert {"warp_error", "warp_error_ab", "cdc"} <= set(scores)
        assert all(math.isfinite(scores[k]) for k in ("warp_error", "warp_error_ab", "cdc"))
    assert methods["gray"]["warp_error_ab"] == pytest.approx(0.0, abs=1e-6)
    assert report["timing"]["predict_per_frame"] > 0
    assert report["timing"]["smooth_per_frame"] >= 0


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory):
    """12 colorful lossless frames with a hard cut at frame 6."""
    path = tmp_path_factory.mktemp("video") / "cut.mkv"
    return make_clip(
        path, codec="ffv1", frames=12, size=(96, 64), chroma=True, pattern="cut", cut_at=6
    )


@pytest.mark.slow
def test_evaluate_video_smooths_ours_and_stops_at_cuts(colorizer, cut_video):
    clip = cut_video
    common = {"render_factor": RENDER_FACTOR, "mean_ab": (0.0, 0.0)}
    off = evaluate.evaluate_video(colorizer, clip, smooth=SmoothConfig(mode="off"), **common)
    flow = evaluate.evaluate_video(colorizer, clip, smooth=SmoothConfig(mode="flow"), **common)
    listed = SmoothConfig(mode="off", cuts="2", detect_cuts=False)
    only = evaluate.evaluate_video(colorizer, clip, smooth=listed, **common)
    assert off["smooth"]["cuts"] == flow["smooth"]["cuts"] == [6]
    assert only["smooth"]["cuts"] == [2]
    # Smoothing changes ours only; the baselines and the truth are scored alike.
    for key in ("psnr_rgb", "warp_error", "cdc"):
        assert off["methods"]["gray"][key] == flow["methods"]["gray"][key]
        assert off["truth"].get(key) == flow["truth"].get(key)
    assert off["methods"]["ours"]["warp_error"] != flow["methods"]["ours"]["warp_error"]
    # A cut changes which pairs count, so the same frames score differently.
    assert only["truth"]["warp_error"] != off["truth"]["warp_error"]


def test_evaluate_video_from_a_start_frame(colorizer, cut_video):
    clip = cut_video
    common = {"render_factor": RENDER_FACTOR, "mean_ab": (0.0, 0.0)}
    off = SmoothConfig(mode="off")
    whole = evaluate.evaluate_video(colorizer, clip, smooth=off, **common)
    part = evaluate.evaluate_video(colorizer, clip, smooth=off, start=4, max_frames=4, **common)
    assert [item["frame"] for item in part["items"]] == [4, 5, 6, 7]
    assert part["start"] == 4
    assert part["smooth"]["cuts"] == [6]  # frame numbers of the whole video
    # Unsmoothed, each frame scores as it does in the whole run: the same frames were scored.
    assert [i["ours"] for i in part["items"]] == [i["ours"] for i in whole["items"][4:8]]
    with pytest.raises(InputError, match=r"start frame 12 is outside its frames 0\.\.11"):
        evaluate.evaluate_video(colorizer, clip, smooth=off, start=12, **common)


def test_one_frame_video_has_no_temporal_scores(colorizer, tmp_path):
    clip = make_clip(tmp_path / "one.mp4", frames=1, size=(96, 64), chroma=True)
    report = evaluate.evaluate_video(colorizer, clip, render_factor=RENDER_FACTOR, mean_ab=(0, 0))
    assert math.isnan(report["methods"]["ours"]["warp_error"])
    path = tmp_path / "report.json"
    evaluate.write_report(report, path)
    assert json.loads(path.read_text())["methods"]["ours"]["cdc"] is None


def test_write_report_is_strict_sorted_json(tmp_path):
    path = tmp_path / "report.json"
    evaluate.write_report({"b": {"psnr": math.inf, "x": [1.5, -math.inf]}, "a": 1}, path)
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"')
    assert "Infinity" not in text
    assert json.loads(text) == {"a": 1, "b": {"psnr": None, "x": [1.5, None]}}


@pytest.mark.shared
def test_heldout_photographs(colorizer, tmp_path):
    if not HELDOUT.is_dir():
        pytest.skip(f"held-out photographs not found at {HELDOUT}")
    mean = evaluate.mean_ab(HELDOUT, limit=2)
    report = evaluate.evaluate_images(
        colorizer, HELDOUT, render_factor=RENDER_FACTOR, mean_ab=mean, limit=2
    )
    assert report["count"] == 2
    assert [item["name"] for item in report["items"]] == [
        p.name for p in evaluate.list_images(HELDOUT)[:2]
    ]
    # The README promises no near-gray photographs here.
    assert report["truth"]["colorfulness"] > 5
