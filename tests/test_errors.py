"""Errors: an exit code per kind, fields that survive Ray's pickling, ffmpeg's tail in one line."""

from __future__ import annotations

import pickle

import av
import pytest

from vidcolor.errors import (
    ConfigError,
    DecodeError,
    FFmpegError,
    InputError,
    OutputError,
    VidcolorError,
    WeightsError,
    ffmpeg_reason,
)


def test_each_kind_has_its_own_exit_code():
    kinds = [VidcolorError, InputError, ConfigError, OutputError, WeightsError]
    assert [k.exit_code for k in kinds] == [1, 2, 3, 4, 5]
    assert DecodeError.exit_code == InputError.exit_code  # a damaged file is a bad input


def test_decode_and_ffmpeg_errors_keep_their_fields_through_pickling():
    decode = pickle.loads(pickle.dumps(DecodeError("film.mkv: frame 7 is damaged", frame=7)))
    assert (str(decode), decode.frame) == ("film.mkv: frame 7 is damaged", 7)
    failed = FFmpegError("joining", ["ffmpeg", "-i", "x"], 1, "a\n\nb\nc: Invalid data\n")
    again = pickle.loads(pickle.dumps(failed))
    assert str(again) == str(failed) == "joining failed (ffmpeg exit 1): b | c: Invalid data"
    assert (again.cmd, again.returncode) == (["ffmpeg", "-i", "x"], 1)


def test_ffmpeg_reason_drops_the_errno_and_file_name(tmp_path):
    with pytest.raises(av.FFmpegError) as caught:
        av.open(str(tmp_path / "missing.mp4"))
    reason = ffmpeg_reason(caught.value)
    assert reason == "No such file or directory"
    assert "missing.mp4" in str(caught.value) and "missing.mp4" not in reason
