"""What guidance adds to a run's wall time (issue 17: at most 30%), on chaplin.mp4.

Runs ``vidcolor run`` on the clip automatically and with one reference (frame 100 recolored
with another tone curve and a warm tint, as another tool might), alternating, ``--repeats``
times each, in one process with one worker, and prints the medians and their ratio.

    python scripts/bench_guided.py [--repeats 2] [--clip ../shared/media/chaplin.mp4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from vidcolor.config import load_config
from vidcolor.decode import read_frames
from vidcolor.pipeline import run
from vidcolor.probing import probe

CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "media" / "chaplin.mp4"
FRAME = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    info = probe(args.clip)
    (frame,) = read_frames(info, FRAME, FRAME + 1)
    gray = (frame.luma.astype(np.float64) / 255) ** 1.5
    tinted = np.clip(gray[..., None] * np.array([0.5, 0.78, 1.0]), 0, 1)  # BGR: warm
    config = load_config(None, ["run.workers=1", "run.resume=false"])
    times: dict[str, list[float]] = {"auto": [], "guided": []}
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / f"ref_{FRAME:06d}.png"
        cv2.imwrite(str(reference), np.round(tinted * 255).astype(np.uint8))
        for _ in range(args.repeats):
            for mode in times:
                refs = [reference] if mode == "guided" else []
                began = time.perf_counter()
                run(args.clip, Path(tmp) / "out.mp4", config, overwrite=True, references=refs)
                times[mode].append(time.perf_counter() - began)
                print(f"{mode:6s} {times[mode][-1]:.1f} s", flush=True)
    auto, guided = (statistics.median(times[m]) for m in ("auto", "guided"))
    print(f"median: auto {auto:.1f} s, guided {guided:.1f} s, ratio {guided / auto:.3f} "
          f"({info.video.frame_count} frames, {args.repeats} runs each)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
