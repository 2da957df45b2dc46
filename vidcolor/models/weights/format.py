"""Save and load model weights as safetensors with the architecture in the metadata.

A weights file is self-describing: its string metadata holds ``format`` ("vidcolor-weights"),
``version`` ("1"), ``arch`` (a ``list_models(compat=True)`` name),
``arch_kwargs`` (JSON keyword arguments of ``build_model``) and ``render_factor``, plus any
extra strings. safetensors holds raw tensors only, so loading never runs code from the file
(unlike ``torch.load``'s pickle). Every failure is a one-line :class:`WeightsError` that names
the file and what to do.

One module past 300 lines: saving, loading and the checks before loading (header, shapes
against the architecture on the meta device) read the same header and must agree on it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from vidcolor.errors import WeightsError
from vidcolor.models.registry import build_model, list_models
from vidcolor.models.weights.legacy import sniff_format
from vidcolor.resume import file_sha256

__all__ = [
    "FORMAT",
    "VERSION",
    "WeightsInfo",
    "load_weights",
    "read_metadata",
    "save_weights",
]

FORMAT = "vidcolor-weights"
VERSION = "1"
_REQUIRED = ("format", "version", "arch", "arch_kwargs", "render_factor")
Shape = tuple[int, ...]


@dataclass(frozen=True)
class WeightsInfo:
    """What a loaded weights file declared about itself.

    Attributes:
        path: the file that was loaded.
        arch: model name passed to ``build_model``.
        arch_kwargs: keyword arguments passed to ``build_model``.
        render_factor: the render factor the weights were trained for.
        sha256: hex digest of the whole file.
        metadata: every metadata string, extra keys included.
    """

    path: Path
    arch: str
    arch_kwargs: dict[str, Any]
    render_factor: int
    sha256: str
    metadata: dict[str, str]


def save_weights(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    arch: str,
    arch_kwargs: dict[str, Any],
    render_factor: int,
    extra: dict[str, str] | None = None,
    dtype: torch.dtype = torch.float16,
) -> None:
    """Write ``model``'s state dict and its description to a safetensors file.

    Floating-point tensors are stored as ``dtype`` (fp16 halves the file; inference loads
    them back as fp32); integer buffers such as ``num_batches_tracked`` keep their type.
    The file is written beside ``path`` and renamed, so a crash never leaves half a file.

    Args:
        model: the model, as built by ``build_model(arch, **arch_kwargs)``.
        path: destination file.
        arch: model name, one of ``list_models(compat=True)``.
        arch_kwargs: JSON-serialisable keyword arguments of ``build_model``.
        render_factor: render factor the weights were trained for.
        extra: additional metadata strings (e.g. training data, licence).
        dtype: storage type of floating-point tensors.

    Raises:
        ValueError: unknown ``arch`` or an ``extra`` key that shadows a reserved one.
    """
    known = list_models(compat=True)
    if arch not in known:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(known)}")
    clash = sorted(set(extra or {}) & set(_REQUIRED))
    if clash:
        raise ValueError(f"extra metadata may not set reserved keys {clash}")
    metadata = {
        **(extra or {}),
        "format": FORMAT,
        "version": VERSION,
        "arch": arch,
        "arch_kwargs": json.dumps(arch_kwargs, sort_keys=True),
        "render_factor": str(int(render_factor)),
    }
    tensors = {k: _to_storage(v, dtype) for k, v in model.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # safetensors creates 0600; others (cluster workers) must read
    os.replace(tmp, path)


def _to_storage(t: Tensor, dtype: torch.dtype) -> Tensor:
    """Detached, contiguous CPU copy; floating tensors cast to ``dtype``."""
    t = t.detach().to("cpu")
    return (t.to(dtype) if t.is_floating_point() else t).contiguous()


def load_weights(
    path: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, WeightsInfo]:
    """Build the model a weights file describes and load its tensors.

    Args:
        path: a file written by :func:`save_weights`.
        expected_sha256: hex digest to verify before anything is parsed; ``None`` skips it.
        device: where the model is moved.

    Returns:
        The model in fp32 and eval mode, and what the file declared.

    Raises:
        WeightsError: missing file, checksum mismatch, not a (complete) safetensors file,
            missing or bad metadata, unknown arch, or tensors that do not fit the arch.
    """
    path = Path(path)
    _check_is_file(path)
    sha256 = _checked_sha256(path, expected_sha256)
    metadata, tensors = _read_safetensors(path)
    arch, arch_kwargs, render_factor = _parse_metadata(path, metadata)
    found = {k: tuple(t.shape) for k, t in tensors.items()}
    _check_tensors(path, arch, _expected_shapes(path, arch, arch_kwargs), found)
    model = _build(path, arch, arch_kwargs)
    model.load_state_dict(tensors, strict=True)
    model = model.float().to(device).eval()
    info = WeightsInfo(path, arch, arch_kwargs, render_factor, sha256, metadata)
    return model, info


def _check_is_file(path: Path) -> None:
    """WeightsError unless ``path`` is a file: a folder and a missing file each say so."""
    if path.is_dir():
        raise WeightsError(f"{path} is a folder, not a weights file; give the .safetensors file")
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}; check the path or download it")


def _checked_sha256(path: Path, expected: str | None) -> str:
    """The file's sha256, compared with ``expected`` (case-insensitive) when given."""
    try:
        actual = file_sha256(path)
    except OSError as e:
        raise WeightsError(
            f"cannot read weights file {path}: {e.strerror}; check its permissions"
        ) from e
    if expected is not None and actual != expected.strip().lower():
        raise WeightsError(
            f"sha256 mismatch for {path}: expected {expected.strip().lower()}, got {actual}; "
            "the file is damaged or a different version; restore or replace it"
        )
    return actual


