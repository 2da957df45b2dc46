"""Guard against behaviour changes: the decoded output of fixed runs matches recorded digests.

Recorded before the package was restructured (issue 15) and kept since: any change to what a
run writes (frames, timestamps, the copied audio) shows up here, for every codec and smoothing
mode, across chunk seams and a scene cut. The digests depend on the machine's arithmetic, so
they are kept per environment (torch version, CPU capability, resolved precision); elsewhere
the test skips, naming the command that records them:

    VIDCOLOR_RECORD_OUTPUTS=1 .venv/bin/python -m pytest tests/test_outputs_unchanged.py
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import av
import pytest
import torch
from media import ClipSpec

from vidcolor.colorize import resolve_precision
from vidcolor.config import load_config
from vidcolor.pipeline import run

RECORD = Path(__file__).parent / "data" / "outputs.json"
SUFFIXES = {"h264": ".mp4", "ffv1": ".mkv", "prores": ".mov"}
# Every smoothing mode through the default codec, every codec with the default smoothing (the
# record holds the whole cross product; five runs of it keep the test to half a minute).
CASES = [
    ("h264", "flow"),
    ("h264", "window"),
    ("h264", "off"),
    ("ffv1", "flow"),
    ("prores", "flow"),
]
# A cut at frame 21 in a 44-frame clip with audio, chunks of 16: two seams, one cut mid-chunk.
# The source is encoded on one thread: x264's threads made the generated clip itself differ
# between test sessions on a loaded machine, and with it every digest.
SPEC = ClipSpec(
    frames=44, pattern="cut", cut_at=21, gop=30, bframes=2, audio=True, options={"threads": "1"}
)
SETTINGS = ["model.render_factor=4", "encode.preset=ultrafast", "chunks.size=16"]

pytestmark = pytest.mark.usefixtures("local_ray")


def environment() -> str:
    """What the digests depend on besides vidcolor's code."""
    precision = resolve_precision("auto", torch.device("cpu"))
    capability = torch.backends.cpu.get_cpu_capability()
    return f"torch {torch.__version__}, av {av.__version__}, {capability}, {precision}"


def output_digest(path: Path) -> str:
    """sha256 over every decoded video plane, every frame's pts and every audio packet."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            digest.update(str(frame.pts).encode())
            for plane in frame.planes:
                digest.update(bytes(plane))
    with av.open(str(path)) as container:
        for packet in container.demux(audio=0):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


@pytest.fixture(scope="module")
def digests(tmp_path_factory: pytest.TempPathFactory, make_cached_clip: Callable) -> dict:
    source = make_cached_clip("unchanged.mp4", SPEC)
    folder = tmp_path_factory.mktemp("unchanged")
    found = {}
    for codec, mode in CASES:
        chosen = [f"encode.codec={codec}", f"smooth.mode='{mode}'"]
        config = load_config(None, [*SETTINGS, *chosen])
        out = run(source, folder / f"{codec}-{mode}{SUFFIXES[codec]}", config).output
        found[f"{codec} {mode}"] = output_digest(out)
    return found


@pytest.mark.slow
def test_every_codec_and_smoothing_mode_writes_what_it_wrote_before(digests):
    recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    env = environment()
    if os.environ.get("VIDCOLOR_RECORD_OUTPUTS") == "1":
        recorded[env] = {**recorded.get(env, {}), **digests}
        RECORD.parent.mkdir(exist_ok=True)
        RECORD.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    if env not in recorded:
        pytest.skip(f"no digests recorded for {env}; see this module's docstring")
    changed = sorted(key for key, value in digests.items() if recorded[env].get(key) != value)
    assert not changed, f"output changed for {changed}"
    assert len(set(digests.values())) == len(digests), "two settings gave the same output"
