"""The Ray session: an embedded local Ray, or an existing cluster.

Without an address an embedded Ray starts on this machine, bound to localhost, with no dashboard,
and stops at the end; with one (``auto``, ``HOST:PORT``, ``ray://HOST:10001``) the run joins an
existing cluster (:func:`vidcolor.placement.check_address` has checked it first). The live
nodes' resources are handed to :mod:`vidcolor.placement`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator

import ray

from vidcolor.config import RunConfig
from vidcolor.errors import ConfigError, VidcolorError


@contextlib.contextmanager
def session(run: RunConfig) -> Iterator[list[dict[str, float]]]:
    """Connects to Ray (``run.address``) or starts a quiet local one; yields the resources of
    each live node.

    A Ray that is already initialised (a notebook, a test session) is used and left running.
    """
    if ray.is_initialized():
        yield nodes()
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
        yield nodes()
    finally:
        ray.shutdown()


def nodes() -> list[dict[str, float]]:
    """Each live node's resources (``CPU``, ``GPU``, ``memory`` ...), as Ray reports them."""
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
