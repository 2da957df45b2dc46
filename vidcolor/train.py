"""``vidcolor train``: trains the native model on a folder of color photographs.

Input is the Lab L of a random crop, the target its ab. The default loss is Zhang et al.'s
class-rebalanced cross-entropy over quantized ab (:mod:`vidcolor.models.abbins`): plain L1 on ab
averages plausible colors into sepia. ``--loss l1`` trains the regression head instead, for
comparison.

Issue 16 adds, each a config field: several image sets weighed against each other
(``set_weighting``), progressive resizing (``schedule``: crop and batch size by step), hint
inputs sampled from the truth (``hints``, Zhang et al. 2017), film-like degradations of the input
only (``film``), and a warm start from earlier weights (``init``).

Why larger crops later: at the render size (render factor 21: 320x256 for a 4:3 frame) the
encoder's deepest (stride 32) feature at the centre has a non-zero gradient from every input
pixel (ResNet-18's theoretical receptive field is 435 px), but its effective field is small:
50% of that gradient's mass lies in a 79 px square, 90% in 167 px, 99% in 253 px (v1 weights,
measured by the gradient of one feature w.r.t. the input). The self-attention at 1/8 scale
reaches the whole frame. A 96 px crop shows the network less of a scene than it can use;
224 px crops cover its 90% field.

Training is resumable: a checkpoint (config, data folders, model, optimizer, step, RNG state,
class weights, loss history) is written atomically every ``checkpoint_every`` steps, every
``checkpoint_minutes`` of wall time and at the end. The same command continues from it, and so
does :meth:`Trainer.resume` (``vidcolor train --resume DIR``) with nothing but the folder. Every
random draw comes from one numpy generator whose state is checkpointed, so a stopped and resumed
run gives the same weights, bit for bit, as an uninterrupted one on the same device and threads.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import color
from vidcolor.colorize import resolve_device
from vidcolor.errors import InputError
from vidcolor.evaluate import list_images, read_rgb
from vidcolor.models import abbins, create_model, load_weights, save_weights
from vidcolor.models.unet import UNet

Phase = tuple[int, int, int]  # (first step, crop px, batch size)
SET_WEIGHTINGS = ("images", "sqrt", "equal")


@dataclass(frozen=True)
class FilmAugment:
    """The probability of each film-like degradation of a training input (its luma only; the
    target ab stays that of the clean photograph). Defects of archival film and its scans:
    exposure and print curves, frame-to-frame flicker, lens fall-off, soft focus, grain, dust
    specks and scratches along the film."""

    curve: float = 0.5
    flicker: float = 0.5
    vignette: float = 0.3
    blur: float = 0.3
    grain: float = 0.5
    dust: float = 0.3
    scratches: float = 0.2


@dataclass(frozen=True)
class TrainConfig:
    """One training run; stored in the checkpoint and the weights' metadata.

    Every field is part of the recipe: a checkpoint resumes only under the config it was
    written with. Fields added later must default to the behaviour before them.
    """

    arch: str = "unet_resnet18"
    loss: str = "bins"  # "bins" (rebalanced classification) or "l1"
    crop: int = 128
    batch_size: int = 16
    steps: int = 6000
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    rebalance: float = 0.5  # lambda of the class weights; 1.0 = no rebalancing
    holdout_every: int = 0  # every Nth image is kept out of training for validation; 0 = none
    seed: int = 0
    render_factor: int = 21
    checkpoint_every: int = 200
    # Issue 16. The defaults train as before these fields existed.
    schedule: tuple[Phase, ...] = ()  # progressive resizing; () = crop and batch_size throughout
    set_weighting: str = "images"  # share of each data folder: see set_shares
    crop_scale: tuple[float, float] = (0.35, 1.0)  # a crop's side, as a share of the short side
    hints: bool = False  # train the 4-channel network that takes ab hints
    hint_none: float = 0.5  # share of samples with no hints: the automatic mode
    hint_geometric: float = 0.125  # p of the geometric count of hints (Zhang et al. 2017: 1/8)
    hint_max_patch: int = 9  # hint patches are squares of 1..9 px (Zhang et al. 2017)
    film: FilmAugment | None = None  # film-like input degradations; None = clean inputs
    init: str = ""  # weights to start from (a fresh run only), e.g. the v1 weights
    checkpoint_minutes: float = 0.0  # also checkpoint after this much wall time; 0 = off
    snapshot_every: int = 0  # keep the weights every N steps in snapshots/ (checkpoint choice)

    def __post_init__(self) -> None:
        if self.set_weighting not in SET_WEIGHTINGS:
            raise InputError(f"set_weighting must be one of {', '.join(SET_WEIGHTINGS)}, "
                             f"got {self.set_weighting!r}")  # fmt: skip
        starts = [p[0] for p in self.schedule]
        if self.schedule and (starts[0] != 0 or starts != sorted(set(starts))):
            raise InputError(f"schedule phases must start at step 0 and increase, got {starts}")
        if any(p[1] % 32 or p[1] <= 0 or p[2] <= 0 for p in self.schedule):
            raise InputError(f"schedule crops must be multiples of 32, got {self.schedule}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-plain form (tuples as lists), as stored in checkpoints and weights files."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; fields missing from ``d`` (an older checkpoint) take
        their defaults, and a field this version does not know is refused, not dropped."""
        kw = dict(d)
        unknown = sorted(set(kw) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"the run's config has fields this vidcolor does not know "
                             f"({', '.join(unknown)}); use the vidcolor that began it")  # fmt: skip
        if kw.get("film") is not None:
            kw["film"] = FilmAugment(**kw["film"])
        if "schedule" in kw:
            kw["schedule"] = tuple(tuple(p) for p in kw["schedule"])
        if "crop_scale" in kw:
            kw["crop_scale"] = tuple(kw["crop_scale"])
        return cls(**kw)

    def phase(self, step: int) -> tuple[int, int]:
        """``(crop, batch_size)`` at ``step``."""
        crop, batch = self.crop, self.batch_size
        for start, phase_crop, phase_batch in self.schedule:
            if step >= start:
                crop, batch = phase_crop, phase_batch
        return crop, batch


