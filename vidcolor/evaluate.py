"""Scores a Colorizer on color pictures turned gray: color images in a folder, or a color video.

Each picture is made gray the way a black-and-white source would be (BT.601 luma of its sRGB
values), colorized as :mod:`vidcolor.worker` colorizes a frame, and compared with the original.
Two baselines from the same run give the numbers a scale: ``gray`` (ab = 0: the gray input
itself) and ``mean_ab`` (one constant ab, the training set's mean color, which a network that
learned only the average would output). A model earns its keep by beating both.

A video is also scored as a video: ours is smoothed as the pipeline smooths it (``smooth``
config, scene cuts included), and every method, the truth too, gets warp error and CDC
(:class:`~vidcolor.metrics.TemporalScores`). A gray or frozen video scores well on those, so
they are reported next to colorfulness and PSNR, never alone.

Works with any built Colorizer, trained or not; nothing here knows about the CLI.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import color, metrics
from vidcolor.colorize import Colorizer
from vidcolor.config import SmoothConfig
from vidcolor.cuts import CutDetector, listed_cuts
from vidcolor.errors import DecodeError, InputError, OutputError
from vidcolor.probe import probe
from vidcolor.smooth import Smoother

METHODS = ("ours", "gray", "mean_ab")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SHEET_ROWS = 8  # pictures on a contact sheet: enough to judge, small enough to open anywhere
SHEET_TILE_HEIGHT = 160
_SHEET_COLUMNS = ("gray", "ours", "truth")
_BT601 = np.array([0.299, 0.587, 0.114], np.float32)  # luma weights of SD video and JPEG

Row = dict[str, Any]
Item = tuple[Row, np.ndarray, dict[str, np.ndarray]]  # (label, truth, output per method)


def list_images(folder: str | Path) -> list[Path]:
    """Every .jpg, .jpeg and .png under ``folder`` (subfolders too), sorted by relative path."""
    root = Path(folder)
    found = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB (gray and alpha files are made 3-channel)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{path}: cannot read this image; check that it is a valid JPEG or PNG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """What a black-and-white source shows for a color picture: BT.601 Y' of its sRGB values.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.

    Returns:
        ``(H, W)`` float32 Y' in [0, 1] (R = G = B of the gray picture), not rounded to 8 bits.
    """
    return (rgb.astype(np.float32) @ _BT601) / np.float32(255.0)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W, 3)`` float32 Lab (D65), via :mod:`vidcolor.color`."""
    chw = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)
    return color.rgb_to_lab(chw).permute(1, 2, 0).numpy()


def render_lightness(gray: np.ndarray, render: tuple[int, int]) -> np.ndarray:
    """The network's input, as ``_ChunkState.lightness`` makes it: ``(h, w)`` float32 L."""
    small = cv2.resize(gray, render, interpolation=cv2.INTER_AREA)
    return color.gray_to_lightness(torch.from_numpy(small)).numpy()


