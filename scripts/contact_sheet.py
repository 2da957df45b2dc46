"""Contact sheet of a black-and-white film and vidcolor's output of it, for a person to judge.

Each row is one moment of the film, evenly spaced over its length: the source frame, the
colorized frame, and the colorized frame ``--later`` frames on (stable color should look the
same there, not shift or flicker). There is no ground truth for a film shot in black and white,
so this is a picture to look at, not a score.

    vidcolor run film.mp4 -o film.color.mp4
    python scripts/contact_sheet.py film.mp4 film.color.mp4 -o docs/images/film.png
"""

from __future__ import annotations

import argparse
import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidcolor.evaluate import tile, write_sheet
from vidcolor.probing import probe


def frames_at(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """RGB frames of the main video stream at the given indices (decode order = display order
    for the frames PyAV yields)."""
    found = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for index, frame in enumerate(itertools.islice(container.decode(stream), max(wanted) + 1)):
            if index in wanted:
                found[index] = frame.to_ndarray(format="rgb24")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("colorized", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--later", type=int, default=6, help="frames between the last columns")
    args = parser.parse_args()

    info = probe(args.source)
    count = info.video.frame_count
    starts = np.linspace(0, count - 1 - args.later, args.rows).round().astype(int).tolist()
    wanted = set(starts) | {s + args.later for s in starts}
    source, ours = frames_at(args.source, wanted), frames_at(args.colorized, wanted)
    sar = info.video.sar or Fraction(1)
    rows = [
        np.hstack([tile(source[s], f"source {s}", sar), tile(ours[s], f"vidcolor {s}", sar),
                   tile(ours[s + args.later], f"vidcolor {s + args.later}", sar)])
        for s in starts
    ]  # fmt: skip
    print(write_sheet(rows, args.output))


if __name__ == "__main__":
    main()