def parse_schedule(text: str) -> tuple[Phase, ...]:
    """``"0:96:16,6000:160:8"`` -> ``((0, 96, 16), (6000, 160, 8))``: from step, crop, batch."""
    try:
        phases = [tuple(int(v) for v in part.split(":")) for part in text.split(",") if part]
    except ValueError as e:
        raise InputError(f"--schedule wants STEP:CROP:BATCH,..., got {text!r}") from e
    if not phases or any(len(p) != 3 for p in phases):
        raise InputError(f"--schedule wants STEP:CROP:BATCH,..., got {text!r}")
    return tuple((p[0], p[1], p[2]) for p in phases)


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


def warm_start(model: UNet, path: str | os.PathLike[str]) -> str:
    """Loads earlier weights of the same arch into ``model`` and returns their sha256.

    Weights without hint inputs (v1) start a hint network: their stem's L filters are copied
    and the filters of the hint channels start at zero, so with no hints the new network
    computes exactly what the old one did, and learns to use hints from there.

    Raises:
        InputError: the weights are of another arch or shape.
    """
    source, info = load_weights(path)
    state = source.state_dict()
    own = model.state_dict()
    stem = "encoder.conv1.weight"
    if stem in state and state[stem].shape[1] < own[stem].shape[1]:
        wide = torch.zeros_like(own[stem])
        wide[:, : state[stem].shape[1]] = state[stem]
        state[stem] = wide
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise InputError(f"--init {path} ({info.arch}) does not fit this network: "
                         f"{' '.join(str(e).split())[:300]}") from e  # fmt: skip
    return info.sha256


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


