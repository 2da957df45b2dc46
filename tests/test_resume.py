"""The work folder: what a resumed run reuses, and what it must never reuse."""

from __future__ import annotations

import json

import pytest

from vidcolor.chunks import plan_chunks
from vidcolor.config import load_config
from vidcolor.errors import OutputError
from vidcolor.media import Segment
from vidcolor.resume import (
    MANIFEST,
    WorkDir,
    default_work_dir,
    file_sha256,
    run_key,
    settings_digest,
)

CHUNKS = plan_chunks(100, 40, 4)  # frames 0..39, 40..79, 80..99


def _finish(work, index, payload):
    path = work.segment_path(index, "mkv")
    path.write_bytes(payload)
    work.record(Segment(index, path.name, CHUNKS[index].frames, (index * 40 + 5,)))
    return path


def test_a_reopened_folder_keeps_finished_segments(tmp_path):
    work = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    assert [c.index for c in work.pending()] == [0, 1, 2]
    _finish(work, 0, b"zero")
    _finish(work, 2, b"two")
    (work.path / "segment_000001.mkv").write_bytes(b"half-written, never recorded")
    again = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    assert [c.index for c in again.pending()] == [1]
    assert again.records[2].cuts == (85,)
    assert again.records[0].sha256 == file_sha256(work.path / "segment_000000.mkv")
    assert not (again.path / "segment_000001.mkv").exists()  # the stray is gone
    assert again.discarded == ""


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"key": "k2"}, "source, settings or weights changed"),
        ({"chunks": plan_chunks(100, 50, 4)}, "chunk plan"),
        ({"resume": False}, ""),
    ],
)
def test_another_key_or_plan_or_no_resume_reuses_nothing(tmp_path, change, why):
    work = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    _finish(work, 0, b"zero")
    args = {"key": "k1", "chunks": CHUNKS, "resume": True, **change}
    again = WorkDir.open(tmp_path / "w", args["key"], args["chunks"], args["resume"])
    assert again.records == {}
    assert len(again.pending()) == len(args["chunks"])
    assert why in again.discarded
    assert [p.name for p in again.path.iterdir()] == [MANIFEST]


def test_a_damaged_segment_is_redone(tmp_path):
    work = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    _finish(work, 0, b"zero")
    _finish(work, 1, b"one").write_bytes(b"oneX")  # same folder, different bytes
    again = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    assert sorted(again.records) == [0]
    assert "1 damaged or missing" in again.discarded


@pytest.mark.parametrize("text", ["{not json", '{"version": 1, "key": "k1"}', ""])
def test_an_unreadable_manifest_starts_over(tmp_path, text):
    work = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    _finish(work, 0, b"zero")
    (work.path / MANIFEST).write_text(text)
    again = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    assert again.records == {} and again.discarded


def test_a_manifest_naming_a_path_outside_is_not_trusted(tmp_path):
    work = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    _finish(work, 0, b"zero")
    data = json.loads((work.path / MANIFEST).read_text())
    data["segments"][0]["name"] = "../outside.mkv"
    (tmp_path / "outside.mkv").write_bytes(b"zero")
    (work.path / MANIFEST).write_text(json.dumps(data))
    again = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    assert again.records == {} and "damaged" in again.discarded
    assert (tmp_path / "outside.mkv").exists()


def test_replaced_frames_are_kept_for_a_resumed_run(tmp_path):
    work = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    path = work.segment_path(1, "mkv")
    path.write_bytes(b"one")
    work.record(Segment(1, path.name, CHUNKS[1].frames, None, (41, 42, 77)))
    _finish(work, 2, b"two")
    again = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    assert again.records[1].replaced == (41, 42, 77) and again.records[1].cuts is None
    assert again.records[2].replaced == ()
    data = json.loads((work.path / MANIFEST).read_text())
    del data["segments"][0]["replaced"]  # as written before frames could be replaced
    (work.path / MANIFEST).write_text(json.dumps(data))
    assert WorkDir.open(tmp_path / "w", "k1", CHUNKS).records[1].replaced == ()


def test_manifest_lists_recorded_segments_and_leaves_no_partial_file(tmp_path):
    work = WorkDir.open(tmp_path / "w", "k1", CHUNKS)
    _finish(work, 1, b"one")
    assert sorted(p.name for p in work.path.iterdir()) == [MANIFEST, "segment_000001.mkv"]
    data = json.loads((work.path / MANIFEST).read_text())
    assert data["key"] == "k1" and [s["index"] for s in data["segments"]] == [1]


def test_work_folder_that_cannot_be_made_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot create the work folder"):
        WorkDir.open(blocker / "w", "k1", CHUNKS)


def test_key_follows_output_shaping_settings_only():
    base = load_config(None, [])
    digest = settings_digest(base, {"stream": 0})
    same = [["run.workers=3"], ["run.address=auto"], ["run.keep_work=true"], ["run.resume=false"],
            ["model.weights=other.safetensors"]]  # fmt: skip
    for overrides in same:
        assert settings_digest(load_config(None, overrides), {"stream": 0}) == digest, overrides
    for overrides in (["smooth.radius=3"], ["encode.crf=18"], ["run.cpus_per_worker=1"],
                      ["decode.skip_bad_frames=true"]):  # fmt: skip
        assert settings_digest(load_config(None, overrides), {"stream": 0}) != digest, overrides
    assert settings_digest(base, {"stream": 1}) != digest
    assert run_key("s", digest, "w1") != run_key("s", digest, "w2") != run_key("s", digest, None)


def test_default_work_dir_sits_beside_the_output(tmp_path):
    out = tmp_path / "film.color.mkv"
    assert default_work_dir(out) == tmp_path / ".film.color.mkv.vidcolor-work"
    assert default_work_dir(out, tmp_path / "shared") == (
        tmp_path / "shared" / ".film.color.mkv.vidcolor-work"
    )
