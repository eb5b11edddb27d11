"""Screen 2, Jobs: every job with live progress; cancel, resume, and the log of the selected one.

The job list comes from the App (polled twice a second, the next poll after the previous one
finished); this screen only renders it. Cancel and resume call the engine in thread workers:
cancel blocks for a second or three while the worker stops at a chunk boundary.
"""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, ProgressBar, Static

from engine.api.jobs import JobInfo, cancel, resume
from engine.units import format_duration, format_rate
from tui.action_model import bindings
from tui.reads import log_tail
from tui.safe_text import plain
from tui.screens.base import BetrScreen
from tui.screens.jobs.actions import ACTIONS, SCOPE
from tui.screens.jobs.messages import JobControlled, LogTailRead
from tui.widgets.cells import (
    BAR_WIDTH,
    Cells,
    ThemeStyles,
    count_cell,
    exact_count,
    format_time,
    progress_cell,
    state_cell,
)
from tui.widgets.tables import KeyedTable

LOG_TAIL_LINES = 12
COLUMNS: list[tuple[str, str, int | None]] = [
    ("id", "job", 4),
    ("title", "title", 40),
    ("state", "state", 23),
    ("progress", "progress", 25),
    ("count", "done / total", 20),
    ("rate", "rate", 13),
    ("eta", "ETA", 7),
    ("attempts", "tries", 5),
]


# below NARROW_BELOW columns (80x24, the SSH default) the row keeps what a glance needs: id,
# title, state, a short bar with its percentage, rate and ETA; the exact counts, the tries and
# the state's note are in the detail pane below
NARROW_BELOW = 100
NARROW_COLUMNS: list[tuple[str, str, int | None]] = [
    ("id", "job", 3),
    ("title", "title", 17),
    ("state", "state", 11),
    ("progress", "progress", 11),
    ("rate", "rate", 11),
    ("eta", "ETA", 7),
]
NARROW_BAR = 6


def columns_for(width: int) -> list[tuple[str, str, int | None]]:
    return COLUMNS if width >= NARROW_BELOW else NARROW_COLUMNS


def job_row(
    job: JobInfo,
    styles: ThemeStyles,
    bar_width: int = BAR_WIDTH,
    columns: list[tuple[str, str, int | None]] = COLUMNS,
) -> Cells:
    """The cells of `columns` for one job."""
    note = "worker gone" if job.state == "interrupted" and job.stored_state == "running" else ""
    if job.cancel_requested and job.active:
        note = "cancelling…"
    narrow = columns is NARROW_COLUMNS
    running = job.state == "running"
    cells: dict[str, str | Text] = {
        "id": Text(str(job.id), justify="right"),
        "title": job.title,
        "state": state_cell(job.state, styles, "" if narrow else note),
        "progress": progress_cell(job.fraction, job.state, styles, bar_width),
        "count": Text(count_cell(job.done, job.total, job.unit), justify="right"),
        "rate": Text(format_rate(job.rate, job.unit) if running else "-", justify="right"),
        "eta": Text(format_duration(job.eta_s) if running else "-", justify="right"),
        "attempts": Text(str(job.attempts), justify="right"),
    }
    return tuple(cells[key] for key, _label, _width in columns)


