"""Screen 6, Analysis: does a small proxy's score predict the large model's result, and which
benchmarks can be trusted early? Tabs Fit, Ranking, Calibration and Correlations over the
workspace's long results table.

Everything is computed in thread workers through `engine.api` (`analysis_views.overview`,
`analysis_fit.fit` / `rank`, `analysis_corr.corr` / `calibration`); an answer that arrives for
a selection the user has left is dropped, and an error becomes the tab's text and a
notification. Only the shown tab is computed, again when the selection changed since. The demo
experiment runs as a detached job (x twice); when it finishes the tabs open on its results.
"""

from __future__ import annotations

import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Select, Static, TabbedContent, TabPane

from engine.api import jobs as api_jobs
from engine.errors import BetrError
from tui.actions import bindings_for
from tui.actions_analysis import SCOPE
from tui.screens.analysis.calib_tab import CalibrationTab
from tui.screens.analysis.corr_tab import PROTOCOLS, CorrTab
from tui.screens.analysis.exports import export_plot, export_table
from tui.screens.analysis.fit_tab import FitTab, RankTab
from tui.screens.analysis.format import NO_ITEMS, NO_RESULTS
from tui.screens.analysis.heatmap import Heatmap
from tui.screens.analysis.selection import (
    MATCHES,
    METHODS,
    SELECTS,
    Selection,
    calibration_pairs,
    options,
)
from tui.screens.base import BetrScreen
from tui.screens.rbridge.summary import job_line
from tui.widgets.cells import ThemeStyles
from tui.widgets.select import PlainSelect

TABS = ("an-tab-fit", "an-tab-rank", "an-tab-cal", "an-tab-corr")
DEMO_KIND = "demo-experiment"
CONFIRM_S = 5.0
SAME_SERIES = (
    "x and y are the same numbers: a series fitted on itself gives R² = 1 whatever the data. "
    "Pick a smaller size (or another metric) for x and a larger size for y in the selectors above."
)


class Read(Message):
    """A worker's answer: `what` names it, `key` the selection it was read for."""

    def __init__(self, what: str, key: Any, data: Any):
        super().__init__()
        self.what, self.key, self.data = what, key, data


