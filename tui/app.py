"""betr-tui: the Textual app over a betr workspace.

The app only reads the workspace (read-only connections, in thread workers) and calls engine
functions to launch and cancel jobs; jobs run in detached worker processes and outlive it.
The App owns the state every screen shares: the job list (polled twice a second), the
current corpus, the device label and the last error.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, InvalidThemeError
from textual.message import Message
from textual.reactive import var
from textual.worker import Worker, WorkerState

from engine.api.catalog import app_state
from engine.api.jobs import FINISHED, JobInfo, reap_children
from engine.config import UserConfig, load_config
from engine.errors import BetrError, damaged_database_message
from engine.terminal import visible
from engine.workspace import Workspace
from tui.actions import (
    BY_NAME,
    GLOBAL,
    MAIN_SCREENS,
    ActionsProvider,
    bindings_for,
    unknown_keymap_names,
)
from tui.polling import Poller
from tui.reads import reading
from tui.safe_text import ControlCharFilter
from tui.screens.documents import DocumentsScreen
from tui.screens.help import HelpScreen
from tui.screens.jobs import JobsScreen
from tui.screens.threshold import ThresholdScreen
from tui.screens.workspace import WorkspaceScreen

if TYPE_CHECKING:
    from engine.api.browse import IndexCache, RunIndex

ASSETS = Path(__file__).resolve().parent.parent / "assets"
JOBS_POLL_S = 0.5
REPEAT_ERROR_AFTER_S = 30.0
EXIT_AFTER_PAINT_ENV = "BETR_TUI_EXIT_AFTER_PAINT"


class JobsPolled(Message):
    """The job list and corpora, read by the jobs poll (None when the read failed)."""

    def __init__(
        self,
        jobs: list[JobInfo] | None,
        corpora: list[dict[str, Any]] | None,
        runs: list[dict[str, Any]] | None = None,
        bench_ids: dict[str, int] | None = None,
    ):
        super().__init__()
        self.jobs = jobs
        self.corpora = corpora
        self.runs = runs
        self.bench_ids = bench_ids


class DemoRunQueued(Message):
    def __init__(self, job_id: int):
        super().__init__()
        self.job_id = job_id


class DeviceDetected(Message):
    def __init__(self, label: str):
        super().__init__()
        self.label = label


def detect_device_label(preference: str) -> str:
    """engine.device in a child process: it imports torch, whose import would hold the GIL
    (and the UI) for seconds, and which the TUI process itself never needs."""
    import subprocess

    import engine

    root = str(Path(engine.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "engine.device", preference],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, PYTHONPATH=path),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    if done.returncode != 0 or not done.stdout.strip():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"unknown ({last[:60]})"
    return done.stdout.strip().splitlines()[-1]


class BetrApp(App[None]):
    TITLE = "betr"
    CSS_PATH = ASSETS / "app.tcss"
    BINDINGS = bindings_for(GLOBAL)
    COMMANDS: ClassVar = {ActionsProvider}
    MODES: ClassVar = {
        "workspace": WorkspaceScreen,
        "jobs": JobsScreen,
        "documents": DocumentsScreen,
        "threshold": ThresholdScreen,
    }
    DEFAULT_MODE = "workspace"

    jobs: var[list[JobInfo]] = var(list, always_update=True)
    corpus: var[str | None] = var(None)
    run_id: var[int | None] = var(None)  # the current run: what Documents/Threshold show
    # the current run's (id, state, finished_at): changes when it is scored, trained, applied
    run_state: var[tuple | None] = var(None)
    keep: var[float] = var(0.10)  # current keep rate (fraction), shared by screens
    keep_by: var[str] = var("tokens")
    device: var[str | None] = var(None)
    last_error: var[str | None] = var(None)

    def __init__(
        self,
        workspace: Workspace,
        *,
        config: UserConfig | None = None,
        probe_device: Any = detect_device_label,
        exit_after_paint: bool = False,
    ):
        super().__init__()
        self.workspace = workspace
        self.startup_errors: list[str] = []
        if config is None:
            try:
                config = load_config()
            except BetrError as exc:
                config = UserConfig()
                self.startup_errors.append(f"config ignored, using defaults: {exc}")
        self.config = config
        self.user_keymap = dict(config.keymap)
        self.probe_device = probe_device
        self.exit_after_paint = exit_after_paint
        self.corpus_chosen = False  # the user picked one: stop following the newest corpus
        self.run_chosen = False  # likewise for the current run
        self.runs: dict[int, dict[str, Any]] = {}  # id -> {id, name, state, corpus}
        self.bench_ids: dict[str, int] = {}  # benchmark name -> id (its colour, everywhere)
        self.index_cache: IndexCache | None = None  # numpy loads with the first run
        self._first_rows: tuple | None = None  # (index, query, rows) read by warm_index
        self._index_lock = threading.Lock()
        self.jobs_poll = Poller(self, self.poll_jobs, JOBS_POLL_S)
        self._job_states: dict[int, str] | None = None
        self._shown_error: tuple[str, float] = ("", 0.0)
        self._control_filter = ControlCharFilter()

    # -- start-up ------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.sub_title = self.selection_text()
        try:
            self.theme = self.config.theme
        except InvalidThemeError:
            names = ", ".join(sorted(self.available_themes))
            self.startup_errors.append(
                f"unknown theme '{self.config.theme}' in {self.config.path}; known: {names}"
            )
        unknown = unknown_keymap_names(self.user_keymap)
        for name in unknown:
            self.startup_errors.append(
                f"[keymap] in {self.config.path}: unknown action '{name}' "
                f"(known: {', '.join(sorted(BY_NAME))})"
            )
            del self.user_keymap[name]
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
        for message in self.startup_errors:
            self.report_error(message)
        self.jobs_poll.start()

    def on_ready(self) -> None:
        """The first frame is on screen: now the slow bits (torch, for the device)."""
        if self.exit_after_paint:
            print_first_paint()
            self.exit()
            return
        self.detect_device()
        self.queue_demo_run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="app-demo")
    def queue_demo_run(self) -> None:
        """First open of the demo workspace: queue its BETR run (a detached worker)."""
        from engine.api.demo import queue_demo_run

        job_id = queue_demo_run(self.workspace)
        if job_id is not None:
            self.post_message(DemoRunQueued(job_id))

    async def on_demo_run_queued(self, message: DemoRunQueued) -> None:
        await self.switch_mode("jobs")
        self.notify(
            f"demo: BETR run queued as job {message.job_id} (score 3 000 docs against the "
            "noncore benchmarks, train fastText, apply to the pool). It keeps running if you "
            "quit; press 1 for the Workspace screen.",
            title="next",
            timeout=15,
            markup=False,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="app-device")
    def detect_device(self) -> None:
        self.post_message(DeviceDetected(self.probe_device(self.config.device)))

    def on_device_detected(self, message: DeviceDetected) -> None:
        self.device = message.label

    # -- the job list --------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="app-jobs")
    def poll_jobs(self) -> None:
        jobs = corpora = runs = bench_ids = None
        reap_children()  # workers this TUI started leave no zombies behind
        try:
            with reading(self.workspace) as conn:
                state = app_state(conn)
            jobs, corpora = state["jobs"], state["corpora"]
            runs, bench_ids = state["runs"], state["bench_ids"]
        finally:
            self.post_message(JobsPolled(jobs, corpora, runs, bench_ids))

    def on_jobs_polled(self, message: JobsPolled) -> None:
        self.jobs_poll.finished(ok=message.jobs is not None)
        if message.jobs is None or message.corpora is None:
            return
        self.announce_finished_jobs(message.jobs)
        self.jobs = message.jobs
        self.follow_newest_corpus(message.corpora)
        if message.bench_ids is not None and message.bench_ids != self.bench_ids:
            self.bench_ids = message.bench_ids  # a new dict: lists redraw their colours
        if message.runs is not None:
            self.runs = {r["id"]: r for r in message.runs}
            self.follow_newest_run()
            self.sub_title = self.selection_text()
            self.update_run_state()

    def announce_finished_jobs(self, jobs: list[JobInfo]) -> None:
        """Notify jobs that finished while the TUI watched (not those finished before)."""
        before = self._job_states
        self._job_states = {j.id: j.state for j in jobs}
        if before is None:
            return
        for job in jobs:
            was = before.get(job.id)
            if was is None or was in FINISHED or job.state not in FINISHED:
                continue
            if job.state == "done" and job.run_id is not None:
                self.notify(
                    f"job {job.id} done: {job.title}. Press 3 to read run {job.run_id}'s "
                    "documents, 4 to set its keep rate (1: Workspace, r makes a run current).",
                    markup=False,
                    timeout=15,
                )
            elif job.state == "done":
                self.notify(f"job {job.id} done: {job.title}", markup=False)
            elif job.state == "failed":
                self.report_error(f"job {job.id} failed: {job.error or 'no error text'}")
            else:
                self.notify(
                    f"job {job.id} {job.state}: {job.title}", severity="warning", markup=False
                )

    def follow_newest_corpus(self, corpora: list[dict[str, Any]]) -> None:
        ready = [c for c in corpora if c["state"] == "ready"]
        names = {c["name"] for c in ready}
        if self.corpus_chosen and self.corpus in names:
            return
        newest = max(ready, key=lambda c: (c["created_at"], c["id"]))["name"] if ready else None
        if newest != self.corpus:
            self.corpus = newest

    def choose_corpus(self, name: str) -> None:
        self.corpus_chosen = True
        self.corpus = name

    def follow_newest_run(self) -> None:
        """Until the user picks one, the current run is the newest browsable run of the current
        corpus (applied first, else scored)."""
        if self.run_chosen and self.run_id in self.runs:
            return
        mine = [r for r in self.runs.values() if r["corpus"] == self.corpus or self.corpus is None]
        applied = [r["id"] for r in mine if r["state"] == "applied"]
        scored = [r["id"] for r in mine if r["state"] in ("scored", "trained")]
        newest = max(applied or scored or [None], key=lambda x: -1 if x is None else x)
        if newest != self.run_id:
            self.run_id = newest

    def choose_run(self, run_id: int) -> None:
        run = self.runs.get(run_id)
        if run is not None and run["corpus"] and run["corpus"] != self.corpus:
            self.choose_corpus(run["corpus"])
        self.run_chosen = True
        self.run_id = run_id

    def load_index(self, conn: sqlite3.Connection, run_id: int) -> RunIndex:
        """The run's RunIndex (cached across screens); call from a thread worker."""
        with self._index_lock:
            if self.index_cache is None:
                from engine.api.browse import IndexCache

                self.index_cache = IndexCache()
            return self.index_cache.get(conn, run_id)

    def cached_index(self, run_id: int) -> RunIndex | None:
        """The run's RunIndex if it is loaded already (UI thread; no database read)."""
        run = self.runs.get(run_id)
        if run is None or self.index_cache is None:
            return None
        with self._index_lock:
            return self.index_cache.peek(run_id, run["state"], run["finished_at"])

    def watch_corpus(self) -> None:
        if self.runs:
            self.follow_newest_run()
        self.sub_title = self.selection_text()

    def watch_run_id(self) -> None:
        self.sub_title = self.selection_text()
        self.update_run_state()

    def update_run_state(self) -> None:
        run = self.runs.get(self.run_id) if self.run_id is not None else None
        state = None if run is None else (run["id"], run["state"], run["finished_at"])
        if state != self.run_state:
            self.run_state = state

    def watch_run_state(self, state: tuple | None) -> None:
        if state is not None and state[1] != "pending" and not self.exit_after_paint:
            self.warm_index(state[0])

    @work(thread=True, exclusive=True, exit_on_error=False, group="app-index")
    def warm_index(self, run_id: int) -> None:
        """Load the current run's columns in the background, so the Documents and Threshold
        screens open on a warm index (their own loads report any error)."""
        try:
            with reading(self.workspace) as conn:
                index = self.load_index(conn, run_id)
        except (BetrError, sqlite3.Error):
            return
        from engine.api.browse import SORTS, Query, make_view, page
        from tui.widgets.doclist import BLOCK

        try:  # the Documents list's first rows, so it opens with them on screen
            query = Query(keep=self.keep, by=self.keep_by)
            with reading(self.workspace) as conn:
                rows = page(conn, index, make_view(conn, index, query), 0, BLOCK)
            self._first_rows = (index, query, rows)
        except (BetrError, sqlite3.Error):
            pass
        for sort in SORTS:  # each sort's argsort once, ahead of the first key press
            index.order(sort)

    def first_rows(self, index: RunIndex, query: Any) -> list | None:
        """The warm-up's first rows of this run's `query` view, once (later views fetch)."""
        cached, self._first_rows = self._first_rows, None
        if cached is not None and cached[0] is index and cached[1] == query:
            return cached[2]
        return None

    def selection_text(self) -> str:
        run = self.runs.get(self.run_id) if self.run_id is not None else None
        if run is None:
            shown = "-"
        else:
            state = "" if run["state"] == "applied" else f", {run['state']}"
            shown = f"{run['id']} ({run['name'] or ''}{state})"
        return f"corpus: {self.corpus or '-'} · run: {shown}"

    def get_line_filters(self):
        """Textual's filters, and one that drops control characters from every line drawn."""
        return [*super().get_line_filters(), self._control_filter]

    # -- errors --------------------------------------------------------------------------------
    @on(Worker.StateChanged)
    def show_worker_error(self, event: Worker.StateChanged) -> None:
        """The one place worker errors become notifications (never a traceback on screen)."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, BetrError):
            self.report_error(str(error))
        else:
            self.log.error("".join(traceback.format_exception(error)))
            self.report_error(
                f"internal error in {event.worker.name}: {type(error).__name__}: {error}"
            )

    def report_error(self, message: str) -> None:
        """Show an error once (a failing poll repeats its error only every 30 s)."""
        message = visible(message)
        self.last_error = message
        last, when = self._shown_error
        now = time.monotonic()
        if message == last and now - when < REPEAT_ERROR_AFTER_S:
            return
        self._shown_error = (message, now)
        self.notify(message, title="error", severity="error", timeout=10, markup=False)

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # a dialog on top keeps the screen under it: no switching screens behind its back
        switching = ("screen_workspace", "screen_jobs", "screen_documents", "screen_threshold")
        return not (action in (*switching, "help") and self.screen.is_modal)

    async def action_screen_workspace(self) -> None:
        await self.switch_mode("workspace")

    async def action_screen_documents(self) -> None:
        await self.switch_mode("documents")

    async def action_screen_threshold(self) -> None:
        await self.switch_mode("threshold")

    async def action_screen_jobs(self) -> None:
        await self.switch_mode("jobs")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(getattr(self.screen, "SCOPE", GLOBAL)))

    def action_screenshot(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"betr-{getattr(self.screen, 'SCOPE', 'screen')}-{stamp}.svg"
        try:
            path = self.save_screenshot(name, str(self.workspace.exports_dir))
        except OSError as exc:
            self.report_error(f"cannot save the screenshot in {self.workspace.exports_dir}: {exc}")
            return
        self.notify(f"screenshot saved: {path}", markup=False)

    def action_change_theme(self) -> None:
        self.search_themes()

    async def run_registry_action(self, name: str) -> None:
        """What the command palette runs: switch to the action's screen first if needed."""
        action = BY_NAME[name]
        if action.scope == GLOBAL:
            await self.run_action(name)
            return
        if action.scope in MAIN_SCREENS and self.current_mode != action.scope:
            await self.switch_mode(action.scope)
        await self.screen.run_action(name)

    def open_jobs(self, select_job: int | None = None) -> None:
        """Switch to the Jobs screen (optionally with a job selected) and poll at once."""

        async def switch() -> None:
            await self.switch_mode("jobs")
            if select_job is not None and isinstance(self.screen, JobsScreen):
                self.screen.select_job(select_job)

        self.call_later(switch)
        self.jobs_poll.now()


