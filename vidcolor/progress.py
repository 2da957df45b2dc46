"""A one-line progress bar: frames done, fps and ETA."""

from __future__ import annotations

import time
from typing import TextIO


def format_eta(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """Redraws one line on a terminal; elsewhere (logs, CI) prints a line every ``interval`` s."""

    def __init__(self, stream: TextIO, interval: float = 10.0) -> None:
        self.stream = stream
        self.interval = interval
        self.tty = stream.isatty()
        self._start = time.monotonic()
        self._last_print = 0.0
        self._last_done = -1

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == self._last_done and now - self._last_print < self.interval:
            return
        if not self.tty and now - self._last_print < self.interval and done < total:
            return
        self._last_done, self._last_print = done, now
        elapsed = now - self._start
        fps = done / elapsed if elapsed > 0 else 0.0
        eta = format_eta((total - done) / fps) if fps > 0 else "?"
        width = 30
        filled = width * done // max(total, 1)
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} frames "
            f"{fps:.2f} fps ETA {eta}"
        )
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
