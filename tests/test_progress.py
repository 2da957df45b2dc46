"""The progress bar: lines for logs, one redrawn line for terminals, rate and ETA."""

from __future__ import annotations

import io

import pytest

from vidcolor.progress import ProgressBar, format_eta


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (59.6, "1:00"), (3725, "1:02:05")])
def test_eta_reads_as_minutes_or_hours(seconds, text):
    assert format_eta(seconds) == text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_interval_and_the_last(monkeypatch):
    clock = iter([0.0, 1.0, 12.0, 15.0, 16.0])
    monkeypatch.setattr("vidcolor.progress.time.monotonic", lambda: next(clock))
    log = io.StringIO()
    bar = ProgressBar(log, interval=10.0)  # starts at t=0
    bar.update(10, 100)  # t=1: within the first interval, no line
    bar.update(60, 100, "2/2 worker(s) busy")  # t=12: a line
    bar.update(70, 100)  # t=15: within the interval again
    bar.update(100, 100)  # t=16: the end always prints
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("60/100 frames 5.00 fps ETA 0:08 2/2 worker(s) busy")
    assert "[" + "#" * 30 + "] 100/100 frames 6.25 fps ETA 0:00" in lines[1]


def test_a_terminal_line_is_redrawn_and_a_resumed_run_counts_only_its_own_rate(monkeypatch):
    clock = iter([0.0, 5.0])
    monkeypatch.setattr("vidcolor.progress.time.monotonic", lambda: next(clock))
    screen = Terminal()
    bar = ProgressBar(screen, unit="steps", initial=50)
    bar.update(60, 100)
    bar.close()
    assert screen.getvalue().startswith("\r[")
    assert "60/100 steps 2.00 steps/s ETA 0:20" in screen.getvalue()
    assert screen.getvalue().endswith("\n")
