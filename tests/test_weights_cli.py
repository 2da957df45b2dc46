"""``vidcolor weights import/list`` and ``vidcolor run --weights NAME`` as a user runs them:
subprocesses, a synthetic DeOldify Artistic checkpoint in the published layout, a temporary
weights folder (``VIDCOLOR_WEIGHTS_HOME``)."""

from __future__ import annotations

import os
import pickle
import shlex
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import ray
import torch
from media import ClipSpec, decode_all_luma, make_clip
from safetensors.torch import save_file

from vidcolor import colorize
from vidcolor.cli import main
from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig
from vidcolor.errors import ConfigError, WeightsError
from vidcolor.models import create_model
from vidcolor.models.deoldify import DeOldifyGenerator, deoldify_artistic
from vidcolor.models.weights import load_weights, read_metadata, save_weights
from vidcolor.models.weights.shipped import resolve_weights
from vidcolor.resume import file_sha256

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


@pytest.mark.slow
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
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


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


# ---- refusals, in process: vidcolor.cli.main as the command runs it ---------------------------

TINY = {"middle_width": 16, "decoder_widths": (32, 16, 16, 16)}


def cli_error(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """Exit code and the one line ``vidcolor ARGS`` printed; fails on more or other output."""
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1 and lines[0].startswith("vidcolor: error: "), err
    return code, lines[0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("refusals")
    return make_clip(folder / "gray.mkv", ClipSpec(frames=2, size=(64, 32), codec="ffv1"))


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    """A small valid weights file and its state dict."""
    model = create_model("unet_resnet18", **TINY)
    path = tmp_path_factory.mktemp("native") / "tiny.safetensors"
    save_weights(model, path, arch="unet_resnet18", arch_kwargs=TINY, render_factor=8)
    return path, model.state_dict()


def write_payload(path: Path, marker: Path) -> Path:
    """A checkpoint whose unpickling runs ``touch MARKER``: torch's legacy or zip format, or a
    bare pickle, by the suffix."""
    # The payload first: it is the first global the reader meets, and the one it must name.
    tree = {"model": {"layers.0.0.bias": _ShellPayload(marker), "layers.0.0.weight": torch.ones(3)}}
    if path.suffix == ".pkl":
        path.write_bytes(pickle.dumps(tree, protocol=2))
    else:
        torch.save(tree, path, _use_new_zipfile_serialization=path.suffix == ".zip")
    return path


PAYLOADS = ["legacy.pth", "torch.zip", "bare.pkl"]


@pytest.mark.parametrize("name", PAYLOADS)
def test_payload_is_live(tmp_path: Path, name: str) -> None:
    """Control for the refusals below: an unrestricted unpickler does run each payload."""
    marker = tmp_path / "MARKER"
    path = write_payload(tmp_path / name, marker)
    if path.suffix == ".pkl":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("name", PAYLOADS)
@pytest.mark.parametrize("how", ["--set", "--weights", "import"])
def test_code_payload_is_refused_and_never_runs(
    tmp_path: Path,
    clip: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    how: str,
) -> None:
    home, marker = tmp_path / "home", tmp_path / "MARKER"
    monkeypatch.setenv("VIDCOLOR_WEIGHTS_HOME", str(home))
    evil = write_payload(tmp_path / name, marker)
    if how == "import":
        code, line = cli_error(capsys, "weights", "import", evil)
        assert "system" in line and "could run code" in line
    else:
        option = ["--set", f"model.weights={evil}"] if how == "--set" else ["--weights", evil]
        code, line = cli_error(capsys, "run", clip, "-o", tmp_path / "out.mkv", *option)
        assert "pickled torch checkpoint" in line and "vidcolor weights import" in line
        assert not (tmp_path / "out.mkv").exists()
    assert code == WeightsError.exit_code
    assert str(evil) in line
    assert not marker.exists()
    assert not home.exists() or not list(home.iterdir())


def _damaged(kind: str, folder: Path, native: tuple[Path, dict[str, torch.Tensor]]) -> Path:
    """A weights file that is wrong in one way (``kind``)."""
    good, state = native
    path = folder / f"{kind}.safetensors"
    meta = read_metadata(good)
    tensors = {k: v.contiguous() for k, v in state.items()}
    if kind == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "header-cut":
        path.write_bytes(good.read_bytes()[:20])
    elif kind == "text":
        path.write_text("not weights\n")
    elif kind == "folder":
        path.mkdir()
    elif kind == "wrong-shape":  # the metadata describes the full-width decoder
        save_file(tensors, str(path), metadata={**meta, "arch_kwargs": "{}"})
    elif kind == "missing-key":
        tensors.pop("encoder.conv1.weight")
        save_file(tensors, str(path), metadata=meta)
    elif kind == "other-arch":
        save_file(
            tensors, str(path), metadata={**meta, "arch": "deoldify_artistic", "arch_kwargs": "{}"}
        )
    return path


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("missing", ["not found"]),
        ("folder", ["is a folder", ".safetensors file"]),
        ("truncated", ["not a valid safetensors file", "truncated"]),
        ("header-cut", ["not a valid safetensors file", "truncated"]),
        ("text", ["not a valid safetensors file"]),
        ("wrong-shape", ["'middle.2.0.weight' has shape (32, 512, 3, 3)", "expects"]),
        ("missing-key", ["lacks key 'encoder.conv1.weight'", "unet_resnet18"]),
        ("other-arch", ["lacks key 'layers.0.0.weight'", "deoldify_artistic"]),
    ],
)
def test_bad_weights_stop_a_run_before_any_worker(
    tmp_path: Path,
    clip: Path,
    native: tuple[Path, dict[str, torch.Tensor]],
    capsys: pytest.CaptureFixture[str],
    kind: str,
    words: list[str],
) -> None:
    bad = _damaged(kind, tmp_path, native)
    code, line = cli_error(capsys, "run", clip, "-o", tmp_path / "out.mkv", "--weights", bad)
    assert code == WeightsError.exit_code
    assert str(bad) in line
    for word in words:
        assert word in line
    assert not ray.is_initialized()  # refused on the driver: no Ray, no worker
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("missing", ["not found"]),
        ("folder", ["is a folder", "_gen.pth"]),
        ("truncated", ["truncated"]),
        ("safetensors", ["safetensors file", "nothing to import"]),
        ("other-arch", ["lacks key", "--arch"]),
    ],
)
def test_bad_checkpoints_are_not_imported(
    tmp_path: Path,
    native: tuple[Path, dict[str, torch.Tensor]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    words: list[str],
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("VIDCOLOR_WEIGHTS_HOME", str(home))
    path = tmp_path / "ColorizeArtistic_gen.pth"
    conv = torch.nn.Conv2d(3, 4, 3).state_dict()  # a real checkpoint, of another network
    if kind == "folder":
        path.mkdir()
    elif kind == "truncated":
        torch.save(conv, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "safetensors":
        path = native[0]
    elif kind == "other-arch":
        torch.save(conv, path)
    code, line = cli_error(capsys, "weights", "import", path)
    assert code == WeightsError.exit_code
    assert str(path) in line
    for word in words:
        assert word in line
    assert not home.exists() or not list(home.iterdir())
