"""The Threshold tab's contamination line: per benchmark, how many kept docs share a word n-gram
with its examples (the run's newest contamination check that covers the kept set), or that no
check covers this keep rate yet and how to run one (x: a check of the kept set, as a job)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.widgets import Static

from engine.api.contamination import counts_by_benchmark, current_check, plan_check
from engine.api.jobs import start
from engine.errors import BetrError
from tui.safe_text import one_line
from tui.screens.threshold.messages import ContaminationRead, ContaminationStarted
from tui.workers import WorkersReportToApp

if TYPE_CHECKING:
    from engine.api.contamination import BenchmarkCount, Check
    from engine.api.jobs import JobInfo
    from tui.app_protocol import AppServices
    from tui.screens.threshold.messages import KeepKey

SHOWN = 6  # benchmarks named on the line


def counts_text(counts: list[BenchmarkCount], check: Check, variables: dict[str, str]) -> Text:
    """ "contamination of the kept set (13-grams): gsm8k (test) 3 docs · ...": or none."""
    head = f"contamination of the kept set (word {check.n}-grams): "
    if not counts:
        return Text(head + "none", style="dim")
    text = Text(head, style=f"bold {variables.get('error', 'red')}")
    parts = []
    for c in counts[:SHOWN]:
        split = f" ({one_line(c.split)})" if c.split else ""
        parts.append(f"{one_line(c.benchmark)}{split} {c.docs:,} doc{'s' * (c.docs != 1)}")
    text.append(" · ".join(parts))
    if len(counts) > SHOWN:
        text.append(f" · {len(counts) - SHOWN} more benchmarks")
    text.append("  (x on the Documents list filters them)", style="dim")
    return text


class ContaminationLine(WorkersReportToApp, Static):
    """Shows `counts_by_benchmark` at the screen's keep rate (read in a thread worker)."""

    def __init__(self, **kwargs: Any):
        super().__init__("", **kwargs)
        self.key: KeepKey | None = None  # (run id, keep, by) asked for last
        self.job_id: int | None = None  # the check this line started and waits for

    @property
    def services(self) -> AppServices:
        return cast("AppServices", self.app)

    def on_mount(self) -> None:
        self.watch(self.app, "jobs", self.jobs_changed, init=False)

    def show(self, run_id: int, keep: float, by: str) -> None:
        self.key = (run_id, keep, by)
        self.read(self.key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="th-contamination")
    def read(self, key: KeepKey) -> None:
        run_id, keep, by = key
        ws = self.services.workspace
        variables = self.app.theme_variables
        check = current_check(ws, run_id, keep=keep, by=by)
        if check is None:
            text = Text(
                "contamination: no check covers this kept set yet: x checks it "
                "(word 13-grams against every imported benchmark, a background job)",
                style="dim",
            )
        else:
            counts = counts_by_benchmark(ws, run_id, keep=keep, by=by, check_id=check.id)
            text = counts_text(counts, check, variables)
        self.post_message(ContaminationRead(key, text))

    @on(ContaminationRead)
    def contamination_read(self, message: ContaminationRead) -> None:
        if message.key == self.key:
            self.update(message.text)

    def check(self) -> None:
        """x: check the kept set at the current keep rate (a job; nothing when a finished
        check covers it)."""
        if self.key is None:
            self.notify("no applied run to check", severity="warning")
            return
        if self.job_id is not None:
            self.notify(f"the contamination check is running (job {self.job_id})")
            return
        self.launch(self.key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="th-contamination-start")
    def launch(self, key: KeepKey) -> None:
        run_id, keep, by = key
        ws = self.services.workspace
        try:
            plan = plan_check(ws, run_id, keep=keep, by=by)
            if plan.cached:
                self.post_message(
                    ContaminationStarted(None, "a finished check covers this kept set")
                )
                return
            assert plan.spec is not None  # only a cached plan has none
            job_id = start(ws, plan.spec, title=plan.title)
        except BetrError as exc:
            self.post_message(ContaminationStarted(None, f"cannot check: {exc}"))
            return
        self.post_message(ContaminationStarted(job_id, f"{plan.title}: job {job_id} started"))

    @on(ContaminationStarted)
    def contamination_started(self, message: ContaminationStarted) -> None:
        self.job_id = message.job_id
        self.notify(message.note, markup=False, timeout=5)
        if message.job_id is not None:
            self.update(Text(f"contamination: checking the kept set (job {message.job_id})…"))

    def jobs_changed(self, jobs: list[JobInfo]) -> None:
        if self.job_id is None:
            return
        job = next((j for j in jobs if j.id == self.job_id), None)
        if job is None or job.state in ("queued", "running"):
            return
        self.job_id = None
        if job.state != "done":
            self.services.report_error(f"contamination check {job.state}: {job.error or ''}")
        if self.key is not None:
            self.read(self.key)
