"""Training data: the image sets, the validation split, weighing the sets against each other, and
the batches (crops, hints, degraded inputs) drawn from one random generator."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch

from vidcolor import color
from vidcolor.errors import InputError
from vidcolor.evaluate import list_images, read_rgb
from vidcolor.models import abbins
from vidcolor.training.augment import degrade_film, sample_hints
from vidcolor.training.recipe import TrainConfig


def training_images(folders: Sequence[Path]) -> list[Path]:
    """Every image under the folders, in a fixed order, so that a seed means the same data."""
    paths = [p for folder in folders for p in list_images(folder)]
    if not paths:
        raise InputError(f"no .jpg/.png images under {', '.join(map(str, folders))}")
    return paths


def split_images(paths: Sequence[Path], every: int) -> tuple[list[Path], list[Path]]:
    """``(train, validation)``: every ``every``-th image (the last of each group of ``every``) is
    held out of training, so that choices such as the decoding temperature are made on pictures
    the model never saw; ``every`` = 0 holds out nothing."""
    if every <= 0:
        return list(paths), []
    held = {i for i in range(len(paths)) if i % every == every - 1}
    return [p for i, p in enumerate(paths) if i not in held], [paths[i] for i in sorted(held)]


def load_images(paths: Sequence[Path]) -> list[np.ndarray]:
    """RGB uint8 images as stored. Small ones are not upscaled here: a crop is resized to the
    crop size after it is cut (:func:`random_crop`), which keeps 11k images in about 1.7 GB."""
    return [read_rgb(path) for path in paths]


def set_shares(sizes: Sequence[int], weighting: str) -> np.ndarray | None:
    """How often each image set (data folder) is drawn; ``None`` = every image alike.

    ``images``: in proportion to its size (every image alike, as before issue 16). ``equal``:
    the same share each. ``sqrt``: in proportion to the square root of its size, the middle
    way: a large set still gives more, but 5,400 scene photos do not drown 300 BSDS photos
    (issue 16's five sets get 15, 8, 30, 36 and 11%), and a small set is not repeated as
    often as ``equal`` would (BSDS's 270 images at 20%).
    """
    if weighting == "images":
        return None
    raw = np.sqrt(np.asarray(sizes, np.float64)) if weighting == "sqrt" else np.ones(len(sizes))
    return raw / raw.sum()


def random_crop(
    image: np.ndarray, crop: int, rng: np.random.Generator, scale: tuple[float, float] = (0.35, 1.0)
) -> np.ndarray:
    """Scale jitter (the crop covers ``scale`` of the short side), random crop, random flip."""
    h, w = image.shape[:2]
    side = int(rng.uniform(*scale) * min(h, w))
    side = max(side, min(crop, min(h, w)))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    patch = image[y : y + side, x : x + side]
    interp = cv2.INTER_AREA if side > crop else cv2.INTER_CUBIC
    patch = cv2.resize(patch, (crop, crop), interpolation=interp)
    return patch[:, ::-1] if rng.random() < 0.5 else patch


class Batch(NamedTuple):
    """One training batch. ``lightness`` ``(B, 1, c, c)`` is the network's (maybe degraded)
    input, ``ab`` ``(B, 2, c, c)`` the clean target; ``hint_ab`` ``(B, 2, c, c)`` and
    ``hint_mask`` ``(B, 1, c, c)`` are ``None`` unless the config trains hints."""

    lightness: torch.Tensor
    ab: torch.Tensor
    hint_ab: torch.Tensor | None
    hint_mask: torch.Tensor | None


class Sampler:
    """Draws batches from images of several sets, every draw from the run's generator.

    Args:
        images: the training images.
        sets: each image's set (the index of its data folder).
        cfg: the run's config: crop and batch by step, set weighting, hints, film.
    """

    def __init__(self, images: Sequence[np.ndarray], sets: Sequence[int], cfg: TrainConfig) -> None:
        self.images, self.cfg = images, cfg
        sets_arr = np.asarray(sets)
        self.members = [np.flatnonzero(sets_arr == k) for k in range(int(sets_arr.max()) + 1)]
        self.shares = set_shares([len(m) for m in self.members], cfg.set_weighting)
        if self.shares is not None:
            self.shares = np.where([len(m) for m in self.members], self.shares, 0.0)
            self.shares /= self.shares.sum()

    def picks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``n`` images: uniform over images, or a set by its share, then an image."""
        if self.shares is None:
            return rng.integers(0, len(self.images), n)
        chosen = rng.choice(len(self.members), size=n, p=self.shares)
        sizes = np.array([len(self.members[k]) for k in chosen])
        offsets = rng.integers(0, sizes)
        return np.array([self.members[k][o] for k, o in zip(chosen, offsets, strict=True)])

    def batch(self, step: int, rng: np.random.Generator) -> Batch:
        """The batch of ``step``. The input is what inference sees: the lightness of the crop's
        BT.601 luma taken as a gray (a black-and-white film records one brightness per pixel,
        and the pipeline reads Y'), not the crop's true Lab L, which differs on saturated
        colors. Draw order: crops, then hints, then film, so the crops (and targets) of a seed
        do not depend on whether hints or film are on."""
        crop, size = self.cfg.phase(step)
        picks = self.picks(size, rng)
        rgb = np.stack([random_crop(self.images[i], crop, rng, self.cfg.crop_scale) for i in picks])
        rgb_t = torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255.0
        luma = color.rgb_to_luma(rgb_t, "bt601")[:, None]
        ab = color.rgb_to_lab(rgb_t)[:, 1:]
        hint_ab = hint_mask = None
        if self.cfg.hints:
            drawn = [sample_hints(sample, self.cfg, rng) for sample in ab.numpy()]
            hint_ab = torch.from_numpy(np.stack([h for h, _ in drawn]))
            hint_mask = torch.from_numpy(np.stack([m for _, m in drawn]))
        if self.cfg.film is not None:
            film = self.cfg.film
            luma = torch.from_numpy(
                np.stack([degrade_film(y, film, rng) for y in luma[:, 0].numpy()])
            )[:, None]
        return Batch(color.gray_to_lightness(luma), ab, hint_ab, hint_mask)


def bin_counts(images: Sequence[np.ndarray], side: int = 64) -> np.ndarray:
    """How often each ab bin is the nearest one, over all images downscaled to ``side`` px."""
    centres = torch.from_numpy(abbins.bin_centres())
    counts = np.zeros(len(centres), np.float64)
    for image in images:
        small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        lab = color.rgb_to_lab(torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255.0)
        idx = abbins.nearest_bin(lab[:, 1:], centres)
        counts += np.bincount(idx.ravel().numpy(), minlength=len(centres))
    return counts
