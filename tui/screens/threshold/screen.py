"""Screen 4, Threshold: the keep rate, what it keeps and costs, and the tabs that follow it.

The current run is loaded once (a thread worker, through the session's index cache); after that
the keep rate moves on the UI thread: `tradeoff` is a binary search over the run's columns, and
the histogram and keep curve are computed once per run. The keep rate lives in the session
(`keep`, `keep_by`): the Documents screen follows it. The Agreement and Compare runs tabs follow
it after a short pause, only while shown. Under the numbers, the per-source panel (`by_source`)
breaks the kept share down by source or a metadata field (`v` picks the next).

Below HORIZONTAL_BREAKPOINTS' `-wide`, the compute panel goes under the keep numbers instead of
beside them and the tab scrolls (app.tcss); `c` focuses the budget, which scrolls it into view.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static, TabbedContent, TabPane

from engine.api.browse import RunIndex, View
from engine.api.select import parse_keep
from engine.api.tradeoff import (
    Agreement,
    Budget,
    KeptBySource,
    Overlap,
    RunTradeoff,
    keep_curve,
    prob_histogram,
    tradeoff,
)
from engine.errors import BetrError
from engine.workspace import open_private
from tui.action_model import bindings, effective_keys
from tui.reads import reading
from tui.screens.base import BetrScreen
from tui.screens.documents.viewer import DocViewerScreen
from tui.screens.threshold.actions import ACTIONS, CLUSTERS, EDIT_KEEP, SCOPE
from tui.screens.threshold.agreement import AgreementTab
from tui.screens.threshold.by_source import SourcePanel
from tui.screens.threshold.clusters import ClustersTab
from tui.screens.threshold.compare import CompareTab
from tui.screens.threshold.compute import ComputePanel
from tui.screens.threshold.contamination import ContaminationLine
from tui.screens.threshold.duplicates import DuplicateLine
from tui.screens.threshold.format import (
    MIN_KEEP_PERCENT,
    fmt_pct,
    no_run_text,
    not_applied_text,
    other_unit,
    step_keep,
)
from tui.screens.threshold.keepbar import KeepBar
from tui.screens.threshold.messages import BudgetChanged, IndexLoaded, KeepPicked, OpenDoc
from tui.screens.threshold.plots import KeepPlots
from tui.screens.threshold.stats import KeepStats
from tui.screens.threshold.tab import ThresholdContext, ThresholdTab
from tui.widgets.form_input import FormInput

if TYPE_CHECKING:
    from textual.timer import Timer

# the tabs after the Threshold one, in order: each is one module (a ThresholdTab) and one line
TABS: tuple[type[ThresholdTab[Any, Any]], ...] = (AgreementTab, CompareTab, ClustersTab)
THRESHOLD_PANE = "th-tab-threshold"
KEEP_CHARS = frozenset("0123456789.,%")  # what a typed keep rate is made of
HIST_BINS = 40
RECOMPUTE_DELAY_S = 0.15  # agreement / comparison follow the keep after this pause


def pane_id(tab: type[ThresholdTab[Any, Any]]) -> str:
    return f"th-tab-{tab.NAME}"


PANES = (THRESHOLD_PANE, *(pane_id(tab) for tab in TABS))


class ThresholdScreen(BetrScreen):
    SCOPE = SCOPE
    TITLE = "Threshold"
    BINDINGS = bindings(ACTIONS, SCOPE)
    WIDGET_SCOPES = (CLUSTERS,)

    def __init__(self) -> None:
        super().__init__()
        self.index: RunIndex | None = None
        self.loaded_state: str | None = None
        self.stats: RunTradeoff | None = None  # the last tradeoff(...) shown
        self.context = ThresholdContext()  # what the tabs know of the current run
        self._follow_timer: Timer | None = None
        # a keep rate being typed from the keep bar: the characters that arrived before the
        # input had focus (a burst, as a paste or a fast typist sends, lands before focus moves)
        self._typed: str | None = None

    # -- layout --------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="th-tabs"):
            with TabPane("Threshold", id=THRESHOLD_PANE):
                yield Static("", id="th-empty", classes="th-empty", markup=False)
                with Vertical(id="th-body"):
                    with Horizontal(id="th-main"):
                        with Vertical(id="th-left"):
                            with Horizontal(id="th-keep-row"):
                                yield Label("keep", id="th-keep-label", markup=False)
                                yield FormInput(
                                    placeholder="10%",
                                    id="th-keep-input",
                                    select_on_focus=False,
                                    on_enter=self.after_keep_entered,
                                )
                                yield Static("", id="th-by", markup=False)
                            yield KeepBar(id="th-bar")
                            yield Static("", id="th-keep-error", classes="th-error", markup=False)
                            # the compute law in one line where the panel is below the fold
                            yield Static("", id="th-compute-line", markup=False)
                            yield KeepStats(id="th-stats")
                            yield KeepPlots(id="th-plots")
                        yield ComputePanel(id="th-compute")
                    yield SourcePanel(id="th-sources")
            for tab in TABS:
                with TabPane(tab.TITLE, id=pane_id(tab)):
                    yield tab(self.context, id=tab.WIDGET_ID)

    @property
    def tabs(self) -> list[ThresholdTab[Any, Any]]:
        return list(self.query(ThresholdTab))

    @property
    def current_tab(self) -> ThresholdTab[Any, Any] | None:
        """The shown tab (None: the Threshold tab, which is the screen's own)."""
        if self.active_tab == THRESHOLD_PANE:
            return None
        return self.query_one(f"#{self.active_tab}").query_one(ThresholdTab)

    @property
    def agreement_tab(self) -> AgreementTab:
        return self.query_one(AgreementTab)

    @property
    def compare_tab(self) -> CompareTab:
        return self.query_one(CompareTab)

    @property
    def agreement(self) -> Agreement | None:
        """The last `agreement(...)` shown on the Agreement tab."""
        result: Agreement | None = self.agreement_tab.result
        return result

    @property
    def comparison(self) -> Overlap | None:
        """The last `overlap(...)` shown on the Compare runs tab."""
        result: Overlap | None = self.compare_tab.result
        return result

    @property
    def source_panel(self) -> SourcePanel:
        return self.query_one(SourcePanel)

    @property
    def by_source(self) -> KeptBySource | None:
        """The last `by_source(...)` shown in the per-source panel."""
        return self.source_panel.result

    @property
    def budget(self) -> Budget:
        return self.query_one(ComputePanel).budget

    @property
    def active_tab(self) -> str:
        return self.query_one("#th-tabs", TabbedContent).active

    def on_mount(self) -> None:
        self.show_threshold_empty("no current run yet…")
        self.watch(self.session, "run_id", self.run_changed)
        self.watch(self.session, "keep", self.keep_changed, init=False)
        self.watch(self.session, "keep_by", self.keep_changed, init=False)
        self.watch(self.app, "jobs", self.runs_polled)
        self.watch(self.app, "theme", self.restyle, init=False)
        self.query_one(KeepBar).focus()

    def on_screen_resume(self) -> None:
        self.refresh_numbers()

    # -- the current run -----------------------------------------------------------------------
    def run_changed(self, run_id: int | None = None) -> None:
        run_id = self.session.run_id
        self.index = None
        self.stats = None
        self.context.index = self.context.note = None
        self.source_panel.set_run(None)
        self.follow_tabs(read=False)
        if run_id is None:
            self.show_threshold_empty(None)
            return
        self.show_threshold_empty(f"loading run {run_id}…")
        run = self.session.runs.get(run_id)
        self.loaded_state = None if run is None else run.state
        self.load_run(run_id)
        self.sync_run_options()

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-index")
    def load_run(self, run_id: int) -> None:
        extra: dict[str, Any] = {}
        try:
            with reading(self.betr.workspace) as conn:
                index = self.session.load_index(conn, run_id)
            if index.applied and len(index):
                extra["hist"] = prob_histogram(index, HIST_BINS)
                extra["curve"] = keep_curve(index)
                index.sample_counts_at(0)  # the one O(n) setup pass, off the UI thread
        except BetrError as exc:
            self.post_message(IndexLoaded(run_id, None, str(exc), extra))
            return
        self.post_message(IndexLoaded(run_id, index, None, extra))
        from engine.api.tradeoff import preload_agreement

        preload_agreement()  # the Agreement tab's libraries, while the user reads this one

    @on(IndexLoaded)
    def index_loaded(self, message: IndexLoaded) -> None:
        if message.run_id != self.session.run_id:
            return  # a run chosen since
        if message.index is None:
            self.show_threshold_empty(f"run {message.run_id}: {message.error}")
            self.context.note = f"run {message.run_id}: {message.error}"
            self.follow_tabs(read=False)
            return
        self.index = message.index
        self.query_one(KeepPlots).set_run(message.extra.get("hist"), message.extra.get("curve"))
        self.source_panel.set_run(self.usable_index())
        self.context.index = self.usable_index()
        self.context.note = (
            None if self.context.index is not None else not_applied_text(message.index)
        )
        self.follow_tabs(read=False)  # the shown tab reads once the numbers are up
        self.refresh_numbers()

    def runs_polled(self) -> None:
        """The jobs poll also refreshed the run list: new runs for the compare pickers, and a
        current run whose state changed (scored -> applied) is loaded again."""
        run_id = self.session.run_id
        if run_id is not None:
            run = self.session.runs.get(run_id)
            state = None if run is None else run.state
            if state is not None and self.loaded_state is not None and state != self.loaded_state:
                self.run_changed()
                return
            if self.loaded_state is None and state is not None:
                self.loaded_state = state
        self.sync_run_options()

    def sync_run_options(self) -> None:
        self.compare_tab.sync_run_options(shown=self.active_tab == pane_id(CompareTab))

    # -- the keep rate -------------------------------------------------------------------------
    @property
    def keep_percent(self) -> float:
        return round(self.session.keep * 100.0, 6)

    def set_keep(self, percent: float, by: str | None = None) -> None:
        """The one way the keep changes: the session's keep (other screens follow it)."""
        percent = min(100.0, max(MIN_KEEP_PERCENT, percent))
        if by is not None:
            self.session.keep_by = by
        self.session.keep = percent / 100.0

    def keep_changed(self) -> None:
        if self.is_current:
            self.refresh_numbers()

    def usable_index(self) -> RunIndex | None:
        index = self.index
        return index if index is not None and index.applied and len(index) else None

    def refresh_numbers(self) -> None:
        """Recompute `tradeoff` at the session's keep and redraw the Threshold tab."""
        self.query_one(KeepBar).percent = self.keep_percent
        by = self.session.keep_by
        by_text = f"% of {by}  (b: by {other_unit(by)})"
        if self.query_one("#th-by", Static).content != by_text:
            self.query_one("#th-by", Static).update(by_text)
        keep_input = self.query_one("#th-keep-input", Input)
        if not keep_input.has_focus:
            keep_input.value = f"{self.keep_percent:g}"
        compute = self.query_one(ComputePanel)
        index = self.usable_index()
        if index is None:
            if self.index is not None:
                self.show_threshold_empty(not_applied_text(self.index))
            compute.show(None)
            self.follow_later()
            return
        try:
            stats = tradeoff(index, self.session.keep, by, compute.budget)
        except BetrError as exc:
            self.query_one("#th-keep-error", Static).update(str(exc))
            return
        self.stats = stats
        self.show_threshold_empty(False)
        self.query_one(KeepStats).show(stats)
        self.query_one(KeepStats).show_split_warning(index.split_warning)
        self.query_one(KeepStats).show_classifier_warning(index.classifier_warning)
        self.query_one(ContaminationLine).show(index.run_id, self.session.keep, by)
        self.query_one(DuplicateLine).show(index, self.session.keep, by)
        compute.show(stats)
        line = compute.summary_line(stats)
        if self.query_one("#th-compute-line", Static).content != line:
            self.query_one("#th-compute-line", Static).update(line)
        self.query_one(KeepPlots).show_later(stats)
        self.source_panel.show_keep(self.session.keep, by)
        self.follow_later()

    def follow_later(self) -> None:
        """Agreement and comparison follow the keep after a short pause (keys repeat)."""
        if self._follow_timer is not None:
            self._follow_timer.stop()
        self._follow_timer = self.set_timer(RECOMPUTE_DELAY_S, self.refresh_active_tab)

    def refresh_active_tab(self) -> None:
        self.follow_tabs(read=True)

    def follow_tabs(self, *, read: bool) -> None:
        """The run or the keep changed: every tab brings its empty state up to date, and the
        shown one reads too when `read`."""
        active = self.active_tab
        for tab in self.tabs:
            tab.follow(shown=read and pane_id(type(tab)) == active)

    def show_threshold_empty(self, text: str | bool | None) -> None:
        """False: show the numbers; None: the no-run text; a string: that text."""
        empty = self.query_one("#th-empty", Static)
        main = self.query_one("#th-body")
        if text is False:
            empty.display = False
            main.display = True
            return
        empty.update(no_run_text() if text is None else str(text))
        empty.display = True
        main.display = False

    def restyle(self) -> None:
        self.query_one(KeepBar).refresh()
        self.refresh_numbers()
        self.source_panel.redraw()
        for tab in self.tabs:
            tab.forget()
        self.refresh_active_tab()

    # -- tabs and the viewer -------------------------------------------------------------------
    @on(TabbedContent.TabActivated, "#th-tabs")
    def tab_activated(self) -> None:
        tab = self.current_tab
        if tab is None:
            self.query_one(KeepBar).focus()
            return
        tab.opened()

    @on(OpenDoc)
    def open_doc(self, message: OpenDoc) -> None:
        """Open a doc of a tab's list in the document viewer; ] and [ walk that list."""
        keep, by = self.session.keep, self.session.keep_by
        self.open_docs_worker(message.doc_ids, message.doc_id, message.run_id, keep, by)

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-open")
    def open_docs_worker(
        self, doc_ids: list[int], doc_id: int, run_id: int, keep: float, by: str
    ) -> None:
        from engine.api.browse import Query

        with reading(self.betr.workspace) as conn:
            index = self.session.load_index(conn, run_id)
        rows = index.rows_of_docs(doc_ids)
        view = View(Query(keep=keep, by=by), rows, index.cut(keep, by))
        row = int(np.flatnonzero(index.doc_id[rows] == doc_id)[0])
        self.app.call_from_thread(self.push_viewer, index, view, row)

    def push_viewer(self, index: RunIndex, view: View, row: int) -> None:
        self.app.push_screen(DocViewerScreen(index, view, row))

    # -- keys ----------------------------------------------------------------------------------
    def _step(self, direction: int, fine: bool) -> None:
        self.set_keep(step_keep(self.keep_percent, direction, fine))

    def action_keep_more(self) -> None:
        self._step(+1, fine=False)

    def action_keep_less(self) -> None:
        self._step(-1, fine=False)

    def action_keep_more_fine(self) -> None:
        self._step(+1, fine=True)

    def action_keep_less_fine(self) -> None:
        self._step(-1, fine=True)

    def action_toggle_keep_by(self) -> None:
        self.set_keep(self.keep_percent, other_unit(self.session.keep_by))

    def action_edit_keep(self) -> None:
        self.query_one("#th-tabs", TabbedContent).active = THRESHOLD_PANE
        self._typed = ""  # what is typed next replaces the value shown
        keep_input = self.query_one("#th-keep-input", Input)
        keep_input.placeholder = f"{self.keep_percent:g}% now"
        keep_input.value = ""
        self.set_focus(keep_input)  # at once: the keys after `k` in a burst go there

    def action_edit_budget(self) -> None:
        self.query_one("#th-tabs", TabbedContent).active = THRESHOLD_PANE
        self.query_one(ComputePanel).focus_budget()

    def action_apply_f_opt(self) -> None:
        f_opt = self.budget.f_opt()
        if f_opt is None:
            self.notify(
                "enter a budget first (c): model parameters N and tokens D, or compute C",
                severity="warning",
                markup=False,
            )
            return
        self.set_keep(f_opt, "tokens")
        self.notify(f"keep rate set to F_opt = {fmt_pct(f_opt)} of tokens", markup=False)

    def action_group_sources(self) -> None:
        self.query_one("#th-tabs", TabbedContent).active = THRESHOLD_PANE
        if not self.source_panel.groups:
            return  # the first grouping is still being read
        if len(self.source_panel.fields) < 2:
            self.notify(
                "the corpus has no metadata fields: the per-source panel groups by source "
                "(import with --meta FIELD to group by a field)",
                markup=False,
            )
            return
        self.source_panel.cycle_field()

    def action_check_contamination(self) -> None:
        self.query_one("#th-tabs", TabbedContent).active = THRESHOLD_PANE
        self.query_one(ContaminationLine).check()

    def action_next_threshold_tab(self) -> None:
        tabs = self.query_one("#th-tabs", TabbedContent)
        tabs.active = PANES[(PANES.index(tabs.active) + 1) % len(PANES)]

    def action_leave_input(self) -> None:
        tab = self.current_tab
        if tab is None:
            self.query_one(KeepBar).focus()
        else:
            tab.focus_content()

    def action_export_tradeoff(self) -> None:
        if self.stats is None:
            self.notify("nothing to export: no applied run shown", severity="warning")
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.betr.workspace.exports_dir / f"tradeoff-run{self.stats.run_id}-{stamp}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open_private(path, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(self.stats.to_json(), indent=2, default=float) + "\n")
        except OSError as exc:
            self.betr.report_error(f"cannot write {path}: {exc}")
            return
        self.notify(f"trade-off numbers saved: {path}", markup=False)

    # -- inputs --------------------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        """`k` and the keys after it that arrive before the keep input has taken the focus (a
        burst: `k12` then enter, as tmux send-keys or a fast typist sends) go into the input,
        in order. Digits alone stay the screen keys (1-6 switch screens)."""
        keep_input = self.query_one("#th-keep-input", Input)
        if keep_input.has_focus or self.active_tab != THRESHOLD_PANE:
            self._typed = None
            return
        if not isinstance(self.focused, KeepBar) and self._typed is None:
            return
        if event.key in effective_keys(EDIT_KEEP, self.betr.user_keymap):
            # here, not as a binding: a binding runs after the keys that follow it in a burst
            self.action_edit_keep()
            event.stop()
            event.prevent_default()
            return
        char = event.character
        if self._typed is None:
            return
        if char is not None and char in KEEP_CHARS:
            self._typed = (self._typed or "") + char
            keep_input.value = self._typed
            keep_input.cursor_position = len(self._typed)
            keep_input.focus()
            event.stop()
            event.prevent_default()
        elif event.key == "enter" and self._typed is not None:
            self.submit_keep(keep_input.value)
            event.stop()
            event.prevent_default()

    def on_paste(self, event: events.Paste) -> None:
        """A keep rate pasted while the keep bar has the focus goes into the keep input."""
        if self.active_tab == THRESHOLD_PANE and isinstance(self.focused, KeepBar):
            keep_input = self.query_one("#th-keep-input", Input)
            keep_input.value = event.text.strip()
            keep_input.focus()
            event.stop()

    @on(KeepPicked)
    def keep_picked(self, message: KeepPicked) -> None:
        self.set_keep(message.percent)

    def after_keep_entered(self, keep_input: FormInput) -> KeepBar | None:
        """Where the keys go after enter on the keep input: back to the keep bar when the value
        reads, else they stay to fix it (the error comes with `Submitted`)."""
        try:
            parse_keep(keep_input.value)
        except BetrError:
            return None
        return self.query_one(KeepBar)

    @on(Input.Submitted, "#th-keep-input")
    def keep_typed(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit_keep(event.value)

    def submit_keep(self, text: str) -> None:
        """Apply a typed keep rate; a bad one is named with the keys that fix it (never a CLI
        flag), and the input keeps the focus to correct it."""
        self._typed = None
        error = self.query_one("#th-keep-error", Static)
        try:
            keep = parse_keep(text)
        except BetrError:
            shown = text.strip() or "nothing"
            error.update(
                f"keep rate: '{shown}' is not a percentage between 0 and 100; type one such as "
                "12.5 or 12.5% and press enter (escape goes back; +/- step it)"
                if text.strip()
                else "keep rate: type a percentage such as 12.5 and press enter (escape goes back)"
            )
            self.query_one("#th-keep-input", Input).focus()
            return
        error.update("")
        self.query_one(KeepBar).focus()
        self.set_keep(keep * 100.0)
        self.refresh_numbers()  # also when the keep did not change: show the value again

    @on(BudgetChanged)
    def budget_changed(self) -> None:
        self.refresh_numbers()
