"""Choosing the carrying's settings (issue 17) on development clips, never on DAVIS.

Each clip's frames ``start .. start + limit`` are scaled to width 480 (as scripts/eval_guided.py
does), the network's ab is computed once and cached, and then for every variant the true frame 0
is carried through the clip as the only reference, blended with the network's colors as a run
blends them, and merged with the true lightness: PSNR RGB per frame, without the temporal
smoothing a run adds (the same for every variant). A variant sets module constants of
``vidcolor.guidance.carry`` (``NAME=VALUE``, comma-separated).

    python scripts/tune_carry.py --variants "" "TOLERANCE=16" "FILL_CELL=0"
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import cv2
import numpy as np

from vidcolor import evaluate, metrics
from vidcolor.colorize import Colorizer, render_lightness
from vidcolor.config import ModelConfig
from vidcolor.evaluate.pictures import lab, to_gray
from vidcolor.guidance import carry, fill

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"
# (file, stream, first frame): nasa's two streams and three shots of big_buck_bunny (cuts at
# 283, 376 and 551: no shot here holds a cut)
CLIPS = (("nasa_13013.mp4", 0, 0), ("nasa_13013.mp4", 1, 120), ("big_buck_bunny_0_30.webm", 0, 400),
         ("big_buck_bunny_0_30.webm", 0, 180), ("big_buck_bunny_0_30.webm", 0, 590))  # fmt: skip
WIDTH = 480
CACHE = Path.home() / ".cache" / "vidcolor" / "tune_carry"


def scaled_frames(path: Path, stream: int, start: int, limit: int) -> np.ndarray:
    frames = []
    with av.open(str(path)) as inp:
        video = inp.streams.video[stream]
        height = round(video.height * WIDTH / video.width / 2) * 2
        for index, frame in enumerate(inp.decode(video)):
            if index >= start + limit:
                break
            if index >= start:
                rgb = frame.to_ndarray(format="rgb24")
                frames.append(cv2.resize(rgb, (WIDTH, height), interpolation=cv2.INTER_AREA))
    return np.stack(frames)


def prepared(colorizer: Colorizer, clip: tuple[str, int, int], limit: int):
    """The clip's frames and the network's ab at their size, cached."""
    name, stream, start = clip
    cached = CACHE / f"{Path(name).stem}_{stream}_{start}_{limit}.npz"
    if cached.exists():
        data = np.load(cached)
        return data["rgb"], data["ab"]
    rgb = scaled_frames(MEDIA / name, stream, start, limit)
    height, width = rgb.shape[1:3]
    render = colorizer.render_size(width, height, 1, ModelConfig().render_factor)
    ab = []
    for frame in rgb:
        lightness = render_lightness(to_gray(frame), render)
        small = colorizer.predict(lightness[None])[0]
        ab.append(carry.resize_ab(small, (width, height)).astype(np.float16))
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cached, rgb=rgb, ab=np.stack(ab))
    return rgb, np.stack(ab)


def scores(rgb: np.ndarray, predicted: np.ndarray) -> list[float]:
    """PSNR RGB per frame with the true frame 0 carried through the clip."""
    height, width = rgb.shape[1:3]
    size = carry.carry_size(width, height)
    truth_ab = np.moveaxis(lab(rgb[0])[..., 1:], -1, 0).astype(np.float32)
    grays = [to_gray(frame) for frame in rgb]

    def guide(index, unit, lightness):
        return carry.reference_guide(truth_ab, size) if index == 0 else None

    frames = ((i, g, False) for i, g in enumerate(grays))
    carried = carry.carry(frames, guide, range(len(rgb)), size)
    out = []
    for index, (frame, gray) in enumerate(zip(rgb, grays, strict=True)):
        ab = predicted[index].astype(np.float32)
        ab = truth_ab if index == 0 else carry.blend(ab, carried.get(index), (width, height))
        merged = evaluate.merge_gray_ab(gray, ab)
        out.append(metrics.psnr_rgb(merged / 255.0, frame / 255.0))
    return out


def apply(variant: str) -> dict[str, object]:
    """Sets a variant's constants (of carry or fill); returns the values it replaced."""
    old = {}
    for item in filter(None, variant.split(",")):
        key, value = item.split("=")
        old[key] = getattr(owner(key), key)
        setattr(owner(key), key, type(old[key])(float(value)) if not isinstance(old[key], str)
                else value)  # fmt: skip
    return old


def owner(key: str) -> object:
    """The module whose constant ``key`` is."""
    return fill if hasattr(fill, key) else carry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=[""])
    parser.add_argument("--limit", type=int, default=96)
    args = parser.parse_args()
    colorizer = Colorizer(ModelConfig())
    data = [prepared(colorizer, clip, args.limit) for clip in CLIPS]
    labels = [f"{Path(n).stem[:8]}:{s}@{f}" for n, s, f in CLIPS]
    print(f"{'variant':40s} " + " ".join(f"{x:>16s}" for x in labels) + "     mean   s")
    for variant in args.variants:
        old = apply(variant)
        began = time.perf_counter()
        means = [float(np.mean(scores(rgb, ab))) for rgb, ab in data]
        took = time.perf_counter() - began
        print(f"{variant or '(current)':40s} " + " ".join(f"{m:16.2f}" for m in means)
              + f"  {np.mean(means):7.2f} {took:4.0f}", flush=True)  # fmt: skip
        for key, value in old.items():
            setattr(owner(key), key, value)


if __name__ == "__main__":
    main()
