"""The Agreement tab: classifier vs BETR on the scored sample, at the current keep rate.

Spearman ρ between p(positive) and the BETR score, the precision of the classifier's kept docs,
and the largest disagreements both ways (enter opens a doc). `agreement` is O(n): it runs in a
thread worker, only while the tab is shown, and again when the keep rests.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from engine.api.browse import RunIndex
from engine.api.tradeoff import Agreement, Disagreement, agreement
from engine.errors import BetrError
from engine.units import format_number
from tui.screens.threshold.format import fmt_float, fmt_keep, fmt_p, no_run_text
from tui.screens.threshold.messages import AgreementReady, KeepKey, OpenDoc, table_doc_ids
from tui.widgets.cards import CardRow, NumberCard, update_static
from tui.widgets.plots import bench_colour
from tui.widgets.tables import KeyedTable
from tui.workers import WorkersReportToApp

# every column as wide as its widest value (never cut: 1.826e-5 once read "1.826e-0")
AGREEMENT_COLUMNS: list[tuple[str, str, int | None]] = [
    ("rank", "rank", None),
    ("doc", "doc", None),
    ("prob", "p(pos)", None),
    ("score", "BETR", None),
    ("prob_pct", "p pct", None),
    ("score_pct", "BETR pct", None),
    ("benchmark", "benchmark", None),
]


class AgreementTab(WorkersReportToApp, Vertical):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.result: Agreement | None = None  # the last agreement(...) shown
        self._key: KeepKey | None = None  # (run id, keep, by) asked for last

    def compose(self) -> ComposeResult:
        yield Static("", id="ag-empty", classes="th-empty", markup=False)
        with Vertical(id="ag-body"):
            yield CardRow(
                NumberCard("Spearman ρ (p vs BETR score)", "ag-rho"),
                NumberCard("p-value", "ag-p"),
                NumberCard("n (scored sample)", "ag-n"),
                NumberCard("precision at the keep rate", "ag-precision"),
                classes="th-cards",
            )
            yield Static("", id="ag-detail", markup=False)
            with Horizontal(id="ag-tables", classes="th-tables"):
                yield KeyedTable(AGREEMENT_COLUMNS, id="ag-cls-over")
                yield KeyedTable(AGREEMENT_COLUMNS, id="ag-betr-over")

    def on_mount(self) -> None:
        self.query_one("#ag-cls-over").border_title = "classifier over BETR"
        self.query_one("#ag-betr-over").border_title = "BETR over classifier"

    def focus_table(self) -> None:
        self.query_one("#ag-cls-over").focus()

    def reset(self) -> None:
        """Another run: nothing shown, compute again on the next `start`."""
        self.result = None
        self._key = None

    def forget(self) -> None:
        """Compute again on the next `start` (the theme changed: the rows redraw)."""
        self._key = None

    def show_empty(self, text: str | None = None, *, empty: bool = True) -> None:
        message = self.query_one("#ag-empty", Static)
        message.display = empty
        self.query_one("#ag-body").display = not empty
        if empty:
            message.update(text or no_run_text())

    def start(self, index: RunIndex, keep: float, by: str) -> None:
        key = (index.run_id, keep, by)
        if key == self._key:
            return
        self._key = key
        self.compute(index, key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-agreement")
    def compute(self, index: RunIndex, key: KeepKey) -> None:
        try:
            result = agreement(index, key[1], key[2])
        except BetrError as exc:
            self.post_message(AgreementReady(key, None, str(exc)))
            return
        self.post_message(AgreementReady(key, result, None))

    @on(AgreementReady)
    def agreement_ready(self, message: AgreementReady) -> None:
        if message.key != self._key:
            return
        if message.result is None:
            self.show_empty(message.error)
            return
        self.show_empty(empty=False)
        a = self.result = message.result
        self._set("ag-rho", fmt_float(a.spearman))
        self._set("ag-p", fmt_p(a.spearman_p))
        self._set("ag-n", f"{a.sample_docs:,} docs")
        self._set("ag-precision", fmt_float(a.precision_at_keep))
        self._set(
            "ag-detail",
            f"on the {a.sample_docs:,}-doc scored sample: at keep {fmt_keep(a.keep_percent)} "
            f"of {a.by} the classifier keeps {a.sample_kept:,} sample docs; precision = "
            "the share of them BETR also ranks in its top as many. Largest disagreements by "
            "percentile rank below (enter opens a doc).",
        )
        self.fill("#ag-cls-over", a.classifier_over_betr)
        self.fill("#ag-betr-over", a.betr_over_classifier)

    def _set(self, widget_id: str, content: str) -> None:
        update_static(self.query_one(f"#{widget_id}", Static), content)

    def fill(self, selector: str, rows: list[Disagreement]) -> None:
        table = self.query_one(selector, KeyedTable)
        table.clear()
        for r in rows:
            name = r.benchmark or "-"
            table.add_row(
                Text(f"{r.rank:,}", justify="right"),
                Text(str(r.doc_id), justify="right"),
                Text(fmt_float(r.prob), justify="right"),
                Text(format_number(r.score, 4), justify="right"),
                Text(f"{r.prob_percentile:.0f}", justify="right"),
                Text(f"{r.score_percentile:.0f}", justify="right"),
                Text(name, style=Style(color=bench_colour(self.app, name)) if r.benchmark else ""),
                key=str(r.doc_id),
            )

    @on(DataTable.RowSelected, "#ag-cls-over, #ag-betr-over")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if self._key is not None and event.row_key.value is not None:
            doc_ids = table_doc_ids(event.data_table)
            self.post_message(OpenDoc(doc_ids, int(event.row_key.value), self._key[0]))
