"""Quality metrics for colorization: PSNR in RGB and in Lab ab, colorfulness, and the temporal
consistency of a video: warp error and color distribution consistency (CDC).

Pure numpy (optical flow from :mod:`vidcolor.temporal.flow`), no files. Conventions, checked at
the door:
- RGB is non-linear sRGB in [0, 1], shape ``(H, W, 3)`` (channels last, as images are stored).
- Lab is CIE L*a*b* (D65) as :mod:`vidcolor.color` computes it, shape ``(H, W, 3)``, L in
  [0, 100], a and b in Lab units (roughly [-110, 110]).
- Luma, which flow is computed on, is ``(H, W)`` in [0, 1].

A frozen, gray or uniformly tinted video scores perfectly on warp error and CDC: report them
next to colorfulness and PSNR, never alone.

PSNR of two identical inputs is ``float("inf")``: the error is exactly zero, and any finite
stand-in (100 dB, say) would silently bias averages.

One module past 300 lines: the per-picture and the temporal scores share their checks and
conventions, and :class:`TemporalScores` feeds the evaluation both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vidcolor.temporal import flow

# Peak of the ab PSNR, in Lab units. OpenCV stores 8-bit Lab with a and b shifted by +128 into
# 0..255 at one code value per Lab unit, so this peak makes psnr_ab equal the PSNR computed on
# the ab planes of ``cv2.cvtColor(uint8, COLOR_RGB2Lab)`` images with peak 255, the convention of
# colorization code that scores 8-bit Lab images. The shift itself cancels in the error.
AB_PEAK = 255.0
# Weight of the mean term in Hasler & Süsstrunk's colorfulness (2003, eq. 3 / M^(3)).
_MEAN_WEIGHT = 0.3
# Frame gaps of CDC, equally weighted (Liu et al. 2021, TCVC's ``cdc.py``).
CDC_GAPS = (1, 2, 4)
# DIS preset of the warp error's flow: the most accurate of OpenCV's, ~6 ms per pair at 336x192.
WARP_FLOW_PRESET = "medium"


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


def pair_flow(previous: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flow of frame t towards frame t-1, and where it can be trusted.

    Args:
        previous: ``(H, W)`` luma of frame t-1 in [0, 1] (ground truth or input).
        current: ``(H, W)`` luma of frame t in [0, 1].

    Returns:
        ``(flow, valid)``: ``(H, W, 2)`` float32 flow with ``current(x) ~ previous(x + flow)``
        (DIS, :data:`WARP_FLOW_PRESET`), and ``(H, W)`` bool, False where the
        forward-backward check of :func:`vidcolor.temporal.flow.occluded` rejects the pixel.
    """
    prev_u8, cur_u8 = flow.to_uint8(previous, 1.0), flow.to_uint8(current, 1.0)
    backward = flow.dense_flow(cur_u8, prev_u8, WARP_FLOW_PRESET)
    forward = flow.dense_flow(prev_u8, cur_u8, WARP_FLOW_PRESET)
    return backward, ~flow.occluded(backward, forward)


def pair_warp_error(
    current: np.ndarray, previous: np.ndarray, backward: np.ndarray, valid: np.ndarray
) -> float:
    """Masked mean squared difference between frame t and frame t-1 warped onto it.

    Args:
        current: ``(H, W, C)`` frame t (RGB in [0, 1], or Lab ab, or any C <= 4 planes).
        previous: ``(H, W, C)`` frame t-1, same scale.
        backward: ``(H, W, 2)`` flow of frame t towards t-1 (:func:`pair_flow`).
        valid: ``(H, W)`` bool, the pixels that count.

    Returns:
        ``sum(valid * (current - warp(previous))**2) / (C * sum(valid))``, the mean over valid
        pixels and channels; 0 when no pixel is valid (as in Lai et al.'s code).
    """
    if current.ndim != 3 or current.shape != previous.shape:
        raise ValueError(
            f"pair_warp_error expects two (H, W, C) frames of one shape, got {current.shape} "
            f"and {previous.shape}"
        )
    if backward.shape != (*current.shape[:2], 2) or valid.shape != current.shape[:2]:
        raise ValueError(
            f"pair_warp_error expects flow (H, W, 2) and mask (H, W) for frames "
            f"{current.shape}, got {backward.shape} and {valid.shape}"
        )
    # Both frames at float32, the precision remap works in, so equal frames give exactly 0.
    warped = flow.warp(previous.astype(np.float32), backward).reshape(current.shape)
    squared = (current.astype(np.float32).astype(np.float64) - warped.astype(np.float64)) ** 2
    count = int(valid.sum())
    return float(squared[valid].sum() / (current.shape[-1] * count)) if count else 0.0


def warp_error(
    frames: Sequence[np.ndarray], luma: Sequence[np.ndarray], cuts: Sequence[bool] | None = None
) -> float:
    """Warp error of a video (Lai et al., "Learning Blind Video Temporal Consistency", 2018).

    For each pair (t-1, t): flow computed on ``luma`` (the ground truth or the input, never the
    frames scored), occluded pixels masked by a forward-backward check, and the mean squared
    difference between frame t and frame t-1 warped onto it (:func:`pair_warp_error`);
    averaged over pairs. Lower is steadier; a frozen or gray video scores near 0.

    Args:
        frames: N ``(H, W, C)`` frames, RGB in [0, 1] for the paper's number.
        luma: N ``(H, W)`` reference luma frames in [0, 1].
        cuts: N flags, True where a frame starts a new shot: pairs across a cut are left out
            (the paper's videos have none; there, no motion relates the two frames).

    Returns:
        The mean over pairs; NaN when there is no pair within a shot.
    """
    flags = _cut_flags(cuts, len(frames))
    if len(frames) != len(luma):
        raise ValueError(f"warp_error got {len(frames)} frames and {len(luma)} luma frames")
    errors = [
        pair_warp_error(frames[t], frames[t - 1], *pair_flow(luma[t - 1], luma[t]))
        for t in range(1, len(frames))
        if not flags[t]
    ]
    return float(np.mean(errors)) if errors else math.nan


