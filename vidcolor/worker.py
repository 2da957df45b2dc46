"""One chunk end to end: decode -> colorize -> smooth -> merge with the source luma -> encode.

A plain class, with no Ray and no work folder: :mod:`vidcolor.distributed` wraps it in a Ray
actor and says where its segment goes, tests call it directly. It takes small descriptors (the
probe result, a chunk, the encode plan) and reads the frames itself.

Four stages overlap (:mod:`vidcolor.threads`): a decode thread reads frames and turns batches of
them into the network's input, the calling thread runs the network, a smoothing thread finds
cuts and runs the temporal smoother, and an encode thread merges each finished frame's chroma
with its luma and writes it. They meet in queues of ``_QUEUED`` items, so memory is bounded by a few
batches and the smoothing window, not by the chunk. Every frame follows the same arithmetic, in
the same order, as in one thread: the output is the same to the byte.

Smoothing runs at render size, before the chroma is upsampled: the network's ab and the lightness
it saw, with scene cuts found on the source luma (:mod:`vidcolor.temporal`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import color
from vidcolor.chunks import Chunk
from vidcolor.colorize import Colorizer, batched, render_lightness
from vidcolor.config import Config
from vidcolor.decode import read_frames
from vidcolor.encode import EncodeSpec, SegmentWriter
from vidcolor.guidance.carry import Carried, blend
from vidcolor.guidance.plan import GuidedFrames, carry_chunk
from vidcolor.guidance.values import Guidance
from vidcolor.media import Frame, Segment, VideoInfo
from vidcolor.temporal import TemporalStage
from vidcolor.temporal.cuts import CutDetector
from vidcolor.threads import Consumer, produce

# Items waiting between two stages: one ready while the next is made lets each stage start its
# next item at once; more would only hold more frames while the slowest stage sets the pace.
_QUEUED = 2


@dataclass(frozen=True)
class Job:
    """What every chunk of one run shares."""

    info: VideoInfo
    spec: EncodeSpec
    cuts: tuple[int, ...] = ()  # frames the user listed as starting a new shot
    guidance: Guidance = field(default_factory=Guidance)  # carried through their shots


class _Batch(NamedTuple):
    """Decoded frames with what the network and the merge need of them."""

    frames: list[Frame]
    units: list[np.ndarray]  # each frame's luma as (H, W) float32 in [0, 1]
    lightness: np.ndarray  # (N, h, w) float32 Lab L at render size: the network's input


class _Ready(NamedTuple):
    """A frame of the chunk whose smoothed ab is known: all the encode thread needs of it."""

    frame: Frame
    unit: np.ndarray
    ab: np.ndarray  # (2, h, w) float32 at render size


class ChunkWorker:
    """Loads the model once, then colorizes chunks one after another."""

    def __init__(self, config: Config, threads: int = 0) -> None:
        if threads:
            torch.set_num_threads(threads)  # process-wide: the stage threads inherit it
        self.config = config
        self.threads = threads
        self.colorizer = Colorizer(config.model)

    def describe(self) -> str:
        return self.colorizer.description

    def process(
        self,
        job: Job,
        chunk: Chunk,
        path: Path,
        on_frames: Callable[[int], None] | None = None,
    ) -> Segment:
        """Colorizes ``chunk`` into the segment file ``path``.

        ``on_frames`` is called on this thread with the number of frames written since its
        last call; the calls add up to the chunk's frames.
        """
        began = time.monotonic()
        video = job.info.video
        render = self.colorizer.render_size(video.width, video.height, video.sar)
        state = _ChunkState(job, chunk, self.config, render, self._carry(job, chunk, render))
        decode = self.config.decode
        frames = read_frames(  # here, not on the thread: a bad range raises at once
            job.info,
            chunk.read_start,
            chunk.read_stop,
            backend=decode.backend,
            replace_bad=decode.skip_bad_frames,
        )
        batches = state.batches(frames, self.colorizer.batch_size)
        del frames  # the decode thread's generator is its only owner, and closes it
        tally = _Tally(on_frames)

        def smooth(predicted: tuple[_Batch, np.ndarray]) -> None:
            if ready := state.advance(*predicted):
                encoder.put(ready)

        with (
            SegmentWriter(path, job.spec, threads=self.threads) as writer,
            Consumer(partial(state.write, writer), _QUEUED, "vidcolor-encode") as encoder,
        ):
            with (
                Consumer(smooth, _QUEUED, "vidcolor-smooth") as smoother,
                closing(produce(batches, _QUEUED, "vidcolor-decode")) as decoded,
            ):
                for batch in decoded:
                    smoother.put((batch, self.colorizer.predict(batch.lightness)))
                    tally.report(writer.frames)
            if ready := state.finish():  # the smoothing thread is joined: its state is ours
                encoder.put(ready)
        tally.report(writer.frames)
        if writer.frames != chunk.frames:
            raise RuntimeError(
                f"chunk {chunk.index} wrote {writer.frames} of {chunk.frames} frames"
            )
        seconds = time.monotonic() - began
        return Segment(
            chunk.index, path.name, writer.frames, state.found_cuts(), state.replaced(), seconds
        )

    def _carry(
        self, job: Job, chunk: Chunk, render: tuple[int, int]
    ) -> tuple[GuidedFrames, dict[int, Carried]] | None:
        """The guidance's colors carried onto the chunk's frames, or None where none reach.

        A pass of its own before the chunk's: it reads from the nearest guided frame before
        the chunk to the nearest after it (within reach), so a shot that spans chunks gets
        what one chunk gives. A hinted frame is predicted alone, whatever its chunk.
        """
        video = job.info.video
        guided = GuidedFrames(job.guidance, (video.width, video.height), render,
                              self.colorizer.accepts_hints)  # fmt: skip
        if not guided:
            return None
        detector = CutDetector(self.config.smooth.cut_threshold, job.cuts,
                               self.config.smooth.detect_cuts)  # fmt: skip
        wanted = range(chunk.start, chunk.stop)
        carried = carry_chunk(guided, job.info, wanted, self.colorizer, detector,
                              self.config.decode)  # fmt: skip
        return (guided, carried) if carried else None


class _Tally:
    """Turns the encoder's running total into the increments ``on_frames`` expects."""

    def __init__(self, on_frames: Callable[[int], None] | None) -> None:
        self.on_frames = on_frames
        self.reported = 0

    def report(self, written: int) -> None:
        if self.on_frames and written > self.reported:
            self.on_frames(written - self.reported)
            self.reported = written


