"""How a worker process's malloc is set up: memory kept for reuse, new blocks filled alike.

The worker's own module once; every process that encodes (the Ray actors, the tests' process,
the bench scripts) calls :func:`tune_malloc` once, before its first network pass.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_PERTURB = -1, -3, -6  # glibc's mallopt (malloc.h)
_PERTURB_BYTE = 0x55  # glibc fills each new block with its complement, 0xAA


def tune_malloc(fill: bool = True) -> bool:
    """Sets up glibc's malloc for a worker process; False where it cannot (not glibc).

    Freed blocks of up to 32 MiB are kept for reuse. Each network pass allocates and frees the
    same activations, megabytes each. By default glibc hands blocks over 128 KiB back to the
    system at once and maps them afresh next time, and every page of them faults in again on
    first touch: a pass on a 320x256 frame took 177 against 163 ms in bfloat16 (273 against
    250 ms in float32) on 2 cores, measured here. PyTorch's CPU tuning guide suggests jemalloc
    or tcmalloc for the same reason; this needs neither.

    Every new block is filled with one byte value. libx264 reads memory it has not written, so
    its output depended on what the process's heap held before (issue 20): the same frames,
    encoded one after another in one process with other allocations between, gave three
    different H.264 segments at 704x576, and so a run differed from the next and a resumed run
    from an uninterrupted one. With every block filled alike they come out the same to the byte.

    Process-wide, so a worker process calls it once, before its first pass. ``fill=False``
    leaves the fill out (for scripts/bench_fill.py, which measures what it costs).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt  # glibc; musl has no mallopt
    except (OSError, AttributeError):
        return False
    # 32 MiB is the largest mmap threshold glibc accepts on 64-bit; freed memory is given back
    # to the system only past 512 MiB at the top of the heap.
    kept = mallopt(_M_MMAP_THRESHOLD, 32 << 20) and mallopt(_M_TRIM_THRESHOLD, 512 << 20)
    return bool(kept and (not fill or mallopt(_M_PERTURB, _PERTURB_BYTE)))
