"""probe -> plan -> workers (:mod:`vidcolor.distributed`) -> assemble, resumable.

Everything that can be checked is checked before any frame is decoded: the input, the output
path, the container, every stream's fate and the weights. Finished segments are recorded in the
run's work folder (:mod:`vidcolor.resume`) as they arrive, so the same command after Ctrl-C, a
killed driver or a crash redoes only the rest, and the output equals an uninterrupted run's.
Ray is :mod:`vidcolor.distributed`'s alone: this module never imports it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from vidcolor import assemble as asm
from vidcolor import distributed
from vidcolor.chunks import Chunk, plan_chunks
from vidcolor.config import Config
from vidcolor.encode import CODEC_CONTAINERS, plan_encode
from vidcolor.errors import OutputError
from vidcolor.guidance import Guidance, load_guidance
from vidcolor.media import Segment, VideoInfo
from vidcolor.models.weights import check_weights_file, resolve_weights
from vidcolor.placement import check_address
from vidcolor.probing import probe
from vidcolor.progress import Progress
from vidcolor.resume import (
    WorkDir,
    default_work_dir,
    file_sha256,
    run_key,
    settings_digest,
    write_bytes_atomic,
)
from vidcolor.temporal.cuts import listed_cuts
from vidcolor.worker import Job

log = logging.getLogger(__name__)

ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class RunSummary:
    """What a finished run did."""

    output: Path
    frames: int
    seconds: float
    workers: int
    chunks: int
    model: str
    notes: tuple[str, ...]
    cuts: tuple[int, ...] | None = None  # frames that start a shot; None: not looked for
    reused: int = 0  # segments reused from a stopped run
    nodes: int = 1  # Ray nodes that colorized at least one chunk
    replaced: tuple[int, ...] = ()  # frames the decoder could not decode (skip_bad_frames)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def run(
    source: Path,
    output: Path | None,
    config: Config,
    *,
    overwrite: bool = False,
    stream: int | None = None,
    references: Sequence[Path] = (),
    hints: Path | None = None,
    on_progress: ProgressFn | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunSummary:
    """Colorizes ``source`` into ``output`` (default: ``<stem>.color.<ext>`` beside it).

    ``references`` (pictures or folders of them) and ``hints`` (a CSV file) give shots their
    colors (:mod:`vidcolor.guidance`); they are checked before any work.

    Raises:
        VidcolorError: for anything the user can fix; nothing is left at the output path, and
            finished segments stay in the work folder for the next run to reuse.
    """
    began = time.monotonic()
    note = on_note or log.warning
    info = probe(Path(source), stream=stream)
    plan = _plan_output(info, output, config, overwrite)
    weights_sha = None
    if config.model.weights:  # bad weights fail here, before Ray and any worker start
        weights_sha = check_weights_file(*resolve_weights(config.model.weights))
    if config.run.address:  # before hashing the source, which takes a while for a long film
        check_address(config.run.address)
    listed = listed_cuts(config.smooth.cuts, info.video.frame_count)
    guidance = Guidance()
    if references or hints:
        guidance = load_guidance(info, references, hints, on_note=note)
    spec = plan_encode(info.video, config.encode, plan.container)
    for line in plan.notes:
        note(line)
    chunks = plan_chunks(info.video.frame_count, config.chunks.size, config.smooth.halo)
    extra = {"stream": info.video.index, "encode": asdict(spec), "cuts": listed}
    if guidance.frames:  # unguided runs keep the keys they always had
        extra["guidance"] = guidance.digest()
    key = run_key(file_sha256(info.path), settings_digest(config, extra), weights_sha)
    root = Path(config.run.work_dir).expanduser().absolute() if config.run.work_dir else None
    work = WorkDir.open(default_work_dir(plan.path, root), key, chunks, config.run.resume)
    log.info("run %s -> %s; key %s; work folder %s", info.path, plan.path, key[:16], work.path)
    reused = len(work.records)
    if work.discarded:
        note(f"segments in {work.path} not reused: {work.discarded}")
    if reused:
        note(f"resuming: {reused} of {len(chunks)} segment(s) reused from {work.path}")
    try:
        job = Job(info=info, spec=spec, cuts=listed, guidance=guidance)
        workers = _run_pending(job, work, config, on_progress)
        _join(info, plan, work.segments(), chunks, work.path, overwrite)
    except BaseException:
        if work.records:
            note(f"{len(work.records)} finished segment(s) kept in {work.path}: "
                 "run the same command to resume")  # fmt: skip
        else:
            work.remove()
        raise
    if not config.run.keep_work:
        work.remove()
    segments = work.segments()
    replaced = tuple(f for s in segments for f in s.replaced)
    if replaced:
        note(_replaced_note(replaced))
    return RunSummary(
        plan.path,
        info.video.frame_count,
        time.monotonic() - began,
        len(workers),
        len(chunks),
        workers[0].model if workers else "(every segment reused)",
        plan.notes,
        _cuts(segments),
        reused,
        len({w.node for w in workers}),
        replaced,
    )


def _replaced_note(frames: Sequence[int]) -> str:
    """``3 damaged frame(s) replaced by their neighbours: 30, 31, 57`` (runs as ``30..41``)."""
    runs: list[list[int]] = []
    for frame in frames:
        if runs and frame == runs[-1][-1] + 1:
            runs[-1].append(frame)
        else:
            runs.append([frame])
    listed = ", ".join(
        f"{run[0]}..{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs
    )
    return f"{len(frames)} damaged frame(s) replaced by their neighbours: {listed}"


def _run_pending(
    job: Job, work: WorkDir, config: Config, on_progress: ProgressFn | None
) -> list[distributed.WorkerInfo]:
    """Colorizes the chunks the work folder lacks, recording each as it arrives."""
    pending = work.pending()
    total = job.info.video.frame_count
    reused_frames = total - sum(c.frames for c in pending)
    if not pending:
        return []

    def keep(segment: Segment, data: bytes | None) -> None:
        if data is not None:
            write_bytes_atomic(work.path / segment.name, data)
        work.record(segment)

    def progress(frames: int, busy: int, workers: int) -> None:
        if on_progress:
            done = min(reused_frames + frames, total)
            on_progress(Progress(done, total, busy, workers, reused_frames))

    return distributed.run_chunks(job, pending, config, work.path, work.key, keep, progress)


def _cuts(segments: Sequence[Segment]) -> tuple[int, ...] | None:
    found = [s.cuts for s in segments]
    return None if any(c is None for c in found) else tuple(f for c in found for f in c or ())


def _plan_output(
    info: VideoInfo, output: Path | None, config: Config, overwrite: bool
) -> asm.OutputPlan:
    default = asm.default_output(info.path, _default_container(info, config.encode.codec))
    output = default if output is None else output
    container = asm.container_for(output) or ""
    if not container:
        raise OutputError(
            f"cannot write {output.name}: use an .mp4, .mov or .mkv output name (an .avi, "
            f".webm or other input gets .mkv by default: without -o, {default.name})"
        )
    output = output.absolute()
    if output.resolve() == info.path.resolve():
        raise OutputError(f"output {output} is the input; choose another name with -o")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} already exists; use --overwrite to replace it")
    if not output.parent.is_dir():
        raise OutputError(f"output folder {output.parent} does not exist; create it first")
    if not os.access(output.parent, os.W_OK):
        raise OutputError(f"output folder {output.parent} is not writable")
    return asm.plan_output(info, container, output)


def _default_container(info: VideoInfo, codec: str) -> str:
    """The input's own container when it holds ``codec``, else the codec's first choice; an
    input in any other container (avi, webm, ts ...) gets mkv, which holds whatever it had."""
    own = asm.container_for(info.path)
    container = own if own in CODEC_CONTAINERS[codec] else CODEC_CONTAINERS[codec][0]
    return "mkv" if container == "mp4" and own != "mp4" else container


def _join(
    info: VideoInfo,
    plan: asm.OutputPlan,
    segments: Sequence[Segment],
    chunks: Sequence[Chunk],
    work_dir: Path,
    overwrite: bool,
) -> None:
    video = info.video
    durations = asm.segment_durations(
        video.pts, [c.start for c in chunks], video.time_base, video.fps
    )
    concat = work_dir / "segments.ffconcat"
    # Names relative to the list's folder: the concat demuxer resolves them there.
    asm.write_concat_list(concat, [Path(s.name) for s in segments], durations)
    asm.assemble(info, plan, concat, overwrite=overwrite)
