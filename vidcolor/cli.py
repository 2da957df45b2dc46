"""Command line: parse -> config -> one library call -> exit code. No logic lives here.

One module past 300 lines: the argument tables of the six subcommands, each call a few lines.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from vidcolor import __version__
from vidcolor.config import CODECS, DEVICES, SMOOTH_MODES
from vidcolor.errors import ConfigError, VidcolorError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidcolor", description="Colorize black-and-white video; keep everything else."
    )
    parser.add_argument("--version", action="version", version=f"vidcolor {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="colorize a video")
    run.add_argument("input", type=Path)
    run.add_argument("-o", "--output", type=Path, help="output file (default: IN.color.EXT)")
    run.add_argument("--config", type=Path, help="YAML file with config overrides")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set smooth.radius=5",
    )
    run.add_argument("--workers", type=int, help="number of Ray workers (default: fill machine)")
    run.add_argument("--device", choices=DEVICES)
    run.add_argument("--render-factor", type=int, help="network input long side / 16")
    run.add_argument("--codec", choices=CODECS)
    run.add_argument(
        "--weights",
        help="a .safetensors file, or a shipped or installed name (vidcolor weights list)",
    )
    run.add_argument("--address", help="existing Ray cluster: auto, HOST:PORT or ray://HOST:10001")
    run.add_argument("--cpus-per-worker", type=int, help="CPUs (torch threads) per worker")
    run.add_argument("--gpus-per-worker", type=float, help="GPUs per worker (0.5 shares one)")
    run.add_argument("--work-dir", help="folder for segments and the resume manifest")
    run.add_argument("--no-resume", action="store_true", help="redo segments of a stopped run")
    run.add_argument("--keep-work", action="store_true", help="keep the work folder after success")
    run.add_argument("--log-file", type=Path, help="append a log of the run (workers, chunks)")
    run.add_argument("--stream", type=int, help="index of the video stream to colorize")
    run.add_argument(
        "--skip-bad-frames",
        action="store_true",
        help="give frames the decoder cannot decode their nearest good neighbour's picture "
        "(each keeps its timestamp; the run lists them) instead of stopping",
    )
    _add_guidance_arguments(run)
    _add_smooth_arguments(run)
    run.add_argument("--overwrite", action="store_true", help="replace an existing output")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("-v", "--verbose", action="store_true", help="also print the scene cuts")

    probe = sub.add_parser("probe", help="show what vidcolor sees in a file")
    probe.add_argument("input", type=Path)
    probe.add_argument("--stream", type=int, help="index of the video stream to describe")
    probe.add_argument("--json", action="store_true", help="machine-readable output")
    shots = sub.add_parser("shots", help="write the first frame of every shot, to paint")
    shots.add_argument("input", type=Path)
    shots.add_argument("--out", type=Path, required=True, help="folder for the PNGs, "
                       "shots.csv and index.html (created if missing)")  # fmt: skip
    shots.add_argument("--stream", type=int, help="index of the video stream to read")
    shots.add_argument("--config", type=Path, help="YAML file with config overrides")
    shots.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    shots.add_argument("--cuts", metavar="FRAMES|FILE", help="frames that start a new shot, "
                       "besides the detected ones (as for run)")  # fmt: skip
    shots.add_argument("--cuts-only", action="store_true", help="no cut detection")
    shots.add_argument("--overwrite", action="store_true", help="replace earlier shots files")
    train = sub.add_parser("train", help="train the native model on folders of color images")
    train.add_argument("data", type=Path, nargs="*", help="folders of .jpg/.png color images, "
                       "one image set each")  # fmt: skip
    train.add_argument("--out", type=Path, help="folder for checkpoint.pt")
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR "
                       "with the config and folders its checkpoint records")  # fmt: skip
    train.add_argument("--export", type=Path, help="write the trained weights here at the end")
    train.add_argument("--device", default="auto", choices=DEVICES)
    train.add_argument("--until", type=int, help="stop at this step (the schedule still "
                       "runs to --steps; run again without it to continue)")  # fmt: skip
    for name, kind in (("arch", str), ("loss", str), ("crop", int), ("batch-size", int),
                       ("steps", int), ("lr", float), ("seed", int), ("render-factor", int),
                       ("checkpoint-every", int), ("warmup", int), ("rebalance", float),
                       ("holdout-every", int), ("set-weighting", str), ("init", str),
                       ("hint-none", float), ("hint-geometric", float), ("hint-max-patch", int),
                       ("checkpoint-minutes", float), ("snapshot-every", int)):  # fmt: skip
        train.add_argument(f"--{name}", type=kind)
    train.add_argument("--schedule", metavar="STEP:CROP:BATCH,...",
                       help="progressive resizing, e.g. 0:96:16,6000:160:8")  # fmt: skip
    train.add_argument("--hints", action="store_const", const=True,
                       help="train the network that also takes ab hints (Zhang 2017)")  # fmt: skip
    train.add_argument("--film", action="store_const", const=True,
                       help="degrade inputs like old film (grain, blur, dust, ...)")  # fmt: skip

    ev = sub.add_parser("eval", help="score colorization on color images or a color video")
    ev.add_argument("source", type=Path, help="a folder of color images, or a color video")
    ev.add_argument("--weights", help="weights file (.safetensors); default: the configured one")
    ev.add_argument("--config", type=Path, help="YAML file with config overrides")
    ev.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ev.add_argument("--render-factor", type=int)
    ev.add_argument("--mean-ab-from", type=Path, help="training images for the mean-ab baseline")
    ev.add_argument("--limit", type=int, help="score only the first N images or frames")
    ev.add_argument("--start", type=int, default=0, help="video: the first frame scored")
    _add_guidance_arguments(ev)
    _add_smooth_arguments(ev)
    ev.add_argument("--report", type=Path, required=True, help="JSON report to write")
    ev.add_argument("--sheet", type=Path, help="contact sheet PNG (gray | ours | truth)")

    sample = sub.add_parser("sample", help="write a generated gray sample film to try vidcolor on")
    sample.add_argument("output", type=Path)

    weights = sub.add_parser("weights", help="import DeOldify's weights; list what is installed")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True)
    imp = weights_sub.add_parser("import", help="install a DeOldify *_gen.pth checkpoint")
    imp.add_argument("checkpoint", type=Path, help="e.g. ColorizeArtistic_gen.pth")
    imp.add_argument("--name", help="name to install under (default: deoldify-ARCH)")
    imp.add_argument("--arch", choices=["artistic", "stable", "video"],
                     help="default: from the keys; stable vs video from the file name")  # fmt: skip
    imp.add_argument("--overwrite", action="store_true", help="replace weights of that name")
    weights_sub.add_parser("list", help="show shipped and installed weights")
    return parser


def _add_guidance_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--references", type=Path, nargs="+", default=[], metavar="PATH",
                        help="color pictures of frames (files or folders, named by the "
                        "frame, e.g. 000450.png): their shots take their colors")  # fmt: skip
    parser.add_argument("--hints", type=Path, metavar="CSV", help="point colors: a CSV with "
                        "the header frame,x,y,r,g,b (optional radius)")  # fmt: skip


def _add_smooth_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smooth",
        choices=SMOOTH_MODES,
        help="temporal smoothing of color: flow-guided (default), a plain window, or none",
    )
    parser.add_argument(
        "--cuts",
        metavar="FRAMES|FILE",
        help="frames that start a new shot, e.g. 120,455, or a file with one per line "
        "(smoothing never mixes frames across a cut)",
    )
    parser.add_argument(
        "--cuts-only", action="store_true", help="no cut detection: only the --cuts frames"
    )


def _overrides(args: argparse.Namespace) -> list[str]:
    flags = {
        "workers": "run.workers",
        "device": "model.device",
        "render_factor": "model.render_factor",
        "codec": "encode.codec",
        "weights": "model.weights",
        "address": "run.address",
        "cuts": "smooth.cuts",
        "smooth": "smooth.mode",
        "cpus_per_worker": "run.cpus_per_worker",
        "gpus_per_worker": "run.gpus_per_worker",
        "work_dir": "run.work_dir",
    }
    out = list(args.set)
    switches = {"cuts_only": "smooth.detect_cuts=false", "no_resume": "run.resume=false",
                "keep_work": "run.keep_work=true",
                "skip_bad_frames": "decode.skip_bad_frames=true"}  # fmt: skip
    out += [key for attr, key in switches.items() if getattr(args, attr, False)]
    for attr, key in flags.items():
        value = getattr(args, attr, None)
        if value is not None:
            out.append(f"{key}={json.dumps(value) if isinstance(value, str) else value}")
    return out


def _cmd_run(args: argparse.Namespace) -> int:
    from vidcolor.config import load_config
    from vidcolor.pipeline import run
    from vidcolor.progress import Progress, ProgressBar

    config = load_config(args.config, _overrides(args))
    if args.log_file:
        _log_to(args.log_file)
    bar = None if args.quiet else ProgressBar(sys.stderr)

    def show(progress: Progress) -> None:
        if bar:
            bar.initial = progress.reused  # rate and ETA count this run's frames only
            note = f"{progress.busy}/{progress.workers} worker(s) busy"
            bar.update(progress.done, progress.total, note)

    def note(line: str) -> None:
        logging.getLogger("vidcolor").info("note: %s", line)
        _print_note(line)

    try:
        summary = run(args.input, args.output, config, overwrite=args.overwrite,
                      stream=args.stream, references=args.references, hints=args.hints,
                      on_progress=show, on_note=note)  # fmt: skip
    finally:
        if bar:
            bar.close()
    extra = f", {summary.reused} reused" if summary.reused else ""
    if summary.replaced:
        extra += f", {len(summary.replaced)} damaged frame(s) replaced"
    line = (
        f"{summary.output}  {summary.frames} frames in {summary.seconds:.1f} s "
        f"({summary.fps:.2f} fps, {summary.workers} worker(s) on {summary.nodes} node(s), "
        f"{summary.chunks} chunk(s){extra}; model: {summary.model})"
    )
    logging.getLogger("vidcolor").info("done: %s", line)
    print(line)
    if args.verbose:
        print(_cuts_line(summary.cuts))
    return 0


def _log_to(path: Path) -> None:
    """Appends vidcolor's log (workers, chunks, notes, the summary) to ``path``."""
    try:
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as error:
        raise VidcolorError(f"cannot write the log file {path}: {error.strerror}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("vidcolor")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _cuts_line(cuts: Sequence[int] | None) -> str:
    if cuts is None:
        return "scene cuts: not looked for (smoothing is off)"
    frames = ", ".join(map(str, cuts)) or "none"
    return f"scene cuts at frames: {frames} ({len(cuts) + 1} shot(s))"


def _cmd_probe(args: argparse.Namespace) -> int:
    from vidcolor.probing import format_info, probe, to_dict

    info = probe(args.input, stream=args.stream)
    print(json.dumps(to_dict(info), indent=2) if args.json else format_info(info))
    return 0


def _cmd_shots(args: argparse.Namespace) -> int:
    from vidcolor.config import load_config
    from vidcolor.shots import CSV_NAME, SHEET_NAME, write_shots

    config = load_config(args.config, _overrides(args))
    shots = write_shots(args.input, args.out, config, stream=args.stream,
                        overwrite=args.overwrite)  # fmt: skip
    print(f"{len(shots)} shot(s): {args.out / CSV_NAME}, {args.out / SHEET_NAME}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    import vidcolor
    from vidcolor.progress import ProgressBar
    from vidcolor.training import FilmAugment, TrainConfig, Trainer, parse_schedule

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    chosen = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if args.resume is not None:
        if chosen or args.data or args.out:
            extra = ["FOLDER"] * bool(args.data) + ["--out"] * (args.out is not None)
            given = ", ".join([*(f"--{k.replace('_', '-')}" for k in chosen), *extra])
            raise ConfigError(f"--resume reads the config and folders from its checkpoint; "
                              f"drop {given}")  # fmt: skip
        trainer = Trainer.resume(args.resume, device=args.device)
    else:
        if not args.data or args.out is None:
            raise ConfigError("vidcolor train needs FOLDER... and --out DIR (or --resume DIR)")
        if "schedule" in chosen:
            chosen["schedule"] = parse_schedule(chosen["schedule"])
        if chosen.get("film"):
            chosen["film"] = FilmAugment()
        trainer = Trainer(TrainConfig(**chosen), args.data, args.out, device=args.device)
    print(f"vidcolor {Path(vidcolor.__file__).parent}: {len(trainer.paths)} training images, "
          f"{len(trainer.validation)} held out", flush=True)  # fmt: skip
    if trainer.step:
        print(f"resuming from {trainer.checkpoint_path} at step {trainer.step}", flush=True)
    bar = ProgressBar(sys.stderr, interval=30.0, unit="steps", initial=trainer.step)
    trainer.out_dir.mkdir(parents=True, exist_ok=True)
    with open(trainer.out_dir / "progress.log", "a", encoding="utf-8") as log:
        logged = ProgressBar(log, interval=60.0, unit="steps", initial=trainer.step)

        def on_step(step: int, steps: int, loss: float) -> None:
            note = f"loss {loss:.4f} crop {trainer.cfg.phase(step)[0]}"
            bar.update(step, steps, note)
            logged.update(step, steps, note)

        trainer.run(on_step=on_step, until=args.until)
    bar.close()
    if args.export:
        trainer.export(args.export)
        print(f"weights written to {args.export}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from vidcolor import evaluate
    from vidcolor.colorize import Colorizer
    from vidcolor.config import load_config

    config = load_config(args.config, _overrides(args))
    colorizer = Colorizer(config.model)
    mean = evaluate.mean_ab(args.mean_ab_from) if args.mean_ab_from else (0.0, 0.0)
    common = {"render_factor": config.model.render_factor, "mean_ab": mean,
              "sheet_path": args.sheet}  # fmt: skip
    if args.source.is_dir() and (args.references or args.hints):
        raise ConfigError("--references and --hints score a video; drop them for a folder")
    if args.source.is_dir():
        report = evaluate.evaluate_images(colorizer, args.source, limit=args.limit, **common)
    else:
        guidance = None
        if args.references or args.hints:
            from vidcolor.guidance import load_guidance
            from vidcolor.probing import probe

            guidance = load_guidance(probe(args.source), args.references, args.hints,
                                     on_note=_print_note)  # fmt: skip
        report = evaluate.evaluate_video(
            colorizer,
            args.source,
            max_frames=args.limit,
            start=args.start,
            smooth=config.smooth,
            guidance=guidance,
            **common,
        )
    evaluate.write_report(report, args.report)
    for method, scores in report["methods"].items():
        print(
            f"{method:8s} PSNR {scores['psnr_rgb']:.2f} dB  PSNR-ab {scores['psnr_ab']:.2f} dB  "
            f"CF {scores['colorfulness']:.1f}  dCF {scores['delta_colorfulness']:.1f}"
            + _temporal(scores)
        )
    print(
        f"truth    CF {report['truth']['colorfulness']:.1f}{_temporal(report['truth'])}  "
        f"({report['count']} pictures; model: {colorizer.description})"
    )
    if "smooth" in report:
        print(f"ours smoothed: {report['smooth']['mode']}; {_cuts_line(report['smooth']['cuts'])}")
    return 0


def _temporal(scores: dict[str, float]) -> str:
    """Warp error (RGB x 1000, and ab) and CDC of a video report's entry; empty for images."""
    if "warp_error" not in scores:
        return ""
    we, we_ab, cdc = (scores[k] for k in ("warp_error", "warp_error_ab", "cdc"))
    if not all(map(math.isfinite, (we, we_ab, cdc))):
        return "  (no two frames in a shot: no temporal scores)"
    return f"  WE {1000 * we:.3f}e-3  WE-ab {we_ab:.3f}  CDC {cdc:.5f}"


def _cmd_weights(args: argparse.Namespace) -> int:
    from vidcolor.models.weights import manage

    if args.weights_command == "list":
        print(manage.weights_listing())
        return 0
    done = manage.import_checkpoint(
        args.checkpoint, name=args.name, arch=args.arch, overwrite=args.overwrite
    )
    print(f"installed {done.name} ({done.arch}, from {done.source}) at {done.path}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from vidcolor.sample import write_sample

    print(write_sample(args.output))
    return 0


def _print_note(line: str) -> None:
    print(f"vidcolor: note: {_one_line(line)}", file=sys.stderr)


def _one_line(text: str) -> str:
    """A message on one line even when a file name in it holds a line break."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vidcolor`` command; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="vidcolor: %(levelname)s: %(message)s")
    for handler in logging.getLogger().handlers:  # the terminal: warnings only, even when
        handler.setLevel(logging.WARNING)  # --log-file lets vidcolor's INFO records through
    commands = {
        "run": _cmd_run,
        "probe": _cmd_probe,
        "shots": _cmd_shots,
        "sample": _cmd_sample,
        "train": _cmd_train,
        "eval": _cmd_eval,
        "weights": _cmd_weights,
    }
    started = time.monotonic()
    try:
        return commands[args.command](args)
    except VidcolorError as exc:
        if os.environ.get("VIDCOLOR_DEBUG"):
            traceback.print_exc()
        print(f"vidcolor: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"vidcolor: interrupted after {time.monotonic() - started:.0f} s", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
