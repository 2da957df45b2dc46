"""Damaged files: bytes of small valid clips mutated at random, fed to probe and decode.

Every case must end in a vidcolor error or a consistent result (every probed frame decoded, in
order, with the probed pts and size): never a hang, never another exception, never a crash of
the interpreter. The cases run in a child process, one after another, each under a timeout; a
child that dies or hangs is replaced and the case that did it is reported with its seed, so it
can be replayed alone.

CI runs ``VIDCOLOR_FUZZ_CASES`` cases (default 3000, about 15 s on one core); set it to
tens of thousands to fuzz for longer, ``VIDCOLOR_FUZZ_SEED`` to draw other cases, and
``VIDCOLOR_FUZZ_FIRST=N VIDCOLOR_FUZZ_CASES=1`` to replay case N of a reported failure.
"""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import sys
import time
from collections import Counter

import av
import pytest
from media import ClipSpec, make_audio, make_clip

CASES = int(os.environ.get("VIDCOLOR_FUZZ_CASES", "3000"))
FIRST = int(os.environ.get("VIDCOLOR_FUZZ_FIRST", "0"))  # with CASES=1: replays one case
SEED = int(os.environ.get("VIDCOLOR_FUZZ_SEED", "8"))
CASE_SECONDS = 20.0  # a case takes ~30 ms; only a hang gets near this
SMALL = {"size": (64, 48), "frames": 12}
CLIPS = {
    "h264.mp4": ClipSpec(gop=6, bframes=2, audio=True, **SMALL),
    "h264.mkv": ClipSpec(gop=6, bframes=2, **SMALL),
    "ffv1.mkv": ClipSpec(codec="ffv1", bit_depth=10, **SMALL),
    "vp8.webm": ClipSpec(codec="libvpx", **SMALL),
    "prores.mov": ClipSpec(codec="prores_ks", pix_fmt="yuv422p10le", **SMALL),
}


# ---------------------------------------------------------------- mutations


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One random kind of damage to ``data``, and a description of it."""
    size = len(data)
    out = bytearray(data)
    kind = rng.choice(("bytes", "bits", "zeros", "cut", "copy", "insert", "header"))
    if kind in ("bytes", "header"):
        limit = min(size, 512) if kind == "header" else size
        places = [rng.randrange(limit) for _ in range(rng.randint(1, 16))]
        for place in places:
            out[place] = rng.randrange(256)
        return bytes(out), f"{kind} at {places}"
    if kind == "bits":
        places = [rng.randrange(size * 8) for _ in range(rng.randint(1, 8))]
        for bit in places:
            out[bit // 8] ^= 1 << bit % 8
        return bytes(out), f"bits {places}"
    start = rng.randrange(size)
    length = rng.randint(1, max(1, size // 4))
    if kind == "zeros":
        out[start : start + length] = bytes(len(out[start : start + length]))
        return bytes(out), f"zeros {start}+{length}"
    if kind == "cut":
        return data[:start], f"cut at {start}"
    if kind == "copy":
        source = rng.randrange(size)
        piece = data[source : source + length]
        out[start : start + len(piece)] = piece
        return bytes(out[:size]), f"copy {source}+{length} to {start}"
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(out[:start] + noise + out[start:]), f"insert {len(noise)} at {start}"


# ---------------------------------------------------------------- the child process


def _child() -> None:
    """Reads one case per line from stdin and answers one JSON line each."""
    from vidcolor.decode import read_frames
    from vidcolor.errors import VidcolorError
    from vidcolor.probing import probe

    for line in sys.stdin:
        case = json.loads(line)
        stage = "probe"
        try:
            info = probe(case["path"])
            stage = "decode"
            video = info.video
            seen = [(f.index, f.pts, f.luma.shape) for f in read_frames(info, 0, video.frame_count)]
            expected = [(i, p, (video.height, video.width)) for i, p in enumerate(video.pts)]
            if seen != expected:
                raise AssertionError(f"decoded {seen[:3]}..., probed {expected[:3]}...")
            start = case["start"] % video.frame_count
            part = [f.pts for f in read_frames(info, start, video.frame_count)]
            if part != list(video.pts[start:]):
                raise AssertionError(f"frames {start}.. read alone differ from a full read")
            answer = {"result": "ok", "frames": video.frame_count}
        except VidcolorError as error:
            answer = {"result": "error", "stage": stage, "type": type(error).__name__,
                      "message": str(error)}  # fmt: skip
        except Exception as error:  # what the test is looking for: anything else
            answer = {"result": "bad", "stage": stage, "type": type(error).__name__,
                      "message": str(error)}  # fmt: skip
        print(json.dumps(answer), flush=True)


class Child:
    """A child process running :func:`_child`, replaced when it dies or hangs."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def run(self, case: dict[str, object]) -> dict[str, object]:
        if self.process is None:
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            self.process = subprocess.Popen(
                [sys.executable, __file__, "--child"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            )  # fmt: skip
        process = self.process
        assert process.stdin and process.stdout
        process.stdin.write(json.dumps(case) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], CASE_SECONDS)
        line = process.stdout.readline() if ready else ""
        if line:
            return json.loads(line)
        self.close()
        if not ready:
            return {"result": "hang", "message": f"no answer in {CASE_SECONDS:.0f} s"}
        return {"result": "crash", "message": f"the child exited with {process.returncode}"}

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


# ---------------------------------------------------------------- the test


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    made = {}
    for name, spec in CLIPS.items():
        if spec.codec not in av.codecs_available:
            continue
        made[name] = make_clip(folder / name, spec).read_bytes()
    made["tone.m4a"] = make_audio(folder / "tone.m4a", seconds=0.5).read_bytes()
    return made


@pytest.mark.slow
def test_mutated_clips_give_an_error_or_a_correct_result(tmp_path, clips):
    child = Child()
    outcomes: Counter[str] = Counter()
    failures = []
    began = time.monotonic()
    try:
        for number in range(FIRST, FIRST + CASES):
            rng = random.Random(f"{SEED}-{number}")
            name = rng.choice(sorted(clips))
            data, damage = mutate(clips[name], rng)
            path = tmp_path / f"case{name[name.index('.') :]}"
            path.write_bytes(data)
            answer = child.run({"path": str(path), "start": rng.randrange(1 << 16)})
            outcomes[f"{answer['result']} {answer.get('stage', '')}".strip()] += 1
            if answer["result"] not in ("ok", "error"):
                failures.append(f"case {SEED}-{number} ({name}, {damage}): {answer}")
                (tmp_path / f"failed_{number}_{name}").write_bytes(data)
    finally:
        child.close()
    seconds = time.monotonic() - began
    print(f"{CASES} cases in {seconds:.1f} s: {dict(outcomes)}")
    assert not failures, "\n".join(failures[:20])
    if CASES >= 100:  # the mutations reach both sides: files refused, files read to the end
        assert outcomes["ok"] > 0 and sum(v for k, v in outcomes.items() if k != "ok") > 0


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    _child()
