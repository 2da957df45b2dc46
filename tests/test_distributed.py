"""Runs on a real multi-node Ray cluster, and runs that lose workers: same output every time."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import ray
from media import ClipSpec, make_clip
from ray.cluster_utils import Cluster

from vidcolor.config import RunConfig, load_config
from vidcolor.distributed import actors, schedule, session
from vidcolor.errors import VidcolorError, WeightsError
from vidcolor.pipeline import run
from vidcolor.placement import uses_ray_transfer

# The shipped weights: on a cluster without shared storage they travel to the nodes too.
FAST = ["model.render_factor=4", "encode.preset=ultrafast", "model.weights=default"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cluster")
    return make_clip(folder / "film.mp4", ClipSpec(frames=60, audio=True, size=(96, 64)))


@pytest.fixture(scope="module")
def reference(clip, tmp_path_factory) -> Path:
    """One worker on the embedded local Ray, every chunk in turn."""
    out = tmp_path_factory.mktemp("ref") / "ref.mp4"
    config = load_config(None, [*FAST, "chunks.size=16", "run.workers=1"])
    run(clip, out, config)
    return out


@pytest.mark.slow
def test_two_node_cluster_spreads_chunks_and_matches_one_local_worker(clip, reference, tmp_path):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2, num_gpus=1)  # a logical GPU: no CUDA needed to schedule on it
    try:
        cluster.wait_for_nodes()
        common = [*FAST, "chunks.size=16", f"run.address={cluster.address}", "model.device=cpu"]
        # No shared folder assumed: the source goes through the object store, segments back.
        through_ray = run(clip, tmp_path / "ray.mp4", load_config(None, common))
        shared = load_config(None, [*common, f"run.work_dir={tmp_path / 'shared'}"])
        by_path = run(clip, tmp_path / "shared.mp4", shared)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert uses_ray_transfer(load_config(None, common).run)
    assert not uses_ray_transfer(shared.run)
    assert through_ray.workers == 2 and through_ray.nodes == 2
    assert "/vidcolor-" in through_ray.model  # each node's copy of the driver's weights file
    assert "weights/vidcolor-default.safetensors" in by_path.model
    assert digest(through_ray.output) == digest(reference)
    assert digest(by_path.output) == digest(reference)
    assert not list((tmp_path / "shared").iterdir())  # the work folder went after success


@pytest.mark.slow
def test_a_worker_that_cannot_start_says_why_not_that_it_died(tmp_path):
    missing = load_config(None, [f"model.weights={tmp_path / 'gone.safetensors'}"])
    with session.session(RunConfig()):
        actor_cls = ray.remote(actors.RayWorker).options(num_cpus=0)
        no_weights = actor_cls.remote(missing, 1, None)
        with pytest.raises(WeightsError, match=r"gone\.safetensors"):
            schedule._get(no_weights.describe.remote(), None)
        bad_threads = actor_cls.remote(load_config(None, FAST), -1, None)
        with pytest.raises(VidcolorError, match=r"a worker could not start on .*: RuntimeError"):
            schedule._get(bad_threads.describe.remote(), None)


# -- faults: a subprocess run as a user starts it, watched through its --log-file --------------

RUN = ["--render-factor", "4", "--set", "encode.preset=ultrafast", "--set", "model.weights=null",
       "--set", "chunks.size=12", "--workers", "1", "-q"]  # fmt: skip


def start(clip: Path, out: Path, log: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "vidcolor.cli", "run", str(clip), "-o", str(out)]
    return subprocess.Popen(
        [*command, *RUN, "--log-file", str(log), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell that starts jobs in the background ignores SIGINT in them, and children
        # inherit that; a user's terminal does not, so Ctrl-C is restored for the run.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def wait_for(log: Path, pattern: str, count: int = 1, timeout: float = 120) -> list[re.Match]:
    """The first ``count`` matches of ``pattern`` in the log, waiting for them to appear."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        found = list(re.finditer(pattern, text))
        if len(found) >= count:
            return found[:count]
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} x{count} not in the log after {timeout} s:\n{text}")


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


