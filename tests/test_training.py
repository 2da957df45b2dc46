import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidcolor.errors import InputError
from vidcolor.models import create_model
from vidcolor.models.weights import load_weights, save_weights
from vidcolor.progress import ProgressBar
from vidcolor.resume import file_sha256
from vidcolor.training import FilmAugment, TrainConfig, Trainer, parse_schedule
from vidcolor.training.augment import degrade_film, sample_hints
from vidcolor.training.data import Sampler, set_shares, split_images
from vidcolor.training.trainer import learning_rate

TINY = TrainConfig(crop=64, batch_size=2, steps=4, warmup=2, checkpoint_every=2)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i in range(3):
        img = np.zeros((80, 100, 3), np.uint8)
        img[:40] = (200, 60, 40)  # red top, blue bottom, with noise
        img[40:] = (40, 80, 200)
        img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return folder


def assert_same_weights(a: Trainer, b: Trainer) -> None:
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items(),
                                 strict=True):  # fmt: skip
        assert torch.equal(x, y), name


@pytest.mark.slow
def test_loss_falls_and_resume_continues_exactly(tmp_path, images):
    torch.set_num_threads(1)
    straight = Trainer(TINY, [images], tmp_path / "a")
    straight.run()
    halfway = Trainer(TrainConfig(**{**TINY.__dict__, "steps": 2}), [images], tmp_path / "b")
    halfway.run()
    # Continue the same run (same config) from the step-2 checkpoint.
    (tmp_path / "b" / "checkpoint.pt").rename(tmp_path / "b" / "ckpt2.pt")
    state = torch.load(tmp_path / "b" / "ckpt2.pt", weights_only=True)
    state["config"]["steps"] = TINY.steps
    torch.save(state, tmp_path / "b" / "checkpoint.pt")
    resumed = Trainer(TINY, [images], tmp_path / "b")
    assert resumed.step == 2
    resumed.run()
    assert_same_weights(straight, resumed)


def test_a_changed_config_is_not_resumed(tmp_path, images):
    Trainer(TINY, [images], tmp_path).save_checkpoint()
    with pytest.raises(InputError, match="another config"):
        Trainer(TrainConfig(**{**TINY.__dict__, "lr": 0.5}), [images], tmp_path)


def test_export_loads_as_bins_model(tmp_path, images):
    trainer = Trainer(TINY, [images], tmp_path)
    trainer.export(tmp_path / "w.safetensors")
    model, info = load_weights(tmp_path / "w.safetensors")
    assert info.arch_kwargs == {"head": "bins"} and info.metadata["train_steps"] == "0"
    out = model(torch.full((1, 1, 64, 64), 50.0))
    assert out.shape == (1, 2, 64, 64)


def test_learning_rate_schedule():
    cfg = TrainConfig(steps=100, warmup=10, lr=1.0)
    assert learning_rate(0, cfg) == pytest.approx(0.1)
    assert learning_rate(10, cfg) == pytest.approx(1.0)
    assert learning_rate(100, cfg) == pytest.approx(0.01)


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"no \.jpg/\.png images"):
        Trainer(TINY, [tmp_path], tmp_path / "out")


def test_holdout_keeps_every_nth_image_out_of_training(tmp_path, images):
    paths = [Path(f"{i}.png") for i in range(25)]
    train, held = split_images(paths, 10)
    assert held == [Path("9.png"), Path("19.png")]
    assert len(train) == 23 and not set(train) & set(held)
    assert split_images(paths, 0) == (paths, [])
    trainer = Trainer(TrainConfig(**{**TINY.__dict__, "holdout_every": 3}), [images], tmp_path)
    trainer.save_checkpoint()
    listed = (tmp_path / "validation.txt").read_text().split()
    assert [Path(p).name for p in listed] == ["2.png"] and len(trainer.paths) == 2


