"""vidcolor against a DeOldify-style pipeline on one clip, and the two floors, in one run.

Usage: .venv/bin/python scripts/bench.py [CLIP] [--repeats 3] [--set key=value ...] [--smoke]

Four measurements, each repeated (interleaved, so a noisy machine's drifts hit all alike), on
the same clip, model, weights and render size:

a. vidcolor end to end: ``vidcolor.pipeline.run`` (probe, Ray workers, decode, model, flow
   smoothing, encode, ffmpeg join with the source's audio). Ray is started once, before.
b. a DeOldify-style baseline written for this benchmark: ffmpeg extracts every frame to JPEG
   on disk, each frame is colorized alone (batch 1, fp32) and written back as JPEG, and ffmpeg
   rebuilds the video (libx264, CRF 17) and re-adds the audio (AAC). It runs in a process of
   its own, as a plain PyTorch program (default allocator), timed after its imports.
c. the model alone on pre-decoded frames, batched and in the precision configured, in a process
   tuned as a worker is: the compute floor.
d. decode plus encode alone, no model (neutral chroma): the I/O floor.

Prints fps for each (medians), the ratios a/b (fps) and a / (c + d) (time), and the peak
resident memory of this process and every process it started (Ray's included) during each
measurement. ``--smoke`` runs a tiny generated clip once at render factor 4: it checks that
the benchmark works, and its figures mean nothing. ``--only vidcolor`` measures just (a), e.g.
to compare peak memory on a short clip and one 10 times longer.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import ray
import torch

from vidcolor import color
from vidcolor.assemble import ffmpeg_exe
from vidcolor.colorize import Colorizer, render_lightness
from vidcolor.config import Config, load_config
from vidcolor.decode import read_frames
from vidcolor.distributed.session import start_local_ray
from vidcolor.encode import SegmentWriter, plan_encode
from vidcolor.evaluate import merge_gray_ab
from vidcolor.heap import tune_malloc
from vidcolor.media import VideoInfo
from vidcolor.pipeline import run
from vidcolor.probing import probe
from vidcolor.sample import write_sample

DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared" / "media" / "chaplin.mp4"
NAMES = {
    "vidcolor": "a. vidcolor end to end",
    "baseline": "b. DeOldify-style (JPEG on disk, batch 1)",
    "model": "c. model alone (compute floor)",
    "io": "d. decode + encode alone (I/O floor)",
}


class PeakMemory:
    """Peak summed RSS of this process and its descendants, sampled every 50 ms (Linux)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> PeakMemory:
        self.peak = _tree_rss(os.getpid())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _tree_rss(os.getpid()))


def _tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and all its descendants, from /proc."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0"))
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(rss.get(pid, 0) for pid in tree)


def vidcolor_end_to_end(clip: Path, config: Config, tmp: Path) -> int:
    out = tmp / f"vidcolor{clip.suffix if clip.suffix in ('.mp4', '.mkv', '.mov') else '.mkv'}"
    out.unlink(missing_ok=True)
    return run(clip, out, config).frames


