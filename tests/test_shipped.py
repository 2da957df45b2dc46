"""The weights that ship in weights/: present, pinned, refused when damaged, and reproducing the
figures recorded in their model card."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT

from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig
from vidcolor.errors import ConfigError, WeightsError
from vidcolor.evaluate import evaluate_images
from vidcolor.models.weights import load_weights
from vidcolor.models.weights.shipped import SHIPPED, resolve_weights, weights_dir
from vidcolor.resume import file_sha256

DEFAULT = weights_dir() / SHIPPED["default"].filename
EVAL_REPORT = REPO_ROOT / "weights" / "vidcolor-default.eval.json"
BSDS_TEST = REPO_ROOT.parent / "shared" / "data" / "colorize" / "heldout" / "bsds500_test"


def test_default_weights_ship_pinned_and_small():
    assert DEFAULT.is_file()
    assert file_sha256(DEFAULT) == SHIPPED["default"].sha256
    assert DEFAULT.stat().st_size <= 30 * 2**20
    _, info = load_weights(DEFAULT)
    assert info.arch_kwargs["head"] == "bins" and int(info.metadata["train_steps"]) > 0


def test_the_default_config_uses_the_shipped_weights():
    colorizer = Colorizer(ModelConfig())
    assert colorizer.trained and str(DEFAULT) in colorizer.description


def test_precision_is_named_in_the_description_and_float16_needs_cuda():
    colorizer = Colorizer(ModelConfig(precision="float32", device="cpu"))
    assert colorizer.description.endswith(", float32 on cpu")
    assert colorizer.model.encoder.conv1.weight.dtype == torch.float32
    with pytest.raises(ConfigError, match="float16 needs a CUDA GPU"):
        Colorizer(ModelConfig(precision="float16", device="cpu"))


def test_a_file_value_is_a_path_and_a_name_must_be_known():
    assert resolve_weights("my.safetensors") == (Path("my.safetensors"), None)
    assert resolve_weights("w/x") == (Path("w/x"), None)
    with pytest.raises(ConfigError, match=r"unknown weights 'deoldify'.*default"):
        resolve_weights("deoldify")


def test_missing_shipped_file_names_path_and_sha(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDCOLOR_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError) as caught:
        Colorizer(ModelConfig(weights="default"))
    message = str(caught.value)
    assert str(tmp_path / SHIPPED["default"].filename) in message
    assert SHIPPED["default"].sha256 in message


def corrupt_copy(folder: Path) -> Path:
    copy = folder / SHIPPED["default"].filename
    shutil.copyfile(DEFAULT, copy)
    with open(copy, "r+b") as f:  # flip one byte deep inside a tensor
        f.seek(copy.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_corrupted_shipped_file_is_refused_with_expected_sha(tmp_path, monkeypatch):
    copy = corrupt_copy(tmp_path)
    monkeypatch.setenv("VIDCOLOR_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError) as caught:
        Colorizer(ModelConfig(weights="default"))
    assert str(copy) in str(caught.value) and SHIPPED["default"].sha256 in str(caught.value)


def test_cli_run_with_corrupted_weights_exits_5_in_one_line(tmp_path):
    corrupt_copy(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "vidcolor.cli", "sample", str(tmp_path / "s.mp4")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    env_run = subprocess.run(
        [sys.executable, "-m", "vidcolor.cli", "run", str(tmp_path / "s.mp4"), "-q"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "VIDCOLOR_WEIGHTS_DIR": str(tmp_path)},
    )  # fmt: skip
    assert env_run.returncode == 5
    assert len(env_run.stderr.strip().splitlines()) == 1
    assert "sha256" in env_run.stderr and not (tmp_path / "s.color.mp4").exists()


@pytest.mark.slow
@pytest.mark.shared
def test_recorded_evaluation_reproduces():
    """The model card's table comes from weights/vidcolor-default.eval.json; the first images'
    scores recomputed now must equal the recorded ones (up to thread-count rounding). They
    were recorded in float32; bfloat16 (the default on CPUs with AMX) moves a picture's PSNR by
    up to 0.11 dB, the mean over the 200 by 0.002 dB (docs/benchmarks.md)."""
    if not BSDS_TEST.is_dir():
        pytest.skip(f"evaluation images not found at {BSDS_TEST}")
    recorded = json.loads(EVAL_REPORT.read_text())
    assert recorded["model"].split(" from ")[0] == "unet_resnet18"
    assert SHIPPED["default"].sha256[:12] in recorded["model"]
    count = 6
    report = evaluate_images(Colorizer(ModelConfig(precision="float32")), BSDS_TEST, limit=count,
                             render_factor=recorded["render_factor"],
                             mean_ab=recorded["mean_ab"])  # fmt: skip
    for now, then in zip(report["items"], recorded["items"][:count], strict=True):
        assert now["name"] == then["name"]
        for method in ("ours", "mean_ab"):
            for key in ("psnr_rgb", "psnr_ab", "colorfulness"):
                assert now[method][key] == pytest.approx(then[method][key], abs=0.02), (
                    now["name"], method, key)  # fmt: skip
