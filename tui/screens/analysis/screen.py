"""Screen 6, Analysis: does a small proxy's score predict the large model's result, and which
benchmarks can be trusted early? Tabs Fit, Ranking, Calibration and Correlations over the
workspace's long results table.

The screen reads the overview (`analysis_views.overview`: what the selectors offer and their
defaults) and holds the selection in an `AnalysisContext` it shares with its tabs; each tab
(tui/screens/tab.py) computes its own content in a thread worker through `engine.api`, drops an
answer for a selection the user has left, and shows an error as its text and a notification.
Only the shown tab is computed, again when the selection changed since. A tab is one module plus
one line in TABS. The demo experiment runs as a detached job (x twice); when it finishes the
tabs open on its results.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Select, Static, TabbedContent, TabPane

from engine.api import jobs as api_jobs
from engine.api.analysis_corr import METHODS
from engine.api.analysis_views import AnalysisOverview
from engine.errors import BetrError
from tui.action_model import bindings
from tui.screens.analysis.actions import ACTIONS, HEATMAP, SCOPE
from tui.screens.analysis.calib_tab import CalibrationTab
from tui.screens.analysis.corr_tab import CorrTab
from tui.screens.analysis.experiment_tab import ExperimentTab
from tui.screens.analysis.fit_tab import FitTab
from tui.screens.analysis.format import no_results
from tui.screens.analysis.messages import DemoAlreadyRan, DemoStarted, OverviewRead
from tui.screens.analysis.rank_tab import RankTab
from tui.screens.analysis.selection import (
    MATCHES,
    SELECTS,
    AnalysisContext,
    Selection,
    options,
)
from tui.screens.analysis.tab import AnalysisTab
from tui.screens.base import BetrScreen
from tui.screens.rbridge.summary import job_line
from tui.widgets.cells import ThemeStyles
from tui.widgets.select import PlainSelect

# the tabs, in order: each is one module (an AnalysisTab) and one line here. Experiment comes
# first when a demo experiment has finished (its verdict is the first thing shown), and is
# hidden when none has
TABS: tuple[type[AnalysisTab[Any, Any]], ...] = (
    ExperimentTab,
    FitTab,
    RankTab,
    CalibrationTab,
    CorrTab,
)
DEMO_KIND = "demo-experiment"
CONFIRM_S = 5.0


def pane_id(tab: type[AnalysisTab[Any, Any]]) -> str:
    return f"an-tab-{tab.NAME}"


class AnalysisScreen(BetrScreen):
    SCOPE = SCOPE
    TITLE = "Analysis"
    BINDINGS = bindings(ACTIONS, SCOPE)
    WIDGET_SCOPES = (HEATMAP,)
    AUTO_FOCUS = "ContentTabs"  # the tabs, not a Select: enter and arrows never open a dropdown

    def __init__(self) -> None:
        super().__init__()
        self.context = AnalysisContext()
        self.options: dict[str, list[tuple[str, str]]] = {k: [] for k in SELECTS}
        self.demo_job: int | None = None
        self._demo_state: str | None = None
        self._confirm_at = 0.0

    # -- layout --------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with Horizontal(id="an-selectors"):
            for key in SELECTS:
                yield PlainSelect[str](
                    [],
                    prompt=key.replace("_", " "),
                    allow_blank=True,
                    id=f"an-sel-{key}",
                    compact=True,
                )
        yield Static("", id="an-jobs", markup=False)
        yield Static("reading the workspace…", id="an-empty", classes="an-empty", markup=False)
        with TabbedContent(id="an-tabs", initial=pane_id(FitTab)):
            for tab in TABS:
                with TabPane(tab.TITLE, id=pane_id(tab)):
                    yield tab(self.context, id=f"an-{tab.NAME}")

    def on_mount(self) -> None:
        self.query_one("#an-jobs").display = False
        self.query_one("#an-tabs").display = False
        self.query_one("#an-tabs", TabbedContent).hide_tab(pane_id(ExperimentTab))
        self.watch(self.app, "jobs", self.jobs_changed)
        self.preload()

    def on_screen_resume(self) -> None:
        # also the first showing (mount, then resume): one read, not two racing each other
        self.read_overview()

    # -- what the tests and the tabs read ------------------------------------------------------
    @property
    def view(self) -> AnalysisOverview | None:
        """The overview: what the selectors offer (None until read)."""
        return self.context.view

    @property
    def sel(self) -> Selection:
        return self.context.sel

    @property
    def active_tab(self) -> str:
        """The id of the shown tab's pane ("an-tab-fit")."""
        return self.query_one("#an-tabs", TabbedContent).active

    @property
    def tabs(self) -> list[AnalysisTab[Any, Any]]:
        return list(self.query(AnalysisTab))

    @property
    def current_tab(self) -> AnalysisTab[Any, Any]:
        return self.query_one(f"#{self.active_tab}").query_one(AnalysisTab)

    @property
    def experiment_tab(self) -> ExperimentTab:
        return self.query_one(ExperimentTab)

    @property
    def shown_tabs(self) -> list[str]:
        """The panes the tab bar offers, in order (Experiment only after an experiment)."""
        hidden = self.experiment_tab.job is None
        return [pane_id(t) for t in TABS if not (hidden and t is ExperimentTab)]

    @property
    def corr_tab(self) -> CorrTab:
        return self.query_one(CorrTab)

    @property
    def results(self) -> dict[str, Any]:
        """Each tab's last result shown, by its name ("fit", "rank", "cal", "corr")."""
        return {tab.NAME: tab.result for tab in self.tabs if tab.result is not None}

    # -- the overview (thread workers) ---------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="analysis-preload")
    def preload(self) -> None:
        from engine.api.analysis_fit import preload

        preload()  # the fit's libraries load while the overview is read

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-overview")
    def read_overview(self, open_demo: bool = False) -> None:
        from engine.api.analysis_views import overview
        from engine.api.demo import finished_experiments

        try:
            view = overview(self.betr.workspace)
            experiments = finished_experiments(self.betr.workspace)
        except BetrError as exc:
            self.post_message(OverviewRead(open_demo, error=exc))
            return
        self.post_message(OverviewRead(open_demo, view, experiment=next(iter(experiments), None)))

    @on(OverviewRead)
    def overview_read(self, message: OverviewRead) -> None:
        if message.error is not None or message.view is None:
            self.betr.report_error(str(message.error))
            return
        view = self.context.view = message.view
        empty = self.query_one("#an-empty", Static)
        has = bool(view.n_rows)
        empty.update("" if has else no_results())
        empty.display = not has
        self.query_one("#an-tabs").display = has
        if not has:
            self.query_one("#an-selectors").display = False
            return
        self.show_experiment(message.experiment, message.open_demo)
        self.sync_selectors_shown()
        keep = self.sel.benchmark in {b.benchmark for b in view.benchmarks}
        if message.open_demo or not keep:
            self.context.sel = Selection.from_defaults(view.defaults, self.sel)
            self.context.default_sel = self.sel
        self.sync_selects()
        if message.open_demo:
            for tab in self.tabs:
                tab.forget()
            tabs = self.query_one("#an-tabs", TabbedContent)
            tabs.active = self.shown_tabs[0]
        self.compute()

    def show_experiment(self, job: int | None, open_it: bool) -> None:
        """The Experiment tab for demo experiment `job` (None: hidden); it opens first when an
        experiment is new to the screen, or `open_it`."""
        tab, tabs = self.experiment_tab, self.query_one("#an-tabs", TabbedContent)
        new = job is not None and job != tab.job
        tab.job = job
        if job is None:
            tabs.hide_tab(pane_id(ExperimentTab))
            return
        tabs.show_tab(pane_id(ExperimentTab))
        if new or open_it:
            tab.forget()
            tabs.active = pane_id(ExperimentTab)

    # -- the selection -------------------------------------------------------------------------
    def sync_selects(self) -> None:
        assert self.view is not None
        opts = options(self.view, self.sel)
        for key in SELECTS:
            select = self.query_one(f"#an-sel-{key}", Select)
            value = getattr(self.sel, key)
            with select.prevent(Select.Changed):
                if self.options[key] != opts[key]:
                    self.options[key] = opts[key]
                    select.set_options(opts[key])
                if value in {v for _l, v in opts[key]} and select.value != value:
                    select.value = value

    @on(Select.Changed)
    def selector_changed(self, event: Select.Changed) -> None:
        key = (event.select.id or "").removeprefix("an-sel-")
        if (
            key in SELECTS
            and isinstance(event.value, str)
            and event.value != getattr(self.sel, key)
        ):
            self.choose(**{key: event.value})

    def choose(self, **changes: str) -> None:
        sel = replace(self.sel, **changes)
        if "benchmark" in changes and self.view is not None:
            y_metrics: list[str] = next(
                (b.metrics for b in self.view.benchmarks if b.benchmark == sel.benchmark),
                [],
            )
            if sel.y_metric not in y_metrics and y_metrics:
                sel = replace(sel, y_metric=y_metrics[0])
        self.context.sel = sel
        self.sync_selects()
        self.compute()

    def compute(self) -> None:
        """(Re)compute the shown tab when its inputs changed since it was drawn."""
        if self.view is None or not self.view.n_rows:
            return
        self.current_tab.refresh_content()

    def sync_selectors_shown(self) -> None:
        """The selectors at the top serve every tab but Experiment (its keys are v and z)."""
        shown = self.view is not None and bool(self.view.n_rows)
        experiment = self.active_tab == pane_id(ExperimentTab)
        self.query_one("#an-selectors").display = shown and not experiment

    @on(TabbedContent.TabActivated, "#an-tabs")
    def tab_activated(self) -> None:
        self.sync_selectors_shown()
        self.compute()
        self.current_tab.focus_content()

    # -- jobs: the demo experiment -------------------------------------------------------------
    def jobs_changed(self, jobs: list[api_jobs.JobInfo]) -> None:
        mine = [j for j in jobs if j.kind == DEMO_KIND and (j.active or j.id == self.demo_job)]
        line = self.query_one("#an-jobs", Static)
        line.display = bool(mine)
        if mine:
            styles = ThemeStyles.from_variables(self.app.theme_variables or {})
            line.update(job_line(max(mine, key=lambda j: j.id), styles))
        job = next((j for j in jobs if j.id == self.demo_job), None)
        if job is None or job.state == self._demo_state:
            return
        self._demo_state = job.state
        if job.state == "done":
            self.notify(
                "demo experiment done: the Experiment tab shows its verdict with error bars; Fit, "
                "Ranking and Correlations its results (t: next tab).",
                markup=False,
                timeout=15,
            )
            self.read_overview(open_demo=True)

    def action_demo_experiment(self) -> None:
        now = time.monotonic()
        if now - self._confirm_at > CONFIRM_S:
            self._confirm_at = now
            self.notify(
                "press x again to start the demo experiment: tiny proxies on the BETR top, "
                "random and bottom 10% of the demo pool at two sizes (~8 min on 2 cores, a background job)",
                markup=False,
            )
            return
        self._confirm_at = 0.0
        self.start_demo()

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-demo")
    def start_demo(self) -> None:
        from engine.api.demo import earlier_experiment, experiment_spec

        ws = self.betr.workspace
        spec = experiment_spec(ws)
        earlier = earlier_experiment(ws, spec)
        if earlier is not None and earlier.state == "done":
            self.post_message(DemoAlreadyRan(earlier.id))
            return
        if earlier is None:
            job_id = api_jobs.start(ws, spec, title="demo experiment (from the Analysis screen)")
        elif earlier.state in api_jobs.RESUMABLE:
            job_id = api_jobs.resume(ws, earlier.id).id  # on from where it stopped
        else:
            job_id = earlier.id  # running already: follow it
        self.post_message(DemoStarted(job_id))

    @on(DemoAlreadyRan)
    def demo_already_ran(self, message: DemoAlreadyRan) -> None:
        from engine.api.demo import experiment_results_hint

        self.notify(experiment_results_hint(message.job_id, tui=True), markup=False, timeout=10)
        self.read_overview(open_demo=True)

    @on(DemoStarted)
    def demo_started(self, message: DemoStarted) -> None:
        self.demo_job, self._demo_state = message.job_id, None
        self.notify(f"demo experiment: job {message.job_id} (progress above; 2: Jobs screen)")
        self.betr.jobs_poll.now()

    # -- keys ----------------------------------------------------------------------------------
    def show_tab(self, tab: type[AnalysisTab[Any, Any]]) -> None:
        self.query_one("#an-tabs", TabbedContent).active = pane_id(tab)

    def action_analysis_next_tab(self) -> None:
        panes = self.shown_tabs
        at = panes.index(self.active_tab) if self.active_tab in panes else -1
        self.query_one("#an-tabs", TabbedContent).active = panes[(at + 1) % len(panes)]

    def _cycle(self, key: str) -> None:
        values = [v for _l, v in self.options[key]]
        if values:
            at = values.index(getattr(self.sel, key)) if getattr(self.sel, key) in values else -1
            self.choose(**{key: values[(at + 1) % len(values)]})

    def action_analysis_next_benchmark(self) -> None:
        self._cycle("benchmark")

    def action_analysis_method(self) -> None:
        self.choose(method=METHODS[(METHODS.index(self.sel.method) + 1) % len(METHODS)])

    def action_analysis_match(self) -> None:
        self.choose(match=MATCHES[(MATCHES.index(self.sel.match) + 1) % len(MATCHES)])

    def action_corr_next_protocol(self) -> None:
        self.show_tab(CorrTab)
        self.corr_tab.next_protocol()
        self.compute()

    def action_corr_next_matrix(self) -> None:
        self.show_tab(CorrTab)
        if not self.corr_tab.next_matrix():
            self.notify("one matrix here (the matrix protocol pairs two stages or scales)")

    def action_corr_sort(self) -> None:
        self.show_tab(CorrTab)
        self.notify(f"heatmap order: {self.corr_tab.cycle_sort()}", timeout=2)

    def action_experiment_metric(self) -> None:
        if self.experiment_tab.job is None:
            self.notify("no demo experiment here yet: x (twice) runs it", severity="warning")
            return
        self.show_tab(ExperimentTab)
        self.notify(f"experiment metric: {self.experiment_tab.next_metric()}", timeout=2)

    def action_experiment_size(self) -> None:
        if self.experiment_tab.job is None:
            self.notify("no demo experiment here yet: x (twice) runs it", severity="warning")
            return
        self.show_tab(ExperimentTab)
        size = self.experiment_tab.next_size()
        self.notify(f"experiment proxy size: {size:,} params" if size else "no sizes", timeout=2)

    def action_calibration_next(self) -> None:
        self.show_tab(CalibrationTab)
        self.query_one(CalibrationTab).next_pair()
        self.compute()

    def action_analysis_export_csv(self) -> None:
        self.current_tab.save_table()

    def action_analysis_export_svg(self) -> None:
        self.current_tab.save_plot()