def merge_gray_ab(gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Full-resolution L of ``gray`` with ``(2, h, w)`` ab, upsampled as the worker does.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    lightness = color.gray_to_lightness(torch.from_numpy(gray))[None, None]
    ab_small = torch.from_numpy(ab.astype(np.float32))[None]
    ab_full = F.interpolate(ab_small, size=gray.shape, mode="bilinear", align_corners=False)
    rgb = color.lab_to_rgb(torch.cat([lightness, ab_full], dim=1))[0]
    return _to_uint8(rgb.permute(1, 2, 0).numpy())


def _predict_ab(
    colorizer: Colorizer, grays: Sequence[np.ndarray], render_factor: int, sar: Fraction
) -> list[np.ndarray]:
    """``(2, h, w)`` ab per gray picture; pictures that share a render size share batches."""
    renders = [colorizer.render_size(g.shape[1], g.shape[0], sar, render_factor) for g in grays]
    found: dict[int, np.ndarray] = {}
    for render in dict.fromkeys(renders):
        picks = [i for i, r in enumerate(renders) if r == render]
        lightness = np.stack([render_lightness(grays[i], render) for i in picks])
        found.update(zip(picks, colorizer.predict(lightness), strict=True))
    return [found[i] for i in range(len(grays))]


def colorize_image(colorizer: Colorizer, rgb: np.ndarray, *, render_factor: int) -> np.ndarray:
    """Colorizes the gray version of a color image, as the video pipeline would.

    Args:
        colorizer: Any built Colorizer.
        rgb: ``(H, W, 3)`` uint8 RGB; only its BT.601 luma is used.
        render_factor: The long side the network sees is ``16 * render_factor`` (the
            Colorizer does not keep its config; pass ``config.model.render_factor``).

    Returns:
        ``(H, W, 3)`` uint8 RGB: the gray's full-resolution L with the predicted ab.
    """
    gray = to_gray(rgb)
    (ab,) = _predict_ab(colorizer, [gray], render_factor, Fraction(1))
    return merge_gray_ab(gray, ab)


def mean_ab(folder: str | Path, limit: int | None = None) -> tuple[float, float]:
    """Mean Lab (a, b) over every pixel of the first ``limit`` images of ``folder``.

    Pixels are weighted equally, so larger images count more. Compute it once on the training
    folder and pass it to the evaluate functions.
    """
    total, pixels = np.zeros(2, np.float64), 0
    for path in _listed(folder, limit):
        ab = _lab(read_rgb(path))[..., 1:]
        total += ab.reshape(-1, 2).sum(axis=0, dtype=np.float64)
        pixels += ab.shape[0] * ab.shape[1]
    return float(total[0] / pixels), float(total[1] / pixels)


def _pair(mean: Sequence[float]) -> tuple[float, float]:
    a, b = (float(v) for v in mean)
    return a, b


def _listed(folder: str | Path, limit: int | None) -> list[Path]:
    paths = list_images(folder)[:limit]
    if not paths:
        raise InputError(f"{folder}: no .jpg, .jpeg or .png images; give a folder of photographs")
    return paths


@dataclass(frozen=True)
class _Setup:
    """What every picture of one evaluation shares."""

    colorizer: Colorizer
    render_factor: int
    mean_ab: tuple[float, float]
    sar: Fraction = Fraction(1)


def _method_outputs(setup: _Setup, gray: np.ndarray, ab: np.ndarray) -> dict[str, np.ndarray]:
    """Every method's ``(H, W, 3)`` uint8 output for one gray picture and our ab."""
    constant = np.asarray(setup.mean_ab, np.float32).reshape(2, 1, 1)
    # The gray baseline (ab = 0) is the gray picture itself: going through lab_to_rgb would give
    # the same colors but could split R, G and B by a rounding level, so CF would not be 0.
    return {
        "ours": merge_gray_ab(gray, ab),
        "gray": np.repeat(_to_uint8(gray)[..., None], 3, axis=2),
        "mean_ab": merge_gray_ab(gray, constant),
    }


def _image_items(setup: _Setup, pictures: Iterable[tuple[Row, np.ndarray]]) -> Iterator[Item]:
    """Each (label, truth) picture with every method's output, batch by batch."""
    for batch in _batches(pictures, setup.colorizer.batch_size):
        grays = [to_gray(truth) for _, truth in batch]
        predicted = _predict_ab(setup.colorizer, grays, setup.render_factor, setup.sar)
        for (label, truth), gray, ab in zip(batch, grays, predicted, strict=True):
            yield label, truth, _method_outputs(setup, gray, ab)


def _score(outputs: dict[str, np.ndarray], truth: np.ndarray, labs: dict[str, np.ndarray]) -> Row:
    """Per-method PSNR RGB, PSNR ab and colorfulness of one picture, plus the truth's CF.

    ``labs`` holds the Lab of every output and of ``"truth"``.
    """
    truth_unit = truth / 255.0
    row: Row = {"truth": {"colorfulness": metrics.colorfulness(truth_unit)}}
    for method in METHODS:
        out = outputs[method]
        row[method] = {
            "psnr_rgb": metrics.psnr_rgb(out / 255.0, truth_unit),
            "psnr_ab": metrics.psnr_ab(labs[method], labs["truth"]),
            "colorfulness": metrics.colorfulness(out / 255.0),
        }
    return row


def _summary(rows: Sequence[Row]) -> dict[str, Any]:
    """Means over pictures; dCF is ``metrics.delta_colorfulness`` from the per-picture CFs."""
    truth_cf = float(np.mean([r["truth"]["colorfulness"] for r in rows]))
    methods = {}
    for method in METHODS:
        means = {
            key: float(np.mean([r[method][key] for r in rows]))
            for key in ("psnr_rgb", "psnr_ab", "colorfulness")
        }
        means["delta_colorfulness"] = abs(means["colorfulness"] - truth_cf)
        methods[method] = {**means, "count": len(rows)}
    return {"count": len(rows), "truth": {"colorfulness": truth_cf}, "methods": methods}


def tile(rgb: np.ndarray, label: str, sar: Fraction) -> np.ndarray:
    """``rgb`` at ``SHEET_TILE_HEIGHT`` px high (display aspect kept), ``label`` top left."""
    height, width = rgb.shape[:2]
    size = (max(1, round(width * float(sar) * SHEET_TILE_HEIGHT / height)), SHEET_TILE_HEIGHT)
    shrink = size[1] < height
    tile = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    # A black outline under white text stays legible on any picture.
    for ink, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ink, thickness)
    return tile


