"""Shared fixtures: the real clips in ../shared/media, and small generated clips.

Generated clips are written once per test session (``make_cached_clip``) and must be
treated as read-only; a test that needs to damage or change a file writes its own with
``media.make_clip`` into ``tmp_path``. ``media`` is importable as a plain module because
pytest puts this directory on ``sys.path`` (rootdir conftest, no ``__init__.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from media import BFRAME_SPEC, CUT_SPEC, FFV1_10BIT_SPEC, VFR_SPEC, ClipSpec, make_clip

from vidcolor.heap import tune_malloc

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_MEDIA = REPO_ROOT.parent / "shared" / "media"

# The generated clips are encoded by libx264 in this process, and libx264 reads memory it has
# not written (issue 20): without a fixed fill, a clip generated after other tests came out
# different from the same clip generated first, and test_outputs_unchanged's digests with it.
tune_malloc()


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """Folder of real-world clips (chaplin.mp4 ...); skips the test when it is absent."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real clips not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One embedded local Ray (2 CPUs) for the module; the pipeline finds and uses it."""
    from vidcolor.distributed.session import start_local_ray

    start_local_ray(2)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def make_cached_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``make_cached_clip(name, spec=None, **changes)``: a clip written once per session.

    Same arguments as ``media.make_clip`` with a file name instead of a path; calling it
    again with the same name and spec returns the same file.
    """
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}

    def make(name: str, spec: ClipSpec | None = None, **changes: Any) -> Path:
        full = dataclasses.replace(spec or ClipSpec(), **changes)
        key = f"{name} {full!r}"  # repr, not the spec: its options dict is unhashable
        if key not in made:
            made[key] = make_clip(folder / f"{len(made)}_{name}", full)
        return made[key]

    return make


@pytest.fixture(scope="session")
def bframe_clip(make_cached_clip: Callable[..., Path]) -> Path:
    """H.264 mp4, 100 frames 160x96 at 24 fps, GOP 60, up to 3 B-frames, AAC stereo."""
    return make_cached_clip("bframes.mp4", BFRAME_SPEC)


@pytest.fixture(scope="session")
def ffv1_10bit_clip(make_cached_clip: Callable[..., Path]) -> Path:
    """Lossless FFV1 yuv420p10le in MKV, 48 frames; decoded luma equals ``luma_pattern``."""
    return make_cached_clip("ffv1_10bit.mkv", FFV1_10BIT_SPEC)


@pytest.fixture(scope="session")
def vfr_clip(make_cached_clip: Callable[..., Path]) -> Path:
    """H.264 mp4 whose every 5th frame lasts two ticks (``media.frame_ticks(vfr=True)``)."""
    return make_cached_clip("vfr.mp4", VFR_SPEC)


@pytest.fixture(scope="session")
def cut_clip(make_cached_clip: Callable[..., Path]) -> Path:
    """H.264 mp4, 60 frames, hard cut at frame 30 inside one GOP (no keyframe at the cut)."""
    return make_cached_clip("cut.mp4", CUT_SPEC)
