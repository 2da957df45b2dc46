"""What filling new memory costs a worker (``heap.tune_malloc``, issue 20): one chunk of a clip
colorized by a ChunkWorker in a fresh process, with and without the fill, interleaved.

    .venv/bin/python scripts/bench_fill.py ../shared/media/chaplin.mp4 --repeats 3

Prints each run's seconds, the medians and their ratio, and whether the H.264 segments of the
runs with the fill are identical (they must be; those without it may differ).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
from pathlib import Path
from vidcolor.chunks import plan_chunks
from vidcolor.config import load_config
from vidcolor.encode import plan_encode
from vidcolor.probing import probe
from vidcolor.heap import tune_malloc
from vidcolor.worker import ChunkWorker, Job

tune_malloc(fill=sys.argv[3] == "fill")
config = load_config(None, [])
info = probe(Path(sys.argv[1]))
job = Job(info=info, spec=plan_encode(info.video, config.encode, "mp4"))
chunk = plan_chunks(info.video.frame_count, info.video.frame_count, config.smooth.halo)[0]
worker = ChunkWorker(config, config.run.cpus_per_worker)
began = time.monotonic()
worker.process(job, chunk, Path(sys.argv[2]))
print(json.dumps({"seconds": time.monotonic() - began}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"fill": [], "no fill": []}
    digests: dict[str, set[str]] = {"fill": set(), "no fill": set()}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for mode in ("fill", "no fill"):
                out = Path(folder) / f"{repeat}-{mode.replace(' ', '')}.mp4"
                flag = "fill" if mode == "fill" else "plain"
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(args.clip), str(out), flag],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
                times[mode].append(seconds)
                digests[mode].add(hashlib.sha256(out.read_bytes()).hexdigest())
                print(f"{mode:8} run {repeat}: {seconds:.2f} s", flush=True)
    medians = {mode: statistics.median(values) for mode, values in times.items()}
    for mode, median in medians.items():
        print(f"{mode:8} median {median:.2f} s; distinct segments: {len(digests[mode])}")
    print(f"fill / no fill: {medians['fill'] / medians['no fill']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
