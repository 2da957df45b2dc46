"""Tiny real test clips written with PyAV, and reference readers for assertions.

Every generated frame is gray (U = V = neutral) unless ``chroma=True``, differs from every
other frame, and carries its own presentation index as a strip of black/white blocks along
the top edge, so a test can tell *which* frame a decoder returned without trusting
timestamps (:func:`read_index`).

Typical use::

    clip = make_clip(tmp_path / "bf.mp4", frames=100, gop=60, bframes=3, audio=True)
    reference = decode_all_luma(clip)

The readers at the bottom (:func:`decode_all_luma`, :func:`video_pts`,
:func:`audio_packets`) decode sequentially from the start of the file with plain PyAV;
they are the ground truth that vidcolor's seeking readers are compared against.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

CONTAINERS = (".mp4", ".mkv", ".mov", ".webm", ".m4a", ".mka")
PATTERNS = ("moving", "cut")
SCENES = 3  # looks luma_pattern can draw
CODE_BITS = 16  # frame index code: 16 blocks -> up to 65535 distinguishable frames
CODE_ROWS = 16  # height of the code strip in pixels
VFR_EVERY = 5  # with vfr=True every 5th frame lasts two ticks
TONE_HZ = 1000

_LO, _HI = 16, 235  # 8-bit limited-range black and white of the index code
# ffmpeg's enum values (libavutil/pixfmt.h) for the tags make_clip can write.
_RANGES = {"tv": 1, "pc": 2}
_TAGS = {"bt709": (1, 1, 1), "smpte170m": (6, 6, 6), "bt470bg": (5, 6, 5)}  # prim, trc, space
_FIELDS = {"tt": (2, "tff"), "bb": (3, "bff")}  # AVFieldOrder code, setfield mode


@dataclass(frozen=True)
class ClipSpec:
    """Everything :func:`make_clip` can vary; the defaults make a 2 s gray 24 fps H.264 clip.

    Attributes:
        frames: Number of video frames.
        size: (width, height) in pixels, at least 64x32 so the index code fits; odd sizes
            need an encoder that takes them (FFV1, ProRes; not 4:2:0 H.264).
        fps: Frame rate; the encoder time base is ``1 / fps``.
        codec: Video encoder name (``libx264``, ``ffv1``, ``prores_ks``, ``libvpx`` ...).
        pix_fmt: Encoder pixel format; ``None`` picks ``yuv420p`` or ``yuv420p{bit_depth}le``.
        bit_depth: Sample depth; ``None`` takes it from ``pix_fmt``. Given both, they must agree.
        gop: Keyframe interval. For libx264 also fixes ``min-keyint`` and disables scenecut.
        bframes: Maximum consecutive B-frames (libx264 ``bframes``, others ``max_b_frames``).
        vfr: Every ``VFR_EVERY``-th frame lasts two ticks instead of one (see
            :func:`frame_ticks`).
        pattern: ``"moving"`` (one scene) or ``"cut"`` (a hard cut to a different scene).
        cut_at: First frame of the second scene; defaults to ``frames // 2``.
        scenes: The :func:`luma_pattern` scenes before and after the cut: two clips that
            differ only in the first keep identical frames from the cut on.
        chroma: Paint colour gradients into U and V instead of leaving them neutral.
        rotation: Counter-clockwise display rotation written as a display matrix.
        sar: Sample aspect ratio written to the codec context (MKV keeps it only if the
            codec stores it in its bitstream, e.g. H.264).
        field_order: ``"tt"`` or ``"bb"``: interlaced, the field order flagged on the stream
            and on every frame (libx264 then codes fields, MBAFF).
        color_range: ``"tv"`` or ``"pc"`` tag; ``None`` leaves it unspecified.
        color_tags: ``"bt709"``, ``"smpte170m"`` or ``"bt470bg"`` primaries/trc/matrix tags.
        options: Extra encoder options, passed to ``stream.options``.
        audio: Add a sine tone (``TONE_HZ``) as long as the video.
        audio_codec: Audio encoder name (``aac``, ``libopus``, ``flac``, ``pcm_s16le`` ...).
        sample_rate: Audio sample rate in Hz.
        channels: 1 (mono) or 2 (stereo).
    """

    frames: int = 48
    size: tuple[int, int] = (160, 96)
    fps: Fraction = Fraction(24)
    codec: str = "libx264"
    pix_fmt: str | None = None
    bit_depth: int | None = None
    gop: int | None = None
    bframes: int | None = None
    vfr: bool = False
    pattern: str = "moving"
    cut_at: int | None = None
    scenes: tuple[int, int] = (0, 1)
    chroma: bool = False
    rotation: int = 0
    sar: Fraction | None = None
    field_order: str | None = None
    color_range: str | None = None
    color_tags: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    audio: bool = False
    audio_codec: str = "aac"
    sample_rate: int = 48000
    channels: int = 1

    def __post_init__(self) -> None:
        width, height = self.size
        if width < 4 * CODE_BITS or height < 2 * CODE_ROWS:
            raise ValueError(f"size must be at least 64x32, got {self.size}")
        if self.frames < 1 or self.frames >= 2**CODE_BITS:
            raise ValueError(f"frames must be in 1..{2**CODE_BITS - 1}, got {self.frames}")
        if self.pattern not in PATTERNS:
            raise ValueError(f"pattern must be one of {PATTERNS}, got {self.pattern!r}")
        if not set(self.scenes) <= set(range(SCENES)):
            raise ValueError(f"scenes must be in 0..{SCENES - 1}, got {self.scenes}")
        if self.field_order not in (None, *_FIELDS):
            raise ValueError(f"field_order must be tt, bb or None, got {self.field_order!r}")
        if self.channels not in (1, 2):
            raise ValueError(f"channels must be 1 or 2, got {self.channels}")
        pinned = self.bit_depth is not None and self.pix_fmt is not None
        if pinned and _format_depth(self.format) != self.bit_depth:
            raise ValueError(f"pix_fmt {self.pix_fmt} is not {self.bit_depth}-bit")

    @property
    def format(self) -> str:
        """The encoder pixel format after applying the ``bit_depth`` default."""
        if self.pix_fmt is not None:
            return self.pix_fmt
        depth = self.bit_depth or 8
        return "yuv420p" if depth == 8 else f"yuv420p{depth}le"

    @property
    def depth(self) -> int:
        """Bits per luma sample of :attr:`format`."""
        return _format_depth(self.format)

    @property
    def cut(self) -> int | None:
        """Index of the first frame after the hard cut, or ``None`` without one."""
        if self.pattern != "cut":
            return None
        return self.frames // 2 if self.cut_at is None else self.cut_at


# The specs behind conftest's session clips. BFRAME_SPEC is the one the frame-exact tests
# are built around: B-frames make decode order differ from presentation order, and a long
# fixed GOP (no scenecut) puts most chunk starts far from a keyframe.
BFRAME_SPEC = ClipSpec(frames=100, gop=60, bframes=3, audio=True, channels=2)
FFV1_10BIT_SPEC = ClipSpec(codec="ffv1", bit_depth=10)
VFR_SPEC = ClipSpec(vfr=True)
CUT_SPEC = ClipSpec(frames=60, pattern="cut", cut_at=30, gop=60, bframes=3)


# ---------------------------------------------------------------- timing and content


def frame_ticks(frames: int, *, vfr: bool = False) -> list[int]:
    """Presentation time of each frame in ticks of ``1 / fps``.

    Constant rate is ``0, 1, 2, ...``; with ``vfr`` every ``VFR_EVERY``-th frame lasts two
    ticks, so the sequence is ``0, 1, 2, 3, 4, 6, 7, ...``.
    """
    ticks, now = [], 0
    for index in range(frames):
        ticks.append(now)
        now += 2 if vfr and index % VFR_EVERY == VFR_EVERY - 1 else 1
    return ticks


def frame_times(frames: int, fps: Fraction, *, vfr: bool = False) -> list[Fraction]:
    """Presentation time of each frame in seconds, exactly as :func:`make_clip` writes it."""
    return [Fraction(tick) / fps for tick in frame_ticks(frames, vfr=vfr)]


def luma_pattern(
    index: int, size: tuple[int, int], *, bit_depth: int = 8, scene: int = 0
) -> np.ndarray:
    """The Y plane of frame ``index``: a moving sawtooth, a moving bar and the index code.

    Values stay inside limited range (16..235 scaled to ``bit_depth``). Above 8 bits the two
    lowest bits carry a fine ripple, so truncating to 8 bits is detectable.

    Returns:
        ``(height, width)`` uint8 for 8-bit, uint16 otherwise.
    """
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    # Slow motion (1-2 px per frame) keeps neighbouring frames alike, so a hard cut stands
    # out; the index code alone tells neighbours apart.
    if scene == 0:  # diagonal ramp drifting right, bright vertical bar
        luma = 48 + ((x + y - index) % 64) * 2
        luma[:, (2 * index) % width : (2 * index) % width + 6] = 230
    elif scene == 1:  # horizontal ramp drifting left, dark horizontal bar: nothing like scene 0
        luma = 200 - ((2 * x + 2 * index) % 96)
        bar = CODE_ROWS + index % (height - CODE_ROWS - 4)
        luma[bar : bar + 4, :] = 24
    else:  # checkerboard of 12 px squares drifting down: nothing like scenes 0 and 1
        luma = np.where(((y - index) // 12 + x // 12) % 2 == 0, 60, 190)
    block = width // CODE_BITS
    for bit in range(CODE_BITS):
        luma[:CODE_ROWS, bit * block : (bit + 1) * block] = _HI if index >> bit & 1 else _LO
    if bit_depth == 8:
        return luma.astype(np.uint8)
    ripple = (x + index) % 4 if bit_depth >= 10 else 0
    ripple = np.where(y < CODE_ROWS, 0, ripple)
    return (luma * 2 ** (bit_depth - 8) + ripple).astype(np.uint16)


def clip_luma(spec: ClipSpec, index: int) -> np.ndarray:
    """The Y plane :func:`make_clip` feeds the encoder for frame ``index`` of ``spec``."""
    cut = spec.cut
    scene = spec.scenes[int(cut is not None and index >= cut)]
    return luma_pattern(index, spec.size, bit_depth=spec.depth, scene=scene)


def read_index(luma: np.ndarray, bit_depth: int | None = None) -> int:
    """Decode the frame index that :func:`luma_pattern` drew into a (decoded) Y plane.

    Args:
        luma: ``(height, width)`` Y plane; lossy coding is fine, blocks are read by mean.
        bit_depth: Depth of ``luma``; ``None`` means 8 for uint8 and 10 for uint16.
    """
    depth = bit_depth or (8 if luma.dtype == np.uint8 else 10)
    threshold = (_LO + _HI) / 2 * 2 ** (depth - 8)
    block = luma.shape[1] // CODE_BITS
    inset = max(block // 4, 1)
    rows = luma[CODE_ROWS // 4 : CODE_ROWS * 3 // 4].astype(np.float64)
    index = 0
    for bit in range(CODE_BITS):
        cells = rows[:, bit * block + inset : (bit + 1) * block - inset]
        index |= int(cells.mean() > threshold) << bit
    return index


def _format_depth(pix_fmt: str) -> int:
    return int(av.VideoFormat(pix_fmt).components[0].bits)


def _chroma_plane(index: int, shape: tuple[int, int], plane: int, depth: int) -> np.ndarray:
    height, width = shape
    y, x = np.mgrid[0:height, 0:width]
    ramp = (x * 2 + index) % 64 if plane == 1 else (y * 3 + index) % 64
    values = (96 + ramp) * 2 ** (depth - 8)
    return values.astype(np.uint8 if depth == 8 else np.uint16)


# ---------------------------------------------------------------- writing


def make_clip(path: str | Path, spec: ClipSpec | None = None, /, **changes: Any) -> Path:
    """Write a small real video file; the container follows the suffix of ``path``.

    Args:
        path: Output file; suffix one of ``CONTAINERS``.
        spec: Base description; defaults to ``ClipSpec()``.
        **changes: Field overrides of ``spec``, e.g. ``frames=100, gop=60, bframes=3``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    if path.suffix not in CONTAINERS:
        raise ValueError(f"suffix must be one of {CONTAINERS}, got {path.name!r}")
    spec = dataclasses.replace(spec or ClipSpec(), **changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        video = _add_video_stream(out, spec)
        audio = _add_audio_stream(out, spec) if spec.audio else None
        out.start_encoding()
        tone = _tone_frames(audio, spec) if audio is not None else None
        ticks = frame_ticks(spec.frames, vfr=spec.vfr)
        fields = _field_marker(spec) if spec.field_order else None
        for index, tick in enumerate(ticks):
            frame = _video_frame(spec, index, tick)
            if fields is not None:  # PyAV cannot set a frame's interlace flags itself
                fields.push(frame)
                frame = fields.pull()
            out.mux(video.encode(frame))
            if audio is not None and tone is not None:
                _mux_audio_until(out, audio, tone, Fraction(tick + 1) / spec.fps)
        out.mux(video.encode())
        if audio is not None:
            out.mux(audio.encode(None))
    return path


def make_audio(
    path: str | Path,
    *,
    seconds: float = 1.0,
    codec: str = "aac",
    sample_rate: int = 48000,
    channels: int = 1,
) -> Path:
    """Write an audio-only file (``.m4a``, ``.mka`` ...) holding a ``TONE_HZ`` sine."""
    path = Path(path)
    spec = ClipSpec(audio=True, audio_codec=codec, sample_rate=sample_rate, channels=channels)
    with av.open(str(path), "w") as out:
        audio = _add_audio_stream(out, spec)
        out.start_encoding()
        _mux_audio_until(out, audio, _tone_frames(audio, spec), Fraction(seconds))
        out.mux(audio.encode(None))
    return path


def make_cover_art_only(path: str | Path) -> Path:
    """Write a FLAC ``.mka`` whose only picture is cover art (an attached PNG)."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        audio = out.add_stream("flac", rate=48000)
        audio.layout = "mono"
        out.add_attachment("cover.png", "image/png", png_bytes())  # demuxed as attached_pic
        _write_silence(out, audio)
    return path


def make_video_without_frames(path: str | Path) -> Path:
    """Write an ``.mkv`` with an FFV1 video stream that holds no frame, and FLAC audio."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=24)
        video.width, video.height, video.pix_fmt = 64, 32, "yuv420p"
        audio = out.add_stream("flac", rate=48000)
        audio.layout = "mono"
        _write_silence(out, audio)
        out.mux(video.encode(None))
    return path


def _write_silence(out: Any, audio: Any) -> None:
    out.start_encoding()
    size = audio.codec_context.frame_size or 1024
    for index in range(10):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, size), np.int16), "s16", "mono")
        frame.sample_rate, frame.pts = 48000, index * size
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def damage_packet(source: str | Path, target: str | Path, index: int, *more: int) -> Path:
    """Copy ``source`` with the payload of its ``index``-th video packet (file order) garbled,
    and of the ``more`` packets too, so that a decoder flags each of their frames.

    The first quarter of the packet (its headers) is kept, the rest overwritten with a fixed
    pattern, so the container stays intact and only that picture's data is damaged. Whether a
    given pattern makes the decoder flag the frame depends on the encoded bits, and libx264's
    bits differ with the heap it ran on (issue 20): a pattern that leaves a frame unflagged is
    replaced by the next one, and a clip no pattern damages is an error here, not a test's
    wrong premise.
    """
    with av.open(str(source)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    ordered = sorted(p.pts for p in packets)
    wanted = [ordered.index(packets[number].pts) for number in (index, *more)]
    original = Path(source).read_bytes()
    for seed in range(11, 11 + 8 * 29, 29):
        data = bytearray(original)
        for number in (index, *more):
            pos, size = packets[number].pos, packets[number].size
            start, stop = pos + size // 4, pos + size - 2
            data[start:stop] = bytes((i * 37 + seed) & 0xFF for i in range(stop - start))
        Path(target).write_bytes(bytes(data))
        if set(wanted) <= set(damaged_frames(target)):
            return Path(target)
    raise AssertionError(f"no pattern made the decoder flag frames {wanted} of {source}")


def damaged_frames(path: str | Path) -> list[int]:
    """Presentation indices of the frames of the first video stream that a sequential,
    single-threaded decode flags as damaged (``is_corrupt``) or never outputs."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        counted = sorted(p.pts for p in container.demux(stream) if p.size)
        container.seek(0)
        whole = set()
        for packet in container.demux(stream):
            with contextlib.suppress(av.FFmpegError):  # this packet's frame never comes out
                whole |= {f.pts for f in packet.decode() if not f.is_corrupt}
    return [index for index, pts in enumerate(counted) if pts not in whole]


def png_bytes(size: tuple[int, int] = (64, 64)) -> bytes:
    """A gray PNG image, e.g. for cover art (``OutputContainer.add_attachment``)."""
    width, height = size
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), "rgb24")
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "rgb24"
    return b"".join(bytes(packet) for packet in codec.encode(frame) + codec.encode(None))


def drop_leading_packets(source: str | Path, target: str | Path, count: int) -> Path:
    """Stream-copy the first video stream of ``source`` to ``target`` minus its first packets.

    With ``count`` inside a GOP the copy starts on a non-keyframe and carries no edit list,
    so a decoder drops every frame before the next keyframe: a damaged-start file.
    """
    target = Path(target)
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        packets = [packet for packet in src.demux(stream) if packet.size]
        for packet in packets[count:]:
            packet.stream = copy
            out.mux(packet)
    return target


def hide_leading_frames(source: str | Path, target: str | Path, count: int) -> Path:
    """Stream-copy ``source``'s first video stream into an MP4 whose edit list hides frames.

    Timestamps are shifted so the first ``count`` frames (presentation order) fall before
    zero; the MP4 muxer writes an edit list starting at the first frame kept, and the
    demuxer still delivers the hidden packets, flagged discard, so the decoder has its
    references but shows frame ``count`` first. ``target`` must end in ``.mp4`` or ``.mov``.
    """
    target = Path(target)
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        packets: list[Any] = [packet for packet in src.demux(stream) if packet.size]
        shift = sorted(packet.pts for packet in packets)[count]
        for packet in packets:
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = copy
            out.mux(packet)
    return target


def _add_video_stream(out: Any, spec: ClipSpec) -> Any:
    stream = out.add_stream(spec.codec, rate=spec.fps)
    stream.width, stream.height = spec.size
    stream.pix_fmt = spec.format
    stream.codec_context.time_base = 1 / spec.fps
    options = dict(spec.options)
    if spec.codec == "libx264":
        options.update(_x264_options(spec))
        if spec.field_order is not None:
            options["flags"] = "+ildct+ilme"  # code fields (MBAFF)
    else:
        if spec.gop is not None:
            stream.codec_context.gop_size = spec.gop
        if spec.bframes is not None:
            stream.codec_context.max_b_frames = spec.bframes
    stream.options = options
    if spec.rotation:
        stream.set_display_rotation(spec.rotation)
    if spec.sar is not None:
        stream.codec_context.sample_aspect_ratio = spec.sar
    if spec.field_order is not None:
        stream.codec_context.field_order = _FIELDS[spec.field_order][0]
    if spec.color_range is not None:
        stream.codec_context.color_range = _RANGES[spec.color_range]
    if spec.color_tags is not None:
        primaries, trc, space = _TAGS[spec.color_tags]
        context = stream.codec_context
        context.color_primaries, context.color_trc, context.colorspace = primaries, trc, space
    return stream


def _field_marker(spec: ClipSpec) -> Any:
    """A filter graph flagging each frame interlaced in ``spec.field_order``."""
    graph = av.filter.Graph()
    source = graph.add_buffer(
        width=spec.size[0], height=spec.size[1], format=spec.format, time_base=1 / spec.fps
    )
    mark = graph.add("setfield", _FIELDS[spec.field_order or "tt"][1])
    sink = graph.add("buffersink")
    source.link_to(mark)
    mark.link_to(sink)
    graph.configure()
    return graph


def _x264_options(spec: ClipSpec) -> dict[str, str]:
    params = []
    if spec.gop is not None:
        # A fixed GOP needs scenecut off, else x264 inserts extra keyframes at the cut.
        params += [f"keyint={spec.gop}", f"min-keyint={spec.gop}", "scenecut=0"]
    if spec.bframes is not None:
        params.append(f"bframes={spec.bframes}")
    options = {"preset": "veryfast"}
    if params:
        options["x264-params"] = ":".join(params)
    return options


def _video_frame(spec: ClipSpec, index: int, tick: int) -> av.VideoFrame:
    luma = clip_luma(spec, index)
    fmt = av.VideoFormat(spec.format)
    if _is_planar_yuv(fmt):
        frame = _planar_frame(spec, fmt, luma, index)
    else:  # rgb, packed yuv ...: let swscale convert the gray picture
        gray = "gray" if spec.depth == 8 else f"gray{spec.depth}le"
        frame = av.VideoFrame.from_ndarray(luma, gray).reformat(format=spec.format)
    frame.pts = tick
    frame.time_base = 1 / spec.fps
    return frame


def _is_planar_yuv(fmt: av.VideoFormat) -> bool:
    comps = fmt.components
    one_per_plane = len({c.plane for c in comps}) == len(comps)
    return not fmt.is_rgb and not fmt.has_palette and one_per_plane and not fmt.is_big_endian


def _planar_frame(
    spec: ClipSpec, fmt: av.VideoFormat, luma: np.ndarray, index: int
) -> av.VideoFrame:
    frame = av.VideoFrame(spec.size[0], spec.size[1], spec.format)
    neutral = 2 ** (spec.depth - 1)
    for number, plane in enumerate(frame.planes):
        shape = (plane.height, plane.width)
        if number == 0:
            values = luma
        elif number == 3:  # alpha: opaque
            values = np.full(shape, 2**spec.depth - 1, luma.dtype)
        elif spec.chroma:
            values = _chroma_plane(index, shape, number, spec.depth)
        else:
            values = np.full(shape, neutral, luma.dtype)
        padded = np.zeros((plane.height, plane.line_size // luma.itemsize), luma.dtype)
        padded[:, : plane.width] = values
        plane.update(padded.tobytes())
    return frame


def _add_audio_stream(out: Any, spec: ClipSpec) -> Any:
    stream = out.add_stream(spec.audio_codec, rate=spec.sample_rate)
    stream.layout = "mono" if spec.channels == 1 else "stereo"
    return stream


def _tone_frames(stream: Any, spec: ClipSpec) -> Iterator[av.AudioFrame]:
    """Endless 1 kHz sine in encoder-sized frames of the encoder's sample format."""
    layout = "mono" if spec.channels == 1 else "stereo"
    # frame_size is known only once the encoder is open (start_encoding); 0 = any size.
    resampler = av.AudioResampler(
        format=stream.format.name,
        layout=layout,
        rate=spec.sample_rate,
        frame_size=stream.codec_context.frame_size or 1024,
    )
    block, start = 4800, 0
    while True:
        t = (np.arange(start, start + block) / spec.sample_rate).astype(np.float64)
        wave = (0.25 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.tile(wave, (spec.channels, 1)), "fltp", layout)
        frame.sample_rate, frame.pts = spec.sample_rate, start
        frame.time_base = Fraction(1, spec.sample_rate)
        yield from resampler.resample(frame)
        start += block


def _mux_audio_until(out: Any, stream: Any, tone: Iterator[av.AudioFrame], end: Fraction) -> None:
    """Encode tone frames until the audio reaches ``end`` seconds."""
    while True:
        frame = next(tone)
        out.mux(stream.encode(frame))
        if ((frame.pts or 0) + frame.samples) / frame.sample_rate >= end:
            return


# ---------------------------------------------------------------- reference readers


def decode_all_luma(path: str | Path) -> list[np.ndarray]:
    """Y plane of every frame of the first video stream, decoded sequentially from the start.

    Returns:
        ``(height, width)`` arrays at native depth (uint8 for 8-bit, uint16 above), native
        range, copied out of the decoder's buffers.
    """
    with av.open(str(path)) as container:
        return [_luma(frame) for frame in container.decode(video=0)]


def video_pts(path: str | Path) -> list[int]:
    """pts of every decoded frame of the first video stream, in presentation order."""
    with av.open(str(path)) as container:
        pts = [frame.pts for frame in container.decode(video=0)]
    if None in pts:
        raise ValueError(f"{path}: a decoded frame has no pts")
    return [p for p in pts if p is not None]


def audio_packets(path: str | Path, stream: int = 0) -> list[bytes]:
    """Payload of every packet of the ``stream``-th audio stream, in file order."""
    with av.open(str(path)) as container:
        audio = container.streams.audio[stream]
        return [bytes(packet) for packet in container.demux(audio) if packet.size]


def _luma(frame: av.VideoFrame) -> np.ndarray:
    fmt = frame.format
    depth = _format_depth(fmt.name)
    if not _is_planar_yuv(fmt):
        gray = "gray" if depth == 8 else f"gray{depth}le"
        frame = frame.reformat(format=gray)
    plane = frame.planes[0]
    dtype = np.dtype(np.uint8) if depth == 8 else np.dtype("<u2")
    rows = np.frombuffer(bytes(plane), dtype).reshape(plane.height, -1)
    return rows[:, : plane.width].copy()