@pytest.mark.slow
def test_cli_trains_with_a_progress_bar_resumes_and_exports(tmp_path, images):
    args = [sys.executable, "-m", "vidcolor.cli", "train", str(images), "--out", str(tmp_path),
            "--crop", "64", "--batch-size", "2", "--warmup", "1", "--checkpoint-every", "2",
            "--export", str(tmp_path / "w.safetensors")]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run([*args, "--steps", "2"], capture_output=True, text=True, env=env,
                           timeout=300, check=False)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "2/2 steps" in first.stderr and "loss" in first.stderr
    _, info = load_weights(tmp_path / "w.safetensors")
    assert info.metadata["train_steps"] == "2"
    # Same recipe, more steps: refused, a checkpoint belongs to one config.
    again = subprocess.run([*args, "--steps", "3"], capture_output=True, text=True, env=env,
                           timeout=300, check=False)  # fmt: skip
    assert again.returncode != 0 and "another config" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_progress_bar_counts_rate_from_where_it_resumed():
    stream = io.StringIO()
    bar = ProgressBar(stream, interval=0.0, unit="steps", initial=100)
    bar.update(100, 200, "loss 1.0")
    assert "100/200 steps" in stream.getvalue() and "steps/s" in stream.getvalue()
    assert "ETA ?" in stream.getvalue() and "loss 1.0" in stream.getvalue()


@pytest.mark.slow
def test_until_stops_early_and_the_same_run_continues_exactly(tmp_path, images):
    torch.set_num_threads(1)
    straight = Trainer(TINY, [images], tmp_path / "a")
    straight.run()
    stopped = Trainer(TINY, [images], tmp_path / "b")
    stopped.run(until=3)
    assert stopped.step == 3
    continued = Trainer(TINY, [images], tmp_path / "b")
    assert continued.step == 3
    continued.run()
    assert_same_weights(straight, continued)


# Issue 16: image sets, progressive resizing, hints, film-like inputs, warm start, --resume.

RICH = TrainConfig(
    crop=64, batch_size=2, steps=4, warmup=2, checkpoint_every=100, hints=True,
    hint_none=0.25, film=FilmAugment(), set_weighting="sqrt",
    schedule=((0, 64, 2), (2, 32, 3)),
)  # fmt: skip


