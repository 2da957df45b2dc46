"""Ray at the edge: the session, the workers' shape, and chunks run on them. The only module
that imports ray.

Without an address an embedded Ray starts on this machine, bound to localhost, with no dashboard,
and stops at the end; with one (``auto``, ``HOST:PORT``, ``ray://HOST:10001``) the run joins an
existing cluster. Each worker is a Ray actor that loads the model once and takes chunks one at a
time; at most one chunk per worker is in flight, and each finished chunk is handed back at once
so the driver can record it for resuming.

Two ways for frames to reach workers (``run.transfer``): ``shared``, where workers open the
source and write segments by path (the local machine, or storage every node mounts), and
``ray``, where the driver puts the source's bytes into the object store in pieces (never the
whole film in its memory), each node copies them once to a local file, and segments come back
as bytes. Both run the same worker code on the same bytes, so they write identical segments.

A worker killed mid-chunk (node lost, out of memory) is restarted by Ray and the chunk re-run
from its first frame; a chunk whose worker dies on every try fails the run with an error that
names it. Errors a worker raises itself (an undecodable frame) are not retried: they would fail
again.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import logging
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from vidcolor.chunks import Chunk
from vidcolor.config import Config, RunConfig
from vidcolor.errors import ConfigError, VidcolorError
from vidcolor.worker import ChunkWorker, Job, SegmentResult, keep_freed_memory

log = logging.getLogger(__name__)

PIECE_BYTES = 64 << 20  # the source travels in pieces this large: bounded driver memory
CONNECT_SECONDS = 10  # how long a cluster's address may take to accept a connection
RESTARTS = 2  # a worker lost mid-chunk is replaced this often before its chunk fails the run


@dataclass(frozen=True)
class WorkerShape:
    """How many workers, and the CPUs, GPUs and memory (bytes) each asks Ray for."""

    count: int
    cpus: float
    gpus: float
    memory: int = 0


@dataclass(frozen=True)
class WorkerInfo:
    """Where a worker runs, for logs and the summary."""

    pid: int
    node: str
    address: str
    device: str
    model: str


@dataclass(frozen=True)
class Progress:
    """The run's state for a progress bar: frames done (reused ones included), busy workers."""

    done: int
    total: int
    busy: int
    workers: int
    reused: int = 0  # frames of segments reused from a stopped run, counted in ``done``


@dataclass(frozen=True)
class ChunkDone:
    """A finished chunk: its segment (a path, or its bytes when sent through Ray) and where."""

    result: SegmentResult
    data: bytes | None
    worker: WorkerInfo


