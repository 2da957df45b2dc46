"""``vidcolor train``: trains the native model on a folder of color photographs.

Input is the Lab L of a random crop, the target its ab. The default loss is Zhang et al.'s
class-rebalanced cross-entropy over quantized ab (:mod:`vidcolor.models.abbins`): plain L1 on ab
averages plausible colors into sepia. ``--loss l1`` trains the regression head instead, for
comparison.

Training is resumable: a checkpoint (model, optimizer, step, RNG state, class weights) is written
atomically every ``checkpoint_every`` steps and at the end, and the same command continues from it.
The run is deterministic for a given seed and device.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidcolor import color
from vidcolor.colorize import resolve_device
from vidcolor.errors import InputError
from vidcolor.evaluate import list_images, read_rgb
from vidcolor.models import abbins, create_model
from vidcolor.models.weights import save_weights


@dataclass(frozen=True)
class TrainConfig:
    """One training run; stored in the checkpoint and the weights' metadata."""

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


def load_images(paths: Sequence[Path], min_side: int) -> list[np.ndarray]:
    """RGB uint8 images, each upscaled if needed so that its short side is at least ``min_side``."""
    images = []
    for path in paths:
        rgb = read_rgb(path)
        short = min(rgb.shape[:2])
        if short < min_side:
            scale = min_side / short
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        images.append(rgb)
    return images


def random_crop(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """Scale jitter (the crop covers 35-100% of the short side), random crop, random flip."""
    h, w = image.shape[:2]
    side = int(rng.uniform(0.35, 1.0) * min(h, w))
    side = max(side, min(crop, min(h, w)))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    patch = image[y : y + side, x : x + side]
    interp = cv2.INTER_AREA if side > crop else cv2.INTER_CUBIC
    patch = cv2.resize(patch, (crop, crop), interpolation=interp)
    return patch[:, ::-1] if rng.random() < 0.5 else patch


def batches(
    images: Sequence[np.ndarray], cfg: TrainConfig, rng: np.random.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless (input lightness, target ab) batches, ``(B, 1, c, c)`` and ``(B, 2, c, c)``.

    The input is what inference sees: the lightness of the crop's BT.601 luma taken as a gray
    (a black-and-white film records one brightness per pixel, and the pipeline reads Y'), not
    the crop's true Lab L, which differs on saturated colors.
    """
    while True:
        picks = rng.integers(0, len(images), cfg.batch_size)
        rgb = np.stack([random_crop(images[i], cfg.crop, rng) for i in picks])
        rgb_t = torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255.0
        luma = (color.rgb_to_luma(rgb_t, "bt601"))[:, None]
        yield color.gray_to_lightness(luma), color.rgb_to_lab(rgb_t)[:, 1:]


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
    """Owns model, optimizer and data; ``run`` trains until ``cfg.steps``, checkpointing."""

    def __init__(
        self, cfg: TrainConfig, folders: Sequence[Path], out_dir: Path, device: str = "auto"
    ) -> None:
        self.cfg, self.out_dir = cfg, Path(out_dir)
        self.device = resolve_device(device)
        torch.manual_seed(cfg.seed)
        self.paths, self.validation = split_images(training_images(folders), cfg.holdout_every)
        self.images = load_images(self.paths, cfg.crop)
        head = "bins" if cfg.loss == "bins" else "ab"
        self.model = create_model(cfg.arch, head=head).to(self.device)
        self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr,
                                     weight_decay=cfg.weight_decay)  # fmt: skip
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        self.weights = torch.ones(len(abbins.bin_centres()))
        self.history: list[dict[str, float]] = []
        if not self._resume() and cfg.loss == "bins":
            counts = bin_counts(self.images)
            self.weights = torch.from_numpy(abbins.rebalance_weights(counts, cfg.rebalance))
        self.centres = torch.from_numpy(abbins.bin_centres()).to(self.device)
        self.weights = self.weights.to(self.device)

    @property
    def checkpoint_path(self) -> Path:
        return self.out_dir / "checkpoint.pt"

    def _resume(self) -> bool:
        if not self.checkpoint_path.exists():
            return False
        # weights_only: our own file, but never unpickle arbitrary objects.
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        if state["config"] != asdict(self.cfg):
            raise InputError(f"{self.checkpoint_path} was made with another config; "
                             "use another --out folder or remove the checkpoint")  # fmt: skip
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.weights = state["class_weights"].cpu()
        self.rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.history = json.loads(state["history"])
        return True

    def save_checkpoint(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.validation:
            listing = "".join(f"{p.resolve()}\n" for p in self.validation)
            (self.out_dir / "validation.txt").write_text(listing)
        state = {
            "config": asdict(self.cfg),
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "class_weights": self.weights.cpu(),
            "rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
            "history": json.dumps(self.history),
        }
        partial = self.checkpoint_path.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, self.checkpoint_path)

    def train_step(self, lightness: torch.Tensor, ab: torch.Tensor) -> float:
        lightness = lightness.to(self.device).contiguous(memory_format=torch.channels_last)
        ab = ab.to(self.device)
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(self.step, self.cfg)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        with autocast:
            raw = self.model.head_output(lightness)
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
        steps goes into ``history`` (kept in the checkpoint).
        """
        self.model.train()
        data = batches(self.images, self.cfg, self.rng)
        recent: list[float] = []
        stop = self.cfg.steps if until is None else min(until, self.cfg.steps)
        while self.step < stop:
            recent.append(self.train_step(*next(data)))
            if on_step is not None:
                on_step(self.step, self.cfg.steps, float(np.mean(recent)))
            if self.step % 20 == 0 or self.step == self.cfg.steps:
                self.history.append({"step": self.step, "loss": float(np.mean(recent))})
                recent = []
            if self.step % self.cfg.checkpoint_every == 0 or self.step == stop:
                self.save_checkpoint()

    def export(self, path: Path, extra: dict[str, str] | None = None) -> None:
        """Writes the trained model as fp16 safetensors with its architecture and recipe."""
        self.model.eval()
        model = self.model.to("cpu", memory_format=torch.contiguous_format)  # type: ignore[call-overload]
        info = {"train_config": json.dumps(asdict(self.cfg)), "train_images": str(len(self.paths)),
                "train_steps": str(self.step), **(extra or {})}  # fmt: skip
        head = "bins" if self.cfg.loss == "bins" else "ab"
        save_weights(model, path, arch=self.cfg.arch, arch_kwargs={"head": head},
                     render_factor=self.cfg.render_factor, extra=info)  # fmt: skip
