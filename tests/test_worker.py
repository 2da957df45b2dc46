"""One chunk end to end, without Ray: the worker writes exactly its frames, with their pts, the
source's own luma, and the cuts it found."""

from __future__ import annotations

import av
import numpy as np
import pytest
from media import decode_all_luma

from vidcolor.chunks import plan_chunks
from vidcolor.config import load_config
from vidcolor.encode import plan_encode
from vidcolor.probing import probe
from vidcolor.worker import ChunkWorker, Job

SETTINGS = ["model.render_factor=4", "encode.codec=ffv1"]


@pytest.fixture(scope="module")
def worker() -> ChunkWorker:
    return ChunkWorker(load_config(None, SETTINGS), threads=2)


def milliseconds(path) -> list[int]:
    """Every frame's presentation time in whole milliseconds (Matroska's own precision)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [round(frame.pts * stream.time_base * 1000) for frame in container.decode(stream)]


def test_a_chunk_writes_its_own_frames_with_the_source_luma_and_finds_the_cut(
    tmp_path, cut_clip, worker
):
    info = probe(cut_clip)  # 60 frames, a cut at frame 30
    job = Job(info=info, spec=plan_encode(info.video, worker.config.encode, "mkv"))
    chunk = plan_chunks(info.video.frame_count, 24, worker.config.smooth.halo)[1]  # 24..47
    counted: list[int] = []
    segment = worker.process(job, chunk, tmp_path / "segment.mkv", counted.append)
    assert (segment.index, segment.name, segment.frames) == (1, "segment.mkv", 24)
    assert segment.cuts == (30,) and segment.replaced == ()
    assert sum(counted) == 24 and all(n > 0 for n in counted)
    assert milliseconds(tmp_path / "segment.mkv") == milliseconds(cut_clip)[24:48]
    written = decode_all_luma(tmp_path / "segment.mkv")
    source = decode_all_luma(cut_clip)[24:48]
    assert all(np.array_equal(a, b) for a, b in zip(written, source, strict=True))


def test_without_smoothing_no_cuts_are_looked_for(tmp_path, cut_clip):
    config = load_config(None, [*SETTINGS, "smooth.mode='off'"])
    info = probe(cut_clip)
    job = Job(info=info, spec=plan_encode(info.video, config.encode, "mkv"))
    chunk = plan_chunks(info.video.frame_count, 60, config.smooth.halo)[0]
    segment = ChunkWorker(config, threads=2).process(job, chunk, tmp_path / "all.mkv")
    assert segment.frames == 60 and segment.cuts is None