class _ChunkState:
    """Per-chunk bookkeeping between decode and encode: luma waiting for its chroma.

    Each method belongs to one stage: :meth:`batches` to the decode thread, :meth:`advance`
    to the smoothing thread, :meth:`finish`, :meth:`found_cuts` and :meth:`replaced` to the
    calling thread once the smoothing thread is joined, :meth:`write` to the encode thread.
    Only :meth:`advance` and :meth:`finish` change the state, never at the same time; the
    others read the fixed settings and what they are handed.
    """

    def __init__(
        self,
        job: Job,
        chunk: Chunk,
        config: Config,
        render: tuple[int, int],
        guided: tuple[GuidedFrames, dict[int, Carried]] | None = None,
    ) -> None:
        video = job.info.video
        self.job, self.chunk, self.render, self.guided = job, chunk, render, guided
        self.full_range = video.color_range == "pc"
        self.matrix = color.matrix_for(video.color_space, video.height)
        self.temporal = TemporalStage(config.smooth, job.cuts)
        self._cuts: list[int] = []
        self._replaced: list[int] = []  # owned frames that carry a neighbour's picture
        self._held: dict[int, tuple[Frame, np.ndarray]] = {}  # owned frames and their unit luma

    def batches(self, frames: Iterable[Frame], size: int) -> Iterator[_Batch]:
        """Groups frames by ``size`` and adds what the network and the merge need of them."""
        for batch in batched(frames, size):
            yield self._prepare(batch)

    def _prepare(self, frames: list[Frame]) -> _Batch:
        """The frames' unit luma, and the network's input: Lab L at render size."""
        depth = self.job.info.video.bit_depth
        units = [color.luma_to_unit(f.luma, depth, self.full_range) for f in frames]
        return _Batch(frames, units, np.stack([render_lightness(u, self.render) for u in units]))

    def advance(self, batch: _Batch, ab: np.ndarray) -> list[_Ready]:
        """Hands a batch's ab to the smoother; returns the owned frames it finished."""
        parts = zip(batch.frames, batch.units, ab, batch.lightness, strict=True)
        return [ready for part in parts for ready in self._ready(self._push(*part))]

    def finish(self) -> list[_Ready]:
        """The owned frames the smoother still held at the end of the chunk."""
        return list(self._ready(self.temporal.finish()))

    def _push(
        self, frame: Frame, unit: np.ndarray, ab: np.ndarray, lightness: np.ndarray
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Hands a frame's ab and lightness to the smoother; yields (index, ab) when ready."""
        index, owned = frame.index, self.chunk.start <= frame.index < self.chunk.stop
        cut, ready = self.temporal.push(index, unit, ab, lightness)
        if cut and owned and index > self.chunk.read_start:  # the first frame read sees no cut
            self._cuts.append(index)
        if owned:  # halo frames lend their ab, never their pixels
            self._held[index] = frame, unit
            if frame.replaced_by is not None:
                self._replaced.append(index)
        return ready

    def _ready(self, smoothed: Iterable[tuple[int, np.ndarray]]) -> Iterator[_Ready]:
        for index, ab in smoothed:
            if index in self._held:
                frame, unit = self._held.pop(index)
                yield _Ready(frame, unit, ab)

    def found_cuts(self) -> tuple[int, ...] | None:
        """The owned frames that start a shot, or None when cuts were not looked for."""
        return tuple(self._cuts) if self.temporal.finds_cuts else None

    def replaced(self) -> tuple[int, ...]:
        """The owned frames the decoder could not decode, now with a neighbour's picture."""
        return tuple(self._replaced)

    def write(self, writer: SegmentWriter, frames: list[_Ready]) -> None:
        """Merges each frame's chroma with its luma and encodes it."""
        for ready in frames:
            chroma = self._chroma(ready.frame.index, ready.unit, ready.ab)
            writer.write(ready.frame.luma, chroma, ready.frame.pts)

    def _chroma(self, index: int, unit: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Output chroma planes for frame ``index``'s unit luma and render-size ab, with its
        guidance's colors blended in."""
        spec = self.job.spec
        size = (spec.chroma_width, spec.chroma_height)
        unit_small = cv2.resize(unit, size, interpolation=cv2.INTER_AREA)
        lightness = color.gray_to_lightness(torch.from_numpy(unit_small))[None, None]
        ab_full = F.interpolate(
            torch.from_numpy(ab)[None], size=size[::-1], mode="bilinear", align_corners=False
        )
        if self.guided is not None:
            guided, carried = self.guided
            exact = guided.exact(index, size)
            own = ab_full[0].numpy()
            ab_full = torch.from_numpy(
                exact if exact is not None else blend(own, carried.pop(index, None), size)
            )[None]
        chroma = color.lab_to_chroma(lightness, ab_full, self.matrix)[0]
        return color.quantize_chroma(chroma, spec.bit_depth, self.full_range)
