"""Temporal consistency of each smoothing mode on color clips turned gray, and what it costs.

Usage: .venv/bin/python scripts/bench_temporal.py CLIP [CLIP ...] [--weights W]
           [--start F] [--max-frames N] [--modes off,window,flow] [--set key=value ...]

For every clip, the model runs once (its time per frame is measured then, warm-up excluded);
each mode then smooths the same predictions through ``vidcolor eval``'s own code path
(:func:`vidcolor.evaluate.evaluate_video`) and is scored: warp error in RGB (Lai et al. 2018)
and in Lab ab, CDC, colorfulness and PSNR against the color original, and smoothing time per
frame (cut detection included) as a share of model time. Pairs of frames across a scene cut
are left out of warp error and CDC. The ``gray`` and ``truth`` rows give the scale: the gray
video's warp error is the floor any colorization adds to (its ab part is 0), and a gray or
frozen video scores well on warp error and CDC, so read them next to colorfulness and PSNR.
Medians over clips of each mode's ratios to ``off`` close the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidcolor.colorize import Colorizer
from vidcolor.config import load_config
from vidcolor.evaluate import evaluate_video

COLUMNS = ("warp_error", "warp_error_ab", "cdc", "colorfulness", "psnr_rgb")
HEADER = (
    f"{'':10s} {'WE x1e3':>8s} {'/off':>5s} {'WE-ab':>7s} {'/off':>5s} {'CDC':>8s} {'/off':>5s} "
    f"{'CF':>6s} {'/off':>5s} {'PSNR':>6s} {'-off':>6s} {'smooth ms':>9s} {'/model':>7s}"
)


class CachedColorizer:
    """A Colorizer that predicts each batch once and times it; repeats come from memory."""

    def __init__(self, colorizer: Colorizer) -> None:
        self.colorizer = colorizer
        self.batch_size = colorizer.batch_size
        self.description = colorizer.description
        self.trained = colorizer.trained
        self.render_size = colorizer.render_size
        self.seconds = 0.0
        self.frames = 0
        self._cache: dict[str, np.ndarray] = {}
        self._shapes: set[tuple[int, ...]] = set()

    def predict(self, lightness: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(lightness.tobytes()).hexdigest() + str(lightness.shape)
        if key not in self._cache:
            if lightness.shape[1:] not in self._shapes:  # the warm-up is not model time
                self.colorizer.predict(lightness[:1])
                self._shapes.add(lightness.shape[1:])
            began = time.perf_counter()
            self._cache[key] = self.colorizer.predict(lightness)
            self.seconds += time.perf_counter() - began
            self.frames += len(lightness)
        return self._cache[key]


def _row(name: str, scores: dict[str, float], off: dict[str, float] | None, cost: str) -> str:
    def ratio(key: str) -> str:
        return f"{scores[key] / off[key]:5.2f}" if off and off[key] else f"{'':5s}"

    psnr = scores.get("psnr_rgb", float("nan"))
    gain = f"{psnr - off['psnr_rgb']:+6.2f}" if off else f"{'':6s}"
    return (
        f"{name:10s} {1000 * scores['warp_error']:8.3f} {ratio('warp_error')} "
        f"{scores['warp_error_ab']:7.3f} {ratio('warp_error_ab')} {scores['cdc']:8.5f} "
        f"{ratio('cdc')} {scores['colorfulness']:6.2f} {ratio('colorfulness')} {psnr:6.2f} "
        f"{gain} {cost}"
    )


def bench_clip(
    clip: Path,
    config: Any,
    modes: list[str],
    frames: tuple[int, int | None],
    colorizer: CachedColorizer,
) -> dict[str, dict[str, float]]:
    """Prints one clip's table; returns each mode's ratios to off (and smoothing share)."""
    reports = {}
    for mode in modes:
        smooth = dataclasses.replace(config.smooth, mode=mode)
        reports[mode] = evaluate_video(
            colorizer,  # type: ignore[arg-type]  # duck-typed: predict, batch_size, description
            clip,
            render_factor=config.model.render_factor,
            mean_ab=(0.0, 0.0),
            smooth=smooth,
            start=frames[0],
            max_frames=frames[1],
        )
    first = reports[modes[0]]
    model_s = colorizer.seconds / max(colorizer.frames, 1)
    span = f"frames {first['start']}..{first['start'] + first['count'] - 1}"
    print(f"\n{clip.name}: {span}, cuts at {first['smooth']['cuts'] or 'none'}")
    print(f"model {1000 * model_s:.1f} ms/frame ({colorizer.description})")
    print(HEADER)
    print(_row("truth", {**first["truth"], "psnr_rgb": float("inf")}, None, ""))
    print(_row("gray", first["methods"]["gray"], None, ""))
    off = reports["off"]["methods"]["ours"] if "off" in reports else None
    ratios = {}
    for mode, report in reports.items():
        ours = report["methods"]["ours"]
        smooth_s = report["timing"]["smooth_per_frame"]
        cost = f"{1000 * smooth_s:9.1f} {smooth_s / model_s:7.1%}"
        print(_row(mode, ours, off, cost))
        ratios[mode] = {k: ours[k] / off[k] for k in COLUMNS[:4] if off and off[k]}
        if off:
            ratios[mode]["psnr_rgb"] = ours["psnr_rgb"] - off["psnr_rgb"]
        ratios[mode]["smooth_share"] = smooth_s / model_s
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", type=Path, nargs="+", help="color videos")
    parser.add_argument("--weights", help="weights file or name (default: the configured ones)")
    parser.add_argument("--start", type=int, default=0, help="first frame scored")
    parser.add_argument("--max-frames", type=int, help="score at most N frames")
    parser.add_argument("--modes", default="off,window,flow", help="comma-separated modes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = [*args.set, *([f"model.weights={args.weights}"] if args.weights else [])]
    config = load_config(None, overrides)
    torch.set_num_threads(config.run.cpus_per_worker)  # as each pipeline worker runs
    modes = args.modes.split(",")
    colorizer = Colorizer(config.model)
    print(f"threads: {config.run.cpus_per_worker}; smooth: {config.smooth}")
    per_clip = [
        bench_clip(clip, config, modes, (args.start, args.max_frames), CachedColorizer(colorizer))
        for clip in args.clips
    ]
    print(f"\nmedians over {len(per_clip)} clip(s), ratios to off (PSNR: difference in dB):")
    for mode in modes:
        keys = per_clip[0][mode]
        medians = {k: statistics.median(c[mode][k] for c in per_clip) for k in keys}
        print(f"{mode:8s} " + "  ".join(f"{k} {v:.3f}" for k, v in medians.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
