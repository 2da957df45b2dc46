"""What a training input gets besides its crop: sparse color hints sampled from the truth (Zhang
et al. 2017), and film-like degradations of its luma (the target colors stay clean)."""

from __future__ import annotations

import cv2
import numpy as np

from vidcolor.training.recipe import FilmAugment, TrainConfig


def sample_hints(
    ab: np.ndarray, cfg: TrainConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Hints revealed from the truth, as Zhang et al. 2017 (section 3.3) train them.

    No hints for a share ``hint_none`` of the samples (the automatic mode), else a geometric
    number (p = ``hint_geometric``) of square patches of 1 to ``hint_max_patch`` px at uniform
    positions, each holding the mean true ab of its patch (Zhang place them by a Gaussian
    around the centre; a crop has no centre worth favouring).

    Args:
        ab: ``(2, H, W)`` true ab of one crop.

    Returns:
        ``(2, H, W)`` hint ab (0 outside hints) and ``(1, H, W)`` mask, float32.
    """
    _, h, w = ab.shape
    hint, mask = np.zeros((2, h, w), np.float32), np.zeros((1, h, w), np.float32)
    count = 0 if rng.random() < cfg.hint_none else int(rng.geometric(cfg.hint_geometric))
    for _ in range(count):
        side = int(rng.integers(1, cfg.hint_max_patch + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        patch = (slice(None), slice(y, y + side), slice(x, x + side))
        hint[patch] = ab[patch].mean(axis=(1, 2))[:, None, None]
        mask[patch] = 1.0
    return hint, mask


def degrade_film(luma: np.ndarray, film: FilmAugment, rng: np.random.Generator) -> np.ndarray:
    """The luma of a clean photo made to look like a frame of old film.

    Each effect applies with its probability in ``film``; every draw is made whatever the
    image holds, so the number of draws (and so the run's random stream) depends only on the
    draws. Strengths are what old prints and telecine scans show: gamma 0.67-1.5, contrast
    0.7-1.3, flicker of +-20% gain and +-0.06 offset, corners up to 40% darker, blur sigma
    0.4-1.5 px, grain sigma 0.01-0.06 (half of it coarser), up to 12 specks and 3 scratches.

    Args:
        luma: ``(H, W)`` float32 in [0, 1].

    Returns:
        A new ``(H, W)`` float32 array in [0, 1].
    """
    h, w = luma.shape
    y: np.ndarray = luma.astype(np.float32, copy=True)
    if rng.random() < film.curve:
        gamma, contrast = float(np.exp(rng.uniform(-0.4, 0.4))), rng.uniform(0.7, 1.3)
        y = np.float32(0.5) + (np.clip(y, 0, 1) ** gamma - 0.5) * np.float32(contrast)
    if rng.random() < film.flicker:
        y = y * np.float32(rng.uniform(0.8, 1.2)) + np.float32(rng.uniform(-0.06, 0.06))
    if rng.random() < film.vignette:
        cy, cx, strength = (
            rng.uniform(0.3, 0.7) * h,
            rng.uniform(0.3, 0.7) * w,
            rng.uniform(0.1, 0.4),
        )
        yy, xx = np.ogrid[:h, :w]
        r2 = ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2
        y = y * (1 - strength * np.minimum(r2 / 2, 1)).astype(np.float32)
    if rng.random() < film.blur:
        y = cv2.GaussianBlur(y, (0, 0), rng.uniform(0.4, 1.5))
    if rng.random() < film.grain:
        noise = rng.standard_normal((h, w)).astype(np.float32) * np.float32(rng.uniform(0.01, 0.06))
        if rng.random() < 0.5:  # coarser grain: correlated over ~2 px, same strength
            noise = cv2.GaussianBlur(noise, (0, 0), 0.8) * np.float32(2.0)
        y = y + noise
    y = np.ascontiguousarray(np.clip(y, 0, 1), np.float32)
    if rng.random() < film.dust:
        for _ in range(int(rng.integers(1, 13))):
            centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            radius, shade = int(rng.integers(1, 3)), float(rng.integers(0, 2))
            cv2.circle(y, centre, radius, shade, -1)
    if rng.random() < film.scratches:
        for _ in range(int(rng.integers(1, 4))):
            x0, drift = int(rng.integers(0, w)), int(rng.integers(-3, 4))
            shade = float(np.clip(rng.uniform(-0.4, 0.4) + np.median(y), 0, 1))
            cv2.line(y, (x0, 0), (x0 + drift, h - 1), shade, 1)
    return y
