"""Reference pictures: which frame each one colors, its chroma at the frame's size, and the
checks that it shows that frame.

A reference's file name ends in the zero-based frame number it colors (``000450.png``,
``ref_000450.jpg``, ``shot3_450.tif``: the last run of digits at the end of the stem). Any
8- or 16-bit gray or color PNG, JPEG or TIFF OpenCV reads will do; only its chroma is kept, so
its lightness may differ from the film's and its size too, as long as its aspect ratio is the
frame's (stored, as ``vidcolor shots`` writes it, or as displayed) within 1%.

Everything is checked before any work: names, frames, duplicates, readability and aspect ratio
first, then (decoding one frame each) that each picture shows its frame
(:mod:`~vidcolor.guidance.match`). A wrong one is refused naming the file, the frame, its match
score and the nearest frame that would match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from vidcolor import color
from vidcolor.decode import read_frames
from vidcolor.errors import InputError
from vidcolor.guidance import match
from vidcolor.guidance.values import Reference
from vidcolor.media import VideoInfo, VideoStreamInfo
from vidcolor.resume import file_sha256

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
ASPECT_TOLERANCE = 0.01
COLORLESS = 3.0  # Lab chroma: a gray picture saved as JPEG stays below this, paint does not
SEARCH_SECONDS = 5  # each side of a reference's frame, searched for the frame it shows
_TRAILING_DIGITS = re.compile(r"(\d+)$")


@dataclass(frozen=True, eq=False)
class _Picture:
    """A reference read and converted, not yet matched."""

    path: Path
    frame: int
    lab: np.ndarray  # (3, h, w) float32 at the reference's own size
    listed: bool  # named on its own, not found in a folder


def frame_number(path: Path) -> int:
    """The frame a reference colors: the last run of digits ending its stem.

    Raises:
        InputError: The stem does not end in digits.
    """
    found = _TRAILING_DIGITS.search(path.stem)
    if found is None:
        raise InputError(
            f"{path}: a reference's name must end in the zero-based frame number it colors, "
            f"as 000450.png or ref_000450.jpg; rename it"
        )
    return int(found.group(1))


def reference_files(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """Each reference file with whether it was named itself (True) or found in a folder.

    Raises:
        InputError: A path does not exist, or a folder holds no image.
    """
    found = []
    for path in paths:
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in EXTENSIONS)
            if not images:
                raise InputError(f"reference folder {path} holds no {'/'.join(EXTENSIONS)} "
                                 "image")  # fmt: skip
            found += [(p, False) for p in images if p.is_file()]
        elif path.is_file():
            found.append((path, True))
        else:
            raise InputError(f"reference {path}: no such file or folder")
    return found


def load_references(
    paths: Sequence[Path], info: VideoInfo, *, on_note: Callable[[str], None] | None = None
) -> tuple[Reference, ...]:
    """Reads and checks the references in ``paths`` (files or folders) for ``info``'s video.

    A picture without color found in a folder (an unpainted ``vidcolor shots`` frame) is
    left out with a note; one named on its own is refused.

    Returns:
        The references, sorted by frame.

    Raises:
        InputError: A name without a frame number, a frame past the video, two references for
            one frame, an unreadable image, a wrong aspect ratio, a picture without color
            named on its own, or a picture that does not show its frame.
    """
    video = info.video
    numbered = _numbered(reference_files(paths), video)
    pictures = []
    for path, frame, listed in numbered:
        picture = _read(path, frame, listed, video)
        if _colorless(picture.lab):
            if listed:
                raise InputError(f"{path} has no color: it would make frame {frame} gray; "
                                 "paint it, or leave it out")  # fmt: skip
            if on_note:
                on_note(f"{path} has no color (not painted?): left out")
            continue
        pictures.append(picture)
    return tuple(_checked(p, info) for p in pictures)


def _numbered(
    files: Iterable[tuple[Path, bool]], video: VideoStreamInfo
) -> list[tuple[Path, int, bool]]:
    """Each file with its frame, sorted by frame; frames past the end and duplicates refused."""
    by_frame: dict[int, Path] = {}
    out = []
    for path, listed in files:
        frame = frame_number(path)
        if frame >= video.frame_count:
            raise InputError(f"{path}: frame {frame} is past the video's end (frames 0.."
                             f"{video.frame_count - 1}); frame numbers start at 0")  # fmt: skip
        if frame in by_frame:
            raise InputError(f"two references for frame {frame}: {by_frame[frame]} and {path}; "
                             "keep one")  # fmt: skip
        by_frame[frame] = path
        out.append((path, frame, listed))
    return sorted(out, key=lambda item: item[1])


def _read(path: Path, frame: int, listed: bool, video: VideoStreamInfo) -> _Picture:
    """The picture as Lab, after the aspect-ratio check."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise InputError(f"{path}: not an image OpenCV can read; save it as PNG, JPEG or TIFF")
    if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3):
        raise InputError(f"{path}: {image.dtype} samples, {image.shape}: save it as an 8- or "
                         "16-bit gray or RGB image")  # fmt: skip
    _check_aspect(path, image.shape[1], image.shape[0], video)
    rgb = _to_rgb(image)
    lab = color.rgb_to_lab(torch.from_numpy(rgb))
    return _Picture(path, frame, lab.numpy(), listed)


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` float32 sRGB in [0, 1] from OpenCV's gray, BGR or BGRA of 8 or 16 bits."""
    scale = 255.0 if image.dtype == np.uint8 else 65535.0
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] < 3:  # gray, or gray and alpha
        image = np.repeat(image[..., :1], 3, axis=2)
    rgb = image[..., 2::-1]  # BGR(A) -> RGB, alpha dropped
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / scale


def _check_aspect(path: Path, width: int, height: int, video: VideoStreamInfo) -> None:
    """Stored (``vidcolor shots``) or display (sample aspect ratio applied) aspect, within 1%."""
    ratio = width / height
    stored = video.width / video.height
    display = stored * float(video.sar or 1)
    if min(abs(ratio / stored - 1), abs(ratio / display - 1)) > ASPECT_TOLERANCE:
        shown = f"{stored:.4f}" if display == stored else f"{stored:.4f} or {display:.4f}"
        raise InputError(
            f"{path}: {width}x{height} (aspect {ratio:.4f}) is not the video's shape "
            f"({video.width}x{video.height}, aspect {shown}, within 1%); crop or pad it to "
            "the frame"
        )


def _colorless(lab: np.ndarray) -> bool:
    """No part of the picture has chroma beyond what a saved gray image carries."""
    small = cv2.resize(lab[1:].transpose(1, 2, 0), (64, 64), interpolation=cv2.INTER_AREA)
    return float(np.hypot(small[..., 0], small[..., 1]).max()) < COLORLESS


def _checked(picture: _Picture, info: VideoInfo) -> Reference:
    """The reference at the frame's size, once its structure matched its frame's."""
    video = info.video
    size = match.match_size(video.width, video.height)
    mine = match.structure(picture.lab[0], size)
    score = match.match_score(mine, match.structure(_frame_luma(info, picture.frame), size))
    if score < match.THRESHOLD:
        raise InputError(_mismatch(picture, score, _nearest(info, picture.frame, mine, size)))
    frame_size = (video.width, video.height)
    return Reference(
        picture.path,
        picture.frame,
        _resized(picture.lab[1:], frame_size),
        _resized(picture.lab[:1], frame_size)[0],
        score,
        file_sha256(picture.path),
    )


def _frame_luma(info: VideoInfo, frame: int) -> np.ndarray:
    """The frame's luma as stored (any increasing scale will do for the match)."""
    return next(iter(read_frames(info, frame, frame + 1))).luma


def _nearest(
    info: VideoInfo, frame: int, mine: np.ndarray, size: tuple[int, int]
) -> tuple[int, float, int, int]:
    """The best-matching frame within :data:`SEARCH_SECONDS` of ``frame``, its score, and
    the range searched."""
    reach = max(1, round(SEARCH_SECONDS * float(info.video.fps)))
    start, stop = max(0, frame - reach), min(info.video.frame_count, frame + reach + 1)
    best, best_score = frame, -1.0
    for candidate in read_frames(info, start, stop):
        score = match.match_score(mine, match.structure(candidate.luma, size))
        if score > best_score:
            best, best_score = candidate.index, score
    return best, best_score, start, stop - 1


def _mismatch(picture: _Picture, score: float, nearest: tuple[int, float, int, int]) -> str:
    best, best_score, first, last = nearest
    head = (f"{picture.path} does not show frame {picture.frame} (match {score:.2f}, "
            f"needs {match.THRESHOLD:.2f})")  # fmt: skip
    if best_score >= match.THRESHOLD:
        return (f"{head}; it matches frame {best} ({best_score:.2f}): rename it to end in "
                f"{best:06d}, or give the picture of frame {picture.frame}")  # fmt: skip
    return (f"{head}, nor any frame from {first} to {last} (best: frame {best}, "
            f"{best_score:.2f}); check that it is a picture of this film")  # fmt: skip


def _resized(planes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(C, h, w)`` float32 planes at ``size`` (width, height): area when shrinking."""
    height, width = planes.shape[1:]
    shrink = size[0] * size[1] < width * height
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    hwc = cv2.resize(planes.transpose(1, 2, 0), size, interpolation=method)
    hwc = hwc.reshape(size[1], size[0], planes.shape[0])
    return np.ascontiguousarray(hwc.transpose(2, 0, 1), dtype=np.float32)