def print_first_paint() -> None:
    """For bench/startup.py: seconds from process start to the first painted frame."""
    now = time.time()
    since_start = time.clock_gettime(time.CLOCK_BOOTTIME) - _process_start_since_boot()
    # printed once the terminal is restored, so it lands on the real stdout
    _PAINT_REPORT.append(f"betr-tui first paint: epoch={now:.6f} since_start={since_start:.3f}s")


_PAINT_REPORT: list[str] = []


def _process_start_since_boot() -> float:
    with open(f"/proc/{os.getpid()}/stat", "rb") as fh:
        fields = fh.read().rsplit(b")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="betr-tui",
        description="Terminal workbench for benchmark-targeted pretraining data selection.",
    )
    parser.add_argument(
        "workspace",
        nargs="?",
        default=None,
        help="workspace directory (default: $BETR_WORKSPACE, else ./betr-workspace)",
    )
    args = parser.parse_args(argv)
    try:
        workspace = Workspace.open(args.workspace)
    except BetrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.DatabaseError as exc:
        print(f"error: {damaged_database_message(exc)}", file=sys.stderr)
        return 2
    app = BetrApp(workspace, exit_after_paint=bool(os.environ.get(EXIT_AFTER_PAINT_ENV)))
    app.run()
    for line in _PAINT_REPORT:
        print(line)
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
