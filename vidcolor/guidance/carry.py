"""Carrying a guided frame's colors through its shot along the optical flow, both ways.

A guided frame (a reference, or hints spread over the frame: :func:`hint_guide`) gives a
:class:`Guide`: ab and a confidence per pixel at the carry size (:func:`carry_size`). From it,
colors are carried frame by frame, forwards to the next guided frame and backwards to the
previous one, never across a cut and at most :data:`REACH` frames. Each step moves every
pixel's position on the guided frame, and its confidence, along DIS flow
(:mod:`vidcolor.temporal.flow`), and the guide is sampled there; a pixel's confidence is capped
by how well the frame's lightness agrees with the warped lightness (Tukey's biweight, as the
smoothing judges warps), and set to 0 where the forward-backward check finds no match
(disocclusion) or the pixel comes from outside the frame (new content entering). The cap is a
minimum, not a product: a textured surface whose warp residue is a few L units keeps its colors
over a long shot, while a pixel once judged unreliable never regains trust. At each frame the
two directions are blended by confidence, each tapered linearly to 0 at :data:`REACH` frames
from its guided frame, so several guided frames in one shot are blended by distance and
confidence.

Where the carried colors are unsure (disoccluded ground, content that entered the frame, a
patch whose tracking failed), the confident colors nearby of like lightness fill in
(:func:`vidcolor.guidance.fill.fill`); where there are none either, the network's own colors:
the caller blends them by the returned confidence (:func:`blend`).

Frame t's result depends only on the nearest guided frames of its shot on either side and the
frames between, so it is the same whichever chunk t falls in
(:func:`vidcolor.guidance.plan.read_range` says which frames a chunk must read). Pure: arrays
in, arrays out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import cv2
import numpy as np

from vidcolor.colorize import render_lightness
from vidcolor.guidance import fill
from vidcolor.guidance.values import HintPoint
from vidcolor.temporal import flow
from vidcolor.temporal.smooth import agreement

CARRY_SIDE = 480  # long side of the carry size: finer than the chroma planes of SD 4:2:0
REACH = 480  # frames a guided frame's colors travel each way (20 s at 24 fps)
FLOW_PRESET = "medium"  # a carried color sits on its flow for many frames: worth 3x "fast"
TOLERANCE = 24.0  # L units at which a warped pixel's lightness stops agreeing (as smoothing)
HINT_SPREAD = 0.08  # a hint's reach, as a share of the frame's diagonal (Gaussian sigma)
HINT_LIGHTNESS = 12.0  # L units of lightness difference a hint's colors cross (Gaussian sigma)
HINT_PRIOR = 0.05  # hint weight at which the correction is half-trusted
GRAIN_SIGMA = 1.5  # px of blur on the lightness residue before it is judged
UNMATCHED_TOLERANCE = 6.0  # L units, where the flows disagree (occlusion or flat ground)
_NEIGHBOURHOOD = np.ones((3, 3), np.uint8)


class Guide(NamedTuple):
    """Colors stated for one frame at the carry size: ``ab`` ``(2, h, w)`` float32 and
    ``confidence`` ``(h, w)`` float32 in [0, 1]."""

    ab: np.ndarray
    confidence: np.ndarray


class Carried(NamedTuple):
    """A frame's carried colors: ab ``(2, h, w)`` and confidence ``(h, w)``, float32."""

    ab: np.ndarray
    confidence: np.ndarray


def carry_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) at which colors are carried: the frame's, scaled down to a long side of
    :data:`CARRY_SIDE`; depends on the frame's size alone, so a run and ``eval`` agree."""
    scale = min(1.0, CARRY_SIDE / max(width, height))
    return max(flow.MIN_SIDE, round(width * scale)), max(flow.MIN_SIDE, round(height * scale))


def reference_guide(ab: np.ndarray, size: tuple[int, int]) -> Guide:
    """A reference's ab (``(2, H, W)`` at the frame's size) as a fully trusted guide."""
    small = resize_ab(ab, size)
    return Guide(small, np.ones(small.shape[1:], np.float32))


