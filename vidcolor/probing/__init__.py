"""``probe(path) -> VideoInfo``: every stream of a file, and the exact frames of one video stream.

:mod:`~vidcolor.probing.describe` reads the streams, :mod:`~vidcolor.probing.count` counts the
frames, :mod:`~vidcolor.probing.complete` checks the count against what the file states about
itself, and :mod:`~vidcolor.probing.report` formats the result for ``vidcolor probe``.
"""

from vidcolor.probing.describe import FIELD_ORDERS, KINDS, probe
from vidcolor.probing.report import format_info, to_dict

__all__ = ["FIELD_ORDERS", "KINDS", "format_info", "probe", "to_dict"]
