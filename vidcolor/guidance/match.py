"""Does a reference show its frame? A comparison of luma structure that ignores tone.

A reference may come from another tool or be retouched: its lightness can follow another tone
curve, contrast or gamma than the film's. So both pictures are first reduced to the ranks of
their pixels (any increasing tone curve leaves ranks unchanged), at a small size
(:data:`MATCH_LONG_SIDE`); the score is the correlation of the gradient magnitudes of those
rank images. Gradients, not the ranks themselves: a static background shared by frames a second
apart correlates highly in plain luma, while edges move with whatever moves.

:data:`THRESHOLD` sits between what was measured (``scripts/measure_reference_match.py``)
on chaplin.mp4 (7 frames), the 14 DAVIS clips (frames 0 and 30, the true color frame) and the
generated cut clip. True frames under gamma 0.5 and 2, contrast 0.6 and 1.6 (clipped), gamma
0.7 as JPEG and a sepia tint scored 0.942 and up (lowest: a DAVIS frame's RGB mean, tinted);
frames 20 and 40 apart scored at most 0.896 (drift-chicane: a still camera, a small car) and
0.854 on chaplin (a still camera); frames of another scene or clip at most 0.27.
"""

from __future__ import annotations

import cv2
import numpy as np

MATCH_LONG_SIDE = 128  # px: edges survive, noise and grain average out, and it costs nothing
THRESHOLD = 0.92


def match_size(width: int, height: int) -> tuple[int, int]:
    """The (width, height) pictures of this stored size are compared at."""
    scale = MATCH_LONG_SIDE / max(width, height)
    return max(8, round(width * scale)), max(8, round(height * scale))


def structure(luma: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """What is compared of a picture: ``(H, W)`` luma or lightness, any increasing scale, to a
    zero-mean, unit-norm ``(h, w)`` float32 map of its rank image's gradient magnitudes."""
    small = cv2.resize(luma.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    ranks = _ranks(small)
    gx = cv2.Sobel(ranks, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(ranks, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    magnitude -= magnitude.mean()
    norm = float(np.sqrt((magnitude * magnitude).sum()))
    return magnitude / norm if norm > 0 else magnitude


def _ranks(values: np.ndarray) -> np.ndarray:
    """Each value's rank in [0, 1); equal values share their mean rank, so a flat or clipped
    region stays flat instead of ramping in scan order."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mean_rank = ((ends - counts + ends - 1) / (2 * values.size)).astype(np.float32)
    return mean_rank[inverse].reshape(values.shape)


def match_score(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation in [-1, 1] of two :func:`structure` maps of the same size; 0 for a flat one."""
    return float((a * b).sum())
