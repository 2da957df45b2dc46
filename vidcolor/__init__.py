"""vidcolor: colorize black-and-white video, keep everything else intact.

The library's face, as the CLI uses it::

    import vidcolor

    summary = vidcolor.run("movie.mp4")  # writes movie.color.mp4 beside it
    info = vidcolor.probe("movie.mp4")  # streams, exact frame count and pts
    shots = vidcolor.write_shots("movie.mp4", "shots/")  # each shot's first frame, to paint
    rgb = vidcolor.colorize_image(gray)  # one picture, (H, W) or (H, W, 3) uint8

Heavy modules (torch, PyAV, Ray) load on the first call, not on ``import vidcolor``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from vidcolor.config import Config
    from vidcolor.media import VideoInfo
    from vidcolor.pipeline import RunSummary
    from vidcolor.progress import Progress
    from vidcolor.shots import Shot

__version__ = "0.1.0"
__all__ = ["__version__", "colorize_image", "probe", "run", "write_shots"]


def run(
    source: str | Path,
    output: str | Path | None = None,
    *,
    config: Config | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
    stream: int | None = None,
    references: Sequence[str | Path] = (),
    hints: str | Path | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunSummary:
    """Colorizes the video ``source`` into ``output`` (default ``<stem>.color.<ext>`` beside it).

    Args:
        config: The settings; by default ``configs/default.yaml``'s defaults with
            ``overrides`` (``"section.key=value"`` strings, as ``--set`` takes them).
        overwrite: Replace an existing output.
        stream: Index of the video stream to colorize (default: the main one).
        references: Color pictures of frames, or folders of them (named by the frame, e.g.
            ``000450.png``): their shots take their colors.
        hints: A CSV file of point colors (``frame,x,y,r,g,b[,radius]``).
        on_progress: Called with the run's :class:`~vidcolor.progress.Progress` as it goes.
        on_note: Called with each note (a converted stream, resumed segments ...); by default
            they are logged as warnings.

    Raises:
        VidcolorError: for anything the user can fix, with a one-line message.
    """
    from vidcolor.config import load_config
    from vidcolor.pipeline import run as run_pipeline

    chosen = config if config is not None else load_config(None, overrides)
    return run_pipeline(
        Path(source),
        None if output is None else Path(output),
        chosen,
        overwrite=overwrite,
        stream=stream,
        references=[Path(p) for p in references],
        hints=None if hints is None else Path(hints),
        on_progress=on_progress,
        on_note=on_note,
    )


def probe(path: str | Path, stream: int | None = None) -> VideoInfo:
    """What vidcolor sees in a file: every stream, and every frame's pts of one video stream."""
    from vidcolor.probing import probe as probe_file

    return probe_file(Path(path), stream=stream)


def write_shots(
    source: str | Path,
    out_dir: str | Path,
    *,
    config: Config | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
    stream: int | None = None,
) -> tuple[Shot, ...]:
    """Writes the first frame of every shot of ``source`` into ``out_dir`` as a gray PNG named
    by its zero-based frame number, with ``shots.csv`` and an ``index.html`` contact sheet.

    The shots are the ones a run with the same settings finds (``smooth.cut_threshold``,
    ``smooth.cuts``, ``smooth.detect_cuts``). See :func:`vidcolor.shots.write_shots`.

    Raises:
        VidcolorError: for anything the user can fix, with a one-line message.
    """
    from vidcolor.config import load_config
    from vidcolor.shots import write_shots as write

    chosen = config if config is not None else load_config(None, overrides)
    return write(Path(source), Path(out_dir), chosen, stream=stream, overwrite=overwrite)


def colorize_image(
    image: np.ndarray, *, config: Config | None = None, overrides: Sequence[str] = ()
) -> np.ndarray:
    """Colorizes one picture with the configured weights and render factor.

    Args:
        image: ``(H, W)`` gray or ``(H, W, 3)`` RGB, uint8; only its BT.601 luma is used.
        config: The settings (only ``model`` is used); by default the defaults with
            ``overrides``.

    Returns:
        ``(H, W, 3)`` uint8 RGB: the picture's own lightness with the predicted colors.
    """
    import numpy as np

    from vidcolor.colorize import Colorizer
    from vidcolor.config import load_config
    from vidcolor.evaluate import colorize_image as colorize_rgb

    chosen = config if config is not None else load_config(None, overrides)
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
    colorizer = Colorizer(chosen.model)
    return colorize_rgb(colorizer, rgb, render_factor=chosen.model.render_factor)
