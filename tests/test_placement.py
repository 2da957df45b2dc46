"""Placement without Ray: how many workers, what each asks for, how frames reach them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vidcolor.config import RunConfig
from vidcolor.errors import ConfigError
from vidcolor.placement import WorkerShape, check_address, uses_ray_transfer, worker_shape


def test_worker_shape_fills_gpus_or_cpus():
    gpu_nodes = [{"CPU": 8.0, "GPU": 1.0}, {"CPU": 8.0, "GPU": 1.0}]
    assert worker_shape(RunConfig(), "auto", gpu_nodes, 100) == WorkerShape(2, 2.0, 1.0)
    half = RunConfig(gpus_per_worker=0.5)
    assert worker_shape(half, "auto", gpu_nodes, 100) == WorkerShape(4, 2.0, 0.5)
    assert worker_shape(RunConfig(), "cpu", gpu_nodes, 100) == WorkerShape(8, 2.0, 0.0)
    assert worker_shape(RunConfig(), "auto", [{"CPU": 2.0}], 100) == WorkerShape(1, 2.0, 0.0)
    assert worker_shape(RunConfig(), "cpu", gpu_nodes, 3).count == 3  # never more than chunks
    with pytest.raises(ConfigError, match="no node has more than 1"):
        worker_shape(RunConfig(gpus_per_worker=2), "auto", gpu_nodes, 100)
    with pytest.raises(ConfigError, match="do not fit"):
        worker_shape(RunConfig(workers=3), "auto", gpu_nodes, 100)


def test_every_worker_can_be_placed_when_more_are_asked_than_fit():
    # 3 workers on two 2-CPU nodes: a share of 4/3 CPU would fit only one per node.
    two_small = [{"CPU": 2.0}, {"CPU": 2.0}]
    assert worker_shape(RunConfig(workers=3), "cpu", two_small, 100) == WorkerShape(3, 1.0, 0.0)
    # GPU workers take the CPUs of the GPU nodes, not of a CPU-only head.
    head_and_gpus = [{"CPU": 8.0}, {"CPU": 4.0, "GPU": 4.0}, {"CPU": 4.0, "GPU": 4.0}]
    half = RunConfig(gpus_per_worker=0.5)
    assert worker_shape(half, "auto", head_and_gpus, 100) == WorkerShape(4, 2.0, 0.5)
    every_half_gpu = RunConfig(gpus_per_worker=0.5, workers=16)
    assert worker_shape(every_half_gpu, "auto", head_and_gpus, 100) == WorkerShape(16, 0.5, 0.5)
    one = [{"CPU": 1.0}]
    assert worker_shape(RunConfig(), "cpu", one, 100) == WorkerShape(1, 1.0, 0.0)


def test_workers_fit_each_nodes_memory_and_too_large_frames_are_refused_with_the_estimate():
    gib = 2**30
    nodes = [{"CPU": 8.0, "memory": 7.0 * gib}, {"CPU": 8.0, "memory": 3.0 * gib}]

    def needs(size: float) -> Callable[[bool], int]:
        return lambda gpu: int(size * gib)

    # 2 of 3 GiB workers on the first node, 1 on the second, though the CPUs hold 8.
    assert worker_shape(RunConfig(), "cpu", nodes, 100, needs(3)) == WorkerShape(
        3, 2.0, 0.0, 3 * gib
    )
    assert worker_shape(RunConfig(), "cpu", nodes, 100, needs(0.5)).count == 8  # CPUs bind
    with pytest.raises(ConfigError, match="do not fit"):
        worker_shape(RunConfig(workers=4), "cpu", nodes, 100, needs(3))
    with pytest.raises(ConfigError, match=r"needs about 7\.5 GiB .* more than 7\.0 GiB"):
        worker_shape(RunConfig(), "cpu", nodes, 100, needs(7.5))
    # A GPU worker batches more frames, and is asked for its own estimate.
    gpu_nodes = [{"CPU": 8.0, "GPU": 1.0, "memory": 7.0 * gib}]
    shape = worker_shape(RunConfig(), "auto", gpu_nodes, 100, lambda gpu: (5 if gpu else 1) * gib)
    assert shape == WorkerShape(1, 2.0, 1.0, 5 * gib)


def test_frames_travel_through_ray_only_to_a_cluster_without_a_shared_folder():
    assert not uses_ray_transfer(RunConfig())  # the embedded local Ray shares this disk
    assert uses_ray_transfer(RunConfig(address="10.0.0.5:6379"))
    assert not uses_ray_transfer(RunConfig(address="10.0.0.5:6379", work_dir="/mnt/shared"))
    assert uses_ray_transfer(RunConfig(transfer="ray"))
    assert not uses_ray_transfer(RunConfig(address="auto", transfer="shared"))


@pytest.mark.parametrize("address", ["10.0.0.5", "host:port", ":6379", "ray://"])
def test_a_malformed_address_is_refused_with_an_example(address):
    with pytest.raises(ConfigError, match="is not auto, HOST:PORT"):
        check_address(address)


def test_an_address_nothing_listens_on_is_refused_at_once():
    with pytest.raises(ConfigError, match=r"no Ray cluster answers at 127\.0\.0\.1:9"):
        check_address("127.0.0.1:9")  # the discard port: nothing listens there
