"""Dense optical flow between two gray frames, warping along it, and the occlusion check.

Flow is OpenCV's DIS (Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016):
at the model's render size (336x192) it takes about 1 ms (``fast``) to 6 ms (``medium``) per pair
on one CPU core (measured here), and its result does not depend on OpenCV's thread count.

One convention everywhere: ``flow = dense_flow(reference, other)`` gives, for every pixel x of
``reference``, the displacement such that ``reference(x) ~ other(x + flow(x))``, and
``warp(image_of_other, flow)`` brings anything aligned with ``other`` onto ``reference``.

Pure: arrays in, arrays out.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
MIN_SIDE = 12  # DIS refuses frames with both sides shorter (render sizes are 32 and up)


def to_uint8(image: np.ndarray, peak: float) -> np.ndarray:
    """``image`` in [0, peak] as ``(H, W)`` uint8, the input DIS takes (peak 100 for Lab L)."""
    return np.rint(np.clip(image * (255.0 / peak), 0, 255)).astype(np.uint8)


def dense_flow(reference: np.ndarray, other: np.ndarray, preset: str = "fast") -> np.ndarray:
    """Flow from ``reference`` to ``other``: ``reference(x) ~ other(x + flow(x))``.

    Args:
        reference: ``(H, W)`` uint8 gray frame.
        other: ``(H, W)`` uint8 gray frame of the same size.
        preset: A key of :data:`PRESETS`.

    Returns:
        ``(H, W, 2)`` float32 displacement (dx, dy) in pixels.
    """
    if reference.dtype != np.uint8 or reference.ndim != 2 or other.shape != reference.shape:
        raise ValueError(
            f"dense_flow expects two (H, W) uint8 frames of one size, got {reference.shape} "
            f"{reference.dtype} and {other.shape} {other.dtype}"
        )
    if max(reference.shape) < MIN_SIDE:
        raise ValueError(f"dense_flow needs a side of {MIN_SIDE} pixels, got {reference.shape}")
    dis = cv2.DISOpticalFlow.create(PRESETS[preset])
    # Zeros as the output buffer: DIS ignores its content unless told to start from it.
    out = np.zeros((*reference.shape, 2), np.float32)
    frames = np.ascontiguousarray(reference), np.ascontiguousarray(other)
    return np.asarray(dis.calc(*frames, out))


@functools.lru_cache(maxsize=8)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def sample_points(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where :func:`warp` samples: ``x + flow(x)`` as two ``(H, W)`` float32 maps (x, y)."""
    xs, ys = _grid(*flow.shape[:2])
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + flow(x)``: bilinear, edges repeated outside the frame.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` float32, C at most 4.
        flow: ``(H, W, 2)`` from :func:`dense_flow`.
    """
    return warp_points(image, sample_points(flow))


def warp_points(image: np.ndarray, points: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``image`` sampled at the absolute positions of :func:`sample_points`, as :func:`warp`."""
    xs, ys = points
    moved = cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(moved)


def occluded(backward: np.ndarray, forward: np.ndarray, boundaries: bool = True) -> np.ndarray:
    """Pixels of a frame that the forward-backward check rejects (Ruder et al., GCPR 2016).

    The test of Lai et al.'s warp error ("Learning Blind Video Temporal Consistency", ECCV
    2018, ``detect_occlusion`` in their code), for frames 1 and 2 and pixels x of frame 2:

    - flows disagree: ``|b + f_w|^2 > 0.01 * (|b|^2 + |f_w|^2) + 0.5``, where b is ``backward``
      (frame 2 -> 1) at x and ``f_w`` is ``forward`` (1 -> 2) sampled at ``x + b(x)``;
    - motion boundary: ``|grad b_x|^2 + |grad b_y|^2 > 0.01 * |b|^2 + 0.002``, with forward
      differences (zero on the last column and row).

    Args:
        backward: ``(H, W, 2)`` flow of frame 2 towards frame 1, ``dense_flow(f2, f1)``.
        forward: ``(H, W, 2)`` flow of frame 1 towards frame 2, ``dense_flow(f1, f2)``.

        boundaries: Also reject motion boundaries (the second test); without it only pixels
            whose flows disagree are rejected.

    Returns:
        ``(H, W)`` bool, True where the pixel of frame 2 has no reliable match in frame 1.
    """
    if backward.shape != forward.shape or backward.ndim != 3 or backward.shape[-1] != 2:
        raise ValueError(
            f"occluded expects two (H, W, 2) flows, got {backward.shape} and {forward.shape}"
        )
    b = backward.astype(np.float64)
    f_w = warp_points(forward.astype(np.float32), sample_points(backward)).astype(np.float64)
    b_mag, f_mag = _squared(b), _squared(f_w)
    disagree = _squared(b + f_w) > 0.01 * (b_mag + f_mag) + 0.5
    if not boundaries:
        return disagree
    du = np.zeros_like(b)
    dv = np.zeros_like(b)
    du[:, :-1] = b[:, :-1] - b[:, 1:]
    dv[:-1, :] = b[:-1, :] - b[1:, :]
    boundary = (du**2 + dv**2).sum(-1) > 0.01 * b_mag + 0.002
    return disagree | boundary


def _squared(vectors: np.ndarray) -> np.ndarray:
    """``(H, W, 2)`` vectors' squared lengths (as ``(v**2).sum(-1)``, without its slow
    reduction over an axis of two)."""
    return vectors[..., 0] ** 2 + vectors[..., 1] ** 2