def job_fields(job: JobInfo, styles: ThemeStyles) -> Table:
    """The detail pane: exact numbers, times, worker, config and error of one job."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    stored = f"(stored: {job.stored_state})" if job.state != job.stored_state else ""
    table.add_row("kind", plain(job.kind))
    table.add_row("state", state_cell(job.state, styles, stored))
    table.add_row(
        "progress", plain(f"{exact_count(job.done)} / {exact_count(job.total)} {job.unit}")
    )
    if job.state == "running":
        table.add_row(
            "rate", plain(f"{format_rate(job.rate, job.unit)}   ETA {format_duration(job.eta_s)}")
        )
    table.add_row("created", format_time(job.created_at))
    table.add_row("started", format_time(job.started_at))
    table.add_row("finished", format_time(job.finished_at))
    if job.pid:
        worker = f"pid {job.pid} on {job.host or '?'} · attempt {job.attempts}"
        table.add_row("worker", plain(worker))
    table.add_row("config", plain(json.dumps(job.config, sort_keys=True, ensure_ascii=False)))
    if job.error:
        table.add_row("error", plain(job.error, styles.states["failed"]))
    return table


class JobsScreen(BetrScreen):
    SCOPE = SCOPE
    TITLE = "Jobs"
    BINDINGS = bindings(ACTIONS, SCOPE)

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, JobInfo] = {}
        self.pending_select: int | None = None
        self.shown_detail: JobInfo | None = None

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="jobs-table")
        yield Static(
            "no jobs yet: press 1 then i to import documents (or `betr import docs … --detach`)",
            id="jobs-empty",
            markup=False,
        )
        with Vertical(id="job-detail"):
            yield Label("", id="job-heading", markup=False)
            yield ProgressBar(total=None, show_eta=False, id="job-progress")
            with Horizontal(id="job-panes"):
                yield Static("", id="job-fields", markup=False)
                tail = Static("", id="job-log-tail", markup=False)
                tail.border_title = "log tail (l: follow the log)"
                yield tail

    def on_mount(self) -> None:
        self.query_one("#jobs-table", KeyedTable).focus()
        self.watch(self.app, "jobs", self.show_jobs)
        self.watch(self.app, "theme", self.restyle)

    def on_screen_resume(self) -> None:
        self.show_jobs(self.betr.jobs)

    # -- rendering the App's job list ----------------------------------------------------------
    def restyle(self) -> None:
        self.shown_detail = None
        self.show_jobs(self.betr.jobs)

    def on_resize(self) -> None:
        self.show_jobs(self.betr.jobs)  # narrower columns below NARROW_BELOW

    def show_jobs(self, jobs: list[JobInfo]) -> None:
        if not self.is_current:
            return  # rendered again on resume
        styles = ThemeStyles.from_variables(self.app.get_css_variables())
        table = self.query_one("#jobs-table", KeyedTable)
        self.jobs = {str(j.id): j for j in jobs}
        selected = table.highlighted_key
        narrow = self.size.width < NARROW_BELOW
        columns = columns_for(self.size.width)
        if table.set_columns(columns) and selected is not None:
            self.pending_select = self.pending_select or int(selected)
        bar_width = NARROW_BAR if narrow else BAR_WIDTH
        table.sync(
            {key: job_row(job, styles, bar_width, columns) for key, job in self.jobs.items()},
            sort_by="id",
            sort_key=lambda cell: int(cell.plain),
            reverse=True,
        )
        if self.pending_select is not None and table.move_to(str(self.pending_select)):
            self.pending_select = None
        table.display = bool(jobs)
        self.query_one("#jobs-empty").display = not jobs
        self.query_one("#job-detail").display = bool(jobs)
        self.show_detail(styles)

    def selected_job(self) -> JobInfo | None:
        key = self.query_one("#jobs-table", KeyedTable).highlighted_key
        return self.jobs.get(key) if key else None

    def show_detail(self, styles: ThemeStyles | None = None) -> None:
        job = self.selected_job()
        if job is None or job == self.shown_detail:
            return
        styles = styles or ThemeStyles.from_variables(self.app.get_css_variables())
        changed_job = self.shown_detail is None or self.shown_detail.id != job.id
        self.shown_detail = job
        self.query_one("#job-heading", Label).update(plain(f"job {job.id} · {job.title}"))
        bar = self.query_one("#job-progress", ProgressBar)
        # an unknown total animates (indeterminate) while the job runs, and is hidden after
        bar.display = job.total is not None or job.active
        bar.update(total=job.total, progress=job.done)
        self.query_one("#job-fields", Static).update(job_fields(job, styles))
        if changed_job or job.active:
            self.read_log_tail(job.id)

    @on(DataTable.RowHighlighted, "#jobs-table")
    def job_highlighted(self) -> None:
        self.show_detail()

    @on(DataTable.RowSelected, "#jobs-table")
    def job_selected(self) -> None:
        self.action_show_log()

    def select_job(self, job_id: int) -> None:
        if not self.query_one("#jobs-table", KeyedTable).move_to(str(job_id)):
            self.pending_select = job_id

    @work(thread=True, exclusive=True, exit_on_error=False, group="jobs-log-tail")
    def read_log_tail(self, job_id: int) -> None:
        lines = log_tail(self.betr.workspace.job_log_path(job_id), LOG_TAIL_LINES)
        self.post_message(LogTailRead(job_id, lines))

    @on(LogTailRead)
    def log_tail_read(self, message: LogTailRead) -> None:
        job = self.selected_job()
        if job is not None and job.id == message.job_id:
            self.query_one("#job-log-tail", Static).update(
                plain("\n".join(message.lines) or "(no log yet)")
            )

    # -- actions -------------------------------------------------------------------------------
    def action_cancel_job(self) -> None:
        """Ask first: a cancel stops a job that may have run for hours (resumable, but it
        loses the chunk in flight)."""
        from tui.screens.confirm import ConfirmDialog

        job = self.selected_job()
        if job is None:
            self.notify("no job selected", severity="warning")
            return
        if not job.active and job.stored_state not in ("running", "queued"):
            self.notify(f"job {job.id} is {job.state}: nothing to cancel", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"cancelling job {job.id}…")
                self.cancel_worker(job.id)

        done = f"{job.done:,}" + (f" of {job.total:,}" if job.total else "")
        self.app.push_screen(
            ConfirmDialog(
                f"Cancel job {job.id}?",
                f"{job.title}\n\n{done} {job.unit} done. It stops after the chunk in flight; "
                "r resumes it later from its last committed chunk.",
                "cancel the job",
                "keep it running",
            ),
            answered,
        )

    def action_resume_job(self) -> None:
        job = self.selected_job()
        if job is None:
            self.notify("no job selected", severity="warning")
            return
        self.resume_worker(job.id)

    def action_show_log(self) -> None:
        from tui.screens.jobs.log import LogScreen

        job = self.selected_job()
        if job is None:
            self.notify("no job selected", severity="warning")
            return
        self.app.push_screen(LogScreen(job.id, job.title, self.betr.workspace.job_log_path(job.id)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="jobs-control")
    def cancel_worker(self, job_id: int) -> None:
        job = cancel(self.betr.workspace, job_id)
        self.post_message(JobControlled(f"job {job_id} {job.state}"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="jobs-control")
    def resume_worker(self, job_id: int) -> None:
        resume(self.betr.workspace, job_id, detach=True)
        self.post_message(JobControlled(f"job {job_id} resumed"))

    @on(JobControlled)
    def job_controlled(self, message: JobControlled) -> None:
        self.notify(message.text, markup=False)
        self.betr.jobs_poll.now()