def bins_loss(
    logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Class-rebalanced cross-entropy against soft-encoded targets (Zhang et al. eq. 2 and 4).

    The soft target has ``abbins.NEIGHBOURS`` non-zero bins per pixel, so the cross-entropy
    gathers those log-probabilities instead of multiplying a dense ``(N, Q, H, W)`` target.
    """
    idx, soft = abbins.soft_neighbours(ab)
    log_prob = F.log_softmax(logits.float(), dim=1).gather(1, idx)
    per_pixel = -(soft * log_prob).sum(dim=1)
    return (per_pixel * weights[idx[:, 0]]).mean()


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 1% of ``lr``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


class Trainer:
    """Owns model, optimizer and data; ``run`` trains until ``cfg.steps``, checkpointing.

    Args:
        cfg: the recipe; a checkpoint in ``out_dir`` resumes only under the same one.
        folders: the data folders, one image set each, in a fixed order (the validation split
            runs over their concatenation, see :func:`split_images`).
        out_dir: where ``checkpoint.pt``, ``validation.txt`` and ``snapshots/`` go.
        device: ``auto``, ``cpu`` or ``cuda``.
    """

    def __init__(
        self, cfg: TrainConfig, folders: Sequence[Path], out_dir: Path, device: str = "auto"
    ) -> None:
        self.cfg, self.out_dir = cfg, Path(out_dir)
        self.folders = [Path(f).resolve() for f in folders]
        self.device = resolve_device(device)
        torch.manual_seed(cfg.seed)
        all_paths = training_images(self.folders)
        set_of = {p: k for k, folder in enumerate(self.folders) for p in list_images(folder)}
        self._names = {p: f"{set_of[p]}/{p.relative_to(self.folders[set_of[p]]).as_posix()}"
                       for p in all_paths}  # fmt: skip
        # Split over the folders' concatenation, as v1 did: with v1's folders listed first,
        # v1's validation images stay validation images, so a run warm-started from v1 is
        # never validated on pictures v1 trained on.
        self.paths, self.validation = split_images(all_paths, cfg.holdout_every)
        self.images = load_images(self.paths)
        self.sampler = Sampler(self.images, [set_of[p] for p in self.paths], cfg)
        head = "bins" if cfg.loss == "bins" else "ab"
        self.model = create_model(cfg.arch, head=head, hints=cfg.hints).to(self.device)
        self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr,
                                     weight_decay=cfg.weight_decay)  # fmt: skip
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        self.weights = torch.ones(len(abbins.bin_centres()))
        self.history: list[dict[str, float]] = []
        self.recent: list[float] = []  # losses since the last history entry
        self.init_sha256 = ""
        if not self._resume():
            if cfg.loss == "bins":
                counts = bin_counts(self.images)
                self.weights = torch.from_numpy(abbins.rebalance_weights(counts, cfg.rebalance))
            if cfg.init:
                self.init_sha256 = warm_start(self.model, cfg.init)
        self.centres = torch.from_numpy(abbins.bin_centres()).to(self.device)
        self.weights = self.weights.to(self.device)

    @classmethod
    def resume(cls, out_dir: Path, device: str = "auto") -> Trainer:
        """The run whose checkpoint is in ``out_dir``, with its config and data folders.

        Raises:
            InputError: no checkpoint there, or one written before its folders were recorded.
        """
        path = Path(out_dir) / "checkpoint.pt"
        if not path.is_file():
            raise InputError(f"no checkpoint to resume in {out_dir}; start the run with "
                             "vidcolor train FOLDER... --out DIR")  # fmt: skip
        state = torch.load(path, map_location="cpu", weights_only=True)
        if "folders" not in state:
            raise InputError(f"{path} does not record its data folders (an older vidcolor); "
                             "resume it with its original vidcolor train command")  # fmt: skip
        cfg = TrainConfig.from_dict(state["config"])
        return cls(cfg, [Path(f) for f in state["folders"]], Path(out_dir), device=device)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    def data_digest(self) -> str:
        """sha256 of the training images' names (set index and path in its folder): a resumed
        run must draw from the same list."""
        names = "\n".join(self._names[p] for p in self.paths)
        return hashlib.sha256(names.encode()).hexdigest()

    def _resume(self) -> bool:
        if not self.checkpoint_path.exists():
            return False
        # weights_only: our own file, but never unpickle arbitrary objects.
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        if TrainConfig.from_dict(state["config"]).to_dict() != self.cfg.to_dict():
            raise InputError(f"{self.checkpoint_path} was made with another config; "
                             "use another --out folder or remove the checkpoint")  # fmt: skip
        if state.get("data_digest", self.data_digest()) != self.data_digest():
            raise InputError(f"{self.checkpoint_path} was trained on other images than "
                             f"{', '.join(map(str, self.folders))} hold now; restore them "
                             "or start another run")  # fmt: skip
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.weights = state["class_weights"].cpu()
        self.rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.history = json.loads(state["history"])
        self.recent = json.loads(state.get("recent", "[]"))
        self.init_sha256 = str(state.get("init_sha256", ""))
        return True

    def save_checkpoint(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.validation:
            listing = "".join(f"{p.resolve()}\n" for p in self.validation)
            (self.out_dir / "validation.txt").write_text(listing)
        state = {
            "config": self.cfg.to_dict(),
            "folders": [str(f) for f in self.folders],
            "data_digest": self.data_digest(),
            "init_sha256": self.init_sha256,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "class_weights": self.weights.cpu(),
            "rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
            "history": json.dumps(self.history),
            "recent": json.dumps(self.recent),
        }
        partial = self.checkpoint_path.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, self.checkpoint_path)

    def train_step(self, batch: Batch) -> float:
        lightness = batch.lightness.to(self.device).contiguous(memory_format=torch.channels_last)
        ab = batch.ab.to(self.device)
        hints = None if batch.hint_ab is None or batch.hint_mask is None else (
            batch.hint_ab.to(self.device), batch.hint_mask.to(self.device))  # fmt: skip
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(self.step, self.cfg)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            raw = self.model.head_output(lightness, *(hints or ()))
        if self.cfg.loss == "bins":
            loss = bins_loss(raw, ab, self.centres, self.weights)
        else:
            loss = F.l1_loss(self.model.ab_max * torch.tanh(raw.float()), ab)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        return float(loss.detach())

    def run(
        self, on_step: Callable[[int, int, float], None] | None = None, until: int | None = None
    ) -> None:
        """Trains to ``cfg.steps``; ``on_step(step, steps, mean recent loss)`` after each step.

        ``until`` stops (with a checkpoint) at that step instead, without changing the recipe:
        the learning-rate schedule still runs to ``cfg.steps``, and the same command without
        ``until`` continues exactly where this one stopped. The loss averaged over each 20
        steps goes into ``history`` (kept in the checkpoint). A checkpoint is written every
        ``checkpoint_every`` steps, after ``checkpoint_minutes`` of wall time, and at the end.
        """
        self.model.train()
        stop = self.cfg.steps if until is None else min(until, self.cfg.steps)
        saved = time.monotonic()
        while self.step < stop:
            self.recent.append(self.train_step(self.sampler.batch(self.step, self.rng)))
            if on_step is not None:
                on_step(self.step, self.cfg.steps, float(np.mean(self.recent)))
            if self.step % 20 == 0 or self.step == self.cfg.steps:
                self.history.append({"step": self.step, "loss": float(np.mean(self.recent))})
                self.recent = []
            if self.cfg.snapshot_every and self.step % self.cfg.snapshot_every == 0:
                self.export(self.out_dir / "snapshots" / f"step{self.step:06d}.safetensors")
            minutes = self.cfg.checkpoint_minutes
            late = minutes > 0 and time.monotonic() - saved >= 60 * minutes
            if self.step % self.cfg.checkpoint_every == 0 or self.step == stop or late:
                self.save_checkpoint()
                saved = time.monotonic()

    def export(self, path: Path, extra: dict[str, str] | None = None) -> None:
        """Writes the model as fp16 safetensors with its architecture and recipe; training
        can go on afterwards (the model is neither moved nor put in eval mode)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        recipe = json.dumps(self.cfg.to_dict())
        info = {"train_config": recipe, "train_images": str(len(self.paths)),
                "train_steps": str(self.step), **(extra or {})}  # fmt: skip
        if self.init_sha256:
            info["train_init_sha256"] = self.init_sha256
        arch_kwargs: dict[str, Any] = {"head": "bins" if self.cfg.loss == "bins" else "ab"}
        if self.cfg.hints:
            arch_kwargs["hints"] = True  # the file says it accepts hints; v1 files say nothing
        save_weights(self.model, path, arch=self.cfg.arch, arch_kwargs=arch_kwargs,
                     render_factor=self.cfg.render_factor, extra=info)  # fmt: skip
