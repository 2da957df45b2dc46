"""Pictures in and out of an evaluation: reading, turning gray, colorizing as the worker does."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import color
from vidcolor.colorize import Colorizer, render_lightness
from vidcolor.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_BT601 = np.array([0.299, 0.587, 0.114], np.float32)  # luma weights of SD video and JPEG


def list_images(folder: str | Path) -> list[Path]:
    """Every .jpg, .jpeg and .png under ``folder`` (subfolders too), sorted by relative path."""
    root = Path(folder)
    found = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB (gray and alpha files are made 3-channel)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"{path}: cannot read this image; check that it is a valid JPEG or PNG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """What a black-and-white source shows for a color picture: BT.601 Y' of its sRGB values.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.

    Returns:
        ``(H, W)`` float32 Y' in [0, 1] (R = G = B of the gray picture), not rounded to 8 bits.
    """
    return (rgb.astype(np.float32) @ _BT601) / np.float32(255.0)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def lab(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W, 3)`` float32 Lab (D65), via :mod:`vidcolor.color`."""
    chw = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)
    return color.rgb_to_lab(chw).permute(1, 2, 0).numpy()


def merge_gray_ab(gray: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Full-resolution L of ``gray`` with ``(2, h, w)`` ab, upsampled as the worker does.

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    lightness = color.gray_to_lightness(torch.from_numpy(gray))[None, None]
    ab_small = torch.from_numpy(ab.astype(np.float32))[None]
    ab_full = F.interpolate(ab_small, size=gray.shape, mode="bilinear", align_corners=False)
    rgb = color.lab_to_rgb(torch.cat([lightness, ab_full], dim=1))[0]
    return to_uint8(rgb.permute(1, 2, 0).numpy())


def predict_ab(
    colorizer: Colorizer, grays: Sequence[np.ndarray], render_factor: int, sar: Fraction
) -> list[np.ndarray]:
    """``(2, h, w)`` ab per gray picture; pictures that share a render size share batches."""
    renders = [colorizer.render_size(g.shape[1], g.shape[0], sar, render_factor) for g in grays]
    found: dict[int, np.ndarray] = {}
    for render in dict.fromkeys(renders):
        picks = [i for i, r in enumerate(renders) if r == render]
        lightness = np.stack([render_lightness(grays[i], render) for i in picks])
        found.update(zip(picks, colorizer.predict(lightness), strict=True))
    return [found[i] for i in range(len(grays))]


def colorize_image(colorizer: Colorizer, rgb: np.ndarray, *, render_factor: int) -> np.ndarray:
    """Colorizes the gray version of a color image, as the video pipeline would.

    Args:
        colorizer: Any built Colorizer.
        rgb: ``(H, W, 3)`` uint8 RGB; only its BT.601 luma is used.
        render_factor: The long side the network sees is ``16 * render_factor`` (the
            Colorizer does not keep its config; pass ``config.model.render_factor``).

    Returns:
        ``(H, W, 3)`` uint8 RGB: the gray's full-resolution L with the predicted ab.
    """
    gray = to_gray(rgb)
    (ab,) = predict_ab(colorizer, [gray], render_factor, Fraction(1))
    return merge_gray_ab(gray, ab)


def mean_ab(folder: str | Path, limit: int | None = None) -> tuple[float, float]:
    """Mean Lab (a, b) over every pixel of the first ``limit`` images of ``folder``.

    Pixels are weighted equally, so larger images count more. Compute it once on the training
    folder and pass it to the evaluate functions.
    """
    total, pixels = np.zeros(2, np.float64), 0
    for path in listed_images(folder, limit):
        ab = lab(read_rgb(path))[..., 1:]
        total += ab.reshape(-1, 2).sum(axis=0, dtype=np.float64)
        pixels += ab.shape[0] * ab.shape[1]
    return float(total[0] / pixels), float(total[1] / pixels)


def listed_images(folder: str | Path, limit: int | None) -> list[Path]:
    paths = list_images(folder)[:limit]
    if not paths:
        raise InputError(f"{folder}: no .jpg, .jpeg or .png images; give a folder of photographs")
    return paths
