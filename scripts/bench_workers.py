"""Throughput of `vidcolor run` with 1, 2 ... workers on one machine, and the scaling efficiency.

Usage: .venv/bin/python scripts/bench_workers.py CLIP [--workers 1,2] [--repeats 3]
           [--set key=value ...]

One local Ray is started once; every repeat runs each worker count in turn (interleaved, so
slow drifts of a shared machine hit every count alike). Each run is a full `vidcolor run`
(probe, workers, decode, model, smoothing, encode, ffmpeg join) into a fresh output, with
resume off. Prints the median fps of each count and its scaling efficiency,
fps(N) / (N * fps(1)). Every worker runs ``run.cpus_per_worker`` torch threads, so on a 2-core
machine compare 1 and 2 workers at ``--set run.cpus_per_worker=1``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import ray

from vidcolor.config import load_config
from vidcolor.distributed.session import start_local_ray
from vidcolor.pipeline import run
from vidcolor.probing import probe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    base = [*args.set, "run.resume=false"]
    info = probe(args.clip)
    suffix = ".mkv" if args.clip.suffix == ".webm" else args.clip.suffix
    start_local_ray(os.cpu_count() or 1)
    fps: dict[int, list[float]] = {n: [] for n in counts}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for repeat in range(args.repeats):
                for n in counts:
                    out = Path(tmp) / f"w{n}r{repeat}{suffix}"
                    summary = run(args.clip, out, load_config(None, [*base, f"run.workers={n}"]))
                    fps[n].append(summary.fps)
                    line = f"{summary.frames} frames in {summary.seconds:.1f} s"
                    print(f"repeat {repeat + 1}, {n} worker(s): {line} = {summary.fps:.2f} fps",
                          file=sys.stderr)  # fmt: skip
    finally:
        ray.shutdown()
    v = info.video
    print(f"clip: {args.clip.name} {v.width}x{v.height}, {v.frame_count} frames")
    print(f"overrides: {args.set or 'none'}; cpus: {os.cpu_count()}; repeats: {args.repeats}")
    one = statistics.median(fps[counts[0]]) * 1 / counts[0]
    for n in counts:
        median = statistics.median(fps[n])
        runs = ", ".join(f"{x:.2f}" for x in fps[n])
        print(f"{n} worker(s): median {median:.2f} fps ({runs}); "
              f"scaling efficiency {median / (n * one):.0%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
