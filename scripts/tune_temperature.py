"""Chooses how a "bins" model decodes its ab distribution, on held-out validation images.

Two knobs trade accuracy for colorfulness, neither needing retraining:
- the annealed-mean temperature T: 1 decodes the mean of the predicted distribution (the safe,
  desaturated average), small T its mode;
- the rebalancing strength lambda (Zhang et al.'s class rebalancing applied at inference as a
  logit bias, :func:`vidcolor.models.abbins.prior_bias`): 1 is none, smaller favours rare,
  saturated colors over the neutral ones that dominate photographs.
For each image the network runs once; every (lambda, T) decodes the same logits and is scored
as ``vidcolor eval`` scores (PSNR RGB and colorfulness of the gray picture colorized at the
weights' render factor). The choice is the highest mean PSNR RGB among the settings whose dCF is
at most ``--max-dcf``; ``--write`` stores the weights again with it in their metadata.

    python scripts/tune_temperature.py WEIGHTS --images OUT/validation.txt \\
        --prior-from ../shared/data/colorize/train --report tune.json --write W.safetensors
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from vidcolor import metrics
from vidcolor.colorize import render_lightness, render_size
from vidcolor.evaluate import list_images, merge_gray_ab, read_rgb, to_gray
from vidcolor.models import abbins
from vidcolor.models.weights import load_weights, save_weights
from vidcolor.training.data import bin_counts

TEMPERATURES = (0.38, 0.55, 0.7)
LAMBDAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
Setting = tuple[float, float]  # (lambda, T)


@torch.inference_mode()
def sweep(model: torch.nn.Module, paths: list[Path], render_factor: int,
          biases: dict[float, torch.Tensor]) -> dict[Setting, dict[str, float]]:  # fmt: skip
    """Mean PSNR RGB, CF and dCF per (lambda, T) over ``paths``."""
    settings = list(itertools.product(biases, TEMPERATURES))
    scores: dict[Setting, list[tuple[float, float]]] = {s: [] for s in settings}
    truth_cf = []
    for path in paths:
        truth = read_rgb(path)
        gray = to_gray(truth)
        render = render_size(gray.shape[1], gray.shape[0], Fraction(1), render_factor)
        lightness = torch.from_numpy(render_lightness(gray, render))[None, None]
        logits = model.head_output(lightness)
        truth_cf.append(metrics.colorfulness(truth / 255.0))
        for lam, t in settings:
            biased = logits + biases[lam][:, None, None]
            ab = abbins.annealed_mean(biased, model.centres, t)[0].numpy()
            out = merge_gray_ab(gray, ab) / 255.0
            psnr = metrics.psnr_rgb(out, truth / 255.0)
            scores[lam, t].append((psnr, metrics.colorfulness(out)))
    mean_truth = float(np.mean(truth_cf))
    table = {}
    for setting, rows in scores.items():
        psnr, cf = (float(v) for v in np.mean(rows, axis=0))
        table[setting] = {"psnr_rgb": psnr, "colorfulness": cf, "dcf": abs(cf - mean_truth)}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", type=Path, help="a bins-head weights file")
    parser.add_argument("--images", type=Path, required=True, help="text file, one image per line")
    parser.add_argument("--prior-from", type=Path, nargs="+", required=True,
                        help="training image folders (validation images are left out)")  # fmt: skip
    parser.add_argument("--max-dcf", type=float, default=12.0)
    parser.add_argument("--limit", type=int, help="use only the first N validation images")
    parser.add_argument("--report", type=Path, help="JSON file for the sweep")
    parser.add_argument("--write", type=Path, help="store the weights with the choice here")
    args = parser.parse_args()

    model, info = load_weights(args.weights)
    if info.arch_kwargs.get("head") != "bins":
        parser.error(f"{args.weights} has no bins head; there is nothing to tune")
    paths = [Path(line) for line in args.images.read_text().splitlines() if line.strip()]
    held = {p.resolve() for p in paths}
    paths = paths[: args.limit]
    began = time.monotonic()
    train = [p for f in args.prior_from for p in list_images(f) if p.resolve() not in held]
    counts = bin_counts([read_rgb(p) for p in train])
    biases = {lam: torch.from_numpy(abbins.prior_bias(counts, lam)) for lam in LAMBDAS}
    table = sweep(model, paths, info.render_factor, biases)
    print(f"{len(paths)} validation images, prior from {len(train)}, "
          f"{time.monotonic() - began:.0f} s")  # fmt: skip
    print(f"{'lambda':>6} {'T':>5} {'PSNR RGB':>9} {'CF':>6} {'dCF':>6}")
    for (lam, t), row in table.items():
        print(f"{lam:>6g} {t:>5g} {row['psnr_rgb']:9.2f} {row['colorfulness']:6.1f} "
              f"{row['dcf']:6.1f}")  # fmt: skip
    allowed = [s for s, r in table.items() if r["dcf"] <= args.max_dcf]
    if allowed:
        lam, t = max(allowed, key=lambda s: table[s]["psnr_rgb"])
    else:
        lam, t = min(table, key=lambda s: table[s]["dcf"])
        print(f"no setting reaches dCF <= {args.max_dcf}; taking the smallest dCF")
    print(f"chosen: lambda {lam:g}, T {t:g}")
    if args.report:
        rows = [{"lambda": s[0], "temperature": s[1], **r} for s, r in table.items()]
        report = {"weights": str(args.weights), "validation_images": len(paths),
                  "prior_images": len(train), "max_dcf": args.max_dcf,
                  "chosen": {"lambda": lam, "temperature": t}, "table": rows}  # fmt: skip
        args.report.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.write:
        reserved = ("format", "version", "arch", "arch_kwargs", "render_factor")
        metadata = {k: v for k, v in info.metadata.items() if k not in reserved}
        metadata["decoding_chosen_on"] = (
            f"{len(paths)} held-out validation images: highest PSNR RGB with dCF <= "
            f"{args.max_dcf:g}; logit_bias = log rebalancing weights at lambda {lam:g}"
        )
        bias = [round(float(v), 4) for v in biases[lam]]
        kwargs = {**info.arch_kwargs, "temperature": t, "logit_bias": bias}
        save_weights(model, args.write, arch=info.arch, arch_kwargs=kwargs,
                     render_factor=info.render_factor, extra=metadata)  # fmt: skip
        print(f"weights written to {args.write}")


if __name__ == "__main__":
    main()
