"""The user's weights folder: weights installed by ``vidcolor weights import``, found by name.

The folder is ``$VIDCOLOR_WEIGHTS_HOME`` when set, else ``$XDG_DATA_HOME/vidcolor/weights``,
else ``~/.local/share/vidcolor/weights`` (the XDG base-directory default). Name ``NAME`` is the
file ``NAME.safetensors`` there, written by :func:`~vidcolor.models.weights.save_weights`, so it
describes itself: arch, render factor, and the file it was imported from with that file's sha256.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vidcolor.errors import ConfigError, WeightsError
from vidcolor.models.weights.format import read_metadata

__all__ = ["SUFFIX", "Installed", "check_name", "installed_path", "list_installed", "weights_home"]

SUFFIX = ".safetensors"
# A name is also a file name and a model.weights value, so no separators, no leading dot or dash.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Installed:
    """One installed weights file.

    Attributes:
        name: what ``--weights`` / ``model.weights`` takes.
        path: the file.
        arch: the ``arch`` of its metadata; ``"?"`` when the file cannot be read.
        source: the file it was imported from (``source`` metadata), or what is wrong with it.
        size: bytes on disk.
    """

    name: str
    path: Path
    arch: str
    source: str
    size: int


def weights_home() -> Path:
    """The folder imported weights are written to and looked up in (it may not exist yet)."""
    if home := os.environ.get("VIDCOLOR_WEIGHTS_HOME"):
        return Path(home).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data).expanduser() / "vidcolor" / "weights"


def check_name(name: str) -> str:
    """``name`` if it can name installed weights; ConfigError saying what is allowed otherwise."""
    if not _NAME.fullmatch(name) or name.endswith(SUFFIX):
        raise ConfigError(
            f"weights name {name!r} is not allowed; use up to 64 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit and not ending in {SUFFIX}"
        )
    return name


def installed_path(name: str) -> Path | None:
    """The file of installed weights ``name``, or None when there is none."""
    if not _NAME.fullmatch(name):
        return None
    path = weights_home() / f"{name}{SUFFIX}"
    return path if path.is_file() else None


def list_installed() -> list[Installed]:
    """Every installed weights file, by name; only headers are read, never tensors."""
    home = weights_home()
    found = []
    for path in sorted(home.glob(f"*{SUFFIX}")) if home.is_dir() else []:
        name = path.name.removesuffix(SUFFIX)
        if not _NAME.fullmatch(name) or not path.is_file():
            continue
        try:
            metadata = read_metadata(path)
            arch, source = metadata.get("arch", "?"), metadata.get("source", "-")
        except WeightsError:
            arch, source = "?", "unreadable: not a safetensors file; import it again"
        found.append(Installed(name, path, arch, source, path.stat().st_size))
    return found
