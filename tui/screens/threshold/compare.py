"""The Compare runs tab: two applied runs over one corpus, kept sets at the same keep rate.

Overlap, Jaccard, and the docs only one of them keeps (the first LISTED of each, with a
snippet; enter opens a doc). `overlap` is O(n): the tab reads it in a thread worker
(tui/screens/threshold/tab.py), only while shown, again when the keep rests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Select, Static
from textual.widgets.select import NoSelection

from engine.api.browse import snippets
from engine.api.tradeoff import Overlap, overlap
from engine.errors import BetrError
from engine.units import format_number
from tui.reads import reading
from tui.screens.threshold.format import fmt_count, fmt_float, fmt_keep
from tui.screens.threshold.messages import CompareKey, ListedDoc, OpenDoc, table_doc_ids
from tui.screens.threshold.tab import ThresholdContext, ThresholdTab
from tui.widgets.cards import CardRow, NumberCard, update_static
from tui.widgets.select import PlainSelect
from tui.widgets.tables import KeyedTable

LISTED = 200  # set-difference docs listed (and fetched) per side
SNIPPET = 160
COMPARE_COLUMNS: list[tuple[str, str, int | None]] = [
    ("doc", "doc", None),
    ("ext", "ext id", 14),
    ("prob", "p(pos)", None),
    ("snippet", "snippet", 60),
]


@dataclass(frozen=True)
class Comparison:
    """The tab's answer: the two runs' overlap and the first LISTED docs of each side, "a"/"b"
    -> [(doc_id, ext_id, prob, snippet)]."""

    overlap: Overlap
    docs: dict[str, list[ListedDoc]]


class CompareTab(ThresholdTab[CompareKey | None, Comparison]):
    TITLE = "Compare runs"
    NAME = "compare"
    WIDGET_ID = "cmp-tab"
    EMPTY = "#cmp-message"
    CONTENT: ClassVar = ("#cmp-body",)

    def __init__(self, context: ThresholdContext, **kwargs: Any):
        super().__init__(context, **kwargs)
        self.run_options: list[tuple[str, int]] = []  # what the pickers offer

    def compose(self) -> ComposeResult:
        with Horizontal(id="cmp-pick"):
            yield Label("A", classes="cmp-side", markup=False)
            yield PlainSelect[int]([], prompt="run A", id="cmp-a")
            yield Label("B", classes="cmp-side", markup=False)
            yield PlainSelect[int]([], prompt="run B", id="cmp-b")
        yield Static("", id="cmp-message", classes="th-empty", markup=False)
        with Vertical(id="cmp-body"):
            yield CardRow(
                NumberCard("overlap", "cmp-overlap"),
                NumberCard("Jaccard", "cmp-jaccard"),
                NumberCard("kept A", "cmp-kept-a"),
                NumberCard("kept B", "cmp-kept-b"),
                min_card=16,
                classes="th-cards",
            )
            yield Static("", id="cmp-detail", markup=False)
            with Horizontal(id="cmp-tables", classes="th-tables"):
                yield KeyedTable(COMPARE_COLUMNS, id="cmp-only-a")
                yield KeyedTable(COMPARE_COLUMNS, id="cmp-only-b")

    def focus_content(self) -> None:
        self.query_one("#cmp-only-a").focus()

    def opened(self) -> None:
        self.sync_run_options(shown=True)  # offers the runs polled since, then compares
        self.focus_content()

    @property
    def result(self) -> Overlap | None:
        """The last `overlap(...)` shown."""
        return self.answer.overlap if self.answer is not None else None

    # -- the runs ------------------------------------------------------------------------------
    def sync_run_options(self, *, shown: bool) -> None:
        """Offer the session's applied runs; pick A (the current run) and B (another run over
        the same corpus) while blank. `shown`: the tab is on screen, compare now."""
        session = self.session
        applied = [r for r in session.runs.values() if r.state == "applied"]
        options = [(f"{r.id} {r.name or ''} ({r.corpus or '?'})", int(r.id)) for r in applied]
        select_a = self.query_one("#cmp-a", Select)
        select_b = self.query_one("#cmp-b", Select)
        if options != self.run_options:
            self.run_options = options
            a, b = select_a.value, select_b.value
            ids = {value for _label, value in options}
            with self.prevent(Select.Changed):
                select_a.set_options(options)
                select_b.set_options(options)
                if a in ids:
                    select_a.value = a
                if b in ids:
                    select_b.value = b
        by_id = {r.id: r for r in applied}
        if select_a.is_blank() and by_id:
            current = session.run_id if session.run_id in by_id else max(by_id)
            with self.prevent(Select.Changed):
                select_a.value = current
        if select_b.is_blank() and not select_a.is_blank() and len(by_id) > 1:
            a = by_id[cast(int, select_a.value)]
            others = sorted((r for r in applied if r.id != a.id), key=lambda r: -r.id)
            same = [r for r in others if r.corpus == a.corpus]
            with self.prevent(Select.Changed):
                select_b.value = (same or others)[0].id
        if shown:
            self.refresh_content()

    @on(Select.Changed, "#cmp-a, #cmp-b")
    def picked(self, event: Select.Changed) -> None:
        event.stop()
        self.refresh_content()

    # -- the comparison ------------------------------------------------------------------------
    def wanted(self) -> CompareKey | None:
        """Runs A and B at the session's keep rate (None: not both picked)."""
        a = self.query_one("#cmp-a", Select).value
        b = self.query_one("#cmp-b", Select).value
        if isinstance(a, NoSelection) or isinstance(b, NoSelection):
            return None
        return (int(a), int(b), self.session.keep, self.session.keep_by)

    def empty_note(self, key: CompareKey | None) -> str | None:
        if key is not None:
            return None
        n_applied = len(self.run_options)
        if n_applied < 2:
            return (
                f"Comparing runs needs two applied runs over one corpus; this workspace has "
                f"{n_applied}. Score and apply another run (`betr score …`, another target set or "
                "seed), then pick runs A and B above."
            )
        return "pick run A and run B above"

    def loading_text(self, key: CompareKey | None) -> str:
        assert key is not None
        return f"comparing runs {key[0]} and {key[1]}…"

    def show_error(self, error: BetrError) -> None:
        super().show_error(error)
        self.answer = None

    def read(self, key: CompareKey | None) -> Comparison:
        assert key is not None  # empty_note says why there is none
        run_a, run_b, keep, by = key
        session = self.session
        with reading(session.workspace) as conn:
            index_a = session.load_index(conn, run_a)
            index_b = session.load_index(conn, run_b)
            result = overlap(index_a, index_b, keep, by)
            shown = {
                "a": (index_a, [int(i) for i in result.only_a[:LISTED]]),
                "b": (index_b, [int(i) for i in result.only_b[:LISTED]]),
            }
            ids = shown["a"][1] + shown["b"][1]
            text = snippets(conn, ids, SNIPPET)
        docs: dict[str, list[ListedDoc]] = {"a": [], "b": []}
        for side, (index, side_ids) in shown.items():
            probs = index.prob[index.rows_of_docs(side_ids)] if side_ids else []
            for doc_id, prob in zip(side_ids, probs, strict=True):
                ext_id, snippet = text.get(doc_id, ("?", ""))
                docs[side].append((doc_id, ext_id, float(prob), snippet))
        return Comparison(result, docs)

    def show(self, answer: Comparison) -> None:
        self.show_empty("")
        c = answer.overlap
        self._set("cmp-overlap", fmt_count(c.overlap, "docs"))
        self._set("cmp-jaccard", fmt_float(c.jaccard))
        self._set("cmp-kept-a", fmt_count(c.kept_a, "docs"))
        self._set("cmp-kept-b", fmt_count(c.kept_b, "docs"))
        self._set(
            "cmp-detail",
            f"at keep {fmt_keep(c.keep_percent)} of {c.by}: run {c.run_a} keeps "
            f"{c.kept_a:,} docs, run {c.run_b} keeps {c.kept_b:,}; both keep "
            f"{c.overlap:,} (Jaccard {format_number(c.jaccard, 4)}). Only in A: {len(c.only_a):,}; "
            f"only in B: {len(c.only_b):,} (first {LISTED} listed, in each run's order).",
        )
        for side, selector, run, other, only in (
            ("a", "#cmp-only-a", c.run_a, c.run_b, c.only_a),
            ("b", "#cmp-only-b", c.run_b, c.run_a, c.only_b),
        ):
            table = self.query_one(selector, KeyedTable)
            total = len(only)
            table.border_title = f"kept by run {run}, not by run {other}: {total:,} docs"
            table.clear()
            for doc_id, ext_id, prob, snippet in answer.docs[side]:
                table.add_row(
                    Text(str(doc_id), justify="right"),
                    ext_id,
                    Text(format_number(prob, 3), justify="right"),
                    Text(snippet, style=Style(dim=True)),
                    key=str(doc_id),
                )

    def _set(self, widget_id: str, content: str) -> None:
        update_static(self.query_one(f"#{widget_id}", Static), content)

    @on(DataTable.RowSelected, "#cmp-only-a, #cmp-only-b")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        c = self.result
        if c is None or event.row_key.value is None:
            return
        run_id = c.run_a if event.data_table.id == "cmp-only-a" else c.run_b
        self.post_message(
            OpenDoc(table_doc_ids(event.data_table), int(event.row_key.value), run_id)
        )
