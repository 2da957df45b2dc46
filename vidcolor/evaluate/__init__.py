"""Scores a Colorizer on color pictures turned gray: color images in a folder, or a color video.

Each picture is made gray the way a black-and-white source would be (BT.601 luma of its sRGB
values), colorized as :mod:`vidcolor.worker` colorizes a frame, and compared with the original.
Two baselines from the same run give the numbers a scale: ``gray`` (ab = 0: the gray input
itself) and ``mean_ab`` (one constant ab, the training set's mean color, which a network that
learned only the average would output). A model earns its keep by beating both.

A video is also scored as a video: ours is smoothed as the pipeline smooths it (``smooth``
config, scene cuts included), and every method, the truth too, gets warp error and CDC
(:class:`~vidcolor.metrics.TemporalScores`). A gray or frozen video scores well on those, so
they are reported next to colorfulness and PSNR, never alone.

Works with any built Colorizer, trained or not; nothing here knows about the CLI.
"""

from vidcolor.evaluate.pictures import (
    colorize_image,
    list_images,
    mean_ab,
    merge_gray_ab,
    read_rgb,
    to_gray,
)
from vidcolor.evaluate.report import METHODS, evaluate_images, tile, write_report, write_sheet
from vidcolor.evaluate.video import evaluate_video

__all__ = [
    "METHODS",
    "colorize_image",
    "evaluate_images",
    "evaluate_video",
    "list_images",
    "mean_ab",
    "merge_gray_ab",
    "read_rgb",
    "tile",
    "to_gray",
    "write_report",
    "write_sheet",
]
