"""The same command gives the same file: twice in a row, and after a killed driver resumes.

Issue 20: H.264 frames differed from run to run on a 704x576 clip, so a resumed run differed
from an uninterrupted one: libx264 reads memory it has not written, and the worker's heap held
different leftovers each time (``heap.tune_malloc`` now fills every new block alike). The
codecs are checked on a real clip with the default encoder preset; the network runs small (and
untrained) to stay fast.
"""

from __future__ import annotations

import re
from fractions import Fraction

import av
import numpy as np
import pytest
from test_decode import make_avi
from test_distributed import finish, start, wait_for

from vidcolor.probing import probe

CODECS = [("h264", "mp4"), ("ffv1", "mkv"), ("prores", "mov")]
# Default encoder preset; a small network and 60-frame chunks (five) keep a run to seconds.
# (After test_distributed's RUN, which these override: later --set values win.)
SETTINGS = ["--set", "encode.preset=medium", "--set", "chunks.size=60", "--cpus-per-worker", "2"]


@pytest.fixture(scope="module")
def real_clip(shared_media):
    """A real film scan: 640x360 H.264 + MP3, 241 frames, cuts."""
    return shared_media / "chaplin.mp4"


def _run(clip, out, log, codec, *extra):
    code, _, stderr = finish(start(clip, out, log, "--codec", codec, *SETTINGS, *extra))
    assert code == 0, stderr
    return stderr


@pytest.mark.slow
@pytest.mark.parametrize(("codec", "suffix"), CODECS)
def test_real_clip_gives_the_same_frames_again_and_after_a_driver_kill(
    real_clip, tmp_path, codec, suffix
):
    # The resumed run redoes most segments in a new process: they must equal the first run's,
    # and the reused ones must fit between them.
    calm = tmp_path / f"calm.{suffix}"
    _run(real_clip, calm, tmp_path / "calm.log", codec)
    assert probe(calm).video.frame_count == probe(real_clip).video.frame_count
    out, log = tmp_path / f"out.{suffix}", tmp_path / "run.log"
    process = start(real_clip, out, log, "--codec", codec, *SETTINGS)
    wait_for(log, r"chunk \d+ done", count=2, timeout=300)
    process.kill()  # SIGKILL: no cleanup runs
    process.wait()
    assert not out.exists()
    stderr = _run(real_clip, out, tmp_path / "rerun.log", codec)
    reused = re.search(r"resuming: (\d+) of (\d+) segment\(s\) reused", stderr)
    assert reused and 2 <= int(reused[1]) < int(reused[2]), stderr
    assert _same_frames(out, calm)


def _luma_and_times(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            (f.pts * stream.time_base, f.to_ndarray(format="gray"))
            for f in container.decode(stream)
        ]


def _same_frames(a, b):
    first, second = _planes(a), _planes(b)
    return len(first) == len(second) and all(
        np.array_equal(x, y) for x, y in zip(first, second, strict=True)
    )


def _planes(path):
    with av.open(str(path)) as container:
        return [
            np.concatenate([np.frombuffer(bytes(p), np.uint8) for p in f.planes])
            for f in container.decode(video=0)
        ]


@pytest.mark.slow
def test_avi_from_pts_1_gives_every_frame_in_any_chunking(tmp_path):
    # MPEG-4 in AVI whose first frame has pts 1 (it was refused at frame 0): FFV1 output keeps
    # the source's frame count, timestamps (to Matroska's millisecond) and luma, and does not
    # depend on the chunk size.
    source = make_avi(tmp_path / "film.avi")
    outs = []
    for size in (7, 1000):
        out = tmp_path / f"c{size}.mkv"
        code, _, stderr = finish(
            start(
                source,
                out,
                tmp_path / f"c{size}.log",
                "--codec",
                "ffv1",
                "--set",
                f"chunks.size={size}",
            )
        )
        assert code == 0, stderr
        outs.append(out)
    expected = _luma_and_times(source)
    for out in outs:
        got = _luma_and_times(out)
        assert len(got) == len(expected)
        assert all(
            abs(a - b) <= Fraction(1, 2000) for (a, _), (b, _) in zip(got, expected, strict=True)
        )
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, expected, strict=True))
    planes = [_planes(out) for out in outs]  # chroma too: colors do not depend on the chunking
    assert all(np.array_equal(a, b) for a, b in zip(*planes, strict=True))
