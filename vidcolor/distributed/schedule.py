"""Scheduling: chunks run on the workers, one in flight each, and a worker lost mid-chunk replaced.

Each worker is a Ray actor that loads the model once and takes chunks one at a time; at most one
chunk per worker is in flight, and each finished chunk is handed back at once so the driver can
record it for resuming.

A worker killed mid-chunk (node lost, out of memory) is restarted by Ray and the chunk re-run
from its first frame; a chunk whose worker dies on every try fails the run with an error that
names it. Errors a worker raises itself (an undecodable frame) are not retried: they would fail
again.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import Any

import ray

from vidcolor.chunks import Chunk
from vidcolor.config import Config
from vidcolor.distributed.actors import (
    Delivery,
    FrameCounter,
    RayWorker,
    Shipment,
    Upload,
    WorkerInfo,
)
from vidcolor.errors import VidcolorError
from vidcolor.placement import WorkerShape
from vidcolor.worker import Job

log = logging.getLogger(__name__)

RESTARTS = 2  # a worker lost mid-chunk is replaced this often before its chunk fails the run


def run_on_actors(
    job: Job,
    chunks: Sequence[Chunk],
    config: Config,
    shape: WorkerShape,
    folder: str,
    shipment: Shipment | None,
    on_done: Callable[[Delivery], None],
    on_progress: Callable[[int, int], None] | None = None,
) -> list[WorkerInfo]:
    """Runs ``chunks`` on ``shape.count`` actors, one in flight each; hands each finished chunk
    to ``on_done`` as it arrives. ``on_progress(frames, busy)``: frames done by this call.

    Raises:
        VidcolorError: a worker's own error (an undecodable frame ...), or a chunk whose worker
            died on every try.
    """
    actor_cls: Any = ray.remote(RayWorker)
    actor_cls = actor_cls.options(
        num_cpus=shape.cpus,
        num_gpus=shape.gpus,
        memory=shape.memory or None,
        max_restarts=RESTARTS,
        max_task_retries=RESTARTS,
    )
    weights = shipment.weights if shipment else None
    threads = config.run.cpus_per_worker
    actors: list[Any] = [actor_cls.remote(config, threads, weights) for _ in range(shape.count)]
    counter: Any = FrameCounter.remote()  # type: ignore[attr-defined]
    job_ref = ray.put(job)
    try:
        infos = [_get(actor.describe.remote(), None) for actor in actors]
        for number, info in enumerate(infos):
            log.info(
                "worker %d: pid %d on node %s (%s), %s, %s", number, info.pid, info.node[:12],
                info.address, info.device, info.model,
            )  # fmt: skip
        source = shipment.source if shipment else None
        _schedule(actors, chunks, (job_ref, folder, source, counter), on_done, on_progress)
        if source is not None:
            ray.get([actor.clean.remote(source.run) for actor in actors])
        return infos
    finally:
        for actor in actors:
            ray.kill(actor)


def _schedule(
    actors: list[Any],
    chunks: Sequence[Chunk],
    shared: tuple[Any, str, Upload | None, Any],
    on_done: Callable[[Delivery], None],
    on_progress: Callable[[int, int], None] | None,
) -> None:
    """Keeps every actor busy with one chunk until all are done; ``shared`` is what every
    chunk's call takes besides the chunk: the job's ref, the folder, the upload, the counter."""
    job_ref, folder, source, counter = shared
    pending = list(chunks)
    running: dict[Any, tuple[int, Chunk]] = {}
    idle = list(range(len(actors)))
    while pending or running:
        while idle and pending:
            number, chunk = idle.pop(), pending.pop(0)
            ref = actors[number].process.remote(job_ref, chunk, folder, source, counter)
            running[ref] = (number, chunk)
            log.info("chunk %d (frames %d..%d) -> worker %d", chunk.index, chunk.start,
                     chunk.stop - 1, number)  # fmt: skip
        done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
        for ref in done:
            number, chunk = running.pop(ref)
            finished = _get(ref, chunk)
            idle.append(number)
            on_done(finished)  # recorded before it is logged: a logged chunk is resumable
            log.info("chunk %d done by worker %d (pid %d) in %.1f s", chunk.index, number,
                     finished.worker.pid, finished.segment.seconds)  # fmt: skip
        if on_progress:
            on_progress(ray.get(counter.total.remote()), len(running))


def _get(ref: Any, chunk: Chunk | None) -> Any:
    """ray.get that re-raises a worker's VidcolorError as itself with its chunk named, and
    names the chunk of a worker that kept dying."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, VidcolorError):
            raise _in_chunk(exc.cause, chunk) from None
        raise
    except ray.exceptions.RayActorError as exc:
        where = _where(chunk) if chunk else "a worker"
        raise VidcolorError(
            f"{where}: its worker died {RESTARTS + 1} times ({type(exc).__name__}); the machine "
            "may be out of memory: try fewer --workers or a smaller --render-factor"
        ) from None


def _where(chunk: Chunk) -> str:
    return f"chunk {chunk.index} (frames {chunk.start}..{chunk.stop - 1})"


def _in_chunk(error: VidcolorError, chunk: Chunk | None) -> VidcolorError:
    """``error`` with the chunk it happened in named first (same type, same exit code)."""
    if chunk is None or not error.args:
        return error
    named = copy.copy(error)
    named.args = (f"{_where(chunk)}: {error.args[0]}", *error.args[1:])
    return named
