"""End-to-end throughput of `vidcolor run` on one clip: median fps over repeats, in one process.

Usage: .venv/bin/python scripts/bench_e2e.py CLIP [--repeats 3] [--set key=value ...]

Each repeat is a full run (probe, Ray workers, decode, model, smoothing, encode, ffmpeg join);
Ray is started once, before the first repeat, and its start-up time is reported separately.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ray

from vidcolor.config import load_config
from vidcolor.distributed.session import start_local_ray
from vidcolor.pipeline import run
from vidcolor.probing import probe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    config = load_config(None, args.set)
    info = probe(args.clip)
    began = time.monotonic()
    start_local_ray(os.cpu_count() or 1)
    ray_start = time.monotonic() - began
    fps = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            out = Path(tmp) / f"out{i}{args.clip.suffix if args.clip.suffix != '.webm' else '.mkv'}"
            summary = run(args.clip, out, config)
            fps.append(summary.fps)
            print(
                f"repeat {i + 1}: {summary.frames} frames in {summary.seconds:.1f} s "
                f"= {summary.fps:.2f} fps ({summary.workers} worker(s))",
                file=sys.stderr,
            )
    ray.shutdown()
    v = info.video
    print(
        f"clip: {args.clip.name} {v.width}x{v.height} {v.frame_count} frames @ {float(v.fps):.3f}"
    )
    print(f"config overrides: {args.set or 'none'}; cpus: {os.cpu_count()}")
    print(f"ray start: {ray_start:.1f} s (once, not in the fps)")
    print(
        f"end-to-end fps: median {statistics.median(fps):.2f} over {len(fps)} "
        f"(all: {', '.join(f'{x:.2f}' for x in fps)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
