"""Weights side by side (issue 16): every heldout photo set and the 14 DAVIS clips, with the
gray and mean-ab baselines, in one run, as ``vidcolor eval`` scores them.

    python scripts/eval_default.py weights/vidcolor-default.safetensors NEW.safetensors \\
        --out docs/default_weights_eval.json [--davis-frames N]

The mean-ab baseline is the mean (a, b) of the five training sets, each set's mean over its
first 300 images, the sets weighed equally. DAVIS clips are scored at their own size (854x480),
smoothed as a run smooths them. Prints a markdown table; the JSON has every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vidcolor import evaluate
from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
TRAIN = SHARED / "data" / "colorize" / "train"
PHOTO_SETS = ("bsds500_test", "coco_okidli_test")
RENDER_FACTOR = ModelConfig().render_factor


def baseline_ab() -> tuple[float, float]:
    means = [evaluate.mean_ab(folder, 300) for folder in sorted(TRAIN.iterdir()) if folder.is_dir()]
    a, b = np.mean(means, axis=0)
    return float(a), float(b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--davis-frames", type=int, help="score at most N frames of each clip")
    parser.add_argument("--sheets", type=Path, help="folder for contact sheets")
    args = parser.parse_args()
    mean = baseline_ab()
    print(f"mean-ab baseline: a {mean[0]:.2f}, b {mean[1]:.2f}", flush=True)
    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    clips = sorted((SHARED / "media" / "davis").glob("davis_*.mp4"))
    for weights in args.weights:
        colorizer = Colorizer(ModelConfig(weights=str(weights)))
        mine: dict[str, dict[str, dict[str, float]]] = {}
        for name in PHOTO_SETS:
            began = time.perf_counter()
            sheet = args.sheets / f"{weights.stem}_{name}.png" if args.sheets else None
            report = evaluate.evaluate_images(
                colorizer, SHARED / "data" / "colorize" / "heldout" / name,
                render_factor=RENDER_FACTOR, mean_ab=mean, sheet_path=sheet)  # fmt: skip
            mine[name] = report["methods"]
            print(f"{weights.name} {name}: ours {report['methods']['ours']['psnr_rgb']:.2f} dB "
                  f"({time.perf_counter() - began:.0f} s)", flush=True)  # fmt: skip
        for clip in clips:
            began = time.perf_counter()
            sheet = args.sheets / f"{weights.stem}_{clip.stem}.png" if args.sheets else None
            report = evaluate.evaluate_video(colorizer, clip, render_factor=RENDER_FACTOR,
                                             mean_ab=mean, max_frames=args.davis_frames,
                                             sheet_path=sheet)  # fmt: skip
            mine[clip.stem] = {k: {m: v[m] for m in ("psnr_rgb", "delta_colorfulness")}
                               for k, v in report["methods"].items()}  # fmt: skip
            print(f"{weights.name} {clip.stem}: ours {report['methods']['ours']['psnr_rgb']:.2f}"
                  f" gray {report['methods']['gray']['psnr_rgb']:.2f} "
                  f"({time.perf_counter() - began:.0f} s)", flush=True)  # fmt: skip
        results[str(weights)] = mine
    table = _table(results, [c.stem for c in clips])
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"mean_ab": mean, "results": results}, indent=2) + "\n")
    return 0


def _table(results: dict, clips: list[str]) -> str:
    names = list(results)
    head = "| set | gray | mean-ab | " + " | ".join(Path(n).stem for n in names) + " |"
    rows = [head, "|" + " --- |" * (3 + len(names))]
    first = results[names[0]]
    for key in [*PHOTO_SETS, *clips, "DAVIS mean"]:

        def pick(r: dict, m: str, key: str = key) -> float:
            if key == "DAVIS mean":
                return float(np.mean([r[c][m]["psnr_rgb"] for c in clips]))
            return float(r[key][m]["psnr_rgb"])

        cells = [f"{pick(first, 'gray'):.2f}", f"{pick(first, 'mean_ab'):.2f}"]
        for name in names:
            cell = f"{pick(results[name], 'ours'):.2f}"
            if key in PHOTO_SETS:
                cell += f" (dCF {results[name][key]['ours']['delta_colorfulness']:.1f})"
            cells.append(cell)
        rows.append(f"| {key.removeprefix('davis_')} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
