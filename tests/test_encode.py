import subprocess
import sys
from fractions import Fraction

import av
import numpy as np
import pytest
from media import ClipSpec, make_clip

from vidcolor.config import EncodeConfig
from vidcolor.encode import SegmentWriter, output_luma, plan_encode
from vidcolor.errors import OutputError
from vidcolor.probing import probe


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = make_clip(tmp_path_factory.mktemp("enc") / "src.mp4", ClipSpec(frames=6))
    return probe(path).video


def test_plan_per_codec(video):
    h264 = plan_encode(video, EncodeConfig(codec="h264"), "mp4")
    assert (h264.pix_fmt, h264.chroma_width, h264.chroma_height) == ("yuv420p", 80, 48)
    assert h264.options == {"crf": "17", "preset": "medium"}
    prores = plan_encode(video, EncodeConfig(codec="prores"), "mov")
    assert (prores.pix_fmt, prores.bit_depth, prores.chroma_height) == ("yuv422p10le", 10, 96)
    with pytest.raises(OutputError, match=r"ffv1 cannot be stored in \.mp4"):
        plan_encode(video, EncodeConfig(codec="ffv1"), "mp4")


def test_odd_size_h264_is_refused_with_an_alternative(video):
    import dataclasses

    odd = dataclasses.replace(video, width=161)
    with pytest.raises(OutputError, match=r"even width.*ffv1"):
        plan_encode(odd, EncodeConfig(codec="h264"), "mp4")
    assert plan_encode(odd, EncodeConfig(codec="ffv1"), "mkv").chroma_width == 81


def test_an_8k_frame_gets_enough_ffv1_slices_and_stays_lossless(tmp_path, video):
    """FFmpeg refuses FFV1 at 8K with 4 or 6 slices (a slice's size is capped); the plan takes
    the fewest it accepts, and the frame comes back bit for bit."""
    import dataclasses

    assert plan_encode(video, EncodeConfig(codec="ffv1"), "mkv").options["slices"] == "4"
    uhd8k = dataclasses.replace(video, width=7680, height=4320)
    spec = plan_encode(uhd8k, EncodeConfig(codec="ffv1"), "mkv")
    assert spec.options["slices"] == "9"
    luma = np.random.default_rng(0).integers(0, 256, (4320, 7680), dtype=np.uint8)
    chroma = np.full((2, 2160, 3840), 128, np.uint8)
    path = tmp_path / "8k.mkv"
    with SegmentWriter(path, spec) as writer:
        writer.write(luma, chroma, pts=video.pts[0])
    with av.open(str(path)) as container:
        (frame,) = container.decode(video=0)
        got = np.frombuffer(bytes(frame.planes[0]), np.uint8).reshape(4320, -1)[:, :7680]
    assert np.array_equal(got, luma)


def test_output_luma_shifts_exactly(video):
    prores = plan_encode(video, EncodeConfig(codec="prores"), "mov")
    luma = np.array([[0, 16, 235, 255]], np.uint8)
    assert output_luma(luma, prores).tolist() == [[0, 64, 940, 1020]]


def test_segment_keeps_luma_and_pts_exactly(tmp_path, video):
    spec = plan_encode(video, EncodeConfig(codec="ffv1"), "mkv")
    rng = np.random.default_rng(0)
    lumas = [rng.integers(0, 256, (96, 160), dtype=np.uint8) for _ in range(3)]
    chroma = np.full((2, 48, 80), 100, np.uint8)
    path = tmp_path / "seg.mkv"
    with SegmentWriter(path, spec) as writer:
        for i, luma in enumerate(lumas):
            writer.write(luma, chroma, pts=video.pts[i + 2])
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        got = [np.frombuffer(bytes(f.planes[0]), np.uint8).reshape(96, -1)[:, :160] for f in frames]
        times = [f.pts * stream.time_base for f in frames]
    assert all(np.array_equal(a, b) for a, b in zip(got, lumas, strict=True))
    # Matroska stores timestamps in milliseconds (ffmpeg's writer always uses 1 ms ticks).
    expected = [video.pts[i + 2] * video.time_base for i in range(3)]
    assert times == [Fraction(round(t * 1000), 1000) for t in expected]


def test_failed_segment_leaves_nothing(tmp_path, video):
    spec = plan_encode(video, EncodeConfig(codec="ffv1"), "mkv")
    path = tmp_path / "seg.mkv"
    with pytest.raises(ValueError, match="plane"), SegmentWriter(path, spec) as writer:
        writer.write(np.zeros((96, 160), np.uint8), np.zeros((2, 10, 10), np.uint8), pts=0)
    assert list(tmp_path.iterdir()) == []


def test_interlaced_source_is_coded_as_fields_in_its_order(video):
    import dataclasses

    bottom_first = dataclasses.replace(video, field_order="bb")
    h264 = plan_encode(bottom_first, EncodeConfig(codec="h264"), "mp4")
    assert h264.interlaced and h264.options["flags"] == "+ildct+ilme"
    assert "bff=1" in h264.options["x264-params"]
    prores = plan_encode(bottom_first, EncodeConfig(codec="prores"), "mov")
    assert prores.options["flags"] == "+ildct"
    ffv1 = plan_encode(bottom_first, EncodeConfig(codec="ffv1"), "mkv")
    assert ffv1.interlaced and "flags" not in ffv1.options  # the container's flag alone
    assert not plan_encode(video, EncodeConfig(codec="h264"), "mp4").interlaced


