"""The README's picture of the guided workflow (issue 17), made with the real commands' code on
chaplin.mp4: the shot's first frame as ``vidcolor shots`` writes it, that frame painted (a few
brush dabs of color spread over their regions, as a painter's flat colors), and frames of
``vidcolor run --references`` further into the shot.

    python scripts/guided_example.py [--out docs/images/guided_workflow.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from vidcolor import color
from vidcolor.config import load_config
from vidcolor.guidance.carry import hint_guide
from vidcolor.guidance.hints import read_hints
from vidcolor.pipeline import run
from vidcolor.probing import probe
from vidcolor.shots import write_shots

CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "media" / "chaplin.mp4"
# Where the painter dabbed, on frame 0 (640x360), and with what.
DABS = [
    (180, 230, (70, 112, 48)),  # lawn, left
    (520, 225, (70, 112, 48)),  # lawn, right
    (300, 325, (178, 168, 150)),  # pavement
    (500, 330, (178, 168, 150)),  # pavement
    (120, 160, (178, 168, 150)),  # path
    (330, 150, (178, 168, 150)),  # path
    (20, 180, (0, 0, 0)),  # the black bars stay black
    (620, 180, (0, 0, 0)),
    (470, 110, (196, 176, 140)),  # stone pillar
    (300, 30, (150, 104, 86)),  # building
    (90, 40, (58, 92, 50)),  # trees
    (175, 170, (38, 38, 44)),  # coat
]
SHOWN = (60, 120, 180)
HEIGHT = 180


def painted(gray_bgr: np.ndarray, hints_csv: Path) -> np.ndarray:
    """The frame with the dabs spread over their regions (neutral far from every dab)."""
    info = probe(CLIP)
    (frame_hints,) = read_hints(hints_csv, info.video)
    unit = gray_bgr[..., 0].astype(np.float32) / 255
    lightness = color.gray_to_lightness(torch.from_numpy(unit)).numpy()
    zero = np.zeros((2, *unit.shape), np.float32)
    guide = hint_guide(zero, lightness, frame_hints.points, (unit.shape[1], unit.shape[0]))
    lab = torch.from_numpy(np.concatenate([lightness[None], guide.ab]))[None]
    rgb = color.lab_to_rgb(lab)[0].permute(1, 2, 0).numpy()
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)[..., ::-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/guided_workflow.png"))
    args = parser.parse_args()
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_shots(CLIP, folder / "shots", config)
        first = cv2.imread(str(folder / "shots" / "000000.png"))
        hints = folder / "dabs.csv"
        hints.write_text("frame,x,y,r,g,b,radius\n" + "".join(
            f"0,{x},{y},{r},{g},{b},3\n" for x, y, (r, g, b) in DABS))  # fmt: skip
        reference = folder / "painted" / "000000.png"
        reference.parent.mkdir()
        cv2.imwrite(str(reference), painted(first, hints))
        out = run(CLIP, folder / "out.mp4", config, references=[reference]).output
        with av.open(str(out)) as container:
            frames = [f.to_ndarray(format="bgr24") for i, f in
                      enumerate(container.decode(video=0)) if i in SHOWN]  # fmt: skip
        tiles = [first, cv2.imread(str(reference)), *frames]
        labels = ["vidcolor shots: frame 0", "painted frame 0", *(f"run: frame {i}" for i in SHOWN)]
        row = []
        for tile, label in zip(tiles, labels, strict=True):
            small = cv2.resize(tile, (HEIGHT * tile.shape[1] // tile.shape[0], HEIGHT),
                               interpolation=cv2.INTER_AREA)  # fmt: skip
            cv2.putText(small, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                        cv2.LINE_AA)  # fmt: skip
            row.append(small)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.out), np.hstack(row))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
