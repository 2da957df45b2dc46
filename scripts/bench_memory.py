"""A worker's peak memory against frame size, and against vidcolor's own estimate.

Usage: .venv/bin/python scripts/bench_memory.py [--sizes 640x360,1920x1080,3840x2160]
       [--frames 60] [--codecs h264,ffv1] [--set key=value ...]

For each size a clip is generated (H.264, the moving shapes of ``vidcolor.sample``); for each
codec one chunk of the whole clip is colorized by a ``ChunkWorker`` in a fresh process, as a Ray
actor runs it (threads, allocator settings), and that process's peak resident memory is read
from ``getrusage``. The table sets it beside :func:`vidcolor.placement.memory_estimate`, which
the pipeline uses to place workers and to refuse frames too large for every node.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from vidcolor.chunks import plan_chunks
from vidcolor.config import Config, load_config
from vidcolor.encode import plan_encode
from vidcolor.heap import tune_malloc
from vidcolor.models.weights.shipped import resolve_weights
from vidcolor.placement import memory_estimate
from vidcolor.probing import probe
from vidcolor.sample import write_sample
from vidcolor.worker import ChunkWorker, Job

CONTAINERS = {"h264": "mp4", "ffv1": "mkv", "prores": "mov"}


def one_chunk(clip: Path, config: Config, work: Path) -> int:
    """Peak RSS in bytes of this process after colorizing ``clip`` as one chunk."""
    tune_malloc()
    info = probe(clip)
    container = CONTAINERS[config.encode.codec]
    spec = plan_encode(info.video, config.encode, container)
    job = Job(info=info, spec=spec, cuts=())
    worker = ChunkWorker(config, config.run.cpus_per_worker)
    chunk = plan_chunks(info.video.frame_count, info.video.frame_count, 0)[0]
    worker.process(job, chunk, work / f"segment.{container}")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="640x360,1920x1080,3840x2160")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--codecs", default="h264,ffv1")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    print(f"{'size':>10} {'codec':>6} {'peak RSS':>10} {'estimate':>10} {'estimate/peak':>14}")
    with tempfile.TemporaryDirectory(prefix="vidcolor-mem-") as tmp:
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            clip = write_sample(
                Path(tmp) / f"{size}.mp4", seconds=args.frames / 18, size=(width, height)
            )
            for codec in args.codecs.split(","):
                config = load_config(None, [*args.set, f"encode.codec={codec}"])
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    peak = pool.submit(one_chunk, clip, config, Path(tmp)).result()
                container = CONTAINERS[codec]
                info = probe(clip)
                spec = plan_encode(info.video, config.encode, container)
                weights = resolve_weights(config.model.weights)[0] if config.model.weights else None
                size_of = weights.stat().st_size if weights else 0
                estimate = memory_estimate(info.video, spec, config, size_of)
                print(f"{size:>10} {codec:>6} {peak / 2**20:8,.0f} MiB {estimate / 2**20:6,.0f} MiB"
                      f" {estimate / peak:14.2f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