@pytest.mark.slow
def test_worker_killed_mid_chunk_is_replaced_and_output_unchanged(clip, tmp_path):
    undisturbed = tmp_path / "calm.mp4"
    assert finish(start(clip, undisturbed, tmp_path / "calm.log"))[0] == 0
    log, out = tmp_path / "run.log", tmp_path / "out.mp4"
    process = start(clip, out, log)
    (pid,) = (int(m[1]) for m in wait_for(log, r"worker 0: pid (\d+)"))
    wait_for(log, r"chunk 1 \(frames 12\.\.23\) -> worker 0")  # chunk 0 done, chunk 1 started
    os.kill(pid, signal.SIGKILL)
    code, stdout, stderr = finish(process)
    assert code == 0, stderr
    assert "60 frames" in stdout
    assert digest(out) == digest(undisturbed)
    done = {
        int(m[1]): int(m[2]) for m in re.finditer(r"chunk (\d+) done .*pid (\d+)", log.read_text())
    }
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert done[0] == pid and done[1] != pid  # chunk 1 was re-run by the replacement worker


@pytest.mark.slow
@pytest.mark.parametrize("change", [[], ["--set", "encode.crf=20"]], ids=["same", "changed"])
def test_killed_driver_resumes_with_finished_segments(clip, tmp_path, change):
    undisturbed = tmp_path / "calm.mp4"
    assert finish(start(clip, undisturbed, tmp_path / "calm.log", *change))[0] == 0
    log, out = tmp_path / "run.log", tmp_path / "out.mp4"
    process = start(clip, out, log)
    wait_for(log, r"chunk \d+ done", count=2)
    process.kill()  # SIGKILL: no cleanup runs
    process.wait()
    assert not out.exists()
    work = tmp_path / ".out.mp4.vidcolor-work"
    assert (work / "manifest.json").exists()
    code, _, stderr = finish(start(clip, out, tmp_path / "rerun.log", *change))
    assert code == 0, stderr
    reused = re.search(r"resuming: (\d+) of 5 segment\(s\) reused", stderr)
    if change:  # another config: nothing stale is reused
        assert reused is None
        assert "not reused: the source, settings or weights changed" in stderr
    else:
        assert reused and int(reused[1]) >= 2
    assert digest(out) == digest(undisturbed)
    assert not work.exists()


@pytest.mark.slow
def test_ctrl_c_stops_within_seconds_and_keeps_finished_segments(clip, tmp_path):
    log, out = tmp_path / "run.log", tmp_path / "out.mp4"
    process = start(clip, out, log)
    wait_for(log, r"chunk \d+ done", count=1)
    process.send_signal(signal.SIGINT)
    began = time.monotonic()
    code, _, stderr = finish(process)
    assert code == 130 and time.monotonic() - began < 15, stderr
    assert "segment(s) kept in" in stderr and "run the same command to resume" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.mp4.vidcolor-work", "run.log"]
    assert (tmp_path / ".out.mp4.vidcolor-work" / "manifest.json").exists()
    code, _, stderr = finish(start(clip, out, tmp_path / "rerun.log"))
    assert code == 0 and re.search(r"resuming: [1-5] of 5 segment\(s\) reused", stderr), stderr


def damage_packet(source: Path, target: Path, number: int) -> Path:
    """A copy of ``source`` with the payload of video packet ``number`` scrambled: the
    container stays intact (probe counts every frame) but that frame cannot be decoded."""
    with av.open(str(source)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(source.read_bytes())
    pos, size = packets[number]
    data[pos + 4 : pos + size] = bytes(b ^ 0x5A for b in data[pos + 4 : pos + size])
    target.write_bytes(bytes(data))
    return target


@pytest.mark.slow
def test_undecodable_frame_fails_once_naming_chunk_and_frame(tmp_path):
    source = make_clip(tmp_path / "src.mkv", ClipSpec(frames=60, size=(96, 64), gop=20, bframes=0))
    damaged = damage_packet(source, tmp_path / "damaged.mkv", 30)
    log, out = tmp_path / "run.log", tmp_path / "out.mkv"
    code, _, stderr = finish(start(damaged, out, log))
    assert code == 2  # an input error, not a crash
    lines = stderr.strip().splitlines()
    assert "chunk 2 (frames 24..35)" in lines[-1] and "frame 30" in lines[-1], stderr
    assert lines[-1].startswith("vidcolor: error: chunk 2")
    assert len(re.findall(r"chunk 2 \(frames 24\.\.35\) -> worker", log.read_text())) == 1
    assert not out.exists()
