"""Resuming: a run's key, its work folder (finished segments and a manifest), atomic writes.

A run keeps its segments in ``.<output name>.vidcolor-work/`` beside the output (or under
``--work-dir``). ``manifest.json`` names the run's key and every finished segment with its size
and sha256; it is replaced atomically after each segment, so a driver killed at any instant
leaves either the old manifest or the new one, never a torn one.

The key is the sha256 of three things: the source's bytes, the settings that shape a segment
(the effective config minus where and how many workers run it, the stream and the container)
and the weights' bytes. Running the same command again reuses every recorded segment whose file
still has its size and hash; a different key discards them all, so a changed config, weights
file or source never mixes stale segments into the output.

Pure file handling: no Ray, no video.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidcolor.chunks import Chunk
from vidcolor.config import Config, to_dict
from vidcolor.errors import OutputError
from vidcolor.media import Segment

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
_BLOCK = 8 << 20  # bytes read at a time when hashing: large enough to run at disk speed
# Config keys that decide where and by how many workers a run goes, not what it writes. Torch
# threads (run.cpus_per_worker) stay in the key: they change oneDNN's results in the last bits.
_NOT_IN_KEY = (
    "workers", "address", "gpus_per_worker", "work_dir", "transfer", "resume", "keep_work",
)  # fmt: skip


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in blocks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def settings_digest(config: Config, extra: dict[str, Any]) -> str:
    """sha256 of what shapes a segment: ``config`` minus placement keys, plus ``extra``."""
    settings = to_dict(config)
    settings["run"] = {k: v for k, v in settings["run"].items() if k not in _NOT_IN_KEY}
    settings["model"].pop("weights", None)  # its bytes are in the key; its name is not
    text = json.dumps({"config": settings, **extra}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_key(source_digest: str, settings: str, weights_digest: str | None) -> str:
    """The key of a run's work: one sha256 of its three parts."""
    parts = f"source {source_digest}\nsettings {settings}\nweights {weights_digest or 'none'}\n"
    return hashlib.sha256(parts.encode()).hexdigest()


def segment_name(index: int, container: str) -> str:
    return f"segment_{index:06d}.{container}"


def default_work_dir(output: Path, root: Path | None = None) -> Path:
    """``.<output name>.vidcolor-work`` in ``root``, by default the output's folder."""
    return (root or output.parent) / f".{output.name}.vidcolor-work"


class WorkDir:
    """A run's segments and manifest; opened once per run by the driver."""

    def __init__(self, path: Path, key: str, chunks: Sequence[Chunk]) -> None:
        self.path = path
        self.key = key
        self.chunks = tuple(chunks)
        self.records: dict[int, Segment] = {}
        self.discarded = ""  # why the segments found there were not reused, if they were not

    @classmethod
    def open(cls, path: Path, key: str, chunks: Sequence[Chunk], resume: bool = True) -> WorkDir:
        """Opens ``path``, keeping what a run with the same key and chunks finished there.

        Anything else there (another key, damaged or missing segments, ``resume=False``) is
        removed. Raises OutputError when the folder cannot be created.
        """
        work = cls(path, key, chunks)
        found = work._read_manifest() if resume else None
        if found is None:
            if path.exists():
                shutil.rmtree(path)
            try:
                path.mkdir(parents=True)
            except OSError as error:
                raise OutputError(
                    f"cannot create the work folder {path} ({error.strerror}); "
                    "choose a writable --work-dir"
                ) from None
            work._write_manifest()
            return work
        kept = [r for r in found if work._intact(r)]
        work.records = {r.index: r for r in kept}
        if len(kept) < len(found):
            work.discarded = f"{len(found) - len(kept)} damaged or missing segment(s) redone"
        work._remove_strays()
        work._write_manifest()
        return work

    def segment_path(self, index: int, container: str) -> Path:
        return self.path / segment_name(index, container)

    def pending(self) -> list[Chunk]:
        """The chunks still to colorize, in order."""
        return [c for c in self.chunks if c.index not in self.records]

    def record(self, segment: Segment) -> None:
        """Adds a finished segment (its file already in this folder) to the manifest, with the
        file's size and sha256."""
        path = self.path / segment.name
        size, digest = path.stat().st_size, file_sha256(path)
        self.records[segment.index] = dataclasses.replace(segment, size=size, sha256=digest)
        self._write_manifest()

    def segments(self) -> list[Segment]:
        """Every chunk's record, in order; all chunks must be finished."""
        return [self.records[c.index] for c in self.chunks]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _read_manifest(self) -> list[Segment] | None:
        """The records of a manifest with this key and chunk plan; None for anything else."""
        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            if self.path.exists():
                self.discarded = "no readable manifest: starting over"
            return None
        plan = [[c.index, c.start, c.stop] for c in self.chunks]
        if data.get("version") != MANIFEST_VERSION or data.get("chunks") != plan:
            self.discarded = "it was made by another vidcolor version or chunk plan"
            return None
        if data.get("key") != self.key:
            self.discarded = "the source, settings or weights changed since"
            return None
        try:
            return [_record(entry) for entry in data["segments"]]
        except (KeyError, TypeError, ValueError):
            self.discarded = "its manifest is damaged"
            return None

    def _intact(self, record: Segment) -> bool:
        path = self.path / record.name
        with contextlib.suppress(OSError):
            if path.stat().st_size == record.size and file_sha256(path) == record.sha256:
                return True
        return False

    def _remove_strays(self) -> None:
        """Deletes files that no record names (half-written or unrecorded segments)."""
        keep = {MANIFEST, *(r.name for r in self.records.values())}
        for entry in self.path.iterdir():
            if entry.name not in keep:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def _write_manifest(self) -> None:
        data = {
            "version": MANIFEST_VERSION,
            "key": self.key,
            "chunks": [[c.index, c.start, c.stop] for c in self.chunks],
            "segments": [dataclasses.asdict(r) for _, r in sorted(self.records.items())],
        }
        write_atomic(self.path / MANIFEST, json.dumps(data, indent=1) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a synced temporary file and a rename."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a synced temporary file and a rename: a reader (or
    a resumed run) sees the old file or the whole new one, never part of it."""
    partial = path.with_name(f"{path.name}.part")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _record(entry: dict[str, Any]) -> Segment:
    cuts, name = entry.get("cuts"), str(entry["name"])
    if Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"segment name {name!r} is not a plain file name")
    return Segment(
        index=int(entry["index"]),
        name=name,
        frames=int(entry["frames"]),
        cuts=None if cuts is None else tuple(int(c) for c in cuts),
        replaced=tuple(int(f) for f in entry.get("replaced", ())),  # older manifests: none
        seconds=float(entry.get("seconds", 0.0)),
        size=int(entry["size"]),
        sha256=str(entry["sha256"]),
    )
