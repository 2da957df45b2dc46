"""Weights that ship with vidcolor, by name, each pinned to its sha256.

``model.weights`` names a file (a value with a path separator or a ``.safetensors`` suffix),
shipped weights (``default``), or weights the user installed with ``vidcolor weights import``
(:mod:`vidcolor.models.weights.installed`), looked up in that order. Shipped files live in the
repository's ``weights/`` folder, or in ``$VIDCOLOR_WEIGHTS_DIR`` when that is set; they are
checked against the sha256 recorded here before anything in them is read, so a damaged or swapped
file is refused by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vidcolor.errors import ConfigError, WeightsError
from vidcolor.models.weights.installed import installed_path, list_installed


@dataclass(frozen=True)
class Shipped:
    """One shipped weights file: its name in ``weights/`` and the sha256 it must have."""

    filename: str
    sha256: str


SHIPPED = {
    "default": Shipped(
        "vidcolor-default.safetensors",
        "2488f3f49e1d5ded7f223a6b5da62030558e83f286fedf3b2b2dd84deec154aa",
    ),
}


def weights_dir() -> Path:
    """``$VIDCOLOR_WEIGHTS_DIR``, else the ``weights/`` folder beside the ``vidcolor`` package."""
    override = os.environ.get("VIDCOLOR_WEIGHTS_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "weights"


def resolve_weights(value: str) -> tuple[Path, str | None]:
    """``(path, expected sha256 or None)`` for a ``model.weights`` value.

    Installed weights carry no pin (None): they were written on this machine.

    Raises:
        ConfigError: a name that is neither a file, shipped nor installed weights.
        WeightsError: shipped weights whose file is missing.
    """
    if os.sep in value or "/" in value or value.endswith(".safetensors"):
        return Path(value).expanduser(), None
    if value not in SHIPPED:
        if (installed := installed_path(value)) is not None:
            return installed, None
        names = [*sorted(SHIPPED), *(w.name for w in list_installed())]
        raise ConfigError(f"model.weights: unknown weights {value!r}; give a .safetensors file "
                          f"or one of: {', '.join(names)} (see vidcolor weights list)")  # fmt: skip
    shipped = SHIPPED[value]
    path = weights_dir() / shipped.filename
    if not path.is_file():
        raise WeightsError(f"shipped weights {value!r} not found at {path} (expected sha256 "
                           f"{shipped.sha256}); restore the file (git checkout weights/) or set "
                           "model.weights to a .safetensors file")  # fmt: skip
    return path, shipped.sha256
