"""One chunk end to end: decode -> colorize -> smooth -> merge with the source luma -> encode.

A plain class: :mod:`vidcolor.pipeline` wraps it in a Ray actor, tests call it directly. It takes
small descriptors (the probe result, a chunk, the encode plan) and reads the frames itself.

Memory is bounded by the batch and the smoothing window, not by the chunk: a frame's luma is held
from its decode until its smoothed chroma is ready, at most ``batch_size + radius`` frames.

Smoothing runs at render size, before the chroma is upsampled: the network's ab and the lightness
it saw, with scene cuts found on the source luma (:mod:`vidcolor.cuts`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import color
from vidcolor.chunks import Chunk
from vidcolor.colorize import Colorizer
from vidcolor.config import Config
from vidcolor.cuts import CutDetector
from vidcolor.decode import Frame, read_frames
from vidcolor.encode import EncodeSpec, SegmentWriter
from vidcolor.probe import VideoInfo
from vidcolor.smooth import Smoother
from vidcolor.workdir import segment_name


@dataclass(frozen=True)
class Job:
    """What every chunk of one run shares."""

    info: VideoInfo
    spec: EncodeSpec
    work_dir: str
    cuts: tuple[int, ...] = ()  # frames the user listed as starting a new shot


@dataclass(frozen=True)
class SegmentResult:
    """A finished segment, and the frames of it that start a new shot (None: not looked for,
    as when smoothing is off)."""

    index: int
    path: str
    frames: int
    seconds: float
    cuts: tuple[int, ...] | None = None


def segment_path(work_dir: str | Path, index: int, container: str) -> Path:
    return Path(work_dir) / segment_name(index, container)


def batched(items: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class ChunkWorker:
    """Loads the model once, then colorizes chunks one after another."""

    def __init__(self, config: Config, threads: int = 0) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.config = config
        self.threads = threads
        self.colorizer = Colorizer(config.model)

    def describe(self) -> str:
        return self.colorizer.description

    def process(
        self, job: Job, chunk: Chunk, on_frames: Callable[[int], None] | None = None
    ) -> SegmentResult:
        """Colorizes ``chunk`` into its segment file and returns where it is."""
        began = time.monotonic()
        path = segment_path(job.work_dir, chunk.index, job.spec.container)
        video = job.info.video
        render = self.colorizer.render_size(video.width, video.height, video.sar)
        state = _ChunkState(job, chunk, self.config, render)
        frames = read_frames(
            job.info, chunk.read_start, chunk.read_stop, backend=self.config.decode.backend
        )
        with SegmentWriter(path, job.spec, threads=self.threads) as writer:
            for batch in batched(frames, self.config.model.batch_size):
                lightness = np.stack([state.lightness(f) for f in batch])
                ab = self.colorizer.predict(lightness)
                done = 0
                for frame, frame_l, frame_ab in zip(batch, lightness, ab, strict=True):
                    for index, smoothed in state.push(frame, frame_ab, frame_l):
                        done += state.emit(writer, index, smoothed)
                if on_frames and done:
                    on_frames(done)
            done = sum(state.emit(writer, i, s) for i, s in state.smoother.finish())
            if on_frames and done:
                on_frames(done)
        if writer.frames != chunk.frames:
            raise RuntimeError(
                f"chunk {chunk.index} wrote {writer.frames} of {chunk.frames} frames"
            )
        seconds = time.monotonic() - began
        return SegmentResult(chunk.index, str(path), writer.frames, seconds, state.found_cuts())


class _ChunkState:
    """Per-chunk bookkeeping between decode and encode: luma waiting for its chroma."""

    def __init__(self, job: Job, chunk: Chunk, config: Config, render: tuple[int, int]) -> None:
        video = job.info.video
        self.job, self.chunk, self.render = job, chunk, render
        self.full_range = video.color_range == "pc"
        self.matrix = color.matrix_for(video.color_space, video.height)
        smooth = config.smooth
        self.smoother = Smoother(smooth.mode, smooth.radius, smooth.luma_tolerance)
        # Cuts matter only to a window: with none, no frame is read before the chunk (no halo),
        # so a cut at its first frame could not be seen anyway.
        self.detector = (
            CutDetector(smooth.cut_threshold, job.cuts, smooth.detect_cuts)
            if self.smoother.radius
            else None
        )
        self._cuts: list[int] = []
        self._units: dict[int, np.ndarray] = {}
        self._frames: dict[int, Frame] = {}

    def lightness(self, frame: Frame) -> np.ndarray:
        """The network's input for a frame: Lab L at render size, ``(h, w)`` float32."""
        unit = color.luma_to_unit(frame.luma, self.job.info.video.bit_depth, self.full_range)
        self._units[frame.index] = unit
        small = cv2.resize(unit, self.render, interpolation=cv2.INTER_AREA)
        return color.gray_to_lightness(torch.from_numpy(small)).numpy()

    def push(
        self, frame: Frame, ab: np.ndarray, lightness: np.ndarray
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Hands a frame's ab and lightness to the smoother; yields (index, ab) when ready."""
        index, owned = frame.index, self.chunk.start <= frame.index < self.chunk.stop
        cut = self.detector is not None and self.detector.is_cut(index, self._units[index])
        if cut and owned and index > self.chunk.read_start:  # the first frame read sees no cut
            self._cuts.append(index)
        if owned:
            self._frames[index] = frame
        else:
            del self._units[index]  # halo frames lend their ab, never their pixels
        return self.smoother.push(index, ab, cut, lightness)

    def found_cuts(self) -> tuple[int, ...] | None:
        """The owned frames that start a shot, or None when cuts were not looked for."""
        return tuple(self._cuts) if self.detector is not None else None

    def emit(self, writer: SegmentWriter, index: int, ab: np.ndarray) -> int:
        """Merges and encodes frame ``index`` if this chunk owns it; returns frames written."""
        if index not in self._frames:
            return 0
        frame, unit = self._frames.pop(index), self._units.pop(index)
        spec = self.job.spec
        size = (spec.chroma_width, spec.chroma_height)
        unit_small = cv2.resize(unit, size, interpolation=cv2.INTER_AREA)
        lightness = color.gray_to_lightness(torch.from_numpy(unit_small))[None, None]
        ab_full = F.interpolate(
            torch.from_numpy(ab)[None], size=size[::-1], mode="bilinear", align_corners=False
        )
        chroma = color.lab_to_chroma(lightness, ab_full, self.matrix)[0]
        planes = color.quantize_chroma(chroma, spec.bit_depth, self.full_range)
        writer.write(frame.luma, planes, frame.pts)
        return 1
