"""Screen 4, Threshold: what a keep rate keeps and costs, classifier vs BETR, two runs compared.

The current run is loaded once (a thread worker, through the App's index cache); after that the
keep rate moves on the UI thread: `tradeoff` is a binary search over the run's columns, and the
histogram and keep curve are computed once per run. The numbers shown are those of
`engine.betr.tradeoff.tradeoff`, the function behind `betr tradeoff --json`, formatted by the
`fmt_*` functions below. The keep rate lives on the App (`keep`, `keep_by`): the Documents
screen follows it. Agreement and run comparison cost O(n), so they run in thread workers, only
while their tab is shown.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Input, Label, Select, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from engine.api.browse import RunIndex, View, snippets
from engine.api.select import parse_keep
from engine.api.tradeoff import (
    MAX_EPOCHS,
    OVER_TARGET_SHARE,
    Budget,
    agreement,
    keep_curve,
    overlap,
    parse_amount,
    prob_histogram,
    tradeoff,
)
from engine.errors import BetrError
from engine.units import abbreviate
from tui.actions import bindings_for
from tui.reads import reading
from tui.screens.base import BetrScreen
from tui.widgets.plots import bench_colour, plot_rgb, share_bar, theme_colour
from tui.widgets.tables import KeyedTable

TABS = ("th-tab-threshold", "th-tab-agreement", "th-tab-compare")
MIN_KEEP_PERCENT = 0.01
HIST_BINS = 40
LISTED = 200  # set-difference docs listed (and fetched) per side
SNIPPET = 160
PLOT_DELAY_S = 0.25  # the plots (~45 ms to draw) redraw once the keep rests this long
RECOMPUTE_DELAY_S = 0.15  # agreement / comparison follow the keep after this pause

AGREEMENT_COLUMNS: list[tuple[str, str, int | None]] = [
    ("rank", "rank", 7),
    ("doc", "doc", 8),
    ("prob", "p(pos)", 7),
    ("score", "BETR", 8),
    ("prob_pct", "p pct", 6),
    ("score_pct", "BETR pct", 8),
    ("benchmark", "benchmark", None),
]
COMPARE_COLUMNS: list[tuple[str, str, int | None]] = [
    ("doc", "doc", 8),
    ("ext", "ext id", 14),
    ("prob", "p(pos)", 7),
    ("snippet", "snippet", 60),
]


# -- formatting: what the number widgets show (tests format engine values the same way) ----------
def fmt_keep(percent: float) -> str:
    return f"{percent:.4g}%"


def fmt_prob(p: float) -> str:
    return f"p ≥ {p:.4f}"


def fmt_count(n: float | None, unit: str) -> str:
    return "-" if n is None else f"{abbreviate(n)} {unit}"


def fmt_exact(n: float | None, unit: str) -> str:
    return "-" if n is None else f"{n:,.0f} {unit}"


def fmt_pct(x: float | None) -> str:
    """A share already in percent: 4.186 -> "4.19%"."""
    return "-" if x is None else f"{x:.2f}%"


def fmt_sci(x: float | None) -> str:
    """1.2e20 -> "1.2e20"."""
    if x is None:
        return "-"
    exp = math.floor(math.log10(x))
    mant = x / 10**exp
    if round(mant, 3) >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{mant:.3g}e{exp}"


def fmt_epochs(e: float | None) -> str:
    if e is None:
        return "-"
    return f"{e:,.1f} epochs" if e >= 10 else f"{e:.2f} epochs"


def fmt_float(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def step_keep(percent: float, direction: int, fine: bool) -> float:
    """The next keep rate: 1 point (fine 0.1), or 0.1 (fine 0.01) at and below 1%."""
    small = percent < 1.0 or (percent == 1.0 and direction < 0)
    step = (0.01 if small else 0.1) if fine else (0.1 if small else 1.0)
    new = round(percent + direction * step, 6)
    return min(100.0, max(MIN_KEEP_PERCENT, new))


# -- widgets ---------------------------------------------------------------------------------------
class KeepBar(Widget, can_focus=True):
    """A one-line slider of the keep rate (square-root scale, so 1-20% get room), with ticks.
    Keys are the screen's; a click or a drag picks a keep rate."""

    TICKS = (1, 5, 10, 25, 50, 100)
    percent: reactive[float] = reactive(10.0)

    class Picked(Message):
        def __init__(self, percent: float):
            super().__init__()
            self.percent = percent

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._dragging = False

    def _span(self) -> int:
        return max(10, self.size.width - 2)

    def position(self, percent: float) -> int:
        return round(math.sqrt(min(100.0, max(0.0, percent)) / 100.0) * (self._span() - 1))

    def render(self) -> Text:
        span = self._span()
        pos = self.position(self.percent)
        primary = Style(color=theme_colour(self.app, "primary"))
        marker = Style(color=theme_colour(self.app, "accent"), bold=True)
        line = Text(" ")
        line.append("━" * pos, style=primary)
        line.append("●", style=marker)
        line.append("─" * max(0, span - pos - 1), style=Style(dim=True))
        ticks = [" "] * (span + 2)
        for t in self.TICKS:
            label = f"{t}%"
            start = min(span + 2 - len(label), max(0, self.position(t) + 1 - len(label) // 2))
            if all(c == " " for c in ticks[max(0, start - 1) : start + len(label) + 1]):
                ticks[start : start + len(label)] = list(label)
        line.append("\n")
        line.append("".join(ticks), style=Style(dim=True))
        return line

    def _percent_at(self, x: int) -> float:
        frac = min(1.0, max(0.0, (x - 1) / max(1, self._span() - 1)))
        percent = frac * frac * 100.0
        percent = round(percent, 1) if percent >= 1 else round(percent, 2)
        return min(100.0, max(MIN_KEEP_PERCENT, percent))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._dragging = True
        self.capture_mouse()
        self.post_message(self.Picked(self._percent_at(event.x)))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            self.post_message(self.Picked(self._percent_at(event.x)))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()


def card(caption: str, value_id: str) -> Vertical:
    return Vertical(
        Label(caption, classes="th-caption"),
        Static("-", id=value_id, classes="th-value", markup=False),
        classes="th-card",
    )


# -- messages from the workers ---------------------------------------------------------------------
class IndexLoaded(Message):
    def __init__(self, run_id: int, index: RunIndex | None, error: str | None, extra: dict):
        super().__init__()
        self.run_id = run_id
        self.index = index
        self.error = error
        self.extra = extra  # histogram and keep curve, computed once per run


class AgreementReady(Message):
    def __init__(self, key: tuple, result: dict | None, error: str | None):
        super().__init__()
        self.key = key
        self.result = result
        self.error = error


class CompareReady(Message):
    def __init__(self, key: tuple, result: dict | None, error: str | None, docs: dict):
        super().__init__()
        self.key = key
        self.result = result
        self.error = error
        self.docs = docs  # "a"/"b" -> [(doc_id, ext_id, prob, snippet)]


class ThresholdScreen(BetrScreen):
    SCOPE = "threshold"
    TITLE = "Threshold"
    BINDINGS = bindings_for("threshold")

    def __init__(self) -> None:
        super().__init__()
        self.index: RunIndex | None = None
        self.loaded_state: str | None = None
        self.hist: tuple[np.ndarray, np.ndarray] | None = None
        self.curve: tuple[np.ndarray, np.ndarray] | None = None
        self.budget = Budget()
        self.stats: dict[str, Any] | None = None  # the last tradeoff(...) shown
        self.agreement: dict[str, Any] | None = None  # the last agreement(...) shown
        self.comparison: dict[str, Any] | None = None  # the last overlap(...) shown
        self._agreement_key: tuple | None = None
        self._compare_key: tuple | None = None
        self._run_options: list[tuple[str, int]] = []
        self._plot_timer: Timer | None = None
        self._plots_drawn = False
        self._shares_rows = -1  # rows of the shares table last drawn
        self._table_drawn = False  # the F_opt table (fixed rows) is on screen
        self._follow_timer = None

    # -- layout --------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="th-tabs"):
            with TabPane("Threshold", id="th-tab-threshold"):
                yield Static("", id="th-empty", classes="th-empty", markup=False)
                with Horizontal(id="th-main"):
                    with Vertical(id="th-left"):
                        with Horizontal(id="th-keep-row"):
                            yield Label("keep", id="th-keep-label")
                            yield Input(placeholder="10%", id="th-keep-input")
                            yield Static("", id="th-by", markup=False)
                        yield KeepBar(id="th-bar")
                        yield Static("", id="th-keep-error", classes="th-error", markup=False)
                        with Horizontal(classes="th-cards"):
                            yield card("threshold p(positive)", "th-threshold")
                            yield card("kept docs", "th-kept-docs")
                            yield card("kept tokens", "th-kept-tokens")
                            yield card("share of the pool", "th-share")
                        yield Static("", id="th-detail", markup=False)
                        yield Static("", id="th-shares")
                        yield Static("", id="th-over-warning", classes="th-warning", markup=False)
                        with Horizontal(id="th-plots"):
                            yield PlotextPlot(id="th-hist")
                            yield PlotextPlot(id="th-curve")
                    with Vertical(id="th-compute"):
                        yield Label("Compute (C = 6ND)", classes="th-heading")
                        with Horizontal(id="th-budget-row"):
                            with Vertical():
                                yield Label("N params", classes="th-caption")
                                yield Input(placeholder="1B", id="th-params")
                            with Vertical():
                                yield Label("D train tokens", classes="th-caption")
                                yield Input(placeholder="20B", id="th-tokens")
                            with Vertical():
                                yield Label("or C FLOPs", classes="th-caption")
                                yield Input(placeholder="1.2e20", id="th-compute-input")
                        yield Static("", id="th-budget-error", classes="th-error", markup=False)
                        with Horizontal(classes="th-cards"):
                            yield card("C", "th-compute-c")
                            yield card("F_opt(C)", "th-f-opt")
                            yield card("kept at F_opt", "th-kept-f-opt")
                        with Horizontal(classes="th-cards"):
                            yield card("epochs at F_opt", "th-epochs")
                            yield card("epochs at this keep", "th-epochs-keep")
                        yield Static("", id="th-starvation", classes="th-warning", markup=False)
                        yield Static("", id="th-compute-detail", markup=False)
                        yield Static("", id="th-table")
            with TabPane("Agreement", id="th-tab-agreement"):
                yield Static("", id="ag-empty", classes="th-empty", markup=False)
                with Vertical(id="ag-body"):
                    with Horizontal(classes="th-cards"):
                        yield card("Spearman ρ (p vs BETR score)", "ag-rho")
                        yield card("p-value", "ag-p")
                        yield card("n (scored sample)", "ag-n")
                        yield card("precision at the keep rate", "ag-precision")
                    yield Static("", id="ag-detail", markup=False)
                    with Horizontal(id="ag-tables"):
                        yield KeyedTable(AGREEMENT_COLUMNS, id="ag-cls-over")
                        yield KeyedTable(AGREEMENT_COLUMNS, id="ag-betr-over")
            with TabPane("Compare runs", id="th-tab-compare"):
                with Horizontal(id="cmp-pick"):
                    yield Label("A", classes="cmp-side")
                    yield Select([], prompt="run A", id="cmp-a")
                    yield Label("B", classes="cmp-side")
                    yield Select([], prompt="run B", id="cmp-b")
                yield Static("", id="cmp-message", classes="th-empty", markup=False)
                with Vertical(id="cmp-body"):
                    with Horizontal(classes="th-cards"):
                        yield card("overlap", "cmp-overlap")
                        yield card("Jaccard", "cmp-jaccard")
                        yield card("kept A", "cmp-kept-a")
                        yield card("kept B", "cmp-kept-b")
                    yield Static("", id="cmp-detail", markup=False)
                    with Horizontal(id="cmp-tables"):
                        yield KeyedTable(COMPARE_COLUMNS, id="cmp-only-a")
                        yield KeyedTable(COMPARE_COLUMNS, id="cmp-only-b")

    def on_mount(self) -> None:
        self.query_one("#ag-cls-over").border_title = "classifier over BETR"
        self.query_one("#ag-betr-over").border_title = "BETR over classifier"
        self.query_one("#th-hist").border_title = "p(positive) over the pool: kept bright"
        self.query_one("#th-curve").border_title = "kept tokens % vs docs % (diagonal: even)"
        self.show_threshold_empty("no current run yet…")
        self.watch(self.app, "run_id", self.run_changed)
        self.watch(self.app, "keep", self.keep_changed, init=False)
        self.watch(self.app, "keep_by", self.keep_changed, init=False)
        self.watch(self.app, "jobs", self.runs_polled)
        self.watch(self.app, "theme", self.restyle, init=False)
        self.query_one(KeepBar).focus()

    def on_screen_resume(self) -> None:
        self.refresh_numbers()

    # -- the current run -----------------------------------------------------------------------
    def run_changed(self, run_id: int | None = None) -> None:
        run_id = self.betr.run_id
        self.index = None
        self.stats = None
        self.agreement = None
        self._agreement_key = None
        if run_id is None:
            self.show_threshold_empty(None)
            self.show_agreement_empty()
            return
        self.show_threshold_empty(f"loading run {run_id}…")
        self.show_agreement_empty()
        self.loaded_state = (self.betr.runs.get(run_id) or {}).get("state")
        self.load_run(run_id)
        self.sync_run_options()

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-index")
    def load_run(self, run_id: int) -> None:
        extra: dict[str, Any] = {}
        try:
            with reading(self.betr.workspace) as conn:
                index = self.betr.load_index(conn, run_id)
            if index.applied and len(index):
                extra["hist"] = prob_histogram(index, HIST_BINS)
                extra["curve"] = keep_curve(index)
                index.sample_counts_at(0)  # the one O(n) setup pass, off the UI thread
        except BetrError as exc:
            self.post_message(IndexLoaded(run_id, None, str(exc), extra))
            return
        self.post_message(IndexLoaded(run_id, index, None, extra))

    def on_index_loaded(self, message: IndexLoaded) -> None:
        if message.run_id != self.betr.run_id:
            return  # a run chosen since
        if message.index is None:
            self.show_threshold_empty(f"run {message.run_id}: {message.error}")
            self.show_agreement_empty(f"run {message.run_id}: {message.error}")
            return
        self.index = message.index
        self.hist = message.extra.get("hist")
        self._plots_drawn = False  # a new run: draw its plots at once
        self.curve = message.extra.get("curve")
        if self.usable_index() is not None:
            self.show_agreement_empty("computing the agreement on the scored sample…")
        self.refresh_numbers()

    def runs_polled(self) -> None:
        """The jobs poll also refreshed the run list: new runs for the compare pickers, and a
        current run whose state changed (scored -> applied) is loaded again."""
        run_id = self.betr.run_id
        if run_id is not None:
            state = (self.betr.runs.get(run_id) or {}).get("state")
            if state is not None and self.loaded_state is not None and state != self.loaded_state:
                self.run_changed()
                return
            if self.loaded_state is None and state is not None:
                self.loaded_state = state
        self.sync_run_options()

    # -- the keep rate -------------------------------------------------------------------------
    @property
    def keep_percent(self) -> float:
        return round(self.betr.keep * 100.0, 6)

    def set_keep(self, percent: float, by: str | None = None) -> None:
        """The one way the keep changes: the App's keep (other screens follow it)."""
        percent = min(100.0, max(MIN_KEEP_PERCENT, percent))
        if by is not None:
            self.betr.keep_by = by
        self.betr.keep = percent / 100.0

    def keep_changed(self) -> None:
        if self.is_current:
            self.refresh_numbers()

    def usable_index(self) -> RunIndex | None:
        index = self.index
        return index if index is not None and index.applied and len(index) else None

    def refresh_numbers(self) -> None:
        """Recompute `tradeoff` at the App's keep and redraw the Threshold tab (UI thread)."""
        self.query_one(KeepBar).percent = self.keep_percent
        by = self.betr.keep_by
        self._set("th-by", f"% of {by}  (b: by {_other(by)})")
        keep_input = self.query_one("#th-keep-input", Input)
        if not keep_input.has_focus:
            keep_input.value = f"{self.keep_percent:g}"
        index = self.usable_index()
        if index is None:
            if self.index is not None:
                self.show_threshold_empty(not_applied_text(self.index))
                self.show_agreement_empty(not_applied_text(self.index))
            self.render_compute(None)
            self.follow_later()
            return
        try:
            stats = tradeoff(index, self.betr.keep, by, self.budget)
        except BetrError as exc:
            self.query_one("#th-keep-error", Static).update(str(exc))
            return
        self.stats = stats
        self.show_threshold_empty(False)
        self.render_stats(stats)
        self.render_compute(stats)
        self.plots_later(stats)
        self.follow_later()

    def plots_later(self, stats: dict[str, Any]) -> None:
        """Redraw the plots once the keep stops moving for a moment (drawing them costs more
        than a key repeat); the numbers above them are already up to date."""
        if self._plot_timer is not None:
            self._plot_timer.stop()
        if not self._plots_drawn:
            self._plots_drawn = True
            self.render_plots(stats)
            return
        self._plot_timer = self.set_timer(PLOT_DELAY_S, lambda: self.render_plots(stats))

    def follow_later(self) -> None:
        """Agreement and comparison follow the keep after a short pause (keys repeat)."""
        if self._follow_timer is not None:
            self._follow_timer.stop()
        self._follow_timer = self.set_timer(RECOMPUTE_DELAY_S, self.refresh_active_tab)

    def refresh_active_tab(self) -> None:
        active = self.query_one("#th-tabs", TabbedContent).active
        if active == "th-tab-agreement":
            self.start_agreement()
        elif active == "th-tab-compare":
            self.start_compare()

    # -- rendering the Threshold tab -----------------------------------------------------------
    def show_threshold_empty(self, text: str | bool | None) -> None:
        """False: show the numbers; None: the no-run text; a string: that text."""
        empty = self.query_one("#th-empty", Static)
        main = self.query_one("#th-main")
        if text is False:
            empty.display = False
            main.display = True
            return
        empty.update(no_run_text() if text is None else str(text))
        empty.display = True
        main.display = False

    def _set(self, widget_id: str, content: Any, *, same_size: bool = False) -> None:
        """Update a Static, repainting only what changed: an unchanged text is left alone, and
        one that keeps its size (a number card, a text of the same length, a table with the
        same rows) is repainted without a layout pass over the whole screen."""
        widget = self.query_one(f"#{widget_id}", Static)
        if isinstance(content, str):
            old = widget.content
            if old == content:
                return
            same_size = same_size or (
                isinstance(old, str) and old != "" and len(old) == len(content)
            )
        widget.update(content, layout=not (same_size or widget.has_class("th-value")))

    def render_stats(self, s: dict[str, Any]) -> None:
        by = s["by"]
        self._set("th-threshold", fmt_prob(s["threshold"]))
        self._set("th-kept-docs", fmt_count(s["kept_docs"], "docs"))
        self._set("th-kept-tokens", fmt_count(s["kept_tokens"], "tokens"))
        self._set("th-share", share_text(s))
        self._set(
            "th-detail",
            f"keep {fmt_keep(s['keep_percent'])} of {by}: kept "
            f"{fmt_exact(s['kept_docs'], 'docs')} of {s['total_docs']:,} · "
            f"{fmt_exact(s['kept_tokens'], 'tokens')} of {s['total_tokens']:,} · "
            f"{s['kept_doc_share'] * 100:.2f}% of docs, {s['kept_token_share'] * 100:.2f}% of "
            f"tokens · p ≥ {s['threshold']:.6f}",
        )
        rows = len(s["benchmark_shares"])
        self._set("th-shares", self.shares_table(s), same_size=rows == self._shares_rows)
        self._shares_rows = rows
        warning = self.query_one("#th-over-warning", Static)
        if s["over_targeted"]:
            names = ", ".join(s["over_targeted"])
            top = s["benchmark_shares"][0]
            self._set(
                "th-over-warning",
                f"⚠ over-targeting: {names} holds {top['share'] * 100:.0f}% of the kept "
                f"sample (more than {OVER_TARGET_SHARE:.0%}); the kept set leans on one "
                "benchmark",
            )
            warning.display = True
        else:
            self._set("th-over-warning", "")
            warning.display = False

    def shares_table(self, s: dict[str, Any]) -> Group:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True, min_width=14)
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        table.add_column(justify="right", no_wrap=True, style=Style(dim=True))
        for share in s["benchmark_shares"]:
            colour = bench_colour(self.app, share["benchmark"])
            name = Text("■ ", style=Style(color=colour))
            name.append(share["benchmark"])
            over = share["benchmark"] in s["over_targeted"]
            table.add_row(
                name,
                share_bar(share["share"], 24, colour),
                Text(f"{share['share'] * 100:5.1f}%", style=Style(bold=over)),
                f"{share['docs']:,} docs · {abbreviate(share['tokens'])} tokens",
            )
        caption = Text(
            f"target share of the kept set, on the {s['sample_docs']:,}-doc scored sample "
            f"({s['sample_kept_docs']:,} kept)",
            style=Style(dim=True),
        )
        return Group(caption, table)

    def render_compute(self, s: dict[str, Any] | None) -> None:
        law = (s or {}).get("compute_law") or {}
        known = law.get("compute") is not None
        self._set("th-compute-c", f"{fmt_sci(law['compute'])} FLOPs" if known else "-")
        self._set("th-f-opt", fmt_pct(law.get("f_opt_percent")) if known else "-")
        self._set("th-kept-f-opt", fmt_count(law.get("kept_tokens_at_f_opt"), "tokens"))
        self._set("th-epochs", fmt_epochs(law.get("epochs_at_f_opt")))
        self._set("th-epochs-keep", fmt_epochs((s or {}).get("epochs_at_keep")))
        starving = []
        if law.get("starvation_at_f_opt"):
            starving.append(f"at F_opt ({fmt_epochs(law['epochs_at_f_opt'])})")
        if (s or {}).get("starvation_at_keep"):
            starving.append(f"at this keep ({fmt_epochs(s['epochs_at_keep'])})")
        starvation = self.query_one("#th-starvation", Static)
        starvation.display = bool(starving)
        self._set(
            "th-starvation",
            f"⚠ data starvation {' and '.join(starving)}: more than {MAX_EPOCHS:g} epochs "
            "of the kept data; repeats stop paying (Muennighoff et al. 2023)"
            if starving
            else "",
        )
        if known:
            parts = [f"C = 6ND = {fmt_sci(law['compute'])} FLOPs"]
            if law.get("params") is not None:
                parts.append(f"N = {law['params']:,.0f} params, D = {law['tokens']:,.0f} tokens")
            if law.get("kept_tokens_at_f_opt") is not None:
                parts.append(f"kept at F_opt = {law['kept_tokens_at_f_opt']:,.0f} tokens")
            detail = "\n".join(parts) + "\no: use F_opt as the keep rate"
        else:
            detail = "enter N and D, or C (1e9, 1B, 300M); F_opt(C) = 4e-5 · C^0.25 %"
        self._set("th-compute-detail", detail)
        self._set("th-table", self.compute_table(s, law), same_size=self._table_drawn)
        self._table_drawn = True

    def compute_table(self, s: dict[str, Any] | None, law: dict[str, Any]) -> Table:
        table = Table(
            box=None,
            padding=(0, 1),
            header_style=Style(dim=True),
            title="F_opt by compute",
            title_justify="left",
        )
        table.add_column("C (FLOPs)", no_wrap=True)
        table.add_column("F_opt", justify="right", no_wrap=True)
        table.add_column("kept tokens", justify="right", no_wrap=True)
        rows = (s or {}).get("table") or []
        near = None
        if rows and law.get("compute"):
            near = min(
                range(len(rows)),
                key=lambda i: abs(math.log10(rows[i]["compute"]) - math.log10(law["compute"])),
            )
        mark = Style(color=theme_colour(self.app, "accent"), bold=True)
        for i, row in enumerate(rows):
            table.add_row(
                fmt_sci(row["compute"]),
                fmt_pct(row["f_opt_percent"]),
                fmt_count(row.get("kept_tokens"), "tokens"),
                style=mark if i == near else None,
            )
        return table

    def render_plots(self, s: dict[str, Any]) -> None:
        kept_rgb = plot_rgb(self.app, "primary")
        line_rgb = plot_rgb(self.app, "warning")
        dim_rgb = plot_rgb(self.app, "primary-muted")
        ref_rgb = plot_rgb(self.app, "secondary")
        if self.hist is not None:
            widget = self.query_one("#th-hist", PlotextPlot)
            plt = widget.plt
            plt.clear_figure()
            counts, edges = self.hist
            centres = (edges[:-1] + edges[1:]) / 2
            kept = edges[1:] > s["threshold"]
            for mask, colour in ((~kept, dim_rgb), (kept, kept_rgb)):
                if mask.any():
                    plt.bar(centres[mask].tolist(), counts[mask].tolist(), color=colour, width=0.8)
            plt.vline(s["threshold"], color=line_rgb)
            plt.xlim(0, 1)
            plt.xticks([0, 0.25, 0.5, 0.75, 1])
            plt.xlabel(f"p(positive); line at {s['threshold']:.4f}")
            widget.refresh()
        if self.curve is not None:
            widget = self.query_one("#th-curve", PlotextPlot)
            plt = widget.plt
            plt.clear_figure()
            x, y = self.curve
            x0 = s["kept_doc_share"] * 100
            y0 = s["kept_token_share"] * 100
            plt.plot([0, 100], [0, 100], color=ref_rgb, marker="braille")
            plt.plot(x.tolist(), y.tolist(), color=kept_rgb, marker="braille")
            plt.vline(x0, color=line_rgb)
            plt.hline(y0, color=line_rgb)
            plt.xlim(0, 100)
            plt.ylim(0, 100)
            plt.xticks([0, 25, 50, 75, 100])
            plt.yticks([0, 25, 50, 75, 100])
            plt.xlabel(f"% of docs kept; now {x0:.3g}% docs, {y0:.3g}% tokens")
            widget.refresh()

    def restyle(self) -> None:
        self.query_one(KeepBar).refresh()
        self.refresh_numbers()
        self._agreement_key = self._compare_key = None
        self.refresh_active_tab()

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
        self.set_keep(self.keep_percent, _other(self.betr.keep_by))

    def action_edit_keep(self) -> None:
        self.query_one("#th-tabs", TabbedContent).active = "th-tab-threshold"
        self.query_one("#th-keep-input", Input).focus()

    def action_edit_budget(self) -> None:
        self.query_one("#th-tabs", TabbedContent).active = "th-tab-threshold"
        self.query_one("#th-params", Input).focus()

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

    def action_next_threshold_tab(self) -> None:
        tabs = self.query_one("#th-tabs", TabbedContent)
        tabs.active = TABS[(TABS.index(tabs.active) + 1) % len(TABS)]

    def action_leave_input(self) -> None:
        active = self.query_one("#th-tabs", TabbedContent).active
        if active == "th-tab-threshold":
            self.query_one(KeepBar).focus()
        elif active == "th-tab-agreement":
            self.query_one("#ag-cls-over").focus()
        else:
            self.query_one("#cmp-only-a").focus()

    def action_export_tradeoff(self) -> None:
        if self.stats is None:
            self.notify("nothing to export: no applied run shown", severity="warning")
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.betr.workspace.exports_dir / f"tradeoff-run{self.stats['run_id']}-{stamp}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.stats, indent=2, default=float) + "\n")
        except OSError as exc:
            self.betr.report_error(f"cannot write {path}: {exc}")
            return
        self.notify(f"trade-off numbers saved: {path}", markup=False)

    # -- inputs --------------------------------------------------------------------------------
    @on(KeepBar.Picked)
    def keep_picked(self, message: KeepBar.Picked) -> None:
        self.set_keep(message.percent)

    @on(Input.Submitted, "#th-keep-input")
    def keep_typed(self, event: Input.Submitted) -> None:
        error = self.query_one("#th-keep-error", Static)
        try:
            keep = parse_keep(event.value)
        except BetrError as exc:
            error.update(str(exc))
            return
        error.update("")
        self.query_one(KeepBar).focus()
        self.set_keep(keep * 100.0)
        self.refresh_numbers()  # also when the keep did not change: show the value again

    @on(Input.Changed, "#th-params, #th-tokens, #th-compute-input")
    def budget_changed(self) -> None:
        """Typing updates the numbers once the budget parses; errors wait for enter."""
        self.read_budget(show_error=False)

    @on(Input.Submitted, "#th-params, #th-tokens, #th-compute-input")
    def budget_submitted(self) -> None:
        self.read_budget(show_error=True)

    def read_budget(self, show_error: bool) -> None:
        error = self.query_one("#th-budget-error", Static)
        fields = (
            ("#th-params", "model parameters N"),
            ("#th-tokens", "training tokens D"),
            ("#th-compute-input", "compute C"),
        )
        try:
            values = [
                parse_amount(text, name)
                if (text := self.query_one(sel, Input).value.strip())
                else None
                for sel, name in fields
            ]
            budget = Budget.of(*values)
        except BetrError as exc:
            if show_error:
                error.update(str(exc))
            budget = Budget()
        else:
            error.update("")
        if budget != self.budget:
            self.budget = budget
            self.refresh_numbers()

    # -- agreement tab -------------------------------------------------------------------------
    @on(TabbedContent.TabActivated, "#th-tabs")
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if pane == "th-tab-threshold":
            self.query_one(KeepBar).focus()
        elif pane == "th-tab-agreement":
            self.start_agreement()
            self.query_one("#ag-cls-over").focus()
        elif pane == "th-tab-compare":
            self.sync_run_options()
            self.start_compare()
            self.query_one("#cmp-only-a").focus()

    def show_agreement_empty(self, text: str | None = None, *, empty: bool = True) -> None:
        message = self.query_one("#ag-empty", Static)
        body = self.query_one("#ag-body")
        message.display = empty
        body.display = not empty
        if empty:
            message.update(text or no_run_text())

    def start_agreement(self) -> None:
        index = self.usable_index()
        if index is None:
            return
        key = (index.run_id, self.betr.keep, self.betr.keep_by)
        if key == self._agreement_key:
            return
        self._agreement_key = key
        self.agreement_worker(index, key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-agreement")
    def agreement_worker(self, index: RunIndex, key: tuple) -> None:
        try:
            result = agreement(index, key[1], key[2])
        except BetrError as exc:
            self.post_message(AgreementReady(key, None, str(exc)))
            return
        self.post_message(AgreementReady(key, result, None))

    def on_agreement_ready(self, message: AgreementReady) -> None:
        if message.key != self._agreement_key:
            return
        if message.result is None:
            self.show_agreement_empty(message.error)
            return
        self.show_agreement_empty(empty=False)
        a = self.agreement = message.result
        self._set("ag-rho", fmt_float(a["spearman"]))
        self._set("ag-p", fmt_p(a["spearman_p"]))
        self._set("ag-n", f"{a['sample_docs']:,} docs")
        self._set("ag-precision", fmt_float(a["precision_at_keep"]))
        self._set(
            "ag-detail",
            f"on the {a['sample_docs']:,}-doc scored sample: at keep {fmt_keep(a['keep_percent'])} "
            f"of {a['by']} the classifier keeps {a['sample_kept']:,} sample docs; precision = "
            "the share of them BETR also ranks in its top as many. Largest disagreements by "
            "percentile rank below (enter opens a doc).",
        )
        self.fill_agreement("#ag-cls-over", a["classifier_over_betr"])
        self.fill_agreement("#ag-betr-over", a["betr_over_classifier"])

    def fill_agreement(self, selector: str, rows: list[dict[str, Any]]) -> None:
        table = self.query_one(selector, KeyedTable)
        table.clear()
        for r in rows:
            name = r["benchmark"] or "-"
            table.add_row(
                Text(f"{r['rank']:,}", justify="right"),
                Text(str(r["doc_id"]), justify="right"),
                Text(fmt_float(r["prob"]), justify="right"),
                Text(f"{r['score']:.4g}", justify="right"),
                Text(f"{r['prob_percentile']:.0f}", justify="right"),
                Text(f"{r['score_percentile']:.0f}", justify="right"),
                Text(
                    name, style=Style(color=bench_colour(self.app, name)) if r["benchmark"] else ""
                ),
                key=str(r["doc_id"]),
            )

    @on(DataTable.RowSelected, "#ag-cls-over, #ag-betr-over")
    def agreement_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.index is not None and event.row_key.value is not None:
            self.open_doc(
                table_doc_ids(event.data_table), int(event.row_key.value), self.index.run_id
            )

    def open_doc(self, doc_ids: list[int], doc_id: int, run_id: int) -> None:
        """Open `doc_id` in the document viewer; ] and [ walk the list it was picked from."""
        self.open_docs_worker(doc_ids, doc_id, run_id, self.betr.keep, self.betr.keep_by)

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-open")
    def open_docs_worker(
        self, doc_ids: list[int], doc_id: int, run_id: int, keep: float, by: str
    ) -> None:
        from engine.api.browse import Query, View

        with reading(self.betr.workspace) as conn:
            index = self.betr.load_index(conn, run_id)
        rows = index.rows_of_docs(doc_ids)
        view = View(Query(keep=keep, by=by), rows, index.cut(keep, by))
        row = int(np.flatnonzero(index.doc_id[rows] == doc_id)[0])
        self.app.call_from_thread(self.push_viewer, index, view, row)

    def push_viewer(self, index: RunIndex, view: View, row: int) -> None:
        from tui.screens.viewer import DocViewerScreen

        self.app.push_screen(DocViewerScreen(index, view, row))

    # -- compare tab ---------------------------------------------------------------------------
    def sync_run_options(self) -> None:
        applied = [r for r in self.betr.runs.values() if r["state"] == "applied"]
        options = [
            (f"{r['id']} {r['name'] or ''} ({r['corpus'] or '?'})", int(r["id"])) for r in applied
        ]
        select_a = self.query_one("#cmp-a", Select)
        select_b = self.query_one("#cmp-b", Select)
        if options != self._run_options:
            self._run_options = options
            a, b = select_a.value, select_b.value
            ids = {value for _label, value in options}
            with self.prevent(Select.Changed):
                select_a.set_options(options)
                select_b.set_options(options)
                if a in ids:
                    select_a.value = a
                if b in ids:
                    select_b.value = b
        by_id = {r["id"]: r for r in applied}
        if select_a.is_blank() and by_id:
            current = self.betr.run_id if self.betr.run_id in by_id else max(by_id)
            with self.prevent(Select.Changed):
                select_a.value = current
        if select_b.is_blank() and not select_a.is_blank() and len(by_id) > 1:
            a = by_id[select_a.value]
            others = sorted((r for r in applied if r["id"] != a["id"]), key=lambda r: -r["id"])
            same = [r for r in others if r["corpus"] == a["corpus"]]
            with self.prevent(Select.Changed):
                select_b.value = (same or others)[0]["id"]
        if self.query_one("#th-tabs", TabbedContent).active == "th-tab-compare":
            self.start_compare()

    @on(Select.Changed, "#cmp-a, #cmp-b")
    def compare_picked(self) -> None:
        self.start_compare()

    def show_compare_message(self, text: str | None) -> None:
        message = self.query_one("#cmp-message", Static)
        message.display = text is not None
        message.update(text or "")
        self.query_one("#cmp-body").display = text is None

    def start_compare(self) -> None:
        a = self.query_one("#cmp-a", Select).value
        b = self.query_one("#cmp-b", Select).value
        n_applied = len(self._run_options)
        if n_applied < 2 and (a == Select.NULL or b == Select.NULL):
            self._compare_key = None
            self.show_compare_message(
                f"Comparing runs needs two applied runs over one corpus; this workspace has "
                f"{n_applied}. Score and apply another run (`betr score …`, another target set or "
                "seed), then pick runs A and B above."
            )
            return
        if a == Select.NULL or b == Select.NULL:
            self._compare_key = None
            self.show_compare_message("pick run A and run B above")
            return
        key = (int(a), int(b), self.betr.keep, self.betr.keep_by)
        if key == self._compare_key:
            return
        self._compare_key = key
        if self.comparison is None:
            self.show_compare_message(f"comparing runs {a} and {b}…")
        self.compare_worker(key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-compare")
    def compare_worker(self, key: tuple) -> None:
        run_a, run_b, keep, by = key
        docs: dict[str, list] = {"a": [], "b": []}
        try:
            with reading(self.betr.workspace) as conn:
                index_a = self.betr.load_index(conn, run_a)
                index_b = self.betr.load_index(conn, run_b)
                result = overlap(index_a, index_b, keep, by)
                shown = {
                    "a": (index_a, [int(i) for i in result["only_a"][:LISTED]]),
                    "b": (index_b, [int(i) for i in result["only_b"][:LISTED]]),
                }
                ids = shown["a"][1] + shown["b"][1]
                text = snippets(conn, ids, SNIPPET)
        except BetrError as exc:
            self.post_message(CompareReady(key, None, str(exc), docs))
            return
        for side, (index, side_ids) in shown.items():
            probs = index.prob[index.rows_of_docs(side_ids)] if side_ids else []
            for doc_id, prob in zip(side_ids, probs, strict=True):
                ext_id, snippet = text.get(doc_id, ("?", ""))
                docs[side].append((doc_id, ext_id, float(prob), snippet))
        self.post_message(CompareReady(key, result, None, docs))

    def on_compare_ready(self, message: CompareReady) -> None:
        if message.key != self._compare_key:
            return
        if message.result is None:
            self.comparison = None
            self.show_compare_message(message.error)
            return
        self.show_compare_message(None)
        c = self.comparison = message.result
        self._set("cmp-overlap", fmt_count(c["overlap"], "docs"))
        self._set("cmp-jaccard", fmt_float(c["jaccard"]))
        self._set("cmp-kept-a", fmt_count(c["kept_a"], "docs"))
        self._set("cmp-kept-b", fmt_count(c["kept_b"], "docs"))
        self._set(
            "cmp-detail",
            f"at keep {fmt_keep(c['keep_percent'])} of {c['by']}: run {c['run_a']} keeps "
            f"{c['kept_a']:,} docs, run {c['run_b']} keeps {c['kept_b']:,}; both keep "
            f"{c['overlap']:,} (Jaccard {c['jaccard']:.4f}). Only in A: {len(c['only_a']):,}; "
            f"only in B: {len(c['only_b']):,} (first {LISTED} listed, in each run's order).",
        )
        for side, selector in (("a", "#cmp-only-a"), ("b", "#cmp-only-b")):
            table = self.query_one(selector, KeyedTable)
            run = c[f"run_{side}"]
            other = c["run_b" if side == "a" else "run_a"]
            total = len(c[f"only_{side}"])
            table.border_title = f"kept by run {run}, not by run {other}: {total:,} docs"
            table.clear()
            for doc_id, ext_id, prob, snippet in message.docs[side]:
                table.add_row(
                    Text(str(doc_id), justify="right"),
                    ext_id,
                    Text(f"{prob:.3f}", justify="right"),
                    Text(snippet, style=Style(dim=True)),
                    key=str(doc_id),
                )

    @on(DataTable.RowSelected, "#cmp-only-a, #cmp-only-b")
    def compare_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.comparison is None or event.row_key.value is None:
            return
        side = "a" if event.data_table.id == "cmp-only-a" else "b"
        run_id = self.comparison[f"run_{side}"]
        self.open_doc(table_doc_ids(event.data_table), int(event.row_key.value), run_id)


def table_doc_ids(table: DataTable) -> list[int]:
    """The doc ids a table lists (its row keys), in display order."""
    return [int(key.value) for key in table.rows if key.value is not None]


def _other(by: str) -> str:
    return "docs" if by == "tokens" else "tokens"


def share_text(s: dict[str, Any]) -> str:
    """The kept share of the pool in the unit the keep counts (and the other in the detail)."""
    if s["by"] == "docs":
        return f"{s['kept_doc_share'] * 100:.2f}% of docs"
    return f"{s['kept_token_share'] * 100:.2f}% of tokens"


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "-"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def no_run_text() -> str:
    return (
        "No current run. The threshold needs an applied BETR run: score a corpus against a "
        "target set and apply the classifier (`betr score …`, `betr train`, `betr apply --run N`), then "
        "press 1 and r on the Workspace screen to make the run current."
    )


def not_applied_text(index: RunIndex) -> str:
    return (
        f"Run {index.run_id} ({index.name}) is scored but not applied: keep rates need the "
        "classifier's p(positive) for every document of the pool. Apply it "
        f"(`betr apply --run {index.run_id}`), or pick an applied run with r on the Workspace "
        "screen (1)."
    )
