"""The chunk plan: which frames each unit of work colorizes, and which it only reads.

A chunk colorizes frames ``[start, stop)`` and also reads ``halo_before`` frames before and
``halo_after`` frames after them, so that a temporal filter of radius ``halo`` sees the same
neighbours whether or not a chunk boundary falls nearby. The output therefore never depends on
where the film was cut.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """One unit of work: colorize ``[start, stop)``, read ``[read_start, read_stop)``."""

    index: int
    start: int
    stop: int
    halo_before: int
    halo_after: int

    @property
    def read_start(self) -> int:
        return self.start - self.halo_before

    @property
    def read_stop(self) -> int:
        return self.stop + self.halo_after

    @property
    def frames(self) -> int:
        return self.stop - self.start


def plan_chunks(frame_count: int, size: int, halo: int) -> tuple[Chunk, ...]:
    """Cuts ``frame_count`` frames into chunks of ``size`` frames with ``halo`` context frames.

    The last chunk takes the remainder. Halos are clipped at the film's ends.

    Raises:
        ValueError: if ``frame_count`` < 1, ``size`` < 1 or ``halo`` < 0.
    """
    if frame_count < 1 or size < 1 or halo < 0:
        raise ValueError(f"cannot plan {frame_count} frames in chunks of {size} with halo {halo}")
    chunks = []
    for index, start in enumerate(range(0, frame_count, size)):
        stop = min(start + size, frame_count)
        chunks.append(
            Chunk(
                index=index,
                start=start,
                stop=stop,
                halo_before=min(halo, start),
                halo_after=min(halo, frame_count - stop),
            )
        )
    return tuple(chunks)