def deoldify_style(clip: Path, config: Config, tmp: Path) -> tuple[int, float]:
    """In a fresh process, as a user would run it: see :func:`_deoldify_style`."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_deoldify_style, clip, config, tmp).result()


def _deoldify_style(clip: Path, config: Config, tmp: Path) -> tuple[int, float]:
    """(frames, seconds): every frame through JPEG files, one at a time, in float32, as
    DeOldify's video pipeline does. It runs in a process of its own, with the allocator and
    thread count a plain PyTorch program has; its clock starts after the imports."""
    began = time.perf_counter()
    torch.set_num_threads(config.run.cpus_per_worker)
    frames_in, frames_out = tmp / "jpg_in", tmp / "jpg_out"
    for folder in (frames_in, frames_out):
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
    ffmpeg = ffmpeg_exe()
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(clip), "-map", "0:v:0", "-fps_mode", "passthrough",
         "-q:v", "2", str(frames_in / "%06d.jpg")],
        check=True,
    )  # fmt: skip
    model = dataclasses.replace(config.model, batch_size=1, precision="float32")
    colorizer = Colorizer(model)
    info = probe(clip)
    render = colorizer.render_size(info.video.width, info.video.height, info.video.sar)
    names = sorted(p.name for p in frames_in.iterdir())
    for name in names:
        bgr = cv2.imread(str(frames_in / name))
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
        ab = colorizer.predict(render_lightness(gray, render)[None])[0]
        rgb = merge_gray_ab(gray, ab)
        cv2.imwrite(str(frames_out / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = tmp / "baseline.mp4"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-framerate", str(info.video.fps),
         "-i", str(frames_out / "%06d.jpg"), "-i", str(clip), "-map", "0:v", "-map", "1:a?",
         "-c:v", "libx264", "-crf", "17", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)],
        check=True,
    )  # fmt: skip
    return len(names), time.perf_counter() - began


def model_alone(clip: Path, config: Config) -> tuple[int, float]:
    """(frames, seconds of predict only): decoding and resizing happen before the clock."""
    colorizer = Colorizer(config.model)
    info = probe(clip)
    video = info.video
    render = colorizer.render_size(video.width, video.height, video.sar)
    full_range = video.color_range == "pc"
    lightness = np.stack(
        [
            render_lightness(color.luma_to_unit(f.luma, video.bit_depth, full_range), render)
            for f in read_frames(info, 0, video.frame_count)
        ]
    )
    colorizer.predict(lightness[: colorizer.batch_size])  # warm-up, as a worker's first batch
    began = time.perf_counter()
    colorizer.predict(lightness)
    return len(lightness), time.perf_counter() - began


def io_alone(clip: Path, config: Config, tmp: Path) -> int:
    """Decode every frame and encode it with neutral chroma, as one segment."""
    info = probe(clip)
    spec = plan_encode(info.video, config.encode, "mkv")
    neutral = 1 << (spec.bit_depth - 1)
    dtype = np.uint8 if spec.bit_depth == 8 else np.uint16
    chroma = np.full((2, spec.chroma_height, spec.chroma_width), neutral, dtype)
    path = tmp / "io.mkv"
    path.unlink(missing_ok=True)
    with SegmentWriter(path, spec, threads=config.run.cpus_per_worker) as writer:
        for frame in read_frames(info, 0, info.video.frame_count):
            writer.write(frame.luma, chroma, frame.pts)
    return writer.frames


def measure(step: Callable[[], object]) -> tuple[float, int]:
    """(seconds, peak bytes) of one step; the model and baseline steps report their own
    seconds."""
    with PeakMemory() as memory:
        began = time.perf_counter()
        result = step()
        seconds = time.perf_counter() - began
    if isinstance(result, tuple):
        seconds = result[1]
    return seconds, memory.peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path, nargs="?", help=f"default: {DEFAULT_CLIP.name}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--smoke", action="store_true", help="tiny clip, render factor 4, once")
    parser.add_argument("--only", help="comma-separated subset of vidcolor,baseline,model,io")
    args = parser.parse_args()
    tmp_dir = tempfile.TemporaryDirectory(prefix="vidcolor-bench-")
    tmp = Path(tmp_dir.name)
    overrides = [*args.set, "run.resume=false"]
    clip = args.clip
    if args.smoke:
        clip = write_sample(tmp / "smoke.mp4", seconds=1.0) if clip is None else clip
        overrides += ["model.render_factor=4", "encode.preset=ultrafast"]
        args.repeats = 1
    elif clip is None:
        clip = DEFAULT_CLIP if DEFAULT_CLIP.exists() else write_sample(tmp / "sample.mp4")
    config = load_config(None, overrides)
    torch.set_num_threads(config.run.cpus_per_worker)  # as each worker runs
    tune_malloc()  # as each worker does (the baseline runs in a process of its own)
    info = probe(clip)
    start_local_ray(os.cpu_count() or 1)
    steps = {
        "vidcolor": lambda: vidcolor_end_to_end(clip, config, tmp),
        "baseline": lambda: deoldify_style(clip, config, tmp),
        "model": lambda: model_alone(clip, config),
        "io": lambda: io_alone(clip, config, tmp),
    }
    if args.only:
        steps = {k: v for k, v in steps.items() if k in args.only.split(",")}
    seconds: dict[str, list[float]] = {k: [] for k in steps}
    peaks: dict[str, int] = dict.fromkeys(steps, 0)
    try:
        for repeat in range(args.repeats):
            for key, step in steps.items():
                took, peak = measure(step)
                seconds[key].append(took)
                peaks[key] = max(peaks[key], peak)
                print(f"repeat {repeat + 1}: {key} {took:.1f} s", file=sys.stderr)
    finally:
        ray.shutdown()
        tmp_dir.cleanup()
    _report(clip, info, config, args, seconds, peaks)
    return 0


def _report(
    clip: Path,
    info: VideoInfo,
    config: Config,
    args: argparse.Namespace,
    seconds: dict[str, list[float]],
    peaks: dict[str, int],
) -> None:
    v, frames = info.video, info.video.frame_count
    median = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"clip: {clip.name} {v.width}x{v.height}, {frames} frames; cpus: {os.cpu_count()}")
    print(f"model: render factor {config.model.render_factor}, batch {config.model.batch_size}, "
          f"precision {config.model.precision} (baseline float32), "
          f"weights {config.model.weights}; smoothing {config.smooth.mode}; "
          f"repeats {args.repeats}; overrides {args.set or 'none'}")  # fmt: skip
    for key, name in NAMES.items():
        if key not in seconds:
            continue
        runs = ", ".join(f"{frames / s:.2f}" for s in seconds[key])
        print(f"{name:44s} {frames / median[key]:7.2f} fps ({runs})  "
              f"peak RSS {peaks[key] / 2**20:,.0f} MiB")  # fmt: skip
    if len(median) < len(NAMES):
        return
    print(f"a/b, speed-up over the DeOldify-style pipeline: "
          f"{median['baseline'] / median['vidcolor']:.2f}x")  # fmt: skip
    floor = median["model"] + median["io"]
    print(f"a/(c+d), vidcolor's time over the floors' sum: {median['vidcolor'] / floor:.2f}")


if __name__ == "__main__":
    sys.exit(main())
