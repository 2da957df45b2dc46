"""The values that cross the pipeline's stages: a probed file, a decoded frame, a segment.

Values only: this module imports no I/O library (no av, cv2 or torch), so every stage can take
them and tests can build them, as PySceneDetect keeps its ``video_stream`` interface apart from
its backends. :mod:`vidcolor.probing` fills in :class:`VideoInfo`, :mod:`vidcolor.decode` yields
:class:`Frame`, :mod:`vidcolor.worker` returns a :class:`Segment` that
:mod:`vidcolor.resume` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class StreamInfo:
    """One stream of the file, of any kind.

    Attributes:
        index: Absolute stream index in the file.
        kind: ``"video"``, ``"audio"``, ``"subtitle"``, ``"data"`` or ``"attachment"``.
        codec: Codec name as ffprobe spells it (``"h264"``, ``"mp3"``, ``"mov_text"``).
        language: The stream's language tag as written (``"eng"``, ``"und"``), or ``None``.
        title: The stream's ``title`` tag, or ``None``.
        channels: Audio channel count; ``None`` for other kinds.
        sample_rate: Audio sample rate in Hz; ``None`` for other kinds.
        attached_pic: A "video" stream that is really one cover-art picture.
    """

    index: int
    kind: str
    codec: str
    language: str | None
    title: str | None
    channels: int | None = None
    sample_rate: int | None = None
    attached_pic: bool = False


@dataclass(frozen=True)
class VideoStreamInfo:
    """The video stream vidcolor works on, with every frame's timestamp counted.

    Attributes:
        index: Absolute stream index in the file.
        codec: Codec name as ffprobe spells it.
        width: Decoded picture width in pixels.
        height: Decoded picture height in pixels.
        pix_fmt: Pixel format the decoder outputs (``"yuv420p"``, ``"yuv420p10le"`` ...).
        bit_depth: Bits per luma sample.
        fps: Nominal frame rate; 1001-based rates are exact (``Fraction(30000, 1001)``).
        time_base: Unit of ``pts``, in seconds.
        pts: Every frame's pts in presentation order, counted from the packets.
        vfr: Some frame sits more than a quarter frame off the ``fps`` grid.
        sar: Sample (pixel) aspect ratio; 1 when the file does not say.
        rotation: Counter-clockwise display rotation in degrees, 0, 90, 180 or 270 (the
            display matrix angle ffprobe prints, modulo 360).
        color_range: ``"tv"``, ``"pc"`` or ``"unknown"``.
        color_space: Matrix coefficients, e.g. ``"bt709"``, ``"smpte170m"``, ``"unknown"``.
        color_primaries: e.g. ``"bt709"``, ``"bt470bg"``, ``"unknown"``.
        color_trc: Transfer characteristics, e.g. ``"bt709"``, ``"unknown"``.
        field_order: ``"progressive"``, ``"tt"``, ``"bb"``, ``"tb"``, ``"bt"`` or ``"unknown"``.
        has_color: The first frame, or the keyframe nearest the middle, has chroma beyond the
            noise of a gray picture: a color or tinted source.
    """

    index: int
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    fps: Fraction
    time_base: Fraction
    pts: tuple[int, ...]
    vfr: bool
    sar: Fraction
    rotation: int
    color_range: str
    color_space: str
    color_primaries: str
    color_trc: str
    field_order: str
    has_color: bool = False

    @property
    def frame_count(self) -> int:
        """Number of frames a decoder outputs."""
        return len(self.pts)

    @property
    def duration(self) -> Fraction:
        """Seconds from the first frame's start to the last frame's end (one ``1/fps``)."""
        return (self.pts[-1] - self.pts[0]) * self.time_base + 1 / self.fps


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`vidcolor.probing.probe` found in a file.

    Attributes:
        path: The probed file.
        format_name: Demuxer name, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``, ``"matroska,webm"``.
        size_bytes: File size.
        duration: Container duration in seconds, ``None`` when the container has none.
        video: The selected video stream.
        streams: Every stream of the file, in file order.
    """

    path: Path
    format_name: str
    size_bytes: int
    duration: Fraction | None
    video: VideoStreamInfo
    streams: tuple[StreamInfo, ...]


@dataclass(frozen=True)
class Frame:
    """One decoded frame of the selected video stream.

    Attributes:
        index: Position in presentation order (index into ``VideoInfo.video.pts``).
        pts: Presentation timestamp in the stream's ``time_base``.
        luma: ``(H, W)`` Y plane at the source's own bit depth and range, no conversion:
            uint8 for 8-bit sources, uint16 (native-endian, values < 2**bit_depth) above.
        replaced_by: For a frame the decoder could not decode (``replace_bad``), the index
            of the good frame whose picture ``luma`` is; ``None`` for a decoded frame.
    """

    index: int
    pts: int
    luma: np.ndarray
    replaced_by: int | None = None


@dataclass(frozen=True)
class Segment:
    """One chunk's encoded segment: what the worker reports and the work folder's manifest keeps.

    Attributes:
        index: The chunk's index.
        name: The segment's file name (in the run's work folder, or a node's own folder).
        frames: Frames it holds.
        cuts: Its frames that start a new shot; ``None`` when cuts were not looked for (as
            when smoothing is off).
        replaced: Its frames the decoder could not decode, which carry a neighbour's picture
            (``decode.skip_bad_frames``).
        seconds: How long the worker took (0 for a segment read back from a manifest).
        size: The file's size in bytes, once recorded (0 before).
        sha256: The file's sha256, once recorded (empty before).
    """

    index: int
    name: str
    frames: int
    cuts: tuple[int, ...] | None = None
    replaced: tuple[int, ...] = ()
    seconds: float = 0.0
    size: int = 0
    sha256: str = ""