def _cut_flags(cuts: Sequence[bool] | None, count: int) -> list[bool]:
    if cuts is None:
        return [False] * count
    if len(cuts) != count:
        raise ValueError(f"got {len(cuts)} cut flags for {count} frames")
    return [bool(c) for c in cuts]


def channel_histograms(rgb: np.ndarray) -> np.ndarray:
    """Per-channel 256-bin histograms of an image at 8 bits, each summing to 1.

    Args:
        rgb: ``(H, W, 3)`` RGB in [0, 1]; values are rounded to 0..255 first.

    Returns:
        ``(3, 256)`` float64.
    """
    _check(rgb, "channel_histograms")
    levels = np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.int64).reshape(-1, 3)
    counts = np.stack([np.bincount(levels[:, c], minlength=256) for c in range(3)])
    return counts / float(len(levels))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence of two distributions, natural log (0 .. ln 2).

    ``JS = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``; terms with p = 0 count 0,
    as in ``scipy.stats.entropy``, which TCVC's reference code uses.
    """
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.shape != q.shape:
        raise ValueError(f"js_divergence expects equal shapes, got {p.shape} and {q.shape}")
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        used = x > 0
        return float(np.sum(x[used] * np.log(x[used] / m[used])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def cdc_from_histograms(
    histograms: Sequence[np.ndarray],
    gaps: Sequence[int] = CDC_GAPS,
    cuts: Sequence[bool] | None = None,
) -> float:
    """CDC of a video given each frame's :func:`channel_histograms`.

    For each gap d: the JS divergence between frames t and t+d, per channel, averaged over
    channels and pairs; then the mean over the gaps that have at least one pair. With ``cuts``
    (N flags, True where a shot starts), pairs that span a cut are left out. NaN without pairs.
    """
    shot = np.cumsum(_cut_flags(cuts, len(histograms)))
    per_gap = []
    for gap in gaps:
        pairs = [
            np.mean([js_divergence(histograms[t][c], histograms[t + gap][c]) for c in range(3)])
            for t in range(len(histograms) - gap)
            if shot[t] == shot[t + gap]
        ]
        if pairs:
            per_gap.append(float(np.mean(pairs)))
    return float(np.mean(per_gap)) if per_gap else math.nan


def cdc(
    frames: Sequence[np.ndarray],
    gaps: Sequence[int] = CDC_GAPS,
    cuts: Sequence[bool] | None = None,
) -> float:
    """Color distribution consistency (Liu et al., "Temporally Consistent Video Colorization
    with Deep Feature Propagation and Self-regularization Learning", 2021; TCVC's ``cdc.py``).

    The Jensen-Shannon divergence between the 256-bin per-channel histograms of frames t and
    t+d, averaged over channels and pairs, for d in ``gaps``; then averaged over the gaps
    (gaps longer than the video are left out). Lower is steadier; any frozen video scores 0.

    Args:
        frames: N ``(H, W, 3)`` RGB frames in [0, 1].
        gaps: Frame distances d.
        cuts: N flags, True where a shot starts: pairs across a cut are left out.

    Returns:
        The mean; NaN when there is no pair within a shot.
    """
    return cdc_from_histograms([channel_histograms(f) for f in frames], gaps, cuts)


class TemporalScores:
    """Warp error (RGB and ab) and CDC of several videos of the same frames, fed in order.

    The videos share their reference luma, so each pair's flow and occlusion mask is computed
    once; only the last frame of each video and the per-frame histograms are held. Pairs that
    span a scene cut are left out of both metrics: across a cut no motion relates the frames.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._previous: tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]] | None
        self._previous = None
        self._rgb_errors: dict[str, list[float]] = {n: [] for n in self.names}
        self._ab_errors: dict[str, list[float]] = {n: [] for n in self.names}
        self._histograms: dict[str, list[np.ndarray]] = {n: [] for n in self.names}
        self._cuts: list[bool] = []

    def add(
        self, luma: np.ndarray, rgb: dict[str, np.ndarray], ab: dict[str, np.ndarray], cut: bool
    ) -> None:
        """Adds the next frame: reference ``(H, W)`` luma in [0, 1], each video's ``(H, W, 3)``
        RGB in [0, 1] and ``(H, W, 2)`` Lab ab, and whether this frame starts a new shot."""
        if self._previous is not None and not cut:
            previous_luma, previous_rgb, previous_ab = self._previous
            backward, valid = pair_flow(previous_luma, luma)
            for name in self.names:
                self._rgb_errors[name].append(
                    pair_warp_error(rgb[name], previous_rgb[name], backward, valid)
                )
                self._ab_errors[name].append(
                    pair_warp_error(ab[name], previous_ab[name], backward, valid)
                )
        for name in self.names:
            self._histograms[name].append(channel_histograms(rgb[name]))
        self._cuts.append(cut or self._previous is None)
        self._previous = (luma, rgb, ab)

    def result(self) -> dict[str, dict[str, float]]:
        """Per video: ``warp_error`` (RGB in [0, 1]), ``warp_error_ab`` (Lab units) and
        ``cdc``, each NaN when no pair of frames within one shot was seen."""
        return {
            name: {
                "warp_error": _mean_or_nan(self._rgb_errors[name]),
                "warp_error_ab": _mean_or_nan(self._ab_errors[name]),
                "cdc": cdc_from_histograms(self._histograms[name], cuts=self._cuts),
            }
            for name in self.names
        }


def _mean_or_nan(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan
