"""The Agreement tab: classifier vs BETR on the scored sample, at the current keep rate.

Spearman ρ between p(positive) and the BETR score, the precision of the classifier's kept docs,
and the largest disagreements both ways (enter opens a doc). `agreement` is O(n): the tab reads
it in a thread worker (tui/screens/threshold/tab.py), only while shown, again when the keep
rests.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from engine.api.tradeoff import Agreement, Disagreement, agreement
from engine.units import format_number
from tui.reads import reading
from tui.screens.threshold.format import fmt_float, fmt_keep, fmt_p, no_run_text
from tui.screens.threshold.messages import KeepKey, OpenDoc, table_doc_ids
from tui.screens.threshold.tab import ThresholdTab
from tui.widgets.cards import CardRow, NumberCard, update_static
from tui.widgets.plots import bench_colour
from tui.widgets.tables import KeyedTable

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


class AgreementTab(ThresholdTab[KeepKey | None, Agreement]):
    TITLE = "Agreement"
    NAME = "agreement"
    WIDGET_ID = "ag-tab"
    LOADING = "computing the agreement on the scored sample…"
    EMPTY = "#ag-empty"
    CONTENT: ClassVar = ("#ag-body",)

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

    def focus_content(self) -> None:
        self.query_one("#ag-cls-over").focus()

    # -- the read ------------------------------------------------------------------------------
    def wanted(self) -> KeepKey | None:
        index = self.context.index
        if index is None:
            return None
        return (index.run_id, self.session.keep, self.session.keep_by)

    def empty_note(self, key: KeepKey | None) -> str | None:
        return (self.context.note or no_run_text()) if key is None else None

    def read(self, key: KeepKey | None) -> Agreement:
        assert key is not None  # empty_note says why there is none
        run_id, keep, by = key
        index = self.context.index
        if index is None or index.run_id != run_id:  # another run since (the answer is dropped)
            with reading(self.services.workspace) as conn:
                index = self.session.load_index(conn, run_id)
        return agreement(index, keep, by)

    # -- drawing -------------------------------------------------------------------------------
    def show(self, answer: Agreement) -> None:
        self.show_empty("")
        a = answer
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
        if self.answer is not None and event.row_key.value is not None:
            doc_ids = table_doc_ids(event.data_table)
            self.post_message(OpenDoc(doc_ids, int(event.row_key.value), self.answer.run_id))