class AnalysisScreen(BetrScreen):
    SCOPE = SCOPE
    TITLE = "Analysis"
    BINDINGS = bindings_for(SCOPE)
    AUTO_FOCUS = "ContentTabs"  # the tabs, not a Select: enter and arrows never open a dropdown

    def __init__(self) -> None:
        super().__init__()
        self.view: dict[str, Any] | None = None
        self.sel = Selection()
        self.default_sel: Selection | None = None  # what the overview's defaults chose
        self.protocol = PROTOCOLS[0]
        self.cal_index = 0
        self.shown: dict[str, Any] = {}  # tab -> the key its content was computed for
        self.results: dict[str, Any] = {}  # tab -> the last result shown
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
        with TabbedContent(id="an-tabs"):
            with TabPane("Fit", id="an-tab-fit"):
                yield FitTab(id="an-fit")
            with TabPane("Ranking", id="an-tab-rank"):
                yield RankTab(id="an-rank")
            with TabPane("Calibration", id="an-tab-cal"):
                yield CalibrationTab(id="an-cal")
            with TabPane("Correlations", id="an-tab-corr"):
                yield CorrTab(id="an-corr")

    def on_mount(self) -> None:
        self.query_one("#an-jobs").display = False
        self.query_one("#an-tabs").display = False
        self.watch(self.app, "jobs", self.jobs_changed)
        self.preload()

    def on_screen_resume(self) -> None:
        # also the first showing (mount, then resume): one read, not two racing each other
        self.read_overview()

    @property
    def active_tab(self) -> str:
        return self.query_one("#an-tabs", TabbedContent).active

    @property
    def corr_tab(self) -> CorrTab:
        return self.query_one(CorrTab)

    # -- reads (thread workers) ----------------------------------------------------------------
    def _answer(self, what: str, key: Any, call) -> None:
        try:
            data = call()
        except BetrError as exc:
            data = exc
        self.post_message(Read(what, key, data))

    @work(thread=True, exit_on_error=False, group="analysis-preload")
    def preload(self) -> None:
        from engine.api.analysis_fit import preload

        preload()  # the fit's libraries load while the overview is read

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-overview")
    def read_overview(self, open_demo: bool = False) -> None:
        from engine.api.analysis_views import overview

        self._answer("overview", open_demo, lambda: overview(self.betr.workspace))

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-fit")
    def read_fit(self, sel: Selection) -> None:
        from engine.api.analysis_fit import fit, fitted_curve

        def call():
            res = fit(self.betr.workspace, **sel.fit_args())
            xs = [p["x"] for p in res["points"] if p["x"] is not None]
            return res, fitted_curve(res["final"], min(xs), max(xs)) if xs else []

        self._answer("fit", sel, call)

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-rank")
    def read_rank(self, sel: Selection) -> None:
        from engine.api.analysis_fit import rank

        self._answer("rank", sel, lambda: rank(self.betr.workspace, **sel.rank_args()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-corr")
    def read_corr(self, key: tuple[Selection, str]) -> None:
        from engine.api.analysis_corr import corr

        sel, protocol = key

        def call():
            ws, args = self.betr.workspace, sel.corr_args()
            data = corr(ws, protocol, **args)
            if protocol == "cross-stage":
                data["tiers_rows"] = corr(ws, "tiers", **args)["rows"]
            return data

        self._answer("corr", key, call)

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis-cal")
    def read_calibration(self, pair: tuple[str, str, str | None]) -> None:
        from engine.api.analysis_corr import calibration

        run, bench, stage = pair
        self._answer("cal", pair, lambda: calibration(self.betr.workspace, run, bench, stage=stage))

    def on_read(self, message: Read) -> None:
        if isinstance(message.data, BetrError):
            self.got_error(message.what, message.key, message.data)
            return
        getattr(self, f"got_{message.what}")(message.key, message.data)

    def got_error(self, what: str, key: Any, error: BetrError) -> None:
        tab = {"fit": FitTab, "rank": RankTab, "corr": CorrTab, "cal": CalibrationTab}.get(what)
        if tab is None or key != self._key(what):
            if tab is None:
                self.betr.report_error(str(error))
            return
        self.query_one(tab).show_empty(f"{error}")
        self.betr.report_error(str(error))

    # -- the selection -------------------------------------------------------------------------
    def got_overview(self, open_demo: bool, view: dict[str, Any]) -> None:
        self.view = view
        empty = self.query_one("#an-empty", Static)
        has = bool(view["n_rows"])
        empty.update("" if has else NO_RESULTS)
        empty.display = not has
        self.query_one("#an-tabs").display = has
        self.query_one("#an-selectors").display = has
        if not has:
            return
        keep = self.sel.benchmark in {b["benchmark"] for b in view["benchmarks"]}
        if open_demo or not keep:
            self.sel = Selection.from_defaults(view["defaults"], self.sel)
            self.default_sel = self.sel
        self.sync_selects()
        if open_demo:
            self.shown.clear()
            self.query_one("#an-tabs", TabbedContent).active = TABS[0]
        self.compute()

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
        from dataclasses import replace

        self.sel = replace(self.sel, **changes)
        if "benchmark" in changes and self.view is not None:
            y_metrics = next(
                (
                    b["metrics"]
                    for b in self.view["benchmarks"]
                    if b["benchmark"] == self.sel.benchmark
                ),
                [],
            )
            if self.sel.y_metric not in y_metrics and y_metrics:
                self.sel = replace(self.sel, y_metric=y_metrics[0])
        self.sync_selects()
        self.compute()

    def _key(self, what: str) -> Any:
        if what == "corr":
            return (self.sel, self.protocol)
        if what == "cal":
            pairs = calibration_pairs(self.view or {}, self.sel)
            if not pairs:
                return None
            p = pairs[self.cal_index % len(pairs)]
            return (p["run"], p["benchmark"], p["stage"])
        return self.sel

    def compute(self) -> None:
        """(Re)compute the shown tab when its inputs changed since it was drawn."""
        if self.view is None or not self.view["n_rows"]:
            return
        tab = self.active_tab
        what = {"an-tab-fit": "fit", "an-tab-rank": "rank", "an-tab-cal": "cal"}.get(tab, "corr")
        key = self._key(what)
        if self.shown.get(what) == key and what in self.results:
            return
        self.shown[what] = key
        if what == "fit":
            note = self.no_fit_note()
            if note is not None:
                self.results.pop("fit", None)
                self.query_one(FitTab).show_empty(note)
                return
            self.query_one(FitTab).show_empty("fitting…")
            self.read_fit(key)
        elif what == "rank":
            self.query_one(RankTab).show_empty("ranking the datasets…")
            self.read_rank(key)
        elif what == "cal":
            if key is None:
                self.query_one(CalibrationTab).show_empty(NO_ITEMS)
                return
            self.query_one(CalibrationTab).show_empty("calibrating…")
            self.read_calibration(key)
        else:
            self.corr_tab.show_empty("correlating…")
            self.read_corr(key)

    def no_fit_note(self) -> str | None:
        """Why the selection has nothing to fit (an empty state, not an error): x and y are
        the same numbers, or the defaults found no pair of sides sharing checkpoints."""
        if self.sel.same_series():
            return SAME_SERIES
        note = ((self.view or {}).get("defaults") or {}).get("fit_note")
        default = self.default_sel
        if note and default is not None and self.sel.fit_args() == default.fit_args():
            return str(note)
        return None

    def got_fit(self, key: Selection, data: tuple) -> None:
        if key == self.sel:
            self.results["fit"] = data[0]
            self.query_one(FitTab).show(*data)

    def got_rank(self, key: Selection, data: dict[str, Any]) -> None:
        if key == self.sel:
            self.results["rank"] = data
            self.query_one(RankTab).show(data)

    def got_cal(self, key: tuple, data: dict[str, Any]) -> None:
        if key == self._key("cal"):
            self.results["cal"] = data
            total = len(calibration_pairs(self.view or {}, self.sel))
            self.query_one(CalibrationTab).show(data, self.cal_index % total, total)

    def got_corr(self, key: tuple, data: dict[str, Any]) -> None:
        if key == self._key("corr"):
            self.results["corr"] = data
            self.corr_tab.show(self.protocol, data)

    @on(TabbedContent.TabActivated, "#an-tabs")
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.compute()
        if event.pane.id == "an-tab-corr":
            self.query_one(Heatmap).focus()

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
                "demo experiment done: Fit, Ranking and Correlations show its results (t: next "
                "tab). Tiny proxies: read the numbers as a working loop, not as evidence.",
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
                "random and bottom 10% of the demo pool at two sizes (~20 min, a background job)",
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
            self.post_message(Read("demo_done", None, earlier.id))
            return
        if earlier is None:
            job_id = api_jobs.start(ws, spec, title="demo experiment (from the Analysis screen)")
        elif earlier.state in api_jobs.RESUMABLE:
            job_id = api_jobs.resume(ws, earlier.id).id  # on from where it stopped
        else:
            job_id = earlier.id  # running already: follow it
        self.post_message(Read("demo_started", None, job_id))

    def got_demo_done(self, _key: None, job_id: int) -> None:
        from engine.api.demo import experiment_results_hint

        self.notify(experiment_results_hint(job_id, tui=True), markup=False, timeout=10)
        self.read_overview(open_demo=True)

    def got_demo_started(self, _key: None, job_id: int) -> None:
        self.demo_job, self._demo_state = job_id, None
        self.notify(f"demo experiment: job {job_id} (progress above; 2: Jobs screen)")
        self.betr.jobs_poll.now()

    # -- keys ----------------------------------------------------------------------------------
    def action_analysis_next_tab(self) -> None:
        tabs = self.query_one("#an-tabs", TabbedContent)
        tabs.active = TABS[(TABS.index(tabs.active) + 1) % len(TABS)]

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

    def _on_corr(self) -> None:
        self.query_one("#an-tabs", TabbedContent).active = "an-tab-corr"

    def action_corr_next_protocol(self) -> None:
        self._on_corr()
        self.protocol = PROTOCOLS[(PROTOCOLS.index(self.protocol) + 1) % len(PROTOCOLS)]
        self.compute()

    def action_corr_next_matrix(self) -> None:
        self._on_corr()
        if not self.corr_tab.next_matrix():
            self.notify("one matrix here (the matrix protocol pairs two stages or scales)")

    def action_corr_sort(self) -> None:
        self._on_corr()
        self.notify(f"heatmap order: {self.corr_tab.cycle_sort()}", timeout=2)

    def action_calibration_next(self) -> None:
        self.query_one("#an-tabs", TabbedContent).active = "an-tab-cal"
        self.cal_index += 1
        self.compute()

    def action_analysis_export_csv(self) -> None:
        export_table(self)

    def action_analysis_export_svg(self) -> None:
        export_plot(self)
