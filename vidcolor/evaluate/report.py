"""Scoring every method on each picture, summarising, the contact sheet and the JSON report."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vidcolor import metrics
from vidcolor.colorize import Colorizer, batched
from vidcolor.errors import InputError, OutputError
from vidcolor.evaluate.pictures import (
    lab,
    listed_images,
    merge_gray_ab,
    predict_ab,
    read_rgb,
    to_gray,
    to_uint8,
)

METHODS = ("ours", "gray", "mean_ab")
SHEET_ROWS = 8  # pictures on a contact sheet: enough to judge, small enough to open anywhere
SHEET_TILE_HEIGHT = 160
_SHEET_COLUMNS = ("gray", "ours", "truth")

Row = dict[str, Any]
Item = tuple[Row, np.ndarray, dict[str, np.ndarray]]  # (label, truth, output per method)
# Sees each scored item: (label, truth, outputs, Lab of every output and of "truth").
OnScored = Callable[[Row, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]], None]


def ab_pair(mean: Sequence[float]) -> tuple[float, float]:
    a, b = (float(v) for v in mean)
    return a, b


@dataclass(frozen=True)
class Setup:
    """What every picture of one evaluation shares."""

    colorizer: Colorizer
    render_factor: int
    mean_ab: tuple[float, float]
    sar: Fraction = Fraction(1)


def method_outputs(setup: Setup, gray: np.ndarray, ab: np.ndarray) -> dict[str, np.ndarray]:
    """Every method's ``(H, W, 3)`` uint8 output for one gray picture and our ab."""
    constant = np.asarray(setup.mean_ab, np.float32).reshape(2, 1, 1)
    # The gray baseline (ab = 0) is the gray picture itself: going through lab_to_rgb would give
    # the same colors but could split R, G and B by a rounding level, so CF would not be 0.
    return {
        "ours": merge_gray_ab(gray, ab),
        "gray": np.repeat(to_uint8(gray)[..., None], 3, axis=2),
        "mean_ab": merge_gray_ab(gray, constant),
    }


def _image_items(setup: Setup, pictures: Iterable[tuple[Row, np.ndarray]]) -> Iterator[Item]:
    """Each (label, truth) picture with every method's output, batch by batch."""
    for batch in batched(pictures, setup.colorizer.batch_size):
        grays = [to_gray(truth) for _, truth in batch]
        predicted = predict_ab(setup.colorizer, grays, setup.render_factor, setup.sar)
        for (label, truth), gray, ab in zip(batch, grays, predicted, strict=True):
            yield label, truth, method_outputs(setup, gray, ab)


def _score(outputs: dict[str, np.ndarray], truth: np.ndarray, labs: dict[str, np.ndarray]) -> Row:
    """Per-method PSNR RGB, PSNR ab and colorfulness of one picture, plus the truth's CF.

    ``labs`` holds the Lab of every output and of ``"truth"``.
    """
    truth_unit = truth / 255.0
    row: Row = {"truth": {"colorfulness": metrics.colorfulness(truth_unit)}}
    for method in METHODS:
        out = outputs[method]
        row[method] = {
            "psnr_rgb": metrics.psnr_rgb(out / 255.0, truth_unit),
            "psnr_ab": metrics.psnr_ab(labs[method], labs["truth"]),
            "colorfulness": metrics.colorfulness(out / 255.0),
        }
    return row


def _summary(rows: Sequence[Row]) -> dict[str, Any]:
    """Means over pictures; dCF is ``metrics.delta_colorfulness`` from the per-picture CFs."""
    truth_cf = float(np.mean([r["truth"]["colorfulness"] for r in rows]))
    methods = {}
    for method in METHODS:
        means = {
            key: float(np.mean([r[method][key] for r in rows]))
            for key in ("psnr_rgb", "psnr_ab", "colorfulness")
        }
        means["delta_colorfulness"] = abs(means["colorfulness"] - truth_cf)
        methods[method] = {**means, "count": len(rows)}
    return {"count": len(rows), "truth": {"colorfulness": truth_cf}, "methods": methods}


