"""A training run's recipe: every setting, stored in the checkpoint and the weights' metadata.

Progressive resizing is a schedule of phases (first step, crop, batch size); film-like
degradation of the input is a probability per defect (:class:`FilmAugment`). A config written
by an older vidcolor resumes with the defaults for fields it lacks; unknown fields are refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from vidcolor.errors import InputError

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
