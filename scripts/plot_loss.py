"""Draw a training run's loss curve as a PNG, from the history in its checkpoint.

    python scripts/plot_loss.py RUN_DIR OUT.png [--title TEXT]

The history holds the mean loss of every 20 steps (``vidcolor.training.Trainer.run``); the plot
shows those means in gray with a moving average over 10 of them in blue, the phases of a
progressive-resizing schedule as labelled bands, and axes with ticks. Only numpy and OpenCV
are used: matplotlib is not a dependency.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

W, H = 1000, 560
LEFT, RIGHT, TOP, BOTTOM = 110, 30, 50, 70
FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, GRAY, BLUE, BAND = (0, 0, 0), (170, 170, 170), (180, 90, 20), (238, 238, 238)


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering ``[lo, hi]``."""
    span = max(hi - lo, 1e-9)
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (sums[idx] - sums[lo]) / (idx - lo)


def draw(
    steps: np.ndarray, losses: np.ndarray, phases: list[tuple[int, str]], total: int, title: str
) -> np.ndarray:
    """The plot as a ``(H, W, 3)`` uint8 BGR image."""
    img = np.full((H, W, 3), 255, np.uint8)
    x_hi = max(total, int(steps.max()))
    y_lo, y_hi = float(losses.min()), float(losses.max())
    pad = 0.05 * max(y_hi - y_lo, 1e-3)
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def px(step: float, loss: float) -> tuple[int, int]:
        x = LEFT + (W - LEFT - RIGHT) * step / x_hi
        y = H - BOTTOM - (H - TOP - BOTTOM) * (loss - y_lo) / (y_hi - y_lo)
        return round(x), round(y)

    for i, (start, label) in enumerate(phases):
        end = phases[i + 1][0] if i + 1 < len(phases) else x_hi
        if i % 2:
            cv2.rectangle(img, px(start, y_hi), px(end, y_lo), BAND, -1)
        cv2.putText(
            img, label, (px(start, y_hi)[0] + 6, TOP + 18), FONT, 0.5, BLACK, 1, cv2.LINE_AA
        )
    for t in nice_ticks(0, x_hi):
        x, y = px(t, y_lo)
        cv2.line(img, (x, y), (x, y + 6), BLACK, 1)
        text = f"{t / 1000:g}k" if x_hi >= 2000 and t else f"{t:g}"
        (tw, _), _ = cv2.getTextSize(text, FONT, 0.5, 1)
        cv2.putText(img, text, (x - tw // 2, y + 24), FONT, 0.5, BLACK, 1, cv2.LINE_AA)
    for t in nice_ticks(y_lo, y_hi):
        x, y = px(0, t)
        cv2.line(img, (x - 6, y), (x, y), BLACK, 1)
        cv2.line(img, (x + 1, y), (W - RIGHT, y), (225, 225, 225), 1)
        text = f"{t:.3g}"
        (tw, _), _ = cv2.getTextSize(text, FONT, 0.5, 1)
        cv2.putText(img, text, (x - 10 - tw, y + 5), FONT, 0.5, BLACK, 1, cv2.LINE_AA)
    raw = np.array([px(s, v) for s, v in zip(steps, losses, strict=True)], np.int32)
    smooth = np.array([px(s, v) for s, v in zip(steps, moving_average(losses, 10), strict=True)])
    cv2.polylines(img, [raw], False, GRAY, 1, cv2.LINE_AA)
    cv2.polylines(img, [smooth.astype(np.int32)], False, BLUE, 2, cv2.LINE_AA)
    cv2.rectangle(img, (LEFT, TOP), (W - RIGHT, H - BOTTOM), BLACK, 1)
    cv2.putText(img, title, (LEFT, 30), FONT, 0.65, BLACK, 1, cv2.LINE_AA)
    cv2.putText(img, "step", (W // 2 - 20, H - 18), FONT, 0.6, BLACK, 1, cv2.LINE_AA)
    axis_label = np.full((30, 260, 3), 255, np.uint8)
    cv2.putText(axis_label, "loss (mean of 20 steps)", (4, 21), FONT, 0.6, BLACK, 1, cv2.LINE_AA)
    rotated = cv2.rotate(axis_label, cv2.ROTATE_90_COUNTERCLOCKWISE)
    y0 = TOP + (H - TOP - BOTTOM - rotated.shape[0]) // 2
    img[y0 : y0 + rotated.shape[0], 4 : 4 + rotated.shape[1]] = rotated
    return img


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a vidcolor train --out folder")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument("--title", help="default: the run folder and its step")
    args = parser.parse_args(argv)
    state = torch.load(args.run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    history = json.loads(state["history"])
    if len(history) < 2:
        print(f"{args.run_dir}: fewer than 2 history points yet", file=sys.stderr)
        return 1
    cfg = state["config"]
    steps = np.array([h["step"] for h in history], np.float64)
    losses = np.array([h["loss"] for h in history], np.float64)
    schedule = cfg.get("schedule") or [[0, cfg["crop"], cfg["batch_size"]]]
    phases = [(int(s), f"{c} px x {b}") for s, c, b in schedule]
    title = args.title or f"{args.run_dir.name}: step {state['step']} of {cfg['steps']}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), draw(steps, losses, phases, int(cfg["steps"]), title)):
        print(f"cannot write {args.out}", file=sys.stderr)
        return 1
    print(f"{args.out}: {len(history)} points, steps {int(steps[0])}-{int(steps[-1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
