"""The Compare runs tab: two applied runs over one corpus, kept sets at the same keep rate.

Overlap, Jaccard, and the docs only one of them keeps (the first LISTED of each, with a
snippet; enter opens a doc). `overlap` is O(n): it runs in a thread worker, only while the tab
is shown, and again when the keep rests.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on, work
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
from tui.screens.threshold.messages import (
    CompareKey,
    CompareReady,
    ListedDoc,
    OpenDoc,
    table_doc_ids,
)
from tui.session import UsesSession
from tui.widgets.cards import CardRow, NumberCard, update_static
from tui.widgets.select import PlainSelect
from tui.widgets.tables import KeyedTable
from tui.workers import WorkersReportToApp

LISTED = 200  # set-difference docs listed (and fetched) per side
SNIPPET = 160
COMPARE_COLUMNS: list[tuple[str, str, int | None]] = [
    ("doc", "doc", None),
    ("ext", "ext id", 14),
    ("prob", "p(pos)", None),
    ("snippet", "snippet", 60),
]


class CompareTab(UsesSession, WorkersReportToApp, Vertical):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.result: Overlap | None = None  # the last overlap(...) shown
        self.run_options: list[tuple[str, int]] = []  # what the pickers offer
        self._key: CompareKey | None = None  # (run A, run B, keep, by) asked for last

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

    def focus_table(self) -> None:
        self.query_one("#cmp-only-a").focus()

    # -- the runs ------------------------------------------------------------------------------
    def sync_run_options(self, *, shown: bool) -> None:
        """Offer the session's applied runs; pick A (the current run) and B (another run over
        the same corpus) while blank. `shown`: the tab is on screen, compare now."""
        session = self.session
        applied = [r for r in session.runs.values() if r["state"] == "applied"]
        options = [
            (f"{r['id']} {r['name'] or ''} ({r['corpus'] or '?'})", int(r["id"])) for r in applied
        ]
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
        by_id = {r["id"]: r for r in applied}
        if select_a.is_blank() and by_id:
            current = session.run_id if session.run_id in by_id else max(by_id)
            with self.prevent(Select.Changed):
                select_a.value = current
        if select_b.is_blank() and not select_a.is_blank() and len(by_id) > 1:
            a = by_id[select_a.value]
            others = sorted((r for r in applied if r["id"] != a["id"]), key=lambda r: -r["id"])
            same = [r for r in others if r["corpus"] == a["corpus"]]
            with self.prevent(Select.Changed):
                select_b.value = (same or others)[0]["id"]
        if shown:
            self.start()

    @on(Select.Changed, "#cmp-a, #cmp-b")
    def picked(self, event: Select.Changed) -> None:
        event.stop()
        self.start()

    def show_message(self, text: str | None) -> None:
        message = self.query_one("#cmp-message", Static)
        message.display = text is not None
        message.update(text or "")
        self.query_one("#cmp-body").display = text is None

    # -- the comparison ------------------------------------------------------------------------
    def start(self) -> None:
        """Compare runs A and B at the session's keep rate (unless that is on screen already)."""
        a = self.query_one("#cmp-a", Select).value
        b = self.query_one("#cmp-b", Select).value
        n_applied = len(self.run_options)
        if n_applied < 2 and (a == Select.NULL or b == Select.NULL):
            self._key = None
            self.show_message(
                f"Comparing runs needs two applied runs over one corpus; this workspace has "
                f"{n_applied}. Score and apply another run (`betr score …`, another target set or "
                "seed), then pick runs A and B above."
            )
            return
        if isinstance(a, NoSelection) or isinstance(b, NoSelection):
            self._key = None
            self.show_message("pick run A and run B above")
            return
        key = (int(a), int(b), self.session.keep, self.session.keep_by)
        if key == self._key:
            return
        self._key = key
        if self.result is None:
            self.show_message(f"comparing runs {a} and {b}…")
        self.compare(key)

    def forget(self) -> None:
        """Compare again on the next `start` (the theme changed: the rows redraw)."""
        self._key = None

    @work(thread=True, exclusive=True, exit_on_error=False, group="threshold-compare")
    def compare(self, key: CompareKey) -> None:
        run_a, run_b, keep, by = key
        session = self.session
        docs: dict[str, list[ListedDoc]] = {"a": [], "b": []}
        try:
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
        except BetrError as exc:
            self.post_message(CompareReady(key, None, str(exc), docs))
            return
        for side, (index, side_ids) in shown.items():
            probs = index.prob[index.rows_of_docs(side_ids)] if side_ids else []
            for doc_id, prob in zip(side_ids, probs, strict=True):
                ext_id, snippet = text.get(doc_id, ("?", ""))
                docs[side].append((doc_id, ext_id, float(prob), snippet))
        self.post_message(CompareReady(key, result, None, docs))

    @on(CompareReady)
    def compare_ready(self, message: CompareReady) -> None:
        if message.key != self._key:
            return
        if message.result is None:
            self.result = None
            self.show_message(message.error)
            return
        self.show_message(None)
        c = self.result = message.result
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
            for doc_id, ext_id, prob, snippet in message.docs[side]:
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
        if self.result is None or event.row_key.value is None:
            return
        run_id = self.result.run_a if event.data_table.id == "cmp-only-a" else self.result.run_b
        self.post_message(
            OpenDoc(table_doc_ids(event.data_table), int(event.row_key.value), run_id)
        )
