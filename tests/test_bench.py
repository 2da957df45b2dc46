"""scripts/bench.py in its smoke mode: it runs from a clean checkout and prints every figure.

Only that it works is checked; the smoke figures (a 1 s clip at render factor 4) mean nothing
about speed, and no test here asserts anything about time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


@pytest.mark.slow
def test_bench_smoke_prints_all_four_measurements_and_both_ratios():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for prefix in ("a. vidcolor", "b. DeOldify-style", "c. model alone", "d. decode + encode"):
        (line,) = [x for x in lines if x.startswith(prefix)]
        assert " fps " in line and "peak RSS" in line
        assert float(line.split("fps")[0].split()[-1]) > 0
    assert any(x.startswith("a/b,") for x in lines)
    assert any(x.startswith("a/(c+d),") for x in lines)


MEMORY_SCRIPT = SCRIPT.with_name("bench_memory.py")


@pytest.mark.slow
def test_memory_estimate_covers_what_a_real_worker_reaches():
    """A real worker process colorizes a clip; its peak RSS must not exceed the estimate that
    places workers on nodes and refuses frames too large (nor be far below it)."""
    result = subprocess.run(
        [sys.executable, str(MEMORY_SCRIPT), "--sizes", "640x360", "--frames", "24",
         "--codecs", "h264,ffv1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["640x360", "h264"], ["640x360", "ffv1"]]
    for row in rows:
        ratio = float(row[-1])
        assert 1.0 <= ratio <= 2.0, row