def tile(rgb: np.ndarray, label: str, sar: Fraction) -> np.ndarray:
    """``rgb`` at ``SHEET_TILE_HEIGHT`` px high (display aspect kept), ``label`` top left."""
    height, width = rgb.shape[:2]
    size = (max(1, round(width * float(sar) * SHEET_TILE_HEIGHT / height)), SHEET_TILE_HEIGHT)
    shrink = size[1] < height
    tile = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    # A black outline under white text stays legible on any picture.
    for ink, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ink, thickness)
    return tile


def _sheet_row(outputs: dict[str, np.ndarray], truth: np.ndarray, sar: Fraction) -> np.ndarray:
    pictures = {**outputs, "truth": truth}
    return np.hstack([tile(pictures[c], c, sar) for c in _SHEET_COLUMNS])


def write_sheet(rows: Sequence[np.ndarray], path: str | Path) -> str:
    """Stacks rows (right-padded with black to the widest) into one PNG; returns its path."""
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OutputError(f"{target}: cannot write the contact sheet; check the folder and .png")
    return str(target)


def score_items(
    kind: str,
    source: str | Path,
    setup: Setup,
    items: Iterable[Item],
    sheet: tuple[str | Path | None, Container[int]],
    on_scored: OnScored | None = None,
) -> dict[str, Any]:
    """Scores items in order; ``sheet`` is (path, positions shown); ``on_scored`` sees each."""
    (sheet_path, picks), colorizer = sheet, setup.colorizer
    rows: list[Row] = []
    tiles: list[np.ndarray] = []
    for label, truth, out in items:
        if sheet_path is not None and len(rows) in picks:
            tiles.append(_sheet_row(out, truth, setup.sar))
        labs = {name: lab(picture) for name, picture in {**out, "truth": truth}.items()}
        rows.append({**label, **_score(out, truth, labs)})
        if on_scored is not None:
            on_scored(label, truth, out, labs)
    if not rows:
        raise InputError(f"{source}: nothing to score; check the input and the frame limit")
    return {
        "kind": kind,
        "source": str(source),
        "model": colorizer.description,
        "trained": colorizer.trained,
        "render_factor": setup.render_factor,
        "mean_ab": list(setup.mean_ab),
        "ab_peak": metrics.AB_PEAK,
        **_summary(rows),
        "items": rows,
        "sheet": write_sheet(tiles, sheet_path) if sheet_path is not None and tiles else None,
    }


def evaluate_images(
    colorizer: Colorizer,
    folder: str | Path,
    *,
    render_factor: int,
    mean_ab: Sequence[float],
    limit: int | None = None,
    sheet_path: str | Path | None = None,
    sheet_rows: int = SHEET_ROWS,
) -> dict[str, Any]:
    """Scores ``colorizer`` and both baselines on the color images of ``folder``.

    Args:
        colorizer: Any built Colorizer.
        folder: Color images (.jpg, .jpeg, .png, subfolders included), taken in name order.
        render_factor: As in :func:`colorize_image`.
        mean_ab: (a, b) of the ``mean_ab`` baseline, usually :func:`mean_ab` of the training set.
        limit: Score only the first ``limit`` images.
        sheet_path: Where to write a PNG contact sheet (gray | ours | truth), if anywhere.
        sheet_rows: Images on the sheet, the first ones.

    Returns:
        The report: ``count``, ``truth.colorfulness``, ``methods.<ours|gray|mean_ab>`` with
        mean ``psnr_rgb``, ``psnr_ab``, ``colorfulness``, ``delta_colorfulness`` and
        ``count``, per-image ``items`` and the sheet's path (``None`` without ``sheet_path``).
    """
    root = Path(folder)
    setup = Setup(colorizer, render_factor, ab_pair(mean_ab))
    named = (
        ({"name": p.relative_to(root).as_posix()}, read_rgb(p)) for p in listed_images(root, limit)
    )
    items = _image_items(setup, named)
    return score_items("images", folder, setup, items, (sheet_path, range(sheet_rows)))


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (a PSNR of identical pictures) made ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_report(report: dict[str, Any], path: str | Path) -> None:
    """Writes ``report`` as strict JSON (sorted keys, indent 2); ``inf`` PSNRs become null."""
    text = json.dumps(_finite(report), sort_keys=True, indent=2, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
