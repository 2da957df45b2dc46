"""Image quality metrics for colorization: PSNR in RGB and in Lab ab, and colorfulness.

Pure numpy, no files. Conventions, checked at the door:
- RGB is non-linear sRGB in [0, 1], shape ``(H, W, 3)`` (channels last, as images are stored).
- Lab is CIE L*a*b* (D65) as :mod:`vidcolor.color` computes it, shape ``(H, W, 3)``, L in
  [0, 100], a and b in Lab units (roughly [-110, 110]).

PSNR of two identical inputs is ``float("inf")``: the error is exactly zero, and any finite
stand-in (100 dB, say) would silently bias averages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Peak of the ab PSNR, in Lab units. OpenCV stores 8-bit Lab with a and b shifted by +128 into
# 0..255 at one code value per Lab unit, so this peak makes psnr_ab equal the PSNR computed on
# the ab planes of ``cv2.cvtColor(uint8, COLOR_RGB2Lab)`` images with peak 255, the convention of
# colorization code that scores 8-bit Lab images. The shift itself cancels in the error.
AB_PEAK = 255.0
# Weight of the mean term in Hasler & Süsstrunk's colorfulness (2003, eq. 3 / M^(3)).
_MEAN_WEIGHT = 0.3


def _check(x: np.ndarray, name: str) -> None:
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"{name} expects shape (H, W, 3), got {tuple(x.shape)}")


def _check_pair(pred: np.ndarray, truth: np.ndarray, name: str) -> None:
    _check(pred, name)
    _check(truth, name)
    if pred.shape != truth.shape:
        raise ValueError(f"{name} expects equal shapes, got {pred.shape} and {truth.shape}")


def _psnr(pred: np.ndarray, truth: np.ndarray, peak: float) -> float:
    """PSNR in dB of ``pred`` against ``truth``: MSE over every element, given peak."""
    mse = float(np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak**2 / mse)


def psnr_rgb(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR of two sRGB images on the 0-255 scale.

    Args:
        pred: ``(H, W, 3)`` RGB in [0, 1].
        truth: ``(H, W, 3)`` RGB in [0, 1].

    Returns:
        ``10 * log10(255**2 / MSE)`` in dB, the MSE taken over all pixels and channels at
        0-255 scale; ``inf`` for identical images.
    """
    _check_pair(pred, truth, "psnr_rgb")
    return _psnr(pred.astype(np.float64) * 255.0, truth.astype(np.float64) * 255.0, 255.0)


def psnr_ab(pred_lab: np.ndarray, truth_lab: np.ndarray) -> float:
    """PSNR of the chroma (a, b) of two Lab images, lightness ignored.

    The MSE is taken over all pixels of both the a and b channels, in Lab units, and the peak
    is :data:`AB_PEAK` = 255 Lab units: the value OpenCV's 8-bit Lab (``a + 128``, ``b + 128``
    in 0..255) gives, so results match PSNR on those images. It is a convention, not the ab
    range, which is about [-110, 110] for sRGB colors.

    Args:
        pred_lab: ``(H, W, 3)`` Lab.
        truth_lab: ``(H, W, 3)`` Lab.

    Returns:
        ``10 * log10(255**2 / MSE_ab)`` in dB; ``inf`` when the ab channels are identical.
    """
    _check_pair(pred_lab, truth_lab, "psnr_ab")
    return _psnr(pred_lab[..., 1:], truth_lab[..., 1:], AB_PEAK)


def colorfulness(rgb: np.ndarray) -> float:
    """Colorfulness of an image (Hasler & Süsstrunk 2003), on the 0-255 scale.

    With R, G, B at 0-255: ``rg = |R - G|``, ``yb = |(R + G) / 2 - B|`` and
    ``CF = sqrt(std_rg**2 + std_yb**2) + 0.3 * sqrt(mean_rg**2 + mean_yb**2)``, population
    statistics over all pixels. The absolute values follow the issue's formula (as in the
    widely copied PyImageSearch version); the paper itself uses the signed opponent
    components ``rg = R - G`` and ``yb = (R + G) / 2 - B``, so values differ from it. A gray
    image (R = G = B) scores exactly 0 either way.

    Args:
        rgb: ``(H, W, 3)`` RGB in [0, 1].
    """
    _check(rgb, "colorfulness")
    r, g, b = np.moveaxis(rgb.astype(np.float64) * 255.0, -1, 0)
    rg = np.abs(r - g)
    yb = np.abs(0.5 * (r + g) - b)
    spread = math.hypot(float(rg.std()), float(yb.std()))
    level = math.hypot(float(rg.mean()), float(yb.mean()))
    return spread + _MEAN_WEIGHT * level


def delta_colorfulness(outputs: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """How far a method's average colorfulness is from the ground truth's.

    Args:
        outputs: ``(H, W, 3)`` RGB images in [0, 1], one per item.
        truths: ``(H, W, 3)`` RGB images in [0, 1], as many as ``outputs``.

    Returns:
        ``|mean CF(outputs) - mean CF(truths)|``; 0 means as colorful as the truth on average.
    """
    if len(outputs) != len(truths) or not outputs:
        raise ValueError(
            f"delta_colorfulness expects as many outputs as truths, at least one; "
            f"got {len(outputs)} and {len(truths)}"
        )
    ours = np.mean([colorfulness(x) for x in outputs])
    theirs = np.mean([colorfulness(x) for x in truths])
    return float(abs(ours - theirs))