def hint_guide(
    predicted: np.ndarray,
    lightness: np.ndarray,
    points: Sequence[HintPoint],
    frame: tuple[int, int],
) -> Guide:
    """A hinted frame's colors: the network's, corrected towards each hint.

    Each hint's correction (its ab minus the network's mean ab over its disc) spreads with a
    weight that falls with distance (Gaussian, :data:`HINT_SPREAD` of the diagonal) and with
    lightness difference from the hinted pixel (:data:`HINT_LIGHTNESS`): a hint colors its
    object, not the background beside it. The corrected ab is the weighted mean correction
    added to the network's ab; the confidence is ``w / (w + HINT_PRIOR)`` for total weight w,
    so the colors far from every hint stay the network's.

    Args:
        predicted: ``(2, h, w)`` the network's ab at the carry size.
        lightness: ``(h, w)`` the frame's Lab L at the carry size.
        points: The frame's hints, in the source's stored pixels.
        frame: The source's stored (width, height).
    """
    _, h, w = predicted.shape
    sx, sy = w / frame[0], h / frame[1]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = HINT_SPREAD * float(np.hypot(w, h))
    total = np.zeros((h, w), np.float32)
    shift = np.zeros((2, h, w), np.float32)
    for point in points:
        cx, cy = (point.x + 0.5) * sx - 0.5, (point.y + 0.5) * sy - 0.5
        r = max(point.radius * max(sx, sy), 0.5)
        disc = (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
        if not disc.any():  # a disc smaller than a carry pixel: its nearest pixel
            disc[min(h - 1, max(0, round(cy))), min(w - 1, max(0, round(cx)))] = True
        delta = np.asarray(point.ab, np.float32) - predicted[:, disc].mean(axis=1)
        near = ((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma * sigma)
        alike = (lightness - lightness[disc].mean()) ** 2 / (2 * HINT_LIGHTNESS**2)
        weight = np.exp(-(near + alike)).astype(np.float32)
        weight[disc] = np.maximum(weight[disc], 1.0)
        total += weight
        shift += weight * delta[:, None, None]
    ab = predicted + shift / np.maximum(total, np.float32(1e-12))
    return Guide(ab.astype(np.float32), (total / (total + HINT_PRIOR)).astype(np.float32))


class _Frame(NamedTuple):
    number: int
    cut: bool  # starts a shot
    lightness: np.ndarray  # (h, w) float32 Lab L at the carry size
    gray: np.ndarray  # (h, w) uint8, DIS's input


class _Track(NamedTuple):
    """Where each pixel of a frame sits on its guided frame, and how far that is trusted."""

    origin: int  # the guided frame
    xs: np.ndarray  # (h, w) float32 column on the guided frame
    ys: np.ndarray  # (h, w) float32 row
    trust: np.ndarray  # (h, w) float32 in [0, 1]


def carry(
    frames: Iterable[tuple[int, np.ndarray, bool]],
    guide: Callable[[int, np.ndarray, np.ndarray], Guide | None],
    wanted: range,
    size: tuple[int, int],
) -> dict[int, Carried]:
    """Carried colors for every frame of ``wanted`` that a guide reaches.

    What travels from frame to frame is each pixel's position on the guided frame, not its
    colors: sampled once per frame, the guide's colors stay as sharp after 100 frames as after
    one, where warping colors step by step would blur them at every step.

    Args:
        frames: ``(index, unit luma (H, W) in [0, 1], starts a shot)``, consecutive, covering
            ``wanted`` and the guided frames :func:`~vidcolor.guidance.plan.read_range`
            names; unit luma at any size.
        guide: ``guide(index, unit, lightness)``: frame ``index``'s guide at ``size`` (given
            its unit luma and its lightness at ``size``), or None for a frame with none.
        wanted: The frames whose colors are wanted.
        size: The carry size, (width, height).

    Returns:
        Frame -> carried colors (filled in), float16: a chunk holds them all until it is done.
    """
    seen: list[_Frame] = []
    guides: dict[int, Guide] = {}
    forward: dict[int, tuple[Carried, int]] = {}
    track: _Track | None = None
    previous: _Frame | None = None
    for index, unit, cut in frames:
        lightness = render_lightness(unit, size)
        here = _Frame(index, cut, lightness, flow.to_uint8(lightness, 100.0))
        if cut:
            track = None
        if (found := guide(index, unit, lightness)) is not None:
            guides[index] = found
            track = _start(index, size)
        elif track is not None and previous is not None:
            track = _step(track, previous, here)
        if track is not None and index in wanted:
            forward[index] = _colors(track, guides[track.origin]), track.origin
        if index >= wanted.start:
            seen.append(here)
        previous = here
    backward: dict[int, tuple[Carried, int]] = {}
    track, later = None, None
    for here in reversed(seen):
        if later is not None and later.cut:  # ``later`` starts a shot: nothing crosses to here
            track = None
        if here.number in guides:
            track = _start(here.number, size)
        elif track is not None and later is not None:
            track = _step(track, later, here)
        if track is not None and here.number in wanted:
            backward[here.number] = _colors(track, guides[track.origin]), track.origin
        later = here
    lightness_of = {here.number: here.lightness for here in seen}
    return {
        t: _stored(*fill.fill(*_combine(t, forward.get(t), backward.get(t)), lightness_of[t]))
        for t in wanted
        if t in forward or t in backward
    }


def _stored(ab: np.ndarray, confidence: np.ndarray) -> Carried:
    return Carried(ab.astype(np.float16), confidence.astype(np.float16))


def _start(origin: int, size: tuple[int, int]) -> _Track:
    xs, ys = flow.sample_points(np.zeros((size[1], size[0], 2), np.float32))
    return _Track(origin, xs, ys, np.ones((size[1], size[0]), np.float32))


def _colors(track: _Track, guide: Guide) -> Carried:
    """The guide sampled where the track says, trusted as far as both say (float16)."""
    layers = np.stack([*guide.ab, guide.confidence], axis=-1).astype(np.float32)
    sampled = flow.warp_points(np.ascontiguousarray(layers), (track.xs, track.ys))
    ab = np.ascontiguousarray(np.moveaxis(sampled[..., :2], -1, 0))
    return _stored(ab, np.minimum(sampled[..., 2], track.trust))


def _step(track: _Track, source: _Frame, target: _Frame) -> _Track:
    """``track`` (of ``source``) moved onto ``target``, a neighbouring frame."""
    towards = flow.dense_flow(target.gray, source.gray, FLOW_PRESET)  # target(x) ~ source(x+f)
    back = flow.dense_flow(source.gray, target.gray, FLOW_PRESET)
    stack = np.stack([source.lightness, track.xs, track.ys, track.trust], axis=-1)
    points = flow.sample_points(towards)
    moved = flow.warp_points(np.ascontiguousarray(stack, np.float32), points)
    # Film grain differs from frame to frame: compared after a blur that removes it, so a
    # still, grainy background keeps its colors; the 3x3 maximum still catches a missed edge.
    residue = cv2.GaussianBlur(moved[..., 0] - target.lightness, (0, 0), GRAIN_SIGMA)
    difference = cv2.dilate(np.abs(residue), _NEIGHBOURHOOD)
    trust = agreement(difference, TOLERANCE)
    unmatched = flow.occluded(towards, back, boundaries=False)
    trust[unmatched] = agreement(difference[unmatched], UNMATCHED_TOLERANCE)
    height, width = target.gray.shape
    xs, ys = points  # content that came in over the frame's edge was never seen
    trust[(xs < 0) | (xs > width - 1) | (ys < 0) | (ys > height - 1)] = 0.0
    confidence = np.minimum(moved[..., 3], trust).astype(np.float32)
    return _Track(track.origin, moved[..., 1].copy(), moved[..., 2].copy(), confidence)


def _taper(distance: int) -> np.float32:
    return np.float32(max(0.0, 1.0 - distance / REACH))


def _combine(
    t: int, forward: tuple[Carried, int] | None, backward: tuple[Carried, int] | None
) -> Carried:
    """Both directions' colors at frame ``t``, weighed by confidence and distance."""
    parts = [part for part in (forward, backward) if part is not None]
    if len(parts) == 2 and parts[0][1] == parts[1][1] == t:  # a guided frame: its own guide
        parts = parts[:1]
    weighed = [(c.ab.astype(np.float32), c.confidence * _taper(abs(t - o))) for c, o in parts]
    if len(weighed) == 1:
        return Carried(*weighed[0])
    (a, wa), (b, wb) = weighed
    wa, wb = wa.astype(np.float32), wb.astype(np.float32)
    total = wa + wb
    ab = (wa * a + wb * b) / np.maximum(total, np.float32(1e-6))
    confidence = 1.0 - (1.0 - wa) * (1.0 - wb)
    return Carried(ab.astype(np.float32), confidence.astype(np.float32))


def blend(predicted: np.ndarray, carried: Carried | None, size: tuple[int, int]) -> np.ndarray:
    """The network's ab (``(2, H, W)``, at ``size``) with carried colors blended in by their
    confidence, both resized to ``size`` (width, height)."""
    if carried is None:
        return predicted
    ab = resize_ab(carried.ab.astype(np.float32), size)
    confidence = cv2.resize(
        carried.confidence.astype(np.float32), size, interpolation=cv2.INTER_LINEAR
    )
    return (predicted + confidence[None] * (ab - predicted)).astype(np.float32)


def resize_ab(ab: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(2, H, W)`` ab at ``size`` (width, height): area when shrinking, else bilinear."""
    if ab.shape[2:0:-1] == size:
        return np.ascontiguousarray(ab, np.float32)
    shrink = size[0] < ab.shape[2]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    moved = cv2.resize(
        np.ascontiguousarray(np.moveaxis(ab, 0, -1), np.float32), size, interpolation=interp
    )
    return np.ascontiguousarray(np.moveaxis(moved, -1, 0))
