"""Colors over time: where shots begin (:mod:`~vidcolor.temporal.cuts`), how pixels move
(:mod:`~vidcolor.temporal.flow`), and the smoothing of ab along that motion within a shot
(:mod:`~vidcolor.temporal.smooth`), behind one stage object (:mod:`~vidcolor.temporal.stage`)
that the worker and ``vidcolor eval`` share.
"""

from vidcolor.temporal.stage import TemporalStage

__all__ = ["TemporalStage"]
