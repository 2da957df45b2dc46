"""The decord reader: a fallback for files PyAV cannot open, whose luma is NOT bit-exact."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vidcolor.errors import DecodeError
from vidcolor.media import Frame, VideoInfo

BATCH = 32  # frames per decord get_batch call: bounds memory at 32 RGB frames


def read_decord(info: VideoInfo, start: int, stop: int, threads: int) -> Iterator[Frame]:
    """Frames through decord: a fallback reader whose luma is NOT bit-exact.

    decord only returns RGB24, and its YUV -> RGB24 conversion is lossy: it rounds to 8
    bits, clips anything outside the nominal range (limited-range Y below 16 or above 235
    becomes RGB 0 or 255), folds in upsampled chroma, and drops the low bits of >8-bit
    sources. The luma here is the rounded BT.601 Y of that RGB, mapped back to the
    source's range and depth, so it is close to the source's Y but not equal to it. That
    is why "pyav" is the default and decord only a fallback for files PyAV cannot open.
    """
    import decord  # deferred: only this fallback needs it

    video = info.video
    main = next(s.index for s in info.streams if s.kind == "video" and not s.attached_pic)
    if video.index != main:
        raise DecodeError(f"{info.path}: decord reads only video stream {main}; use backend 'pyav'")
    reader = decord.VideoReader(str(info.path), ctx=decord.cpu(0), num_threads=threads)
    if len(reader) < stop:
        raise DecodeError(
            f"{info.path}: decord sees {len(reader)} frames, the probe counted "
            f"{video.frame_count}; use backend 'pyav'",
            frame=len(reader),
        )
    full_range = video.color_range == "pc" or video.pix_fmt.startswith("yuvj")
    for first in range(start, stop, BATCH):
        indices = list(range(first, min(first + BATCH, stop)))
        rgb = reader.get_batch(indices).asnumpy()
        for index, picture in zip(indices, rgb, strict=True):
            luma = rgb_to_luma(picture, video.bit_depth, full_range=full_range)
            yield Frame(index=index, pts=video.pts[index], luma=luma)


def rgb_to_luma(rgb: np.ndarray, bit_depth: int, *, full_range: bool) -> np.ndarray:
    """Rounded BT.601 Y of full-range RGB24, in the given range and bit depth.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB, full range (as decord returns it).
        bit_depth: Depth of the result; values are scaled by ``2 ** (bit_depth - 8)``.
        full_range: Keep 0..255 (``"pc"``) instead of mapping to 16..235 (``"tv"``).

    Returns:
        ``(H, W)`` uint8 for ``bit_depth <= 8``, else uint16.
    """
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # BT.601 luma weights
    y = rgb.astype(np.float32) @ weights
    if not full_range:
        y = 16 + y * (219 / 255)
    y = y * 2 ** max(bit_depth - 8, 0)
    return np.rint(y).astype(np.uint8 if bit_depth <= 8 else np.uint16)
