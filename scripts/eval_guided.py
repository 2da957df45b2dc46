"""Guided colorization on the DAVIS clips (issue 17): automatic, the true frame 0 as the only
reference, and 16 true-color hint points on frame 0, scored by ``vidcolor eval``'s code.

Each clip is first scaled to width 480 and stored losslessly (FFV1 4:4:4), so that the truth
is the scaled clip; its frame 0 is the reference (a PNG named ``000000.png``) and the hints are
its colors (the mean over a 5x5 patch) at the centres of a 4x4 grid, radius 2.

    python scripts/eval_guided.py --out docs/guided_davis.json [--weights W] [--clips a,b]
    python scripts/eval_guided.py CLIP... --out dev.json [--limit N]   (any color clips)

Settings are chosen on other color clips (``nasa_13013.mp4``, ``big_buck_bunny_0_30.webm``),
never on DAVIS: those are for measuring only.

Prints one line per clip and mode, then the means; the JSON has every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from vidcolor import evaluate, metrics
from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig
from vidcolor.evaluate.pictures import lab, to_gray
from vidcolor.guidance import load_guidance
from vidcolor.probing import probe

DAVIS = Path(__file__).resolve().parents[1] / ".." / "shared" / "media" / "davis"
WIDTH = 480
GRID = 4
MODES = ("auto", "reference", "hints")


def scaled_copy(source: Path, target: Path, start: int = 0, limit: int | None = None) -> np.ndarray:
    """Frames ``start`` on of ``source`` at width 480, lossless; returns the first as RGB."""
    first = None
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        video = inp.streams.video[0]
        height = round(video.height * WIDTH / video.width / 2) * 2
        stream = out.add_stream("ffv1", rate=video.average_rate)
        stream.width, stream.height, stream.pix_fmt = WIDTH, height, "yuv444p"
        for index, frame in enumerate(inp.decode(video)):
            if index < start:
                continue
            if limit is not None and index >= start + limit:
                break
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (WIDTH, height),
                             interpolation=cv2.INTER_AREA)  # fmt: skip
            first = rgb if first is None else first
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    with av.open(str(target)) as inp:  # the truth as eval decodes it
        return next(inp.decode(video=0)).to_ndarray(format="rgb24")


def write_guidance(first: np.ndarray, folder: Path) -> tuple[Path, Path]:
    height, width = first.shape[:2]
    reference = folder / "000000.png"
    cv2.imwrite(str(reference), first[..., ::-1])
    rows = ["frame,x,y,r,g,b,radius"]
    for j in range(GRID):
        for i in range(GRID):
            x, y = int((i + 0.5) * width / GRID), int((j + 0.5) * height / GRID)
            r, g, b = first[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(axis=0).round()
            rows.append(f"0,{x},{y},{int(r)},{int(g)},{int(b)},2")
    hints = folder / "hints.csv"
    hints.write_text("\n".join(rows) + "\n")
    return reference, hints


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", type=Path, nargs="*", help="color clips (default: DAVIS)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, help="score only the first N frames")
    parser.add_argument("--start", type=int, default=0, help="first frame of each clip")
    parser.add_argument("--weights", default="default")
    parser.add_argument("--clips", help="comma-separated names (default: all 14)")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    clips = list(args.sources) or sorted(DAVIS.glob("davis_*.mp4"))
    if args.clips:
        clips = [c for c in clips if c.stem.removeprefix("davis_") in args.clips.split(",")]
    if not clips:
        print(f"no DAVIS clips in {DAVIS}", file=sys.stderr)
        return 1
    colorizer = Colorizer(ModelConfig(weights=args.weights))
    render_factor = ModelConfig().render_factor
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            name = clip.stem.removeprefix("davis_")[:18]
            folder = Path(tmp) / name
            folder.mkdir()
            scaled = folder / f"{name}.mkv"
            first = scaled_copy(clip, scaled, args.start, args.limit)
            reference, hints = write_guidance(first, folder)
            # The most frame 0 can score here: its true ab on the gray's lightness.
            best = evaluate.merge_gray_ab(to_gray(first), np.moveaxis(lab(first)[..., 1:], -1, 0))
            ceiling = metrics.psnr_rgb(best / 255.0, first / 255.0)
            info = probe(scaled)
            guides = {"auto": None, "reference": load_guidance(info, [reference]),
                      "hints": load_guidance(info, (), hints)}  # fmt: skip
            results[name] = {}
            for mode in args.modes.split(","):
                began = time.perf_counter()
                report = evaluate.evaluate_video(
                    colorizer, scaled, render_factor=render_factor, mean_ab=(0.0, 0.0),
                    guidance=guides[mode])  # fmt: skip
                ours = report["methods"]["ours"]
                row = {"per_frame": [i["ours"]["psnr_rgb"] for i in report["items"]],
                       "psnr_rgb": ours["psnr_rgb"], "frame0_psnr_rgb":
                       report["items"][0]["ours"]["psnr_rgb"],
                       "gray_psnr_rgb": report["methods"]["gray"]["psnr_rgb"],
                       "cdc": ours["cdc"], "frames": report["count"], "frame0_ceiling": ceiling,
                       "seconds": time.perf_counter() - began}  # fmt: skip
                results[name][mode] = row
                print(f"{name:18s} {mode:9s} PSNR {row['psnr_rgb']:6.2f} dB  frame 0 "
                      f"{row['frame0_psnr_rgb']:6.2f} (of {ceiling:.2f})  "
                      f"gray {row['gray_psnr_rgb']:6.2f}  "
                      f"({row['frames']} frames, {row['seconds']:.0f} s)", flush=True)  # fmt: skip
    summary = {}
    for mode in args.modes.split(","):
        scores = [r[mode]["psnr_rgb"] for r in results.values()]
        firsts = [r[mode]["frame0_psnr_rgb"] for r in results.values()]
        summary[mode] = {"mean_psnr_rgb": float(np.mean(scores)), "min_psnr_rgb": min(scores),
                         "mean_frame0_psnr_rgb": float(np.mean(firsts))}  # fmt: skip
        print(
            f"{mode:9s} mean {summary[mode]['mean_psnr_rgb']:.2f} dB, worst clip "
            f"{summary[mode]['min_psnr_rgb']:.2f}, "
            f"frame 0 {summary[mode]['mean_frame0_psnr_rgb']:.2f}"
        )
    first_mode = args.modes.split(",")[0]
    summary["gray"] = {"mean_psnr_rgb": float(np.mean(
        [r[first_mode]["gray_psnr_rgb"] for r in results.values()]))}  # fmt: skip
    print(f"gray      mean {summary['gray']['mean_psnr_rgb']:.2f} dB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"weights": colorizer.description, "clips": results, "summary": summary,
              "width": WIDTH}  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
