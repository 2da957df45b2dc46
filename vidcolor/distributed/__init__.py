"""Ray at the edge: the only package that imports ray, behind one entry point, :func:`run_chunks`.

:mod:`~vidcolor.distributed.session` connects to a cluster or starts an embedded local Ray,
:mod:`vidcolor.placement` (pure) decides how many workers run and what each asks for,
:mod:`~vidcolor.distributed.actors` wraps the worker in a Ray actor and stages files for nodes
without shared storage, and :mod:`~vidcolor.distributed.schedule` keeps the actors busy and
replaces a lost one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from vidcolor import placement
from vidcolor.chunks import Chunk
from vidcolor.config import Config
from vidcolor.distributed import actors, session
from vidcolor.distributed.actors import Delivery, WorkerInfo
from vidcolor.distributed.schedule import run_on_actors
from vidcolor.media import Segment
from vidcolor.models.weights import resolve_weights
from vidcolor.worker import Job

__all__ = ["WorkerInfo", "run_chunks"]

log = logging.getLogger(__name__)


def run_chunks(
    job: Job,
    chunks: Sequence[Chunk],
    config: Config,
    folder: Path,
    key: str,
    on_done: Callable[[Segment, bytes | None], None],
    on_progress: Callable[[int, int, int], None] | None = None,
) -> list[WorkerInfo]:
    """Colorizes ``chunks`` on Ray workers into segments in ``folder``; returns the workers.

    Args:
        job: What every chunk shares.
        chunks: The chunks to do, in order.
        config: The run's settings (``run`` says where and on how many workers).
        folder: The run's work folder, where segments go when workers can write there.
        key: The run's key; names each node's own folder when files travel through Ray.
        on_done: ``(segment, data)`` for each finished chunk as it arrives, on this thread;
            ``data`` is the segment's bytes when they came through Ray (the file is not in
            ``folder`` yet), None when the worker wrote it there.
        on_progress: ``(frames, busy, workers)``: frames done by this call so far, chunks in
            flight, workers running.

    Raises:
        VidcolorError: a worker's own error (an undecodable frame ...), a chunk whose worker
            died on every try, a cluster that cannot be reached or cannot hold a worker.
    """
    with session.session(config.run) as resources:
        weights = _weights_size(config)

        def memory(gpu: bool) -> int:
            return placement.memory_estimate(job.info.video, job.spec, config, weights, gpu=gpu)

        shape = placement.worker_shape(
            config.run, config.model.device, resources, len(chunks), memory
        )
        log.info("%d worker(s), %.3g CPU and %.3g GPU each; %d chunk(s) to do",
                 shape.count, shape.cpus, shape.gpus, len(chunks))  # fmt: skip
        shipment = None
        if placement.uses_ray_transfer(config.run):
            shipment = _ship(job.info.path, config, key)

        def delivered(done: Delivery) -> None:
            on_done(done.segment, done.data)

        def progress(frames: int, busy: int) -> None:
            if on_progress:
                on_progress(frames, busy, shape.count)

        return run_on_actors(job, chunks, config, shape, str(folder), shipment, delivered, progress)


def _weights_size(config: Config) -> int:
    """Bytes of the configured weights file, 0 without one."""
    return resolve_weights(config.model.weights)[0].stat().st_size if config.model.weights else 0


def _ship(source: Path, config: Config, run: str) -> actors.Shipment:
    """The source and the weights, put in the object store for nodes that cannot read them."""
    weights = None
    if config.model.weights:
        path, _ = resolve_weights(config.model.weights)
        weights = actors.upload(path, run, f"weights{path.suffix}")
    return actors.Shipment(actors.upload(source, run, f"source{source.suffix}"), weights)
