import pytest

from vidcolor.chunks import Chunk, plan_chunks


def test_plan_covers_every_frame_once():
    for frames in (1, 6, 7, 8, 100, 241):
        for size in (1, 7, 240, 1000):
            chunks = plan_chunks(frames, size, halo=3)
            covered = [i for c in chunks for i in range(c.start, c.stop)]
            assert covered == list(range(frames))
            assert [c.index for c in chunks] == list(range(len(chunks)))


def test_halos_are_clipped_at_the_ends():
    chunks = plan_chunks(20, 7, halo=3)
    assert chunks == (
        Chunk(0, 0, 7, 0, 3),
        Chunk(1, 7, 14, 3, 3),
        Chunk(2, 14, 20, 3, 0),
    )
    assert (chunks[1].read_start, chunks[1].read_stop, chunks[1].frames) == (4, 17, 7)


def test_halo_larger_than_chunk():
    chunks = plan_chunks(5, 1, halo=4)
    assert [(c.read_start, c.read_stop) for c in chunks] == [(0, 5)] * 5
    assert [c.halo_before for c in chunks] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("args", [(0, 5, 1), (5, 0, 1), (5, 5, -1)])
def test_rejects_nonsense(args):
    with pytest.raises(ValueError):
        plan_chunks(*args)