def _sheet_row(outputs: dict[str, np.ndarray], truth: np.ndarray, sar: Fraction) -> np.ndarray:
    pictures = {**outputs, "truth": truth}
    return np.hstack([tile(pictures[c], c, sar) for c in _SHEET_COLUMNS])


def write_sheet(rows: Sequence[np.ndarray], path: str | Path) -> str:
    """Stacks rows (right-padded with black to the widest) into one PNG; returns its path."""
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OutputError(f"{target}: cannot write the contact sheet; check the folder and .png")
    return str(target)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _evaluate(
    kind: str,
    source: str | Path,
    setup: _Setup,
    items: Iterable[Item],
    sheet: tuple[str | Path | None, Container[int]],
    temporal: _Temporal | None = None,
) -> dict[str, Any]:
    """Scores items in order; ``sheet`` is (path, positions shown); ``temporal`` sees them too."""
    (sheet_path, picks), colorizer = sheet, setup.colorizer
    rows: list[Row] = []
    tiles: list[np.ndarray] = []
    for label, truth, out in items:
        if sheet_path is not None and len(rows) in picks:
            tiles.append(_sheet_row(out, truth, setup.sar))
        labs = {name: _lab(picture) for name, picture in {**out, "truth": truth}.items()}
        rows.append({**label, **_score(out, truth, labs)})
        if temporal is not None:
            temporal.add(label["frame"], truth, out, labs)
    if not rows:
        raise InputError(f"{source}: nothing to score; check the input and the frame limit")
    return {
        "kind": kind,
        "source": str(source),
        "model": colorizer.description,
        "trained": colorizer.trained,
        "render_factor": setup.render_factor,
        "mean_ab": list(setup.mean_ab),
        "ab_peak": metrics.AB_PEAK,
        **_summary(rows),
        "items": rows,
        "sheet": write_sheet(tiles, sheet_path) if sheet_path is not None and tiles else None,
    }


