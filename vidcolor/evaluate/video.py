"""Scores a Colorizer on a color video turned gray, smoothed over time as the pipeline does it."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from vidcolor import metrics
from vidcolor.colorize import Colorizer, batched, render_lightness
from vidcolor.config import SmoothConfig
from vidcolor.errors import DecodeError, InputError
from vidcolor.evaluate.pictures import to_gray
from vidcolor.evaluate.report import (
    METHODS,
    SHEET_ROWS,
    Item,
    Row,
    Setup,
    ab_pair,
    method_outputs,
    score_items,
)
from vidcolor.guidance.carry import Carried, blend
from vidcolor.guidance.plan import GuidedFrames
from vidcolor.guidance.values import Guidance
from vidcolor.media import VideoInfo
from vidcolor.probing import probe
from vidcolor.temporal import TemporalStage
from vidcolor.temporal.cuts import CutDetector, listed_cuts


def _video_frames(path: Path, stream_index: int, start: int, stop: int) -> Iterator[np.ndarray]:
    """Frames ``start`` to ``stop - 1`` of a stream as ``(H, W, 3)`` uint8 RGB, stored size.

    Frames before ``start`` are decoded and dropped, not sought: frame-exact on any container.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams[stream_index]
            stream.codec_context.thread_type = "AUTO"
            frames = (f for f in container.decode(stream) if isinstance(f, av.VideoFrame))
            for frame in itertools.islice(frames, start, stop):
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
        label: Row,
        truth: np.ndarray,
        outputs: dict[str, np.ndarray],
        labs: dict[str, np.ndarray],
    ) -> None:
        """Scores one frame against the previous ones (an :data:`report.OnScored`)."""
        pictures = {**outputs, "truth": truth}
        rgb = {name: picture / 255.0 for name, picture in pictures.items()}
        ab = {name: labs[name][..., 1:] for name in pictures}
        self.scores.add(to_gray(truth), rgb, ab, label["frame"] in self.cuts)


def _video_items(
    setup: Setup,
    smooth: SmoothConfig,
    frames: Iterable[tuple[Row, np.ndarray]],
    temporal: _Temporal,
    clock: dict[str, float],
    guided: tuple[GuidedFrames, dict[int, Carried]] | None = None,
) -> Iterator[Item]:
    """Each frame with every method's output, ours smoothed as the worker smooths it, and with
    ``guided``'s carried colors blended in as the worker blends them.

    Adds the seconds spent predicting and smoothing (cut detection included) to ``clock``.
    """
    stage = TemporalStage(smooth, listed_cuts(smooth.cuts), find_cuts=True)
    waiting: dict[int, tuple[Row, np.ndarray, np.ndarray]] = {}

    def finished(ready: list[tuple[int, np.ndarray]]) -> Iterator[Item]:
        for index, ab in ready:
            label, truth, gray = waiting.pop(index)
            if guided is not None:
                ab = _guided_ab(guided, index, gray.shape, ab)
            yield label, truth, method_outputs(setup, gray, ab)

    for batch in batched(frames, setup.colorizer.batch_size):
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
            cut, finished_now = stage.push(index, gray, ab, frame_l)
            if cut:
                temporal.cuts.add(index)
            waiting[index] = (label, truth, gray)
            ready += finished_now
            clock["smooth"] += time.perf_counter() - began
        yield from finished(ready)
    began = time.perf_counter()
    ready = list(stage.finish())
    clock["smooth"] += time.perf_counter() - began
    yield from finished(ready)


def _guided_ab(
    guided: tuple[GuidedFrames, dict[int, Carried]],
    index: int,
    shape: tuple[int, ...],
    ab: np.ndarray,
) -> np.ndarray:
    """Frame ``index``'s ab at the picture's size with its guidance applied."""
    frames, carried = guided
    size = (shape[1], shape[0])
    exact = frames.exact(index, size)
    if exact is not None:
        return exact
    full = cv2.resize(np.ascontiguousarray(np.moveaxis(ab, 0, -1)), size,
                      interpolation=cv2.INTER_LINEAR)  # fmt: skip
    return blend(np.ascontiguousarray(np.moveaxis(full, -1, 0)), carried.pop(index, None), size)


