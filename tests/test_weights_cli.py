"""``vidcolor weights import/list`` and ``vidcolor run --weights NAME`` as a user runs them:
subprocesses, a synthetic DeOldify Artistic checkpoint in the published layout, a temporary
weights folder (``VIDCOLOR_WEIGHTS_HOME``)."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch
from media import ClipSpec, decode_all_luma, make_clip

from vidcolor import colorize
from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig
from vidcolor.errors import ConfigError
from vidcolor.models import file_sha256, load_weights
from vidcolor.models.deoldify import DeOldifyGenerator, deoldify_artistic
from vidcolor.models.shipped import resolve_weights

NAME = "deoldify-artistic"


def vidcolor(home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIDCOLOR_WEIGHTS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "vidcolor.cli", *map(str, args)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def artistic() -> DeOldifyGenerator:
    torch.manual_seed(5)
    return deoldify_artistic().eval()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, artistic: DeOldifyGenerator) -> Path:
    """A fastai Learner file in torch's legacy format, named as DeOldify publishes it."""
    path = tmp_path_factory.mktemp("published") / "ColorizeArtistic_gen.pth"
    opt: dict[str, Any] = {"state": {}, "param_groups": []}
    torch.save({"model": artistic.state_dict(), "opt": opt}, path,
               _use_new_zipfile_serialization=False)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, checkpoint: Path) -> Path:
    """A weights folder into which ``checkpoint`` was imported by the CLI."""
    folder = tmp_path_factory.mktemp("home") / "weights"
    result = vidcolor(folder, "weights", "import", checkpoint)
    assert result.returncode == 0, result.stderr
    assert NAME in result.stdout
    return folder


def test_import_stores_folded_fp32_weights_that_describe_themselves(
    home: Path, checkpoint: Path, artistic: DeOldifyGenerator
) -> None:
    assert [p.name for p in home.iterdir()] == [f"{NAME}.safetensors"]  # no temporary left
    model, info = load_weights(home / f"{NAME}.safetensors")
    assert (info.arch, info.arch_kwargs, info.render_factor) == ("deoldify_artistic",
                                                                 {"folded": True}, 35)  # fmt: skip
    assert info.metadata["source"] == checkpoint.name
    assert info.metadata["source_sha256"] == file_sha256(checkpoint)
    assert not [k for k in model.state_dict() if k.endswith(("_orig", "_u", "_g"))]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - artistic(x)).abs().max() <= 1e-4


def test_list_shows_shipped_and_imported(home: Path) -> None:
    result = vidcolor(home, "weights", "list")
    assert result.returncode == 0, result.stderr
    shipped, installed = result.stdout.split("installed (")
    assert "default" in shipped and "sha256" in shipped
    assert NAME in installed and "deoldify_artistic" in installed
    assert "ColorizeArtistic_gen.pth" in installed


def test_existing_name_is_refused_without_overwrite(home: Path, checkpoint: Path) -> None:
    path = home / f"{NAME}.safetensors"
    before = path.stat().st_mtime_ns
    line = one_error_line(vidcolor(home, "weights", "import", checkpoint))
    assert NAME in line and "--overwrite" in line
    assert path.stat().st_mtime_ns == before


def test_run_with_imported_weights_keeps_frames_and_luma(home: Path, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "gray.mkv", ClipSpec(frames=6, size=(64, 48), codec="ffv1",
                                                     audio=True))  # fmt: skip
    out = tmp_path / "out.mkv"
    result = vidcolor(home, "run", clip, "-o", out, "--weights", NAME, "--render-factor", "4",
                      "--workers", "1", "--codec", "ffv1", "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "6 frames" in result.stdout and "deoldify_artistic" in result.stdout
    ours, source = decode_all_luma(out), decode_all_luma(clip)
    assert len(ours) == len(source) == 6
    assert all(np.array_equal(a, b) for a, b in zip(ours, source, strict=True))
    with av.open(str(out)) as container:
        cb = np.frombuffer(bytes(next(container.decode(video=0)).planes[1]), np.uint8)
    assert np.abs(cb.astype(int) - 128).max() > 5  # the generator's chroma reached the file


def test_colorizer_renders_deoldify_square_and_native_by_aspect(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDCOLOR_WEIGHTS_HOME", str(home))
    cfg = ModelConfig(weights=NAME, render_factor=4, batch_size=2, device="cpu")
    deoldify = Colorizer(cfg)
    assert deoldify.render_size(64, 48, Fraction(1)) == (64, 64)
    lightness = np.random.default_rng(0).uniform(0, 100, (3, 64, 64)).astype(np.float32)
    assert deoldify.predict(lightness).shape == (3, 2, 64, 64)
    native = Colorizer(ModelConfig(weights=None, render_factor=4, device="cpu"))
    assert native.render_size(160, 96, Fraction(1)) == colorize.render_size(160, 96, 1, 4)


def test_unknown_name_lists_installed_ones(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDCOLOR_WEIGHTS_HOME", str(home))
    assert resolve_weights(NAME) == (home / f"{NAME}.safetensors", None)
    with pytest.raises(ConfigError, match=rf"unknown weights 'nosuch'.*default, {NAME}"):
        resolve_weights("nosuch")


class _ShellPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker, home = tmp_path / "MARKER", tmp_path / "home"
    evil = tmp_path / "evil.pth"
    state = {"layers.0.0.weight": torch.ones(3), "layers.0.0.bias": _ShellPayload(marker)}
    torch.save({"model": state}, evil, _use_new_zipfile_serialization=False)
    line = one_error_line(vidcolor(home, "weights", "import", evil))
    assert "system" in line and "could run code" in line
    assert not marker.exists()
    assert not home.exists() or not list(home.iterdir())


def test_missing_key_is_named_in_one_line(tmp_path: Path, artistic: DeOldifyGenerator) -> None:
    """A file one entry short of Artistic is recognised as Artistic and refused, naming it."""
    bad, home = tmp_path / "ColorizeArtistic_gen.pth", tmp_path / "home"
    state = {k: v for k, v in artistic.state_dict().items() if k != "layers.11.0.bias"}
    torch.save(state, bad, _use_new_zipfile_serialization=False)
    line = one_error_line(vidcolor(home, "weights", "import", bad))
    assert "lacks key 'layers.11.0.bias'" in line
    assert not home.exists() or not list(home.iterdir())


def test_bad_name_is_refused_before_reading(tmp_path: Path) -> None:
    line = one_error_line(vidcolor(tmp_path, "weights", "import", "absent.pth", "--name", "../x"))
    assert "'../x' is not allowed" in line
