"""probe -> plan -> Ray workers -> assemble. The only module that imports ray.

Without an address an embedded Ray starts on this machine, bound to localhost, with no dashboard,
and stops at the end. Each worker is a Ray actor that loads the model once and takes chunks one
at a time; at most one chunk per worker is in flight, and segments are joined in chunk order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from vidcolor import assemble as asm
from vidcolor.chunks import Chunk, plan_chunks
from vidcolor.config import Config
from vidcolor.cuts import listed_cuts
from vidcolor.encode import CODEC_CONTAINERS, plan_encode
from vidcolor.errors import OutputError, VidcolorError
from vidcolor.models.shipped import resolve_weights
from vidcolor.models.weights import check_weights_file
from vidcolor.probe import VideoInfo, probe
from vidcolor.worker import ChunkWorker, Job, SegmentResult

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (frames done, frames total)


@dataclass(frozen=True)
class RunSummary:
    """What a finished run did."""

    output: Path
    frames: int
    seconds: float
    workers: int
    chunks: int
    model: str
    notes: tuple[str, ...]
    cuts: tuple[int, ...] | None = None  # frames that start a shot; None: not looked for

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def run(
    source: Path,
    output: Path | None,
    config: Config,
    *,
    overwrite: bool = False,
    stream: int | None = None,
    on_progress: ProgressFn | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunSummary:
    """Colorizes ``source`` into ``output`` (default: ``<stem>.color.<ext>`` beside it).

    Everything that can be checked is checked before any frame is decoded: the input, the output
    path, the container and every stream's fate.

    Raises:
        VidcolorError: for anything the user can fix; nothing is left at the output path.
    """
    began = time.monotonic()
    info = probe(Path(source), stream=stream)
    plan = _plan_output(info, output, config, overwrite)
    if config.model.weights:  # bad weights fail here, before Ray and any worker start
        check_weights_file(*resolve_weights(config.model.weights))
    listed = listed_cuts(config.smooth.cuts, info.video.frame_count)
    spec = plan_encode(info.video, config.encode, plan.container)
    for note in plan.notes:
        (on_note or log.warning)(note)
    halo = config.smooth.radius if config.smooth.mode != "off" else 0
    chunks = plan_chunks(info.video.frame_count, config.chunks.size, halo)
    work_dir = Path(tempfile.mkdtemp(prefix=".vidcolor-work-", dir=plan.path.parent))
    try:
        job = Job(info=info, spec=spec, work_dir=str(work_dir), cuts=listed)
        with ray_session(config) as total_cpus:
            workers, share = _worker_shape(config, total_cpus, len(chunks))
            model, results = _colorize(job, chunks, config, workers, share, on_progress)
        _join(info, plan, results, chunks, work_dir, overwrite)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return RunSummary(
        plan.path,
        info.video.frame_count,
        time.monotonic() - began,
        workers,
        len(chunks),
        model,
        plan.notes,
        _cuts(results),
    )


def _cuts(results: Sequence[SegmentResult]) -> tuple[int, ...] | None:
    found = [r.cuts for r in results]
    return None if any(c is None for c in found) else tuple(f for c in found for f in c or ())


def _plan_output(
    info: VideoInfo, output: Path | None, config: Config, overwrite: bool
) -> asm.OutputPlan:
    codec = config.encode.codec
    if output is None:
        own = asm.container_for(info.path)
        container = own if own in CODEC_CONTAINERS[codec] else CODEC_CONTAINERS[codec][0]
        if container == "mp4" and own != "mp4":
            container = "mkv"  # holds whatever the source had (webm, avi, ts ...)
        output = asm.default_output(info.path, container)
    container = asm.container_for(output) or ""
    if not container:
        raise OutputError(f"cannot write {output.name}: use an .mp4, .mov or .mkv output name")
    output = output.absolute()
    if output.resolve() == info.path.resolve():
        raise OutputError(f"output {output} is the input; choose another name with -o")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} already exists; use --overwrite to replace it")
    if not output.parent.is_dir():
        raise OutputError(f"output folder {output.parent} does not exist; create it first")
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"output folder {output.parent} is not writable")
    return asm.plan_output(info, container, output)


def _worker_shape(config: Config, total_cpus: int, chunks: int) -> tuple[int, float]:
    """(workers, CPUs reserved for each): as many workers as asked, else as many as fit at
    ``cpus_per_worker`` each, never more than chunks.

    Every worker runs ``cpus_per_worker`` torch threads whatever the count: oneDNN's results
    differ in the last bits between thread counts (measured: 2 of 100 frames off by one chroma
    level, 1 vs 2 threads), and the output must not depend on how many workers ran it. Asking
    for more workers than fit shares the CPUs between them.
    """
    per = config.run.cpus_per_worker
    workers = config.run.workers or max(1, total_cpus // per)
    workers = max(1, min(workers, chunks))
    return workers, min(float(per), total_cpus / workers)


@contextlib.contextmanager
def ray_session(config: Config) -> Iterator[int]:
    """Connects to Ray (``run.address``) or starts a quiet local one; yields the CPU count.

    A Ray that is already initialised (a notebook, a test session) is used and left running.
    """
    if ray.is_initialized():
        yield int(ray.cluster_resources().get("CPU", 1))
        return
    if config.run.address:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address=config.run.address, logging_level=logging.ERROR, log_to_driver=False)
    else:
        start_local_ray(os.cpu_count() or 1)
    try:
        yield int(ray.cluster_resources().get("CPU", 1))
    finally:
        ray.shutdown()


def start_local_ray(num_cpus: int) -> None:
    """Starts Ray on this machine only: loopback addresses, no dashboard, no usage reports."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray turns "127.0.0.1" into the machine's routable address unless it believes it runs on a
    # laptop OS (ray._private.services.get_node_ip_address); this flag is what it checks.
    from ray._private import ray_constants

    cluster_mode = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = cluster_mode


