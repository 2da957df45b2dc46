"""Frame-exact decoding of one range of frames, as the source's own luma.

A range ``[start, stop)`` is addressed by frame index into ``VideoInfo.video.pts`` (the
counted presentation order), so neighbouring chunks decoded by different workers meet
exactly: no frame twice, none lost. The PyAV reader seeks to the keyframe before
``start``, decodes forward, and checks every frame's pts against the probe.

A frame the decoder cannot decode, or flags as damaged, is an error naming it; with
``replace_bad`` it is replaced instead by its nearest good neighbour's picture (the earlier
one, else the later one), under its own index and pts (:mod:`vidcolor.decode.damaged`).

One module per reader: :mod:`~vidcolor.decode.pyav` (default, bit-exact),
:mod:`~vidcolor.decode.damaged` (``replace_bad``) and :mod:`~vidcolor.decode.decord`
(approximate luma, a fallback); :func:`read_frames` picks one.
"""

from __future__ import annotations

from collections.abc import Iterator

from vidcolor.config import DECODERS
from vidcolor.decode import pyav
from vidcolor.decode.damaged import read_replacing
from vidcolor.decode.decord import read_decord
from vidcolor.media import Frame, VideoInfo

__all__ = ["read_frames"]


def read_frames(
    info: VideoInfo,
    start: int,
    stop: int,
    *,
    backend: str = "pyav",
    threads: int = 0,
    replace_bad: bool = False,
) -> Iterator[Frame]:
    """Frames ``start .. stop - 1`` of ``info.video``, in order.

    Args:
        info: The probed file.
        start: First frame index, ``0 <= start <= stop``.
        stop: One past the last frame index, ``<= info.video.frame_count``.
        backend: ``"pyav"`` (bit-exact, default), ``"decord"`` (approximate luma, see
            :func:`~vidcolor.decode.decord.read_decord`) or ``"auto"`` (pyav, decord if
            PyAV cannot open the file).
        threads: Decoder threads; 0 lets the decoder choose (1 with ``replace_bad``).
        replace_bad: Give a frame the decoder cannot decode, flags as damaged or never
            delivers the picture of the nearest good frame before it (anywhere in the
            film), or after it when there is none before; its ``replaced_by`` says which.
            PyAV only: decord cannot tell a damaged frame.

    Raises:
        ValueError: Bad range or backend name, or ``replace_bad`` with decord (raised at
            once, not on first ``next``).
        DecodeError: While iterating: a frame cannot be decoded, or its pts is not the
            probed pts of its index (the file and the probe disagree). With
            ``replace_bad``: no frame from a damaged one to the end of the film decodes,
            or a picture changes size.
    """
    count = info.video.frame_count
    if not 0 <= start <= stop <= count:
        raise ValueError(f"frame range {start}..{stop} is outside 0..{count}")
    if backend not in DECODERS:
        raise ValueError(f"decode backend must be one of {DECODERS}, got {backend!r}")
    if backend == "auto":
        backend = "pyav" if pyav.opens(info) else "decord"
    if backend == "decord":
        if replace_bad:
            raise ValueError(
                "replace_bad needs the pyav backend: decord cannot tell a damaged frame"
            )
        return read_decord(info, start, stop, threads)
    if replace_bad:
        return read_replacing(info, start, stop)
    return pyav.read_pyav(info, start, stop, threads)