@pytest.fixture(scope="module")
def second_set(tmp_path_factory) -> Path:
    """A second image set: green/gray pictures, smaller than the crop (no upscaling at load)."""
    folder = tmp_path_factory.mktemp("set2")
    rng = np.random.default_rng(1)
    for i in range(4):
        img = np.full((48, 56, 3), (60, 170, 70), np.uint8)
        img[:, 28:] = 128
        img = np.clip(img + rng.integers(-15, 15, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"g{i}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return folder


def test_resume_dir_with_hints_film_and_schedule_continues_bit_for_bit(
    tmp_path, images, second_set
):
    torch.set_num_threads(1)
    straight = Trainer(RICH, [images, second_set], tmp_path / "a")
    straight.run()
    stopped = Trainer(RICH, [images, second_set], tmp_path / "b")
    stopped.run(until=3)  # stops inside the second phase (crop 32, batch 3)
    resumed = Trainer.resume(tmp_path / "b")
    assert resumed.step == 3 and resumed.cfg == RICH
    resumed.run()
    assert_same_weights(straight, resumed)
    assert resumed.history == straight.history and resumed.history[-1]["step"] == 4


def test_checkpoint_by_wall_time(tmp_path, images):
    cfg = TrainConfig(**{**TINY.__dict__, "checkpoint_every": 1000, "checkpoint_minutes": 1e-9})
    trainer = Trainer(cfg, [images], tmp_path)
    trainer.run(until=1)  # the end of a session writes one anyway; the clock writes the rest
    seen = []
    trainer.save_checkpoint = lambda: seen.append(trainer.step)  # type: ignore[method-assign]
    trainer.run(until=3)
    assert seen == [2, 3]


def test_relative_folders_are_resolved_and_listed_by_set(tmp_path, images, second_set, monkeypatch):
    monkeypatch.chdir(images.parent)
    trainer = Trainer(RICH, [Path(images.name), second_set], tmp_path)
    assert trainer.folders == [images.resolve(), second_set.resolve()]
    assert [trainer.sampler.members[k].size for k in (0, 1)] == [3, 4]
    trainer.save_checkpoint()
    assert Trainer.resume(tmp_path).data_digest() == trainer.data_digest()


def test_resume_needs_a_checkpoint(tmp_path):
    with pytest.raises(InputError, match="no checkpoint to resume"):
        Trainer.resume(tmp_path)


def test_schedule_sets_crop_and_batch_by_step(images, second_set):
    assert RICH.phase(0) == (64, 2) and RICH.phase(1) == (64, 2) and RICH.phase(2) == (32, 3)
    assert TINY.phase(10**6) == (TINY.crop, TINY.batch_size)
    assert parse_schedule("0:96:16,6000:160:8") == ((0, 96, 16), (6000, 160, 8))
    with pytest.raises(InputError, match="start at step 0"):
        TrainConfig(schedule=((5, 96, 16),))
    with pytest.raises(InputError, match="STEP:CROP:BATCH"):
        parse_schedule("0:96")
    trainer = Trainer(RICH, [images, second_set], Path("unused"))
    batch = trainer.sampler.batch(2, np.random.default_rng(0))
    assert batch.lightness.shape == (3, 1, 32, 32) and batch.ab.shape == (3, 2, 32, 32)
    assert batch.hint_ab is not None and batch.hint_ab.shape == (3, 2, 32, 32)


def test_config_round_trips_through_its_dict():
    assert TrainConfig.from_dict(RICH.to_dict()) == RICH
    assert TrainConfig.from_dict(json.loads(json.dumps(RICH.to_dict()))) == RICH
    assert TrainConfig.from_dict({"steps": 7}) == TrainConfig(steps=7)  # older checkpoints
    with pytest.raises(InputError, match="does not know"):
        TrainConfig.from_dict({"steps": 7, "from_the_future": 1})


def test_set_shares_and_sampler_draw_sets_by_share(images, second_set):
    sqrt = set_shares([942, 300, 3873, 5400, 520], "sqrt")
    assert sqrt is not None and np.allclose(sqrt.sum(), 1.0)
    assert np.round(sqrt * 100).tolist() == [15, 8, 30, 36, 11]
    assert set_shares([3, 4], "images") is None
    equal = set_shares([3, 400], "equal")
    assert equal is not None and np.allclose(equal, [0.5, 0.5])
    # 3 images in set 0 and 4 in set 1; "equal" must draw each set half the time.
    sampler = Sampler([np.zeros((8, 8, 3), np.uint8)] * 7, [0, 0, 0, 1, 1, 1, 1],
                      TrainConfig(set_weighting="equal"))  # fmt: skip
    picks = sampler.picks(4000, np.random.default_rng(0))
    assert abs(np.mean(picks < 3) - 0.5) < 0.03 and set(picks) == set(range(7))


def test_hints_are_patch_means_of_the_truth():
    ab = np.random.default_rng(0).uniform(-60, 60, (2, 40, 40)).astype(np.float32)
    one = TrainConfig(hint_none=0.0, hint_geometric=1.0, hint_max_patch=5)  # exactly one hint
    hint, mask = sample_hints(ab, one, np.random.default_rng(3))
    ys, xs = np.nonzero(mask[0])
    side = ys.max() - ys.min() + 1
    assert 1 <= side <= 5 and len(ys) == side * (xs.max() - xs.min() + 1) == side * side
    patch = ab[:, ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert np.allclose(hint[:, ys, xs], patch.mean(axis=(1, 2))[:, None], atol=1e-4)
    assert not hint[:, mask[0] == 0].any()
    none = TrainConfig(hint_none=1.0)
    assert not sample_hints(ab, none, np.random.default_rng(3))[1].any()
    counts = [
        sample_hints(ab, TrainConfig(), np.random.default_rng(s))[1].any() for s in range(200)
    ]
    assert 0.35 < np.mean(counts) < 0.65  # about half the samples are automatic


def test_film_degrades_the_input_only(images, second_set):
    clean = TrainConfig(**{**RICH.__dict__, "film": None})
    always = TrainConfig(**{**RICH.__dict__, "film": FilmAugment(1, 1, 1, 1, 1, 1, 1)})
    folders = [images, second_set]
    a = Trainer(clean, folders, Path("unused")).sampler.batch(0, np.random.default_rng(5))
    b = Trainer(always, folders, Path("unused")).sampler.batch(0, np.random.default_rng(5))
    assert torch.equal(a.ab, b.ab)  # the target ab of the clean photo
    assert a.hint_ab is not None and b.hint_ab is not None and torch.equal(a.hint_ab, b.hint_ab)
    assert (a.lightness - b.lightness).abs().mean() > 1.0
    assert b.lightness.min() >= 0 and b.lightness.max() <= 100


def test_degrade_film_is_deterministic_and_in_range():
    luma = np.random.default_rng(0).uniform(0, 1, (64, 48)).astype(np.float32)
    film = FilmAugment(1, 1, 1, 1, 1, 1, 1)
    before = luma.copy()
    one = degrade_film(luma, film, np.random.default_rng(9))
    assert np.array_equal(luma, before)  # the input is not modified
    assert np.array_equal(one, degrade_film(luma, film, np.random.default_rng(9)))
    assert one.shape == luma.shape and one.min() >= 0 and one.max() <= 1
    assert np.abs(one - luma).mean() > 0.02
    off = FilmAugment(0, 0, 0, 0, 0, 0, 0)
    assert np.array_equal(degrade_film(luma, off, np.random.default_rng(9)), luma)


def test_warm_start_from_one_channel_weights_keeps_their_output(tmp_path, images):
    torch.manual_seed(1)
    v1 = create_model("unet_resnet18", head="bins")
    save_weights(v1, tmp_path / "v1.safetensors", arch="unet_resnet18",
                 arch_kwargs={"head": "bins"}, render_factor=21)  # fmt: skip
    stored, _ = load_weights(tmp_path / "v1.safetensors")  # fp16 values, as the hint net gets them
    cfg = TrainConfig(**{**TINY.__dict__, "hints": True, "init": str(tmp_path / "v1.safetensors")})
    trainer = Trainer(cfg, [images], tmp_path / "run")
    stem = trainer.model.encoder.conv1.weight
    assert stem.shape == (64, 4, 7, 7) and not stem[:, 1:].any()
    assert torch.equal(stem[:, :1], stored.get_parameter("encoder.conv1.weight"))
    hinted = trainer.model.eval()
    lum = torch.rand(1, 1, 64, 96, generator=torch.Generator().manual_seed(0)) * 100
    with torch.no_grad():
        assert torch.allclose(hinted(lum), stored(lum), atol=1e-3)
    trainer.export(tmp_path / "v2.safetensors")
    model, info = load_weights(tmp_path / "v2.safetensors")
    assert info.arch_kwargs == {"head": "bins", "hints": True} and model.hints
    assert info.metadata["train_init_sha256"] == file_sha256(tmp_path / "v1.safetensors")


def test_warm_start_refuses_other_shapes(tmp_path, images):
    small = create_model("unet_resnet18", head="bins", middle_width=16)
    save_weights(small, tmp_path / "s.safetensors", arch="unet_resnet18",
                 arch_kwargs={"head": "bins", "middle_width": 16}, render_factor=21)  # fmt: skip
    cfg = TrainConfig(**{**TINY.__dict__, "init": str(tmp_path / "s.safetensors")})
    with pytest.raises(InputError, match="does not fit"):
        Trainer(cfg, [images], tmp_path / "run")


@pytest.mark.slow
def test_cli_resume_takes_only_the_folder(tmp_path, images):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def train(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "vidcolor.cli", "train", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300,
                              check=False)  # fmt: skip

    first = train(str(images), "--out", str(out), "--batch-size", "2", "--steps", "3",
                  "--until", "1", "--hints", "--film", "--schedule", "0:64:2,2:32:2",
                  "--set-weighting", "sqrt")  # fmt: skip
    assert first.returncode == 0, first.stderr
    refused = train("--resume", str(out), "--steps", "9")
    assert refused.returncode == 3 and "drop --steps" in refused.stderr
    second = train("--resume", str(out), "--export", str(tmp_path / "w.st"))
    assert second.returncode == 0, second.stderr
    assert "at step 1" in second.stdout and "3/3 steps" in second.stderr
    _, info = load_weights(tmp_path / "w.st")
    assert info.metadata["train_steps"] == "3" and info.arch_kwargs["hints"] is True
    assert "3/3 steps" in (out / "progress.log").read_text()
