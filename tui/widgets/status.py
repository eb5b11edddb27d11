"""The one-line status bar at the bottom of every screen.

workspace path │ device │ running jobs ("#3 import 62% 3.1k docs/s ETA 0:41") │ last error
It only watches the App's state (jobs, device, last error); it never reads anything itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from engine.api.jobs import JobInfo
from engine.units import progress_summary

if TYPE_CHECKING:
    from tui.app_protocol import AppServices


def job_summary(job: JobInfo) -> str:
    """ "#3 import 62% 3.1k docs/s ETA 0:41": the job's kind stands in for its long title."""
    name = job.kind.partition("-")[0]
    summary = progress_summary(name, job.fraction, job.rate, job.unit, job.eta_s)
    return f"#{job.id} {summary}"


def home_relative(path: Path) -> str:
    try:
        return f"~/{path.relative_to(Path.home())}"
    except ValueError:
        return str(path)


class StatusBar(Horizontal):
    def compose(self) -> ComposeResult:
        root = cast("AppServices", self.app).workspace.root
        yield Label(home_relative(root), id="status-workspace", markup=False)
        yield Label("device: detecting…", id="status-device", markup=False)
        yield Label("no running jobs", id="status-jobs", markup=False)
        yield Label("", id="status-error", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "device", self.show_device)
        self.watch(self.app, "jobs", self.show_jobs)
        self.watch(self.app, "last_error", self.show_error)

    def show_device(self, device: str | None) -> None:
        self.query_one("#status-device", Label).update(f"device: {device or 'detecting…'}")

    def show_jobs(self, jobs: list[JobInfo]) -> None:
        running = [job_summary(j) for j in jobs if j.active]
        label = self.query_one("#status-jobs", Label)
        label.update(" · ".join(running) if running else "no running jobs")
        label.set_class(bool(running), "-busy")

    def show_error(self, error: str | None) -> None:
        label = self.query_one("#status-error", Label)
        label.update(f"error: {error.splitlines()[0]}" if error else "")
        label.display = bool(error)
