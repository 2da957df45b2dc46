"""Color tags: FFmpeg's codes to names and back (values from libavutil/pixfmt.h)."""

from __future__ import annotations

import pytest

from vidcolor.colortags import TABLES, code_of, name_of


@pytest.mark.parametrize(
    ("kind", "code", "name"),
    [("range", 1, "tv"), ("range", 2, "pc"), ("space", 6, "smpte170m"), ("space", 1, "bt709"),
     ("primaries", 5, "bt470bg"), ("transfer", 13, "iec61966-2-1")],
)  # fmt: skip
def test_known_codes_and_names_map_both_ways(kind, code, name):
    assert name_of(kind, code) == name
    assert code_of(kind, name) == code


def test_every_table_round_trips():
    for kind, table in TABLES.items():
        assert all(code_of(kind, name) == code for code, name in table.items()), kind


def test_unset_and_unlisted_codes_are_unknown_and_unknown_is_unspecified():
    assert name_of("space", None) == name_of("space", 99) == "unknown"
    assert code_of("range", "unknown") == 0  # AVCOL_RANGE_UNSPECIFIED
    assert code_of("primaries", "unknown") == 2  # AVCOL_PRI_UNSPECIFIED
