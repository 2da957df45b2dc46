"""Filling in where carried colors are unsure: the confident colors nearby of like lightness.

:mod:`vidcolor.guidance.carry` carries a guided frame's colors along the flow; at each frame
some of them are unsure (disoccluded ground, content that entered the frame, a patch whose
tracking failed). Such a pixel most often has the colors of the confident pixels around it that
are as light as it is: a bilateral grid over position and lightness gathers those. Pure: arrays
in, arrays out.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

FILL_CELL = 16  # px at the carry size: the spatial cell of the fill's bilateral grid
FILL_LIGHTNESS = 8.0  # L units: the lightness bin of the grid
FILL_SIGMA = 1.5  # cells (and bins) of Gaussian reach of a confident color over the grid
FILL_PRIOR = 2.0  # confident pixels' weight at which the fill is half-trusted
FILL_TRUST = 0.9  # the most a filled color is trusted: less than one tracked from the guide


def fill(
    ab: np.ndarray, confidence: np.ndarray, lightness: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Carried colors ``ab`` ``(2, h, w)`` with, where their ``confidence`` ``(h, w)`` is low,
    the colors of the confident pixels nearby of like ``lightness`` ``(h, w)`` mixed in.

    A disoccluded background, content that entered over the frame's edge or a patch whose
    tracking failed has, most often, the colors of the confident pixels around it that are as
    light as it is. Confident colors are splatted, weighed by confidence, into a bilateral grid
    (cells of :data:`FILL_CELL` pixels by :data:`FILL_LIGHTNESS` L units), blurred over it and
    read back at every pixel's position and lightness; the fill is trusted by how much
    confident weight it gathered (``w / (w + FILL_PRIOR)``, at most :data:`FILL_TRUST`). A
    pixel's own carried color keeps its confidence; the fill takes the rest of its share.

    Returns:
        The mixed ab and its confidence, float32.
    """
    confidence = confidence.astype(np.float32)
    carried = ab.astype(np.float32)
    if float(confidence.min()) >= 1.0 or FILL_CELL <= 0:
        return carried, confidence
    height, width = lightness.shape
    rows, cols = -(-height // FILL_CELL), -(-width // FILL_CELL)
    bins = int(100 // FILL_LIGHTNESS) + 2
    cell = _cells(height, width, FILL_CELL, bins)
    level = np.clip(lightness.ravel() / FILL_LIGHTNESS, 0, bins - 1.0)
    below = np.minimum(level.astype(np.int64), bins - 2)
    share = (level - below).astype(np.float32)  # towards the bin above: linear in lightness
    weight, flat = confidence.ravel(), carried.reshape(2, -1)
    grid = np.zeros((3, rows * cols * bins))
    for offset, part in ((0, 1.0 - share), (1, share)):
        w = weight * part
        for channel, values in enumerate((w, w * flat[0], w * flat[1])):
            grid[channel] += np.bincount(cell + below + offset, values, minlength=grid.shape[1])
    grid = _blurred(grid.reshape(3, rows, cols, bins).astype(np.float32))
    # Read back at every pixel: bilinear between cell centres (every channel and bin in one
    # resize), linear between the two bins around its lightness.
    layers = np.ascontiguousarray(np.moveaxis(grid, 0, -1).reshape(rows, cols, bins * 3))
    full = (cols * FILL_CELL, rows * FILL_CELL)
    planes = cv2.resize(layers, full, interpolation=cv2.INTER_LINEAR)[:height, :width]
    planes = planes.reshape(height * width, bins, 3)
    pixel = np.arange(height * width)
    lo, hi = planes[pixel, below], planes[pixel, below + 1]
    sampled = (lo + share[:, None] * (hi - lo)).T.reshape(3, height, width)
    gathered = np.maximum(sampled[0], 0.0)
    filled = sampled[1:] / np.maximum(gathered, np.float32(1e-6))
    trust = np.minimum(gathered / (gathered + FILL_PRIOR), FILL_TRUST) * (1.0 - confidence)
    total = confidence + trust
    mixed = (confidence * carried + trust * filled) / np.maximum(total, np.float32(1e-6))
    return mixed.astype(np.float32), total.astype(np.float32)


@functools.lru_cache(maxsize=4)
def _cells(height: int, width: int, side: int, bins: int) -> np.ndarray:
    """Each pixel's first index in the flattened grid: its cell's, times the bin count."""
    ys, xs = np.divmod(np.arange(height * width), width)
    cells = ((ys // side) * -(-width // side) + xs // side) * bins
    cells.setflags(write=False)  # shared by every call for this size
    return cells


def _blurred(grid: np.ndarray) -> np.ndarray:
    """``(3, rows, cols, bins)`` blurred by :data:`FILL_SIGMA` cells and bins, zero outside."""
    radius = max(1, int(3 * FILL_SIGMA))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / FILL_SIGMA) ** 2).astype(np.float32)
    taps /= taps.sum()
    for axis in (1, 2, 3):
        padded = np.pad(grid, [(radius, radius) if a == axis else (0, 0) for a in range(4)])
        length = grid.shape[axis]
        grid = sum(
            tap * np.take(padded, np.arange(k, k + length), axis=axis) for k, tap in enumerate(taps)
        )
    return grid.astype(np.float32)
