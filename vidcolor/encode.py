"""Writes one colorized segment: the source's Y plane plus new chroma, with the source's timing.

Every frame keeps its source pts in the source's time base, so segments join without re-timing
and variable frame rates survive. Frame rate, sample aspect ratio and color tags are carried
into the bitstream and the container. The file appears under its final name only when complete.

One module past 300 lines: the encode plan (pixel format, options, FFV1 slices) and the writer
that applies it change together, codec by codec.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import cast

import av
import numpy as np

from vidcolor import colortags
from vidcolor.config import EncodeConfig
from vidcolor.errors import OutputError
from vidcolor.media import VideoStreamInfo

# Containers each of our codecs can be stored in, best first.
CODEC_CONTAINERS = {"h264": ("mp4", "mkv", "mov"), "ffv1": ("mkv",), "prores": ("mov", "mkv")}
_ENCODERS = {"h264": "libx264", "ffv1": "ffv1", "prores": "prores_ks"}
# Interlaced field orders (libavcodec/defs.h AVFieldOrder): code, and the field shown first.
# "tb" is coded top first but shown bottom first: what a player needs is the shown order.
_INTERLACED = {"tt": (2, "tff"), "bb": (3, "bff"), "tb": (4, "bff"), "bt": (5, "tff")}
# What makes each codec code fields as fields: H.264 interlaced DCT and motion estimation
# (MBAFF), with a pic_struct SEI that says which field comes first (MP4 has no field order
# flag of its own; without the SEI, or with x264's default tff in it, FFmpeg reads a
# bottom-first stream as top first: measured); ProRes interlaced pictures. FFV1 codes whole
# frames: the container's flag alone says the order.
_FIELD_OPTIONS = {
    "h264": {"flags": "+ildct+ilme", "x264-params": "pic-struct=1:{first}=1"},
    "prores": {"flags": "+ildct"},
}


@dataclass(frozen=True)
class EncodeSpec:
    """Everything needed to encode segments of one film, identical for every chunk."""

    codec: str
    container: str
    pix_fmt: str
    bit_depth: int
    source_bit_depth: int
    full_range: bool
    width: int
    height: int
    chroma_width: int
    chroma_height: int
    fps: Fraction
    time_base: Fraction
    sar: Fraction
    color_range: str
    color_space: str
    color_primaries: str
    color_trc: str
    field_order: str = "progressive"
    options: dict[str, str] = field(default_factory=dict)

    @property
    def interlaced(self) -> bool:
        return self.field_order in _INTERLACED


def plan_encode(video: VideoStreamInfo, cfg: EncodeConfig, container: str) -> EncodeSpec:
    """Chooses pixel format and encoder options for a source and a codec.

    H.264 is 4:2:0 (what every player decodes), 10-bit when the source has more than 8 bits;
    FFV1 keeps the source's bit depth exactly; ProRes 422 HQ is 10-bit 4:2:2 by definition, and an
    8-bit source's luma is shifted up by two bits, which keeps it exact. An interlaced source
    stays interlaced, in its field order: H.264 and ProRes code its fields as fields, and no
    frame is ever deinterlaced.

    Raises:
        OutputError: when the codec cannot go into the container, or H.264 4:2:0 meets odd sizes.
    """
    if container not in CODEC_CONTAINERS[cfg.codec]:
        allowed = ", ".join(CODEC_CONTAINERS[cfg.codec])
        raise OutputError(f"{cfg.codec} cannot be stored in .{container}; use one of: {allowed}")
    depth = 8 if video.bit_depth <= 8 else (10 if cfg.codec != "ffv1" else min(video.bit_depth, 16))
    sub_w, sub_h = {"h264": (2, 2), "ffv1": (2, 2), "prores": (2, 1)}[cfg.codec]
    if cfg.codec == "prores":
        depth = 10
    if cfg.codec == "h264" and (video.width % 2 or video.height % 2):
        raise OutputError(
            f"H.264 4:2:0 needs even width and height, the source is {video.width}x{video.height}; "
            "use --codec ffv1 or --codec prores, which keep odd sizes"
        )
    pix_fmt = f"yuv{'420' if sub_h == 2 else '422'}p" + ("" if depth == 8 else f"{depth}le")
    return EncodeSpec(
        codec=cfg.codec,
        container=container,
        pix_fmt=pix_fmt,
        bit_depth=depth,
        source_bit_depth=video.bit_depth,
        full_range=video.color_range == "pc",
        width=video.width,
        height=video.height,
        chroma_width=-(-video.width // sub_w),
        chroma_height=-(-video.height // sub_h),
        fps=video.fps,
        time_base=video.time_base,
        sar=video.sar,
        color_range=video.color_range,
        color_space=video.color_space,
        color_primaries=video.color_primaries,
        color_trc=video.color_trc,
        field_order=video.field_order,
        options=_encoder_options(cfg, video.field_order, (video.width, video.height, pix_fmt)),
    )


def _encoder_options(
    cfg: EncodeConfig, field_order: str, picture: tuple[int, int, str]
) -> dict[str, str]:
    options = _codec_options(cfg)
    if cfg.codec == "ffv1":
        options["slices"] = str(ffv1_slices(*picture))
    if field_order in _INTERLACED:
        first = _INTERLACED[field_order][1]
        for key, value in _FIELD_OPTIONS.get(cfg.codec, {}).items():
            options[key] = value.format(first=first)
    return options


def _codec_options(cfg: EncodeConfig) -> dict[str, str]:
    if cfg.codec == "h264":
        return {"crf": str(cfg.crf), "preset": cfg.preset}
    if cfg.codec == "ffv1":
        # Archival practice (FFV1 v3, per-slice CRCs, every frame intra): damage stays local.
        return {"level": "3", "slicecrc": "1", "g": "1", "slices": "4"}
    return {"profile": "3"}  # prores_ks profile 3 = 422 HQ


# Slice counts FFmpeg's FFV1 encoder takes (it splits a frame into a grid of them).
_FFV1_SLICES = (4, 6, 9, 12, 16, 24, 30, 36, 42)


@functools.cache
def ffv1_slices(width: int, height: int, pix_fmt: str) -> int:
    """The fewest FFV1 slices, 4 or more, that FFmpeg's encoder accepts for this picture.

    It caps a slice's size, so large frames need more: 8K 4:2:0 needs 9 (measured: 4 and 6 are
    refused), 8K 4:4:4 16-bit 16; small odd sizes take at most 16. Found by opening the
    encoder, so it follows whatever FFmpeg is installed.

    Raises:
        OutputError: when no count is accepted.
    """
    for slices in _FFV1_SLICES:
        context = av.CodecContext.create("ffv1", "w")
        context.width, context.height, context.pix_fmt = width, height, pix_fmt
        context.time_base = Fraction(1, 25)
        context.options = {**_codec_options(EncodeConfig(codec="ffv1")), "slices": str(slices)}
        try:
            context.open()
        except av.FFmpegError:
            continue
        return slices
    raise OutputError(f"FFmpeg's FFV1 encoder takes no slice count for {width}x{height} {pix_fmt}")


def output_luma(luma: np.ndarray, spec: EncodeSpec) -> np.ndarray:
    """The source's Y plane at the output's bit depth: unchanged, or shifted by whole bits."""
    shift = spec.bit_depth - spec.source_bit_depth
    dtype = np.uint8 if spec.bit_depth == 8 else np.uint16
    if shift > 0:
        return np.left_shift(luma.astype(dtype), shift)
    if shift < 0:
        # Rounded, not truncated: a 10-bit source written as 8-bit H.264.
        return ((luma.astype(np.uint32) + (1 << (-shift - 1))) >> -shift).astype(dtype)
    return luma.astype(dtype, copy=False)


class SegmentWriter:
    """Encodes frames into one segment file; use as a context manager.

    The file is written as ``<name>.partial<ext>`` and renamed to ``path`` on a clean exit; on an
    exception the partial file is removed.
    """

    def __init__(self, path: Path, spec: EncodeSpec, threads: int = 0) -> None:
        self.path = Path(path)
        self.spec = spec
        self.frames = 0
        self._partial = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")
        muxer = {"mkv": "matroska"}.get(spec.container, spec.container)
        try:
            self._container = av.open(str(self._partial), "w", format=muxer)
        except OSError as error:
            raise self._cannot_write(error) from None
        self._stream = self._add_stream(threads)
        self._fields = _field_flagger(spec) if spec.interlaced else None

    def _add_stream(self, threads: int) -> av.VideoStream:
        spec = self.spec
        stream = cast(
            av.VideoStream, self._container.add_stream(_ENCODERS[spec.codec], rate=spec.fps)
        )
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, spec.pix_fmt
        stream.time_base = spec.time_base
        cc = cast(av.video.codeccontext.VideoCodecContext, stream.codec_context)
        cc.time_base = spec.time_base
        cc.sample_aspect_ratio = spec.sar
        cc.color_range = colortags.code_of("range", spec.color_range)
        cc.colorspace = colortags.code_of("space", spec.color_space)
        cc.color_primaries = colortags.code_of("primaries", spec.color_primaries)
        cc.color_trc = colortags.code_of("transfer", spec.color_trc)
        if spec.interlaced:  # the container's field order flag (Matroska FieldOrder, MOV fiel)
            cc.field_order = _INTERLACED[spec.field_order][0]
        options: dict[str, object] = dict(spec.options)
        if threads:
            options["threads"] = str(threads)
        stream.options = options
        return stream

    def write(self, luma: np.ndarray, chroma: np.ndarray, pts: int) -> None:
        """Encodes one frame.

        Args:
            luma: ``(H, W)`` the source's Y plane, native bit depth.
            chroma: ``(2, chroma_height, chroma_width)`` Cb and Cr samples at the output depth.
            pts: the frame's source pts, in the source's time base.
        """
        spec = self.spec
        frame = av.VideoFrame(spec.width, spec.height, spec.pix_fmt)
        planes = (output_luma(luma, spec), chroma[0], chroma[1])
        for plane, data in zip(frame.planes, planes, strict=True):
            _fill_plane(plane, data)
        frame.pts = pts
        frame.time_base = spec.time_base
        frame.color_range = colortags.code_of("range", spec.color_range)
        frame.colorspace = colortags.code_of("space", spec.color_space)
        if self._fields is not None:
            self._fields.push(frame)
            frame = self._fields.vpull()
        self._mux(frame)
        self.frames += 1

    def close(self) -> None:
        """Flushes the encoder and moves the finished file to its name.

        Raises:
            OutputError: the file cannot be written (disk full, file too large ...); the
                partial file is removed.
        """
        try:
            self._mux(None)
            self._container.close()  # writes the trailer
        except OSError as error:
            self.abort()
            raise self._cannot_write(error) from None
        except BaseException:
            self.abort()
            raise
        os.replace(self._partial, self.path)

    def abort(self) -> None:
        """Closes and deletes the partial file; a failure to close it no longer matters."""
        try:
            self._container.close()
        except OSError:
            pass  # e.g. the trailer does not fit on a full disk: the file goes anyway
        finally:
            self._partial.unlink(missing_ok=True)

    def _mux(self, frame: av.VideoFrame | None) -> None:
        """Encodes ``frame`` (``None`` flushes) and writes what the encoder hands back."""
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except OSError as error:  # av.error.OSError: the disk refused, not the frame
            raise self._cannot_write(error) from None

    def _cannot_write(self, error: OSError) -> OutputError:
        return OutputError(
            f"cannot write the segment {self._partial} ({error.strerror or error}); make room "
            "on that disk, or give --work-dir on one with room, and run again to resume"
        )

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _field_flagger(spec: EncodeSpec) -> av.filter.Graph:
    """A filter graph that marks each frame interlaced, in the source's field order.

    PyAV cannot set a frame's interlace flags, and libx264 and prores_ks take the field order
    of each picture from them, whatever the stream was told.
    """
    graph = av.filter.Graph()
    source = graph.add_buffer(
        width=spec.width,
        height=spec.height,
        format=av.VideoFormat(spec.pix_fmt),
        time_base=spec.time_base,
    )
    mark = graph.add("setfield", _INTERLACED[spec.field_order][1])
    sink = graph.add("buffersink")
    source.link_to(mark)
    mark.link_to(sink)
    graph.configure()
    return graph


def _fill_plane(plane: av.video.plane.VideoPlane, data: np.ndarray) -> None:
    """Copies a 2-D array into a frame plane, respecting the plane's line padding."""
    itemsize = data.dtype.itemsize
    view = np.frombuffer(memoryview(plane), dtype=data.dtype).reshape(
        -1, plane.line_size // itemsize
    )
    if data.shape != (plane.height, plane.width):
        raise ValueError(f"plane of {plane.width}x{plane.height} got data of shape {data.shape}")
    view[: plane.height, : plane.width] = data
