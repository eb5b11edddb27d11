"""What the Jobs screen's workers tell it, and the log viewer's."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class LogTailRead(Message):
    """The last lines of job `job_id`'s log (shown under the table while it is selected)."""

    job_id: int
    lines: list[str]


@dataclass
class JobControlled(Message):
    """A cancel or resume came back from the engine: `text` says what happened."""

    text: str


@dataclass
class LogLinesRead(Message):
    """The log viewer's lines appended since the last read (None: the read failed)."""

    lines: list[str] | None
