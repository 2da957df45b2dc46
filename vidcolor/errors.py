"""The few exception types vidcolor raises.

Every message is one line a user can act on: what failed and what to do next.
The CLI prints ``str(error)`` and exits non-zero; ``VIDCOLOR_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations


class VidcolorError(Exception):
    """Base class of every error vidcolor reports to the user."""

    exit_code = 1


class InputError(VidcolorError):
    """The input file cannot be used: not media, no video, unreadable, unsupported."""

    exit_code = 2


class DecodeError(InputError):
    """A frame could not be decoded; carries the frame index when known."""

    def __init__(self, message: str, frame: int | None = None) -> None:
        super().__init__(message)
        self.frame = frame

    def __reduce__(self) -> tuple[type, tuple[str, int | None]]:  # survives Ray's pickling
        return type(self), (str(self), self.frame)


class ConfigError(VidcolorError):
    """A configuration key, type or value is wrong."""

    exit_code = 3


class OutputError(VidcolorError):
    """The output cannot be written where or how the user asked."""

    exit_code = 4


class WeightsError(VidcolorError):
    """A weights file is missing, corrupt, unsafe or of the wrong architecture."""

    exit_code = 5


class FFmpegError(VidcolorError):
    """The ffmpeg binary failed; carries the command, exit code and the tail of stderr."""

    def __init__(self, what: str, cmd: list[str], returncode: int, stderr: str) -> None:
        tail = " | ".join(line for line in stderr.strip().splitlines()[-3:] if line.strip())
        super().__init__(f"{what} failed (ffmpeg exit {returncode}): {tail}")
        self.what = what
        self.cmd = cmd
        self.returncode = returncode
        self.stderr = stderr

    def __reduce__(self) -> tuple[type, tuple[str, list[str], int, str]]:
        return type(self), (self.what, self.cmd, self.returncode, self.stderr)


def ffmpeg_reason(error: Exception) -> str:
    """FFmpeg's reason for an ``av`` error, without the errno and file name PyAV adds to it."""
    return str(getattr(error, "strerror", None) or error)
