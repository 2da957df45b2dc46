"""The library's face: ``import vidcolor`` is light, and run / probe / colorize_image work as the
CLI does."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from media import ClipSpec

import vidcolor
from vidcolor.evaluate import to_gray

FAST = ["model.render_factor=4", "encode.preset=ultrafast"]


def test_importing_vidcolor_loads_no_heavy_library():
    code = "import sys, vidcolor; print(sorted({'av', 'cv2', 'torch', 'ray'} & set(sys.modules)))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_probe_counts_the_frames(make_cached_clip):
    clip = make_cached_clip("api.mp4", ClipSpec(frames=20, size=(64, 48)))
    info = vidcolor.probe(str(clip))
    assert info.video.frame_count == 20 and info.path == clip


def test_colorize_image_keeps_the_pictures_lightness():
    rng = np.random.default_rng(1)
    gray = np.kron(rng.integers(30, 220, (6, 8)), np.ones((16, 16))).astype(np.uint8)
    rgb = vidcolor.colorize_image(gray, overrides=["model.render_factor=4"])
    assert rgb.shape == (96, 128, 3) and rgb.dtype == np.uint8
    back = to_gray(rgb) * 255.0
    assert np.abs(back - gray).mean() < 2.0  # the lightness is the picture's own, up to rounding
    assert np.abs(rgb.astype(int) - rgb.mean(axis=2, keepdims=True)).max() > 2  # it has color


@pytest.mark.slow
@pytest.mark.usefixtures("local_ray")
def test_run_writes_the_output_and_says_what_it_did(tmp_path, make_cached_clip):
    clip = make_cached_clip("api.mp4", ClipSpec(frames=20, size=(64, 48)))
    summary = vidcolor.run(clip, tmp_path / "out.mp4", overrides=FAST)
    assert summary.output == tmp_path / "out.mp4" and summary.output.exists()
    assert summary.frames == 20 and vidcolor.probe(summary.output).video.frame_count == 20
