"""A generated sample film for the quick start: gray moving shapes, film flicker and a tone.

vidcolor ships no footage of its own (archival clips carry their own licences), so the README's
first command makes this one, then colorizes it.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_RATE = 48_000


def _frame(t: int, width: int, height: int, cut: int) -> np.ndarray:
    """One gray frame: a sky, a hill and a moving sun; from frame ``cut`` on, another shot."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if t >= cut:  # second shot: a dark interior with a lit window sliding past
        img = 40 + 30 * (x / width)
        wx = width * (0.7 - 0.01 * (t - cut))
        img = np.where(
            (abs(x - wx) < width * 0.12) & (abs(y - height * 0.4) < height * 0.2), 210, img
        )
        return np.clip(img, 16, 235).astype(np.uint8)
    img = 200 - 80 * y / height  # sky, brighter at the top
    hill = y > height * (0.65 + 0.08 * np.sin(x / width * 2 * math.pi + t * 0.05))
    img = np.where(hill, 90 + 20 * np.sin(x / 9.0), img)
    cx, cy = width * (0.2 + 0.006 * t), height * 0.3
    img = np.where((x - cx) ** 2 + (y - cy) ** 2 < (height * 0.08) ** 2, 235, img)
    img = img * (1 + 0.03 * math.sin(t * 1.7))  # exposure flicker of old film
    return np.clip(img, 16, 235).astype(np.uint8)


def write_sample(
    path: Path, seconds: float = 4.0, fps: int = 18, size: tuple[int, int] = (320, 240)
) -> Path:
    """Writes an H.264 + AAC sample at an archival frame rate (18 fps). Returns ``path``."""
    width, height = size
    frames = round(seconds * fps)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "18", "preset": "veryfast"}
        audio = container.add_stream("aac", rate=_RATE, layout="mono")
        for t in range(frames):
            luma = _frame(t, width, height, cut=frames // 2)
            planes = np.concatenate(
                [luma.reshape(-1), np.full(width * height // 2, 128, np.uint8)]
            ).reshape(height * 3 // 2, width)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = t
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        _write_tone(container, audio, seconds)
    return path


def _write_tone(
    container: av.container.OutputContainer, audio: av.AudioStream, seconds: float
) -> None:
    n = 1024
    for start in range(0, int(seconds * _RATE), n):
        t = (np.arange(start, start + n) / _RATE).astype(np.float32)
        samples = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = _RATE, start
        container.mux(audio.encode(frame))
    container.mux(audio.encode(None))
