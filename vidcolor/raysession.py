"""The Ray session, and the workers' shape on its nodes.

Without an address an embedded Ray starts on this machine, bound to localhost, with no dashboard,
and stops at the end; with one (``auto``, ``HOST:PORT``, ``ray://HOST:10001``) the run joins an
existing cluster. The live nodes' resources decide how many workers run and what each asks Ray
for (:func:`worker_shape`); the address and ``run.transfer`` decide how frames reach them.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import ray

from vidcolor.config import RunConfig
from vidcolor.errors import ConfigError, VidcolorError

CONNECT_SECONDS = 10  # how long a cluster's address may take to accept a connection


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
