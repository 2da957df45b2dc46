"""The training loop: model, optimizer, the loss, checkpoints that resume bit for bit, export."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.colorize import resolve_device
from vidcolor.errors import InputError
from vidcolor.evaluate import list_images
from vidcolor.models import abbins, create_model
from vidcolor.models.unet import UNet
from vidcolor.models.weights import load_weights, save_weights
from vidcolor.training.data import (
    Batch,
    Sampler,
    bin_counts,
    load_images,
    split_images,
    training_images,
)
from vidcolor.training.recipe import TrainConfig


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
