"""What the Workspace screen's workers tell it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class WorkspaceData:
    """What the Workspace screen shows: the counts and one list of rows per section."""

    summary: dict[str, int]
    corpora: list[dict[str, Any]]
    benchmarks: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    runs: list[dict[str, Any]]


@dataclass
class WorkspaceRead(Message):
    """The workspace was read (None: the read failed; the poll tries again)."""

    data: WorkspaceData | None
