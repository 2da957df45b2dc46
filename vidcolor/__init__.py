"""vidcolor: colorize black-and-white video, keep everything else intact."""

__version__ = "0.1.0"
