import io
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidcolor.errors import InputError
from vidcolor.models.weights import load_weights
from vidcolor.progress import ProgressBar
from vidcolor.train import TrainConfig, Trainer, learning_rate, split_images

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
