"""Where the work goes: how many workers, what each asks Ray for, and how frames reach them.

Pure arithmetic on what Ray reports (each node's resources) and the run's settings, so it is
tested without a cluster; :mod:`vidcolor.distributed` applies it.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from vidcolor.colorize import auto_batch_size
from vidcolor.config import Config, RunConfig
from vidcolor.encode import EncodeSpec
from vidcolor.errors import ConfigError
from vidcolor.media import VideoStreamInfo

CONNECT_SECONDS = 10  # how long a cluster's address may take to accept a connection

# A worker's memory, fitted to peaks measured by scripts/bench_memory.py (2 threads, render
# factor 21 and 42, batch 1, radius 4, 8-bit; 360p, 1080p and 4K): Python, torch and Ray's
# worker take about 330 MiB when measured alone; one worker inside a CI run peaked 120 MiB
# higher (696 against 558-576 MiB at 360p: RSS counts the shared libraries' pages the kernel
# maps from its page cache, which vary), so 450 is taken; the network's activations 1.9 KB per pixel
# of render size; the frames in flight (decoded, queued, held for smoothing, merged) and the
# encoder, per pixel of the frame: H.264 at CRF with lookahead 371 bytes, FFV1 190, ProRes 175.
_RUNTIME_BYTES = 450 << 20
_RENDER_BYTES_PER_PIXEL = 1_890
_FRAME_BYTES_PER_PIXEL = {"h264": 371, "ffv1": 190, "prores": 175}
_MARGIN = 1.1


def memory_estimate(
    video: VideoStreamInfo, spec: EncodeSpec, config: Config, weights: int, *, gpu: bool = False
) -> int:
    """Bytes a worker's process reaches at most for this stream, with a 10% margin.

    The fit above, plus twice the weights file (read, then cast), plus what settings beyond
    the measured ones add: five bytes a pixel (luma and its float copy) for every frame of a
    batch past the first (held three times over in the queues) and of radius past 4, and
    double the frame bytes past 8 bits. The render size is taken as DeOldify's square, the
    larger of the two kinds. Against peaks measured alone it is 1.16 to 1.45 times as large,
    8K to 360p (scripts/bench_memory.py; docs/benchmarks.md).

    Args:
        weights: size of the weights file in bytes (0 without one).
        gpu: for a GPU worker, whose automatic batch is larger.
    """
    pixels = video.width * video.height
    side = 16 * config.model.render_factor
    batch = config.model.batch_size or auto_batch_size(torch.device("cuda" if gpu else "cpu"))
    extra_frames = 3 * (batch - 1) + max(0, config.smooth.radius - 4)
    per_pixel = _FRAME_BYTES_PER_PIXEL[spec.codec] * (2 if spec.bit_depth > 8 else 1)
    per_pixel += 5 * extra_frames
    total = _RUNTIME_BYTES + 2 * weights + _RENDER_BYTES_PER_PIXEL * side * side
    return int(_MARGIN * (total + per_pixel * pixels))


@dataclass(frozen=True)
class WorkerShape:
    """How many workers, and the CPUs, GPUs and memory (bytes) each asks Ray for."""

    count: int
    cpus: float
    gpus: float
    memory: int = 0


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