def worker_shape(
    run: RunConfig,
    device: str,
    nodes: Sequence[dict[str, float]],
    chunks: int,
    memory: Callable[[bool], int] | None = None,
) -> WorkerShape:
    """Workers as asked, else as many as fit the cluster's nodes, never more than chunks.

    GPU workers (``run.gpus_per_worker`` > 0, or by default when the cluster has GPUs and the
    device is not ``cpu``) fill the GPUs; CPU workers fill the CPUs at ``cpus_per_worker``
    each. Every worker runs ``cpus_per_worker`` torch threads however many share a machine:
    oneDNN's results differ in the last bits between thread counts (measured: 2 of 100 frames
    off by one chroma level, 1 vs 2 threads), and the output must not depend on the worker
    count. More workers than fit get a smaller CPU share, chosen so that every one of them can
    be placed on some node (a worker Ray cannot place would wait forever).

    Memory counts too: ``memory(gpu)`` is what one worker needs (a GPU worker batches more
    frames), and a node holds no more workers than its ``memory`` resource (Ray's share of
    its RAM) has room for.

    Args:
        nodes: Each live node's resources (``CPU``, ``GPU``, ``memory`` ...), as Ray reports
            them.

    Raises:
        ConfigError: more GPUs per worker than any node has, or more GPU workers than fit.
        ConfigError: one worker needs more memory than any node offers.
    """
    gpus = run.gpus_per_worker
    if gpus is None:
        gpus = 1.0 if any(n.get("GPU", 0) >= 1 for n in nodes) and device != "cpu" else 0.0
    most = max((n.get("GPU", 0.0) for n in nodes), default=0.0)
    if gpus > most:
        raise ConfigError(
            f"each worker asks for {gpus:g} GPU(s) but no node has more than {most:g}; "
            "set --gpus-per-worker 0 for CPU workers"
        )

    needed = memory(gpus > 0) if memory else 0
    roomiest = max((n.get("memory", math.inf) for n in nodes), default=0.0)
    if needed > roomiest:
        raise ConfigError(
            f"each worker needs about {needed / 2**30:.1f} GiB for these frames, and no node "
            f"offers Ray more than {roomiest / 2**30:.1f} GiB; use a machine with more memory, "
            "a lower --render-factor, or --codec ffv1 (the encoder with the smallest footprint)"
        )

    def slots(cpus: float) -> int:
        """Workers that fit at ``cpus`` CPUs, ``gpus`` GPUs and ``needed`` bytes each (a
        little slack for floats)."""
        fits = [int(n.get("CPU", 0) / cpus + 1e-9) for n in nodes]
        if gpus:
            fits = [
                min(f, int(n.get("GPU", 0) / gpus + 1e-9)) for f, n in zip(fits, nodes, strict=True)
            ]
        if needed:
            fits = [
                min(f, int(n.get("memory", math.inf) // needed))
                for f, n in zip(fits, nodes, strict=True)
            ]
        return sum(fits)

    per = float(run.cpus_per_worker)
    count = max(1, min(run.workers or slots(per), chunks))
    shares = {per} | {n.get("CPU", 0) / k for n in nodes for k in range(1, count + 1)}
    fitting = [c for c in shares if 0 < c <= per and slots(c) >= count]
    if not fitting:
        raise ConfigError(
            f"{count} worker(s) with {gpus:g} GPU(s) each do not fit this cluster "
            f"(at most {slots(1e-3)}); ask for fewer --workers"
        )
    return WorkerShape(count, max(fitting), gpus, needed)


def uses_ray_transfer(run: RunConfig) -> bool:
    """Whether frames go through the object store: asked for, or a remote cluster without a
    shared work folder."""
    if run.transfer != "auto":
        return run.transfer == "ray"
    return bool(run.address) and not run.work_dir


@contextlib.contextmanager
def session(run: RunConfig) -> Iterator[list[dict[str, float]]]:
    """Connects to Ray (``run.address``) or starts a quiet local one; yields the resources of
    each live node.

    A Ray that is already initialised (a notebook, a test session) is used and left running.
    """
    if ray.is_initialized():
        yield _nodes()
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if run.address:  # the pipeline has already run check_address on it
        try:
            ray.init(address=run.address, logging_level=logging.ERROR, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ConfigError(
                f"cannot connect to the Ray cluster at {run.address} ({first}); "
                "check `ray status` on the head node"
            ) from None
    else:
        start_local_ray(os.cpu_count() or 1)
    try:
        yield _nodes()
    finally:
        ray.shutdown()


def check_address(address: str) -> None:
    """Fails at once on a malformed address or one nothing listens on (Ray itself would retry
    for minutes).

    Raises:
        ConfigError: naming the address and what to check.
    """
    if address == "auto":
        return  # Ray reads the local cluster's address from its own files and fails fast
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"Ray address {address!r} is not auto, HOST:PORT or ray://HOST:PORT; "
            "e.g. --address 10.0.0.5:6379"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        raise ConfigError(
            f"no Ray cluster answers at {address} ({error.strerror or error}); "
            "check `ray status` on the head node and the address"
        ) from None


def _nodes() -> list[dict[str, float]]:
    return [dict(node["Resources"]) for node in ray.nodes() if node["Alive"]]


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
    except Exception as error:  # Ray's own, of many kinds: a full disk, a port in use ...
        why = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise VidcolorError(
            f"could not start a local Ray ({why}); Ray keeps its files under "
            f"{os.environ.get('RAY_TMPDIR', tempfile.gettempdir())}: check it has free space "
            "and can be written, or pass --address to use a running cluster"
        ) from error
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = cluster_mode


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
class _FrameCounter:
    """Frames done per chunk; a chunk re-run after its worker died starts again from 0."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}

    def start(self, chunk: int) -> None:
        self.done[chunk] = 0

    def add(self, chunk: int, frames: int) -> None:
        self.done[chunk] = self.done.get(chunk, 0) + frames

    def total(self) -> int:
        return sum(self.done.values())


class _RayWorker:
    """A ChunkWorker inside a Ray actor: knows its node, and stages files for ``ray`` transfer."""

    def __init__(self, config: Config, threads: int, weights: Upload | None) -> None:
        keep_freed_memory()  # this process is the actor's own
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

    def process(self, job: Job, chunk: Chunk, source: Upload | None, counter: Any) -> ChunkDone:
        counter.start.remote(chunk.index)
        local = job
        if source is not None:
            info = dataclasses.replace(job.info, path=_stage(source))
            local = dataclasses.replace(job, info=info, work_dir=str(_node_folder(source.run)))
        result = self.worker.process(local, chunk, lambda n: counter.add.remote(chunk.index, n))
        data = None
        if source is not None:
            segment = Path(result.path)
            data = segment.read_bytes()
            segment.unlink()
        return ChunkDone(result, data, self.describe())

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


def colorize(
    job: Job,
    chunks: Sequence[Chunk],
    config: Config,
    shape: WorkerShape,
    shipment: Shipment | None,
    on_done: Callable[[ChunkDone], None],
    on_progress: Callable[[int, int], None] | None = None,
) -> list[WorkerInfo]:
    """Runs ``chunks`` on ``shape.count`` actors, one in flight each; hands each finished chunk
    to ``on_done`` as it arrives. ``on_progress(frames, busy)``: frames done by this call.

    Raises:
        VidcolorError: a worker's own error (an undecodable frame ...), or a chunk whose worker
            died on every try.
    """
    actor_cls: Any = ray.remote(_RayWorker)
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
    counter: Any = _FrameCounter.remote()  # type: ignore[attr-defined]
    job_ref = ray.put(job)
    try:
        infos = [_get(actor.describe.remote(), None) for actor in actors]
        for number, info in enumerate(infos):
            log.info(
                "worker %d: pid %d on node %s (%s), %s, %s", number, info.pid, info.node[:12],
                info.address, info.device, info.model,
            )  # fmt: skip
        source = shipment.source if shipment else None
        _schedule(actors, chunks, job_ref, source, counter, on_done, on_progress)
        if source is not None:
            ray.get([actor.clean.remote(source.run) for actor in actors])
        return infos
    finally:
        for actor in actors:
            ray.kill(actor)


def _schedule(
    actors: list[Any],
    chunks: Sequence[Chunk],
    job_ref: Any,
    source: Upload | None,
    counter: Any,
    on_done: Callable[[ChunkDone], None],
    on_progress: Callable[[int, int], None] | None,
) -> None:
    pending = list(chunks)
    running: dict[Any, tuple[int, Chunk]] = {}
    idle = list(range(len(actors)))
    while pending or running:
        while idle and pending:
            number, chunk = idle.pop(), pending.pop(0)
            ref = actors[number].process.remote(job_ref, chunk, source, counter)
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
                     finished.worker.pid, finished.result.seconds)  # fmt: skip
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