def evaluate_images(
    colorizer: Colorizer,
    folder: str | Path,
    *,
    render_factor: int,
    mean_ab: Sequence[float],
    limit: int | None = None,
    sheet_path: str | Path | None = None,
    sheet_rows: int = SHEET_ROWS,
) -> dict[str, Any]:
    """Scores ``colorizer`` and both baselines on the color images of ``folder``.

    Args:
        colorizer: Any built Colorizer.
        folder: Color images (.jpg, .jpeg, .png, subfolders included), taken in name order.
        render_factor: As in :func:`colorize_image`.
        mean_ab: (a, b) of the ``mean_ab`` baseline, usually :func:`mean_ab` of the training set.
        limit: Score only the first ``limit`` images.
        sheet_path: Where to write a PNG contact sheet (gray | ours | truth), if anywhere.
        sheet_rows: Images on the sheet, the first ones.

    Returns:
        The report: ``count``, ``truth.colorfulness``, ``methods.<ours|gray|mean_ab>`` with
        mean ``psnr_rgb``, ``psnr_ab``, ``colorfulness``, ``delta_colorfulness`` and
        ``count``, per-image ``items`` and the sheet's path (``None`` without ``sheet_path``).
    """
    root = Path(folder)
    setup = _Setup(colorizer, render_factor, _pair(mean_ab))
    named = (({"name": p.relative_to(root).as_posix()}, read_rgb(p)) for p in _listed(root, limit))
    items = _image_items(setup, named)
    return _evaluate("images", folder, setup, items, (sheet_path, range(sheet_rows)))