def test_10_bit_source_gives_10_bit_h264(tmp_path):
    source = make_clip(tmp_path / "ten.mkv", ClipSpec(codec="ffv1", bit_depth=10, frames=2))
    spec = plan_encode(probe(source).video, EncodeConfig(codec="h264", preset="ultrafast"), "mkv")
    assert (spec.pix_fmt, spec.bit_depth) == ("yuv420p10le", 10)
    path = tmp_path / "seg.mkv"
    with SegmentWriter(path, spec) as writer:
        chroma = np.full((2, 48, 80), 512, np.uint16)
        writer.write(np.full((96, 160), 700, np.uint16), chroma, pts=0)
    assert probe(path).video.bit_depth == 10


# Writes one segment in a child process whose files may not grow past 16 KiB, as on a full
# disk: with SIGXFSZ ignored, the write that crosses the limit fails with EFBIG.
_FULL_DISK_CHILD = """
import resource, signal, sys
from pathlib import Path
import numpy as np
from vidcolor.config import EncodeConfig
from vidcolor.encode import SegmentWriter, plan_encode
from vidcolor.errors import OutputError
from vidcolor.probing import probe

spec = plan_encode(probe(sys.argv[1]).video, EncodeConfig(codec=sys.argv[2]), "mkv")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
noise = np.random.default_rng(0)
try:
    with SegmentWriter(Path(sys.argv[3]), spec) as writer:
        for pts in range(40):
            luma = noise.integers(0, 256, (96, 160), dtype=np.uint8)
            writer.write(luma, np.full((2, 48, 80), 100, np.uint8), pts)
except OutputError as error:
    print(error)
"""


@pytest.mark.parametrize("codec", ["ffv1", "h264"])  # h264 fails only when flushed at close
def test_full_disk_gives_an_output_error_and_leaves_no_partial_segment(tmp_path, codec):
    import subprocess
    import sys

    source = make_clip(tmp_path / "src.mp4", ClipSpec(frames=2))
    folder = tmp_path / "segments"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_CHILD, source, codec, folder / "seg.mkv"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "cannot write the segment" in result.stdout and "File too large" in result.stdout
    assert list(folder.iterdir()) == []


# -- the same frames give the same H.264 bytes, whatever the process's heap held (issue 20) ----

_REENCODE = """
import hashlib, sys
import numpy as np
from fractions import Fraction
from pathlib import Path
from vidcolor.config import EncodeConfig
from vidcolor.encode import EncodeSpec, SegmentWriter, plan_encode
from vidcolor.media import VideoStreamInfo
from vidcolor.heap import tune_malloc

if sys.argv[1] == "tuned":
    assert tune_malloc()
width, height, frames = 704, 576, 100
video = VideoStreamInfo(
    index=0, codec="h264", width=width, height=height, pix_fmt="yuv420p", bit_depth=8,
    fps=Fraction(25), time_base=Fraction(1, 25), pts=tuple(range(frames)), vfr=False,
    sar=Fraction(12, 11), rotation=0, color_range="tv", color_space="bt470bg",
    color_primaries="bt470bg", color_trc="bt709", field_order="progressive",
)
spec = plan_encode(video, EncodeConfig(), "mp4")
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:height, 0:width]
pictures = []
grain = [rng.integers(0, 24, (height, width)) for _ in range(2)]  # film grain, two shots
for t in range(frames):
    shot, k = divmod(t, 50)  # a hard cut at frame 50
    wave = np.sin((xx + (5 + shot) * k) / (23.0 + 9 * shot)) * np.cos((yy - 3 * k) / 31.0)
    luma = (110 + 70 * wave + grain[shot] + 2 * k).clip(0, 255).astype(np.uint8)
    chroma = np.stack([128 + luma[::2, ::2] // 8, 120 - luma[::2, ::2] // 16]).astype(np.uint8)
    pictures.append((luma, chroma))
for run in range(3):
    leftovers = [rng.integers(0, 256, size=n << 20, dtype=np.uint8) for n in (1, 3, 8, 20)]
    del leftovers  # freed: the next blocks may be made of them
    out = Path(sys.argv[2]) / f"{run}.mp4"
    with SegmentWriter(out, spec, threads=2) as writer:
        for t, (luma, chroma) in enumerate(pictures):
            writer.write(luma, chroma, t)
    print(hashlib.sha256(out.read_bytes()).hexdigest())
"""


def _reencode(tmp_path, mode: str) -> list[str]:
    folder = tmp_path / mode
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _REENCODE, mode, str(folder)],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    return done.stdout.split()


@pytest.mark.slow
def test_h264_segments_do_not_depend_on_what_the_heap_held_before(tmp_path):
    tuned = _reencode(tmp_path, "tuned")
    assert len(tuned) == 3 and len(set(tuned)) == 1
    plain = _reencode(tmp_path, "plain")  # the same, without tune_malloc
    if len(set(plain)) == 1:  # nothing to show: the fill above was not put to the test
        pytest.skip("this libx264 gives the same bytes without the fill too")