def _carried(
    setup: Setup,
    info: VideoInfo,
    smooth: SmoothConfig,
    guidance: Guidance,
    wanted: range,
) -> tuple[GuidedFrames, dict[int, Carried]]:
    """The guidance's carried colors for the scored frames, read in a pass of their own."""
    video = info.video
    render = setup.colorizer.render_size(video.width, video.height, setup.sar,
                                         setup.render_factor)  # fmt: skip
    frames = GuidedFrames(guidance, (video.width, video.height), render,
                          setup.colorizer.accepts_hints)  # fmt: skip
    span = frames.read_range(wanted.start, wanted.stop, video.frame_count)
    if span is None:
        return frames, {}
    detector = CutDetector(smooth.cut_threshold, listed_cuts(smooth.cuts), smooth.detect_cuts)

    def units() -> Iterator[tuple[int, np.ndarray, bool]]:
        for index, rgb in enumerate(_video_frames(info.path, video.index, *span), span[0]):
            unit = to_gray(rgb)
            yield index, unit, detector.is_cut(index, unit)

    def predict(unit: np.ndarray, hint_ab: np.ndarray | None, mask: np.ndarray | None):
        hints = () if hint_ab is None or mask is None else (hint_ab[None], mask[None])
        return setup.colorizer.predict(render_lightness(unit, render)[None], *hints)[0]

    return frames, frames.carried(units(), wanted, predict)


def evaluate_video(
    colorizer: Colorizer,
    path: str | Path,
    *,
    render_factor: int,
    mean_ab: Sequence[float],
    smooth: SmoothConfig | None = None,
    max_frames: int | None = None,
    start: int = 0,
    sheet_path: str | Path | None = None,
    sheet_rows: int = SHEET_ROWS,
    guidance: Guidance | None = None,
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
        max_frames: Score at most ``max_frames`` frames.
        start: The first frame scored (frames before it are not colorized); a listed cut is
            still a frame number of the whole video.
        sheet_path: Where to write a PNG contact sheet, if anywhere.
        sheet_rows: Frames on the sheet, evenly spaced over the scored ones.
        guidance: References and hints for ours, carried through their shots as a run
            carries them (:mod:`vidcolor.guidance`); their carrying counts as smoothing time.

    Returns:
        The report of :func:`evaluate_images`, with ``frame`` indices in ``items``, and for
        each method and ``truth`` also ``warp_error``, ``warp_error_ab`` and ``cdc`` (NaN with
        fewer than two frames in a shot); ``smooth`` (the settings, and ``cuts``: the frames
        found or listed that start a shot) and ``timing`` (seconds per frame predicting and
        smoothing).
    """
    smooth = SmoothConfig() if smooth is None else smooth
    info = probe(Path(path))
    total = info.video.frame_count
    if not 0 <= start < total:
        raise InputError(f"{path}: start frame {start} is outside its frames 0..{total - 1}")
    count = total - start if max_frames is None else min(total - start, max_frames)
    picks = set(np.linspace(0, count - 1, min(sheet_rows, count)).round().astype(int).tolist())
    setup = Setup(colorizer, render_factor, ab_pair(mean_ab), info.video.sar or Fraction(1))
    frames = enumerate(_video_frames(info.path, info.video.index, start, start + count), start)
    numbered = (({"frame": i}, rgb) for i, rgb in frames)
    temporal, clock = _Temporal(), {"predict": 0.0, "smooth": 0.0}
    guided = None
    if guidance is not None and guidance.frames:
        began = time.perf_counter()
        guided = _carried(setup, info, smooth, guidance, range(start, start + count))
        clock["smooth"] += time.perf_counter() - began
    items = _video_items(setup, smooth, numbered, temporal, clock, guided)
    report = score_items("video", path, setup, items, (sheet_path, picks), temporal.add)
    for name, scores in temporal.scores.result().items():
        (report["truth"] if name == "truth" else report["methods"][name]).update(scores)
    cuts = sorted(c for c in temporal.cuts if c > start)
    report["start"] = start
    report["smooth"] = {**dataclasses.asdict(smooth), "cuts": cuts}
    report["timing"] = {f"{k}_per_frame": v / report["count"] for k, v in clock.items()}
    return report