def _video_frames(path: Path, stream_index: int, count: int) -> Iterator[np.ndarray]:
    """The first ``count`` frames of a stream as ``(H, W, 3)`` uint8 RGB, stored size."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams[stream_index]
            stream.codec_context.thread_type = "AUTO"
            frames = (f for f in container.decode(stream) if isinstance(f, av.VideoFrame))
            for frame in itertools.islice(frames, count):
                yield frame.to_ndarray(format="rgb24")
    except av.FFmpegError as error:
        raise DecodeError(f"{path}: cannot decode ({error}); the file may be damaged") from error


class _Temporal:
    """Every method's frames, and the truth's, fed in order to :class:`metrics.TemporalScores`."""

    def __init__(self) -> None:
        self.cuts: set[int] = set()  # frames that start a shot, filled in as they are found
        self.scores = metrics.TemporalScores((*METHODS, "truth"))

    def add(
        self,
        index: int,
        truth: np.ndarray,
        outputs: dict[str, np.ndarray],
        labs: dict[str, np.ndarray],
    ) -> None:
        pictures = {**outputs, "truth": truth}
        rgb = {name: picture / 255.0 for name, picture in pictures.items()}
        ab = {name: labs[name][..., 1:] for name in pictures}
        self.scores.add(to_gray(truth), rgb, ab, index in self.cuts)


def _video_items(
    setup: _Setup,
    smooth: SmoothConfig,
    frames: Iterable[tuple[Row, np.ndarray]],
    temporal: _Temporal,
    clock: dict[str, float],
) -> Iterator[Item]:
    """Each frame with every method's output, ours smoothed as the worker smooths it.

    Adds the seconds spent predicting and smoothing (cut detection included) to ``clock``.
    """
    smoother = Smoother(smooth.mode, smooth.radius, smooth.luma_tolerance)
    detector = CutDetector(smooth.cut_threshold, listed_cuts(smooth.cuts), smooth.detect_cuts)
    waiting: dict[int, tuple[Row, np.ndarray, np.ndarray]] = {}

    def finished(ready: list[tuple[int, np.ndarray]]) -> Iterator[Item]:
        for index, ab in ready:
            label, truth, gray = waiting.pop(index)
            yield label, truth, _method_outputs(setup, gray, ab)

    for batch in _batches(frames, setup.colorizer.batch_size):
        grays = [to_gray(truth) for _, truth in batch]
        height, width = grays[0].shape
        render = setup.colorizer.render_size(width, height, setup.sar, setup.render_factor)
        lightness = np.stack([render_lightness(g, render) for g in grays])
        began = time.perf_counter()
        predicted = setup.colorizer.predict(lightness)
        clock["predict"] += time.perf_counter() - began
        ready: list[tuple[int, np.ndarray]] = []
        for (label, truth), gray, frame_l, ab in zip(
            batch, grays, lightness, predicted, strict=True
        ):
            index, began = label["frame"], time.perf_counter()
            if detector.is_cut(index, gray):
                temporal.cuts.add(index)
            waiting[index] = (label, truth, gray)
            ready += smoother.push(index, ab, index in temporal.cuts, frame_l)
            clock["smooth"] += time.perf_counter() - began
        yield from finished(ready)
    began = time.perf_counter()
    ready = list(smoother.finish())
    clock["smooth"] += time.perf_counter() - began
    yield from finished(ready)


def evaluate_video(
    colorizer: Colorizer,
    path: str | Path,
    *,
    render_factor: int,
    mean_ab: Sequence[float],
    smooth: SmoothConfig | None = None,
    max_frames: int | None = None,
    sheet_path: str | Path | None = None,
    sheet_rows: int = SHEET_ROWS,
) -> dict[str, Any]:
    """Scores ``colorizer`` and both baselines on the frames of a color video turned gray.

    Ours is smoothed over time as the pipeline does it (``smooth``, scene cuts included), then
    every frame is scored and the scores averaged; the whole videos, the truth's too, also get
    warp error (RGB, and Lab ab) and CDC, leaving out pairs of frames across a scene cut. The
    video's sample aspect ratio sets the render size, as in the pipeline; its rotation tag is
    ignored, which changes no metric.

    Args:
        colorizer: Any built Colorizer.
        path: A color video; its main video stream is used.
        render_factor: As in :func:`colorize_image`.
        mean_ab: (a, b) of the ``mean_ab`` baseline.
        smooth: Temporal smoothing of ours; None: the configured default
            (``SmoothConfig()``); ``mode="off"`` scores the per-frame model.
        max_frames: Score only the first ``max_frames`` frames.
        sheet_path: Where to write a PNG contact sheet, if anywhere.
        sheet_rows: Frames on the sheet, evenly spaced over the scored ones.

    Returns:
        The report of :func:`evaluate_images`, with ``frame`` indices in ``items``, and for
        each method and ``truth`` also ``warp_error``, ``warp_error_ab`` and ``cdc`` (NaN with
        fewer than two frames in a shot); ``smooth`` (the settings, and ``cuts``: the frames
        found or listed that start a shot) and ``timing`` (seconds per frame predicting and
        smoothing).
    """
    smooth = SmoothConfig() if smooth is None else smooth
    info = probe(Path(path))
    count = info.video.frame_count
    count = count if max_frames is None else min(count, max_frames)
    picks = set(np.linspace(0, count - 1, min(sheet_rows, count)).round().astype(int).tolist())
    setup = _Setup(colorizer, render_factor, _pair(mean_ab), info.video.sar or Fraction(1))
    frames = enumerate(_video_frames(info.path, info.video.index, count))
    numbered = (({"frame": i}, rgb) for i, rgb in frames)
    temporal, clock = _Temporal(), {"predict": 0.0, "smooth": 0.0}
    items = _video_items(setup, smooth, numbered, temporal, clock)
    report = _evaluate("video", path, setup, items, (sheet_path, picks), temporal)
    for name, scores in temporal.scores.result().items():
        (report["truth"] if name == "truth" else report["methods"][name]).update(scores)
    cuts = sorted(c for c in temporal.cuts if c > 0)
    report["smooth"] = {**dataclasses.asdict(smooth), "cuts": cuts}
    report["timing"] = {f"{k}_per_frame": v / report["count"] for k, v in clock.items()}
    return report


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (a PSNR of identical pictures) made ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_report(report: dict[str, Any], path: str | Path) -> None:
    """Writes ``report`` as strict JSON (sorted keys, indent 2); ``inf`` PSNRs become null."""
    text = json.dumps(_finite(report), sort_keys=True, indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
