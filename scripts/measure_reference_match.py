"""The match scores behind ``vidcolor.guidance.match.THRESHOLD``, on real clips.

Usage: .venv/bin/python scripts/measure_reference_match.py [CLIP ...] [--picks 0,30]

For each clip and each picked frame, a reference is made from that frame and scored
(:func:`vidcolor.guidance.match.structure`, :func:`~vidcolor.guidance.match.match_score`)
against the frame's own luma, as ``load_references`` does:

- positives: the frame under other tone curves (gamma 0.5 and 2, contrast 0.6 and 1.6 with
  clipping, gamma 0.7 saved as JPEG quality 70, and a sepia tint with gamma 0.8). A color clip
  gives its true color frame (decoded as RGB), a gray clip its luma as a gray picture;
- negatives: the same references (plain and gamma 2) against frames 20 and 40 after and 20
  before their own; and, for other shots, each clip's frame 0 against frame 0 of every other
  clip of the same size.

It prints, per clip, the lowest positive and the highest negative score, and the same over all
clips. Measured on chaplin.mp4 (frames 0, 30, 60, 100, 140, 180, 220) and the 14 DAVIS clips
(frames 0 and 30) of ../shared/media: see the figures in ``vidcolor/guidance/match.py``.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from vidcolor import color
from vidcolor.decode import read_frames
from vidcolor.guidance import match
from vidcolor.probing import probe

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "media"
OFFSETS = (20, 40, -20)


def toned(rgb: np.ndarray, kind: str) -> np.ndarray:
    """``(H, W, 3)`` float sRGB in [0, 1] under another tone curve."""
    if kind == "gamma 0.5":
        return rgb**0.5
    if kind == "gamma 2":
        return rgb**2.0
    if kind.startswith("contrast"):
        return np.clip(0.5 + float(kind.split()[1]) * (rgb - 0.5), 0, 1)
    if kind == "sepia, gamma 0.8":
        return np.clip(rgb.mean(axis=2, keepdims=True) ** 0.8 * [1.0, 0.85, 0.62], 0, 1)
    if kind == "jpeg, gamma 0.7":
        data = cv2.imencode(".jpg", (rgb**0.7 * 255).astype(np.uint8)[..., ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, 70])[1]  # fmt: skip
        return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1] / 255.0
    return rgb


TONES = ("plain", "gamma 0.5", "gamma 2", "contrast 0.6", "contrast 1.6", "jpeg, gamma 0.7",
         "sepia, gamma 0.8")  # fmt: skip


def lightness(rgb: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))
    return color.rgb_to_lab(tensor)[0].numpy()


def measure(path: Path, picks: list[int]) -> tuple[list[tuple], list[tuple]]:
    info = probe(path)
    video = info.video
    size = match.match_size(video.width, video.height)
    lumas = {f.index: f.luma for f in read_frames(info, 0, video.frame_count)}
    maps = {i: match.structure(luma, size) for i, luma in lumas.items()}
    picks = [p for p in picks if p < video.frame_count]
    pictures = {}
    if video.has_color:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=video.index)):
                if i in picks:
                    pictures[i] = frame.to_ndarray(format="rgb24") / 255.0
    else:
        full = video.color_range == "pc"
        for i in picks:
            unit = color.luma_to_unit(lumas[i], video.bit_depth, full)
            pictures[i] = np.repeat(unit[..., None], 3, axis=2)
    positives, negatives = [], []
    for i in picks:
        for kind in TONES:
            mine = match.structure(lightness(toned(pictures[i], kind)), size)
            positives.append((match.match_score(mine, maps[i]), i, kind))
            if kind in ("plain", "gamma 2"):
                for j in (i + o for o in OFFSETS if 0 <= i + o < video.frame_count):
                    negatives.append((match.match_score(mine, maps[j]), i, j, kind))
    return positives, negatives, maps[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--picks", default="0,30")
    args = parser.parse_args()
    clips = args.clips or [SHARED / "chaplin.mp4", *sorted((SHARED / "davis").glob("*.mp4"))]
    picks = [int(p) for p in args.picks.split(",")]
    every_pos, every_neg, firsts = [], [], {}
    for clip in clips:
        chosen = [0, 30, 60, 100, 140, 180, 220] if clip.name == "chaplin.mp4" else picks
        positives, negatives, firsts[clip.name] = measure(clip, chosen)
        every_pos += [(p, clip.name, *rest) for p, *rest in positives]
        every_neg += [(n, clip.name, *rest) for n, *rest in negatives]
        print(f"{clip.name:32s} positives >= {min(positives)[0]:.3f} {min(positives)[1:]}, "
              f"negatives <= {max(negatives)[0]:.3f} {max(negatives)[1:]}", flush=True)  # fmt: skip
    others = [(match.match_score(a, b), x, y) for (x, a), (y, b)
              in itertools.combinations(firsts.items(), 2) if a.shape == b.shape]  # fmt: skip
    if others:
        print(f"other shots (frame 0 of two clips): <= {max(others)[0]:.3f} {max(others)[1:]}")
        every_neg += [(n, x, 0, y, "other clip") for n, x, y in others]
    print(f"all: positives >= {min(every_pos)[0]:.3f} {min(every_pos)[1:]}; "
          f"negatives <= {max(every_neg)[0]:.3f} {max(every_neg)[1:]}; threshold "
          f"{match.THRESHOLD}")  # fmt: skip


if __name__ == "__main__":
    main()
