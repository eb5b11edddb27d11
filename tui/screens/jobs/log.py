"""`l` (or enter) on the Jobs screen: a job's log, followed like `tail -f`.

Each tick reads only the bytes appended since the last one (in a thread worker)."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Label, Log

from tui.action_model import bindings
from tui.polling import Poller
from tui.reads import LogFollower
from tui.screens.base import BetrScreen
from tui.screens.jobs.actions import ACTIONS, LOG
from tui.screens.jobs.messages import LogLinesRead

FOLLOW_S = 0.3
MAX_LINES = 20_000


class LogScreen(BetrScreen):
    SCOPE = LOG
    BINDINGS = bindings(ACTIONS, LOG)

    def __init__(self, job_id: int, title: str, path: Path):
        super().__init__()
        self.job_id = job_id
        self.title = f"Log of job {job_id}"
        self.job_title = title
        self.follower = LogFollower(path)
        self.follow = Poller(self, self.read_new_lines, FOLLOW_S)

    def compose_body(self) -> ComposeResult:
        yield Label(f"{self.job_title}  ·  {self.follower.path}", id="log-path", markup=False)
        yield Log(max_lines=MAX_LINES, id="log-view")

    def on_mount(self) -> None:
        self.query_one(Log).focus()

    def on_screen_resume(self) -> None:
        self.follow.start()

    def on_screen_suspend(self) -> None:
        self.follow.pause()

    @work(thread=True, exclusive=True, exit_on_error=False, group="log-follow")
    def read_new_lines(self) -> None:
        lines = None
        try:
            lines = self.follower.read_new()
        finally:
            self.post_message(LogLinesRead(lines))

    @on(LogLinesRead)
    def lines_read(self, message: LogLinesRead) -> None:
        self.follow.finished(ok=message.lines is not None)
        if message.lines:
            self.query_one(Log).write_lines(message.lines)

    def action_close_log(self) -> None:
        self.dismiss()
