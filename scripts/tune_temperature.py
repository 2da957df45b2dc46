"""Chooses the annealed-mean temperature of a "bins" model on held-out validation images.

The temperature T trades accuracy for colorfulness: T = 1 decodes the mean of the predicted ab
distribution (the safe, desaturated average), small T its mode (vivid, and wrong more often).
For each image the network runs once; every T decodes the same logits, and each is scored as
``vidcolor eval`` scores: PSNR (RGB, ab) and colorfulness of the gray picture colorized at the
weights' render factor. The chosen T has the highest mean PSNR RGB among those whose dCF is at
most ``--max-dcf``; ``--write`` stores the weights again with that T in their metadata.

    python scripts/tune_temperature.py WEIGHTS --images OUT/validation.txt --report tune.json \
        --write weights/vidcolor-default.safetensors
"""

from __future__ import annotations

import argparse
import json
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from vidcolor import metrics
from vidcolor.colorize import render_size
from vidcolor.evaluate import merge_gray_ab, read_rgb, render_lightness, to_gray
from vidcolor.models import abbins, load_weights, save_weights

TEMPERATURES = (0.15, 0.2, 0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 1.0)


@torch.inference_mode()
def sweep(model: torch.nn.Module, paths: list[Path], render_factor: int,
          temperatures: tuple[float, ...]) -> dict[str, dict[str, float]]:  # fmt: skip
    """Mean PSNR RGB, CF and dCF per temperature over ``paths``."""
    scores: dict[float, list[tuple[float, float]]] = {t: [] for t in temperatures}
    truth_cf = []
    for path in paths:
        truth = read_rgb(path)
        gray = to_gray(truth)
        render = render_size(gray.shape[1], gray.shape[0], Fraction(1), render_factor)
        lightness = torch.from_numpy(render_lightness(gray, render))[None, None]
        logits = model.head_output(lightness)
        truth_cf.append(metrics.colorfulness(truth / 255.0))
        for t in temperatures:
            ab = abbins.annealed_mean(logits, model.centres, t)[0].numpy()
            out = merge_gray_ab(gray, ab) / 255.0
            scores[t].append((metrics.psnr_rgb(out, truth / 255.0), metrics.colorfulness(out)))
    mean_truth = float(np.mean(truth_cf))
    table = {}
    for t, rows in scores.items():
        psnr, cf = (float(v) for v in np.mean(rows, axis=0))
        table[f"{t:g}"] = {"psnr_rgb": psnr, "colorfulness": cf, "dcf": abs(cf - mean_truth)}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", type=Path, help="a bins-head weights file")
    parser.add_argument("--images", type=Path, required=True, help="text file, one image per line")
    parser.add_argument("--max-dcf", type=float, default=12.0)
    parser.add_argument("--limit", type=int, help="use only the first N images")
    parser.add_argument("--report", type=Path, help="JSON file for the sweep")
    parser.add_argument("--write", type=Path, help="store the weights with the chosen T here")
    args = parser.parse_args()

    model, info = load_weights(args.weights)
    if info.arch_kwargs.get("head") != "bins":
        parser.error(f"{args.weights} has no bins head; there is no temperature to tune")
    paths = [Path(line) for line in args.images.read_text().splitlines() if line.strip()]
    paths = paths[: args.limit]
    began = time.monotonic()
    table = sweep(model, paths, info.render_factor, TEMPERATURES)
    print(f"{len(paths)} images, {time.monotonic() - began:.0f} s")
    print(f"{'T':>5} {'PSNR RGB':>9} {'CF':>6} {'dCF':>6}")
    for t, row in table.items():
        print(f"{t:>5} {row['psnr_rgb']:9.2f} {row['colorfulness']:6.1f} {row['dcf']:6.1f}")
    allowed = {t: r for t, r in table.items() if r["dcf"] <= args.max_dcf}
    chosen = max(allowed, key=lambda t: allowed[t]["psnr_rgb"]) if allowed else None
    if chosen is None:
        chosen = min(table, key=lambda t: table[t]["dcf"])
        print(f"no temperature reaches dCF <= {args.max_dcf}; the smallest dCF is at T = {chosen}")
    print(f"chosen T = {chosen}")
    if args.report:
        report = {"weights": str(args.weights), "images": len(paths), "max_dcf": args.max_dcf,
                  "chosen": float(chosen), "table": table}  # fmt: skip
        args.report.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.write:
        reserved = ("format", "version", "arch", "arch_kwargs", "render_factor")
        metadata = {k: v for k, v in info.metadata.items() if k not in reserved}
        metadata["temperature_chosen_on"] = f"{len(paths)} held-out images, max dCF {args.max_dcf}"
        save_weights(model, args.write, arch=info.arch,
                     arch_kwargs={**info.arch_kwargs, "temperature": float(chosen)},
                     render_factor=info.render_factor, extra=metadata)  # fmt: skip
        print(f"weights written to {args.write}")


if __name__ == "__main__":
    main()
