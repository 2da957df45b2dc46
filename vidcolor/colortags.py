"""FFmpeg's color tag names and their numeric codes (libavutil/pixfmt.h).

PyAV exposes a stream's color range, matrix, primaries and transfer as the integers of FFmpeg's
``AVColor*`` enums; people and ``ffprobe`` use the names. Probe turns codes into names, encode
turns names back into codes, both through these tables.
"""

from __future__ import annotations

RANGE = {0: "unknown", 1: "tv", 2: "pc"}
SPACE = {
    0: "gbr", 1: "bt709", 2: "unknown", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
    8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc",
    13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip
PRIMARIES = {
    1: "bt709", 2: "unknown", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
    8: "film", 9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}  # fmt: skip
TRANSFER = {
    1: "bt709", 2: "unknown", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
    8: "linear", 9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e",
    13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428",
    18: "arib-std-b67",
}  # fmt: skip

TABLES = {"range": RANGE, "space": SPACE, "primaries": PRIMARIES, "transfer": TRANSFER}


def name_of(kind: str, code: int | None) -> str:
    """The FFmpeg name of a color tag code; "unknown" for unset or unlisted codes."""
    if code is None:
        return "unknown"
    return TABLES[kind].get(int(code), "unknown")


def code_of(kind: str, name: str) -> int:
    """The numeric code of a color tag name; the "unspecified" code for "unknown"."""
    for code, known in TABLES[kind].items():
        if known == name:
            return code
    return 0 if kind == "range" else 2
