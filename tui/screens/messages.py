"""Messages that dialogs of more than one screen share (each screen's own are in its package's
`messages`)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class JobStarted(Message):
    """A dialog's job was started: job `job_id` (the dialog closes with it)."""

    job_id: int


@dataclass
class StartRejected(Message):
    """A dialog's job was not started: `error` says why (the dialog stays open)."""

    error: str
