"""A run's progress, and the one-line bar that shows it (frames or steps, rate, ETA, a note)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Progress:
    """A run's state for a progress bar: frames done (reused ones included), busy workers."""

    done: int
    total: int
    busy: int
    workers: int
    reused: int = 0  # frames of segments reused from a stopped run, counted in ``done``


def format_eta(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """Redraws one line on a terminal; elsewhere (logs, CI) prints a line every ``interval`` s."""

    def __init__(
        self, stream: TextIO, interval: float = 10.0, unit: str = "frames", initial: int = 0
    ) -> None:
        """``initial``: units already done before this bar started (a resumed run); the rate
        and ETA count only the units done since."""
        self.stream = stream
        self.initial = initial
        self.unit = unit
        self.rate_unit = "fps" if unit == "frames" else f"{unit}/s"
        self.interval = interval
        self.tty = stream.isatty()
        self._start = time.monotonic()
        self._last_print = 0.0
        self._last_done = -1

    def update(self, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if done == self._last_done and now - self._last_print < self.interval:
            return
        if not self.tty and now - self._last_print < self.interval and done < total:
            return
        self._last_done, self._last_print = done, now
        elapsed = now - self._start
        fps = (done - self.initial) / elapsed if elapsed > 0 else 0.0
        eta = format_eta((total - done) / fps) if fps > 0 else "?"
        width = 30
        filled = width * done // max(total, 1)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {self.unit} "
            f"{fps:.2f} {self.rate_unit} ETA {eta}{f' {note}' if note else ''}"
        )
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
