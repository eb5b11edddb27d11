"""What the Workspace screen's workers tell it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.api.catalog import WorkspaceSummary


@dataclass
class WorkspaceRead(Message):
    """The workspace was read (None: the read failed; the poll tries again)."""

    data: WorkspaceSummary | None
