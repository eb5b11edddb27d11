"""What the TUI reads, always from a thread worker: the workspace DB (read-only) and job logs."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.terminal import visible
from engine.workspace import Workspace

LOG_TAIL_BYTES = 8192
LOG_FOLLOW_START_BYTES = 1 << 20  # a log viewer opens on the last MiB, not a whole huge log


@contextlib.contextmanager
def reading(workspace: Workspace) -> Iterator[sqlite3.Connection]:
    """A short-lived read-only connection; one per worker call, so threads never share one."""
    conn = workspace.connect(readonly=True)
    try:
        yield conn
    finally:
        conn.close()


def log_tail(path: Path, lines: int, max_bytes: int = LOG_TAIL_BYTES) -> list[str]:
    """The last `lines` lines of a log file ([] when it does not exist yet)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return []
    text = data.decode("utf-8", errors="replace")
    if len(data) == max_bytes and size > max_bytes:
        text = text.partition("\n")[2]  # drop the line cut in half by the seek
    return [visible(line) for line in text.splitlines()[-lines:]]


@dataclass
class LogFollower:
    """tail -f: each `read_new` returns only the complete lines appended since the last call."""

    path: Path
    offset: int | None = None
    partial: bytes = b""

    def read_new(self) -> list[str]:
        try:
            data = self._read_from_offset()
        except FileNotFoundError:
            return []
        assert self.offset is not None  # set by the read
        self.offset += len(data)
        data = self.partial + data
        complete, newline, self.partial = data.rpartition(b"\n")
        if not newline:
            return []
        return [visible(line) for line in complete.decode("utf-8", errors="replace").split("\n")]

    def _read_from_offset(self) -> bytes:
        with open(self.path, "rb") as fh:
            size = fh.seek(0, 2)
            if self.offset is None:
                self.offset = max(0, size - LOG_FOLLOW_START_BYTES)
                if self.offset:
                    fh.seek(self.offset)
                    self.offset += len(fh.readline())  # skip the line cut by the seek
            elif size < self.offset:  # truncated or replaced: start again
                self.offset, self.partial = 0, b""
            fh.seek(self.offset)
            return fh.read()
