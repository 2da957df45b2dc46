"""The Ray actors: a ChunkWorker on each node, a frame counter, and files staged for them.

The only place the worker is wrapped for Ray; the worker itself knows nothing of Ray or of work
folders: the actor says where its segment goes (the run's work folder, or this node's own folder
when files travel through Ray).

Two ways for frames to reach workers (``run.transfer``): ``shared``, where workers open the
source and write segments by path (the local machine, or storage every node mounts), and
``ray``, where the driver puts the source's bytes into the object store in pieces (never the
whole film in its memory), each node copies them once to a local file, and segments come back
as bytes. Both run the same worker code on the same bytes, so they write identical segments.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from vidcolor.chunks import Chunk
from vidcolor.config import Config
from vidcolor.errors import VidcolorError
from vidcolor.heap import tune_malloc
from vidcolor.media import Segment
from vidcolor.resume import segment_name
from vidcolor.worker import ChunkWorker, Job

PIECE_BYTES = 64 << 20  # the source travels in pieces this large: bounded driver memory


@dataclass(frozen=True)
class WorkerInfo:
    """Where a worker runs, for logs and the summary."""

    pid: int
    node: str
    address: str
    device: str
    model: str


@dataclass(frozen=True)
class Delivery:
    """A finished chunk as it reaches the driver: its segment, the segment's bytes when they
    travel through Ray (None when the file is already in the work folder), and who made it."""

    segment: Segment
    data: bytes | None
    worker: WorkerInfo


@dataclass(frozen=True)
class Upload:
    """A file's bytes in the object store, to be copied once to each node that needs it."""

    run: str  # the run's key: names the folder on each node
    name: str  # the file's name there
    pieces: tuple[Any, ...]  # ObjectRefs of consecutive pieces


@dataclass(frozen=True)
class Shipment:
    """What workers on nodes without shared storage receive: the source, and the weights."""

    source: Upload
    weights: Upload | None


def upload(path: Path, run: str, name: str) -> Upload:
    """Puts a file's bytes into the object store one piece at a time: the driver never holds
    more than a piece."""
    refs = []
    with open(path, "rb") as handle:
        while piece := handle.read(PIECE_BYTES):
            refs.append(ray.put(piece))
    return Upload(run, name, tuple(refs))


@ray.remote(num_cpus=0)
class FrameCounter:
    """Frames done per chunk; a chunk re-run after its worker died starts again from 0."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}

    def start(self, chunk: int) -> None:
        self.done[chunk] = 0

    def add(self, chunk: int, frames: int) -> None:
        self.done[chunk] = self.done.get(chunk, 0) + frames

    def total(self) -> int:
        return sum(self.done.values())


class RayWorker:
    """A ChunkWorker inside a Ray actor: knows its node, and stages files for ``ray`` transfer."""

    def __init__(self, config: Config, threads: int, weights: Upload | None) -> None:
        tune_malloc()  # this process is the actor's own
        # An error here is kept for describe() to raise: raised by the constructor it would
        # reach the driver as an actor that died, with the cause only in a traceback's text.
        self.failure: Exception | None = None
        try:
            if weights is not None:  # this node's copy of the driver's weights file
                model = dataclasses.replace(config.model, weights=str(_stage(weights)))
                config = dataclasses.replace(config, model=model)
            self.worker = ChunkWorker(config, threads)
        except Exception as error:
            self.failure = error

    def describe(self) -> WorkerInfo:
        """Where this worker runs and with what; raises the error that kept it from starting."""
        if isinstance(self.failure, VidcolorError):
            raise self.failure
        if self.failure is not None:
            where = ray.util.get_node_ip_address()
            raise VidcolorError(
                f"a worker could not start on {where}: {type(self.failure).__name__}: "
                f"{self.failure}"
            ) from self.failure
        device, gpus = str(self.worker.colorizer.device), ray.get_gpu_ids()
        if gpus and device == "cpu":
            device = f"cpu (Ray gave it GPU {gpus}, but this torch build has no CUDA)"
        return WorkerInfo(
            pid=os.getpid(),
            node=ray.get_runtime_context().get_node_id(),
            address=ray.util.get_node_ip_address(),
            device=device,
            model=self.worker.describe(),
        )

    def process(
        self, job: Job, chunk: Chunk, folder: str, source: Upload | None, counter: Any
    ) -> Delivery:
        """Colorizes ``chunk`` into the work ``folder``, or through this node's own folder and
        back as bytes when ``source`` came through Ray."""
        counter.start.remote(chunk.index)
        if source is not None:
            job = dataclasses.replace(job, info=dataclasses.replace(job.info, path=_stage(source)))
            folder = str(_node_folder(source.run))
        path = Path(folder) / segment_name(chunk.index, job.spec.container)
        segment = self.worker.process(
            job, chunk, path, lambda n: counter.add.remote(chunk.index, n)
        )
        data = None
        if source is not None:
            data = path.read_bytes()
            path.unlink()
        return Delivery(segment, data, self.describe())

    def clean(self, run: str) -> None:
        """Removes this node's copies of the run's files (after the run)."""
        shutil.rmtree(_node_folder(run), ignore_errors=True)


def _node_folder(run: str) -> Path:
    folder = Path(tempfile.gettempdir()) / f"vidcolor-{run[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stage(upload: Upload) -> Path:
    """This node's copy of an uploaded file, written once whatever the workers on the node."""
    folder = _node_folder(upload.run)
    target = folder / upload.name
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the node's other workers wait for the one copy
        if not target.exists():
            partial = folder / f"{upload.name}.part"
            with open(partial, "wb") as handle:
                for ref in upload.pieces:
                    handle.write(ray.get(ref))
            os.replace(partial, target)
    return target
