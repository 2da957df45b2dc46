"""The vidcolor command as a user runs it: a subprocess, real files, exit codes, one-line errors."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from media import ClipSpec, make_clip

FAST = ["--render-factor", "4", "--set", "encode.preset=ultrafast"]


def vidcolor(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidcolor.cli", *map(str, args)],
        capture_output=True, text=True, timeout=300, cwd=cwd, check=False,
    )  # fmt: skip


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    return make_clip(folder / "film clip 'quoted' é.mp4", ClipSpec(frames=12, audio=True))


@pytest.mark.slow
def test_run_embedded_ray_end_to_end(tmp_path, clip):
    before = digest(clip)
    out = tmp_path / "-leading dash.mp4"
    result = vidcolor("run", clip, "-o", out, *FAST)
    assert result.returncode == 0, result.stderr
    assert out.exists()
    assert "12 frames" in result.stdout
    assert digest(clip) == before  # the input is never touched
    assert not list(tmp_path.glob(".*"))  # no work folder or partial file left behind


@pytest.mark.slow
def test_default_output_name_and_refusal_to_overwrite(tmp_path, clip):
    source = tmp_path / "movie.mp4"
    source.write_bytes(clip.read_bytes())
    first = vidcolor("run", source, *FAST)
    assert first.returncode == 0, first.stderr
    made = tmp_path / "movie.color.mp4"
    stamp = digest(made)
    again = vidcolor("run", source, *FAST)
    assert again.returncode != 0
    assert again.stderr.strip().count("\n") == 0
    assert "already exists" in again.stderr and "--overwrite" in again.stderr
    assert digest(made) == stamp


@pytest.mark.parametrize(
    ("setup", "args", "words"),
    [
        (None, ["run", "{tmp}/missing.mp4"], ["missing.mp4"]),
        ("text", ["run", "{tmp}/notes.mp4"], ["notes.mp4"]),
        ("clip", ["run", "{clip}", "-o", "{clip}"], ["is the input"]),
        ("clip", ["run", "{clip}", "-o", "{tmp}/nowhere/out.mp4"], ["does not exist"]),
        ("clip", ["run", "{clip}", "-o", "{tmp}/out.avi"], [".mp4, .mov or .mkv", ".avi"]),
        ("clip", ["run", "{clip}", "--set", "smooth.radius=99"], ["smooth.radius", "0 and 32"]),
        ("clip", ["run", "{clip}", "--codec", "ffv1", "-o", "{tmp}/o.mp4"], ["ffv1", "mkv"]),
        ("clip", ["run", "{clip}", "--references", "{tmp}/film.png"], ["film.png", "no such"]),
        ("hints", ["run", "{clip}", "--hints", "{tmp}/hints.csv"], ["hints.csv", "line 2"]),
        (
            "clip",
            ["eval", "{tmp}", "--report", "{tmp}/r.json", "--hints", "{tmp}/h.csv"],
            ["--hints", "video"],
        ),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, clip, setup, args, words):
    if setup == "text":
        (tmp_path / "notes.mp4").write_text("just some text, not a video\n")
    if setup == "hints":
        (tmp_path / "hints.csv").write_text("frame,x,y,r,g,b\n0,9999,0,255,0,0\n")
    argv = [a.format(tmp=tmp_path, clip=clip) for a in args]
    result = vidcolor(*argv)
    assert result.returncode not in (0, 1), result.stderr  # a specific error code, not a crash
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: "), result.stderr
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.stderr


def test_probe_json(clip):
    import json

    result = vidcolor("probe", clip, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["video"]["frame_count"] == 12
    assert [s["kind"] for s in data["streams"]] == ["video", "audio"]


def test_sample_is_a_gray_film_with_sound(tmp_path):
    result = vidcolor("sample", tmp_path / "s.mp4")
    assert result.returncode == 0, result.stderr
    probe = vidcolor("probe", tmp_path / "s.mp4", "--json")
    assert '"kind": "audio"' in probe.stdout and '"frame_count": 72' in probe.stdout


@pytest.mark.slow
def test_eval_video_writes_report_and_prints_every_method(tmp_path):
    import json

    color = make_clip(tmp_path / "color.mp4", ClipSpec(frames=8, chroma=True, size=(96, 64)))
    report = tmp_path / "report.json"
    args = ("--set", "model.weights=null", "--render-factor", "4", "--smooth", "off")
    result = vidcolor("eval", color, "--report", report, "--start", "2", "--limit", "3", *args)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert [item["frame"] for item in data["items"]] == [2, 3, 4]
    assert data["smooth"]["mode"] == "off"
    for method in ("ours", "gray", "mean_ab"):
        assert any(
            line.startswith(method) and "PSNR" in line for line in result.stdout.splitlines()
        )
    bad = vidcolor("eval", color, "--report", report, "--start", "9", *args)
    assert bad.returncode != 0 and "start frame 9 is outside" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("address", "words"),
    [("127.0.0.1:1", "no Ray cluster answers at 127.0.0.1:1"), ("nonsense", "not auto, HOST:PORT")],
)
def test_unreachable_or_malformed_cluster_address_fails_at_once(tmp_path, clip, address, words):
    out = tmp_path / "out.mp4"
    result = vidcolor("run", clip, "-o", out, "--address", address, *FAST)
    assert result.returncode == 3, result.stderr
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(tmp_path.iterdir()) == []  # no output, no work folder


def test_a_local_ray_that_cannot_start_is_one_line_and_leaves_nothing(tmp_path, clip):
    not_a_folder = tmp_path / "ray-files"
    not_a_folder.write_text("a file where Ray wants a folder")
    out = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "vidcolor.cli", "run", str(clip), "-o", str(out), *FAST],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "RAY_TMPDIR": str(not_a_folder)},
    )  # fmt: skip
    assert result.returncode != 0
    assert "could not start a local Ray" in result.stderr and "--address" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert sorted(tmp_path.iterdir()) == [not_a_folder]  # no output, no work folder