@ray.remote(num_cpus=0)
class _FrameCounter:
    """Workers add frames as they finish them; the driver reads the total for its progress bar."""

    def __init__(self) -> None:
        self.done = 0

    def add(self, frames: int) -> None:
        self.done += frames

    def total(self) -> int:
        return self.done


def _colorize(
    job: Job,
    chunks: Sequence[Chunk],
    config: Config,
    workers: int,
    cpu_share: float,
    on_progress: ProgressFn | None,
) -> tuple[str, list[SegmentResult]]:
    """Runs every chunk on ``workers`` actors, at most one in flight each; results in order."""
    actor_cls: Any = ray.remote(ChunkWorker)
    actor_cls = actor_cls.options(num_cpus=cpu_share, max_restarts=2, max_task_retries=2)
    threads = config.run.cpus_per_worker
    actors: list[Any] = [actor_cls.remote(config, threads) for _ in range(workers)]
    counter: Any = _FrameCounter.remote()  # type: ignore[attr-defined]
    job_ref = ray.put(job)
    total = job.info.video.frame_count

    def report(frames: int) -> None:
        counter.add.remote(frames)

    try:
        model: str = ray.get(actors[0].describe.remote())
        pending = list(chunks)
        running: dict[ray.ObjectRef, Any] = {}
        results: dict[int, SegmentResult] = {}
        idle = list(actors)
        while pending or running:
            while idle and pending:
                actor = idle.pop()
                running[actor.process.remote(job_ref, pending.pop(0), report)] = actor
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for ref in done:
                idle.append(running.pop(ref))
                result = _get(ref)
                results[result.index] = result
            if on_progress:
                on_progress(min(ray.get(counter.total.remote()), total), total)
        return model, [results[c.index] for c in chunks]
    finally:
        for actor in actors:
            ray.kill(actor)


def _get(ref: ray.ObjectRef) -> SegmentResult:
    """ray.get that re-raises a worker's VidcolorError as itself, not wrapped by Ray."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, VidcolorError):
            raise exc.cause from None
        raise


def _join(
    info: VideoInfo,
    plan: asm.OutputPlan,
    results: Sequence[SegmentResult],
    chunks: Sequence[Chunk],
    work_dir: Path,
    overwrite: bool,
) -> None:
    video = info.video
    durations = asm.segment_durations(
        video.pts, [c.start for c in chunks], video.time_base, video.fps
    )
    concat = work_dir / "segments.ffconcat"
    # Names relative to the list's folder: the concat demuxer resolves them there.
    asm.write_concat_list(concat, [Path(Path(r.path).name) for r in results], durations)
    asm.assemble(info, plan, concat, overwrite=overwrite)
