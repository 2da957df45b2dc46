from fractions import Fraction

import av
import numpy as np
import pytest
from media import ClipSpec, make_clip

from vidcolor.config import EncodeConfig
from vidcolor.encode import SegmentWriter, output_luma, plan_encode
from vidcolor.errors import OutputError
from vidcolor.probe import probe


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
