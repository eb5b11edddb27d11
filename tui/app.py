"""betr-tui: the Textual app over a betr workspace.

The app only reads the workspace (read-only connections, in thread workers) and calls engine
functions to launch and cancel jobs; jobs run in detached worker processes and outlive it.
The App owns the job list (polled twice a second), the device label and the last error; the
selection every screen follows (current corpus and run, keep rate, run indexes) is its
`session` (`tui.session.Session`). The main screens come from `tui.screen_registry`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, InvalidThemeError
from textual.filter import LineFilter
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from engine.api.catalog import CorpusInfo, PolledRun, app_state
from engine.api.jobs import FINISHED, JobInfo, reap_children
from engine.config import UserConfig, load_config
from engine.errors import BetrError, damaged_database_message
from engine.terminal import visible
from engine.workspace import Workspace, owner_only
from tui.action_model import GLOBAL, bindings
from tui.actions import ACTIONS, BY_NAME, ActionsProvider, help_sections, unknown_keymap_names
from tui.polling import Poller
from tui.reads import reading
from tui.safe_text import ControlCharFilter
from tui.screen_registry import MAIN_MODES, SCREENS, SWITCH_ACTIONS
from tui.screens.documents.doclist import BLOCK
from tui.screens.help import HelpScreen
from tui.session import Session

ASSETS = Path(__file__).resolve().parent.parent / "assets"
JOBS_POLL_S = 0.5
REPEAT_ERROR_AFTER_S = 30.0
ERROR_STALE_S = 60.0  # the status line drops an error not reported again for this long


class JobsPolled(Message):
    """The job list and corpora, read by the jobs poll (None when the read failed)."""

    def __init__(
        self,
        jobs: list[JobInfo] | None,
        corpora: list[CorpusInfo] | None,
        runs: list[PolledRun] | None = None,
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
    BINDINGS = bindings(ACTIONS, GLOBAL)
    COMMANDS: ClassVar = {ActionsProvider}
    MODES: ClassVar = {entry.mode: entry.create for entry in SCREENS}
    DEFAULT_MODE = SCREENS[0].mode
    # Screens restyle by width (`Screen.-narrow`, ... in app.tcss) and height (`-short`).
    # (No ClassVar: Textual declares them `ClassVar[...] | None`, which mypy reads as instance
    # variables, and a ClassVar may not override one.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]  # noqa: RUF012

    jobs: var[list[JobInfo]] = var(list, always_update=True)
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
        self.session = Session(workspace, warm_up=not exit_after_paint, warm_rows=BLOCK)
        self.jobs_poll = Poller(self, self.poll_jobs, JOBS_POLL_S)
        self._job_states: dict[int, str] | None = None
        self._shown_error: tuple[str, float] = ("", 0.0)
        self.error_stale_s = ERROR_STALE_S
        self._error_timer: Timer | None = None
        self._control_filter = ControlCharFilter()

    # -- start-up ------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.watch(self.session, "selection", self.show_selection)
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
        if self.exit_after_paint:  # bench/startup.py times the first frame, then we leave
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
            jobs, corpora, runs, bench_ids = state.jobs, state.corpora, state.runs, state.bench_ids
        finally:
            self.post_message(JobsPolled(jobs, corpora, runs, bench_ids))

    def on_jobs_polled(self, message: JobsPolled) -> None:
        self.jobs_poll.finished(ok=message.jobs is not None)
        if message.jobs is None or message.corpora is None:
            return
        # the session first: a toast's "press 3" must find the run it names current
        self.session.polled(message.corpora, message.runs, message.bench_ids)
        self.announce_finished_jobs(message.jobs)
        self.jobs = message.jobs

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
            if job.state == "done" and job.kind == "embed-docs":
                self.notify(f"job {job.id} done: {job.title}", markup=False, timeout=3)
            elif job.state == "done" and job.run_id is not None:
                self.notify(
                    f"job {job.id} done: {job.title}. {self.run_hint(job.run_id)}",
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

    def run_hint(self, run_id: int) -> str:
        """Where to read a run that just finished: 3 when it is the current run, else the
        keys that make it current (a hint that leads to an empty screen is worse than none)."""
        if self.session.run_id == run_id:
            return f"Press 3 to read run {run_id}'s documents, 4 to set its keep rate."
        current = self.session.run_id
        now = f"run {current} is current" if current is not None else "no run is current"
        return (
            f"To read it ({now}): press 1, then r on run {run_id} to make it current, "
            "then 3 (documents) or 4 (keep rate)."
        )

    def show_selection(self, text: str) -> None:
        self.sub_title = text

    def get_line_filters(self) -> Sequence[LineFilter]:
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

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text: the messages quote names, paths and errors from
        data, which must never be parsed as markup (a screen's `notify(..., markup=True)` too)."""
        super().notify(
            visible(str(message)),
            title=visible(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def report_error(self, message: str) -> None:
        """Show an error once (a failing poll repeats its error only every 30 s)."""
        message = visible(message)
        self.last_error = message
        if self._error_timer is not None:
            self._error_timer.stop()
        self._error_timer = self.set_timer(self.error_stale_s, self.clear_stale_error)
        last, when = self._shown_error
        now = time.monotonic()
        if message == last and now - when < REPEAT_ERROR_AFTER_S:
            return
        self._shown_error = (message, now)
        self.notify(message, title="error", severity="error", timeout=10, markup=False)

    def clear_stale_error(self) -> None:
        """The last error was not reported again for `error_stale_s`: off the status line."""
        self.last_error = None
        self._error_timer = None

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # a dialog on top keeps the screen under it: no switching screens behind its back
        return not ((action in SWITCH_ACTIONS or action == "help") and self.screen.is_modal)

    # action_screen_<mode> for each registry entry: see `switch_action` below the class

    def action_help(self) -> None:
        """The keys of the screen shown (its own, then its widgets'), then the global ones."""
        screen = self.screen
        scopes = [getattr(screen, "SCOPE", GLOBAL), *getattr(screen, "WIDGET_SCOPES", ())]
        scopes = [s for s in scopes if s != GLOBAL] + [GLOBAL]
        self.push_screen(HelpScreen(help_sections(self, scopes, self.user_keymap)))

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """An SVG of the screen, by default betr-<screen>-<time>.svg in the workspace's exports
        folder (`filename` and `path` as Textual's action takes them)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = filename or f"betr-{getattr(self.screen, 'SCOPE', 'screen')}-{stamp}.svg"
        folder = path or str(self.workspace.exports_dir)
        try:
            saved = self.save_screenshot(name, folder)
            owner_only(Path(saved), 0o600)  # written by Textual with the umask's mode
        except OSError as exc:
            self.report_error(f"cannot save the screenshot in {folder}: {exc}")
            return
        self.notify(f"screenshot saved: {saved}", markup=False)

    def action_change_theme(self) -> None:
        self.search_themes()

    async def run_registry_action(self, name: str) -> None:
        """What the command palette runs: switch to the action's screen first if needed."""
        action = BY_NAME[name]
        if action.scope == GLOBAL:
            await self.run_action(name)
            return
        if action.scope in MAIN_MODES and self.current_mode != action.scope:
            await self.switch_mode(action.scope)
        await self.screen.run_action(name)

    def open_jobs(self, select_job: int | None = None) -> None:
        """Switch to the Jobs screen (optionally with a job selected) and poll at once."""

        async def switch() -> None:
            await self.switch_mode("jobs")
            if select_job is not None and hasattr(self.screen, "select_job"):
                self.screen.select_job(select_job)

        self.call_later(switch)
        self.jobs_poll.now()


def switch_action(mode: str) -> Callable[[BetrApp], Coroutine[Any, Any, None]]:
    """The App's `action_screen_<mode>`: the registry's key (and palette entry) runs it."""

    async def action(app: BetrApp) -> None:
        await app.switch_mode(mode)

    action.__name__ = f"action_screen_{mode}"
    action.__doc__ = f"Switch to the {mode} screen."
    return action


for _entry in SCREENS:
    setattr(BetrApp, f"action_{_entry.action}", switch_action(_entry.mode))


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
    app = BetrApp(workspace)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
