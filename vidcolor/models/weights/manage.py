"""``vidcolor weights``: import DeOldify's checkpoints into the user's folder, list what is there.

Importing reads a fastai ``Learner.save`` file with the restricted reader (never ``torch.load``),
checks every key and shape against the architecture, folds spectral and weight norm into plain
conv weights (:func:`~vidcolor.models.norms.fold_norms`) and writes a self-describing safetensors
file (:func:`~vidcolor.models.weights.save_weights`) that ``load_weights`` rebuilds as the folded
model.

Storage is fp32, because issue 4 asks for DeOldify's checkpoints loaded exactly: fp32 keeps each
folded weight as DeOldify computes it on every forward, fp16 would round it to 11 significant
bits (and BatchNorm statistics below 6e-5 to subnormals), for a saving (Stable: 873 -> 437 MB)
that matters less in a local folder than in a shipped file. Inference is fp32 either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from vidcolor.errors import ConfigError, OutputError, WeightsError
from vidcolor.models.deoldify import PUBLISHED, DeOldifyGenerator, fold_norms
from vidcolor.models.weights.format import read_metadata, save_weights
from vidcolor.models.weights.installed import (
    SUFFIX,
    Installed,
    check_name,
    list_installed,
    weights_home,
)
from vidcolor.models.weights.legacy import check_state_dict, read_learner_checkpoint
from vidcolor.models.weights.shipped import SHIPPED, Shipped, weights_dir
from vidcolor.resume import file_sha256

__all__ = ["ARCHS", "import_checkpoint", "recognise", "weights_listing"]

ARCHS = tuple(PUBLISHED)  # artistic, stable, video


def import_checkpoint(
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    arch: str | None = None,
    overwrite: bool = False,
) -> Installed:
    """Install a DeOldify generator checkpoint as folded fp32 weights under ``name``.

    Args:
        source: a ``*_gen.pth`` file (fastai Learner or bare state dict; legacy or zip format).
        name: the name to install under; default ``deoldify-<arch>``.
        arch: ``artistic``, ``stable`` or ``video``; default :func:`recognise`.
        overwrite: replace installed weights of the same name.

    Returns:
        What was installed.

    Raises:
        WeightsError: the file is unsafe, damaged or not a DeOldify generator (names the key).
        ConfigError: a bad ``name`` or ``arch``, or a shipped name.
        OutputError: ``name`` is installed already and ``overwrite`` is off.
    """
    source = Path(source)
    if arch is not None and arch not in ARCHS:
        raise ConfigError(f"unknown DeOldify arch {arch!r}; use one of: {', '.join(ARCHS)}")
    if name is not None:  # fail before reading hundreds of MB
        _destination(name, overwrite)
    found = read_learner_checkpoint(source)
    arch = recognise(found, source, arch)
    name = name or f"deoldify-{arch}"
    path = _destination(name, overwrite)
    model = _folded(arch, found, source)
    del found  # the file's tensors, no longer needed while save_weights serialises the model
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"source": source.name, "source_sha256": file_sha256(source),
             "origin": "DeOldify (github.com/jantic/DeOldify), norms folded"}  # fmt: skip
    save_weights(model, path, arch=f"deoldify_{arch}", arch_kwargs={"folded": True},
                 render_factor=PUBLISHED[arch].render_factor, extra=extra,
                 dtype=torch.float32)  # fmt: skip
    return Installed(name, path, f"deoldify_{arch}", source.name, path.stat().st_size)


def recognise(found: Mapping[str, Tensor], source: str | os.PathLike[str], arch: str | None) -> str:
    """Which DeOldify generator a state dict is meant for; :func:`import_checkpoint` then checks
    every key and shape against it.

    Artistic (378 entries) and the wide generator (754) differ in size, so the nearer count
    decides, and a damaged file is reported against the generator it nearly is. Stable and Video
    share an architecture: ``arch`` decides, else the file name (``ColorizeVideo_gen.pth`` ->
    video), else stable.
    """
    if arch is not None:
        return arch
    kind = min(("artistic", "stable"), key=lambda k: abs(PUBLISHED[k].keys - len(found)))
    if kind == "stable" and "video" in Path(source).name.lower():
        return "video"
    return kind


@torch.no_grad()
def _folded(arch: str, found: Mapping[str, Tensor], source: Path) -> DeOldifyGenerator:
    """Generator ``arch`` with ``found`` loaded, every key and shape checked, norms folded."""
    model = PUBLISHED[arch].build().eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    hint = f"it is not DeOldify's {arch} generator; give the right --arch or download it again"
    check_state_dict(shapes, found, source=source, hint=hint)  # names the first bad key
    model.load_state_dict(found, strict=True)
    return fold_norms(model)


def _destination(name: str, overwrite: bool) -> Path:
    """The file for installed weights ``name``; refused if shipped or (without overwrite) taken."""
    check_name(name)
    if name in SHIPPED:
        raise ConfigError(f"{name!r} names shipped weights; choose another --name")
    path = weights_home() / f"{name}{SUFFIX}"
    if path.exists() and not overwrite:
        raise OutputError(
            f"weights {name!r} are installed already ({path}); use --overwrite to replace them "
            "or --name to choose another name"
        )
    return path


def weights_listing() -> str:
    """A table of the shipped weights (present? matching the pin?) and of the installed ones."""
    lines = [f"shipped ({weights_dir()}):"]
    lines += [_shipped_row(name, shipped) for name, shipped in sorted(SHIPPED.items())]
    lines.append(f"installed ({weights_home()}):")
    installed = list_installed()
    for w in installed:
        lines.append(f"  {w.name:24s} {w.arch:20s} {_mb(w.size):>9s}  from {w.source}")
    if not installed:
        lines.append("  none; import one with: vidcolor weights import ColorizeArtistic_gen.pth")
    return "\n".join(lines)


def _shipped_row(name: str, shipped: Shipped) -> str:
    """Name, arch, size, pinned sha256 prefix and whether the file is there and matches it."""
    path = weights_dir() / shipped.filename
    arch, size, state = "-", "-", "missing"
    if path.is_file():
        try:
            arch = read_metadata(path).get("arch", "?")
        except WeightsError:
            arch = "?"
        size = _mb(path.stat().st_size)
        state = "ok" if file_sha256(path) == shipped.sha256 else "sha256 MISMATCH"
    return f"  {name:24s} {arch:20s} {size:>9s}  sha256 {shipped.sha256[:12]}  {state}"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