def check_weights_file(path: str | os.PathLike[str], expected_sha256: str | None = None) -> str:
    """Checks a weights file without loading its tensors: present, readable, the pinned sha256
    (when given), valid metadata, and every tensor name and shape the arch needs (from the
    header, against the model built on the meta device, which allocates nothing). Returns its
    sha256.

    The pipeline calls this before starting any worker, so bad weights stop a run at once,
    with their own error, rather than inside every worker.

    Raises:
        WeightsError: as :func:`load_weights` would for these reasons.
    """
    path = Path(path)
    _check_is_file(path)
    sha256 = _checked_sha256(path, expected_sha256)
    metadata, found = _read_header(path)
    arch, arch_kwargs, _ = _parse_metadata(path, metadata)
    _check_tensors(path, arch, _expected_shapes(path, arch, arch_kwargs), found)
    return sha256


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The metadata strings of a safetensors file, read from its header alone (no tensors).

    Raises:
        WeightsError: the file is missing or not a safetensors file.
    """
    return _read_header(path)[0]


def _read_header(path: str | os.PathLike[str]) -> tuple[dict[str, str], dict[str, Shape]]:
    """Metadata and every tensor's shape, from the header alone: no tensor is read."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError) as e:
        raise _unreadable(path, e) from e
    return metadata, shapes


def _read_safetensors(path: Path) -> tuple[dict[str, str], dict[str, Tensor]]:
    """Metadata and all tensors of a safetensors file, on the CPU."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (SafetensorError, OSError) as e:
        raise _unreadable(path, e) from e
    return metadata, tensors


def _unreadable(path: str | os.PathLike[str], error: Exception) -> WeightsError:
    """The error for a file safetensors cannot open. A pickled torch checkpoint is named as one:
    runs never unpickle (a pickle can run code), ``vidcolor weights import`` converts it."""
    try:
        kind = sniff_format(path)
    except OSError:
        kind = "unknown"
    if kind in ("torch-zip", "pickle"):
        return WeightsError(
            f"{path} is not a valid safetensors file but a pickled torch checkpoint, which a run "
            f"never unpickles; convert it first with: vidcolor weights import {path}"
        )
    reason = " ".join(str(error).split())
    return WeightsError(
        f"{path} is not a valid safetensors file ({reason}); it may be truncated or damaged, "
        "download it again"
    )


def _parse_metadata(path: Path, metadata: dict[str, str]) -> tuple[str, dict[str, Any], int]:
    """``(arch, arch_kwargs, render_factor)`` from the metadata, validated."""
    missing = [k for k in _REQUIRED if k not in metadata]
    if missing or metadata["format"] != FORMAT:
        what = f"lacks metadata key {missing[0]!r}" if missing else "has a foreign format tag"
        raise WeightsError(
            f"{path} {what}, so it is not a vidcolor weights file; "
            "use a file written by vidcolor's save_weights"
        )
    if metadata["version"] != VERSION:
        raise WeightsError(
            f"{path} has weights format version {metadata['version']!r}, this vidcolor reads "
            f"{VERSION!r}; use a matching vidcolor release"
        )
    try:
        arch_kwargs = json.loads(metadata["arch_kwargs"])
        render_factor = int(metadata["render_factor"])
    except ValueError as e:
        raise WeightsError(f"{path} has malformed metadata ({e}); download it again") from e
    if not isinstance(arch_kwargs, dict):
        raise WeightsError(f"{path} has arch_kwargs that are not a JSON object; download it again")
    return metadata["arch"], arch_kwargs, render_factor


def _expected_shapes(path: Path, arch: str, arch_kwargs: dict[str, Any]) -> dict[str, Shape]:
    """Key -> shape of the state dict ``arch`` needs, from a model built on the meta device:
    no memory, so arch_kwargs that describe a huge model cost nothing until the file's tensors
    prove it."""
    with torch.device("meta"):
        model = _build(path, arch, arch_kwargs)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _build(path: Path, arch: str, arch_kwargs: dict[str, Any]) -> nn.Module:
    """``build_model(arch, **arch_kwargs)``, failures reported against ``path``."""
    known = list_models(compat=True)
    if arch not in known:
        raise WeightsError(
            f"{path} is for unknown arch {arch!r} (known: {', '.join(known)}); "
            "upgrade vidcolor or use other weights"
        )
    try:
        return build_model(arch, **arch_kwargs)
    except (TypeError, ValueError, RuntimeError) as e:  # RuntimeError: e.g. a negative width
        raise WeightsError(
            f"{path}: cannot build {arch} with arch_kwargs {json.dumps(arch_kwargs)} "
            f"({' '.join(str(e).split())}); "
            "use weights saved by this vidcolor version"
        ) from e


def _check_tensors(
    path: Path, arch: str, expected: dict[str, Shape], found: dict[str, Shape]
) -> None:
    """Raise naming the first missing, unexpected or wrongly shaped key."""
    hint = "the file does not match its arch metadata; re-export the weights"
    missing = [k for k in expected if k not in found]
    if missing:
        raise WeightsError(
            f"{path} lacks key {missing[0]!r} ({len(missing)} missing) required by {arch}; {hint}"
        )
    unexpected = [k for k in found if k not in expected]
    if unexpected:
        raise WeightsError(
            f"{path} has unexpected key {unexpected[0]!r} ({len(unexpected)} extra) for {arch}; "
            f"{hint}"
        )
    for key, want in expected.items():
        if found[key] != want:
            raise WeightsError(
                f"{path} key {key!r} has shape {found[key]}, {arch} expects {want}; {hint}"
            )
