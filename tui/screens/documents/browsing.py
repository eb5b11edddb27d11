"""The Documents screen's VisiData-style dialogs: pick a column (to sort by, or to count), the
frequency table of a column (`F`), and the checklist of columns shown (`C`).

The frequency table is computed on the UI thread when the column is in memory (a polars
group-by: tens of milliseconds at a million docs), else in a thread worker that reads the
field from the workspace first (once; it is then packed there). Every value from the data
reaches the screen as plain Text (tui.safe_text): `[bold]` or an escape sequence in a metadata
value shows as written.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, OptionList, SelectionList, Static
from textual.widgets.data_table import ColumnKey
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from engine.api.browse import RunIndex, View
from engine.api.columns import ColumnChoice, Where
from engine.api.frequency import FREQ_SORTS, FrequencyTable, frequency_of_view
from engine.errors import BetrError
from engine.units import abbreviate
from tui.action_model import bindings
from tui.reads import reading
from tui.safe_text import one_line, plain
from tui.screens.base import DIALOG, DIALOG_ACTIONS, BetrModal
from tui.screens.documents.actions import ACTIONS, FREQUENCY
from tui.widgets.tables import PlainTable

FREQ_ROWS = 200  # values listed (the rest summed in one line)
BAR = 10  # cells of the kept-share bar


class ColumnPicker(BetrModal[str | None]):
    """A list of columns; dismissed with the one picked (None: closed)."""

    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)

    def __init__(self, title: str, hint: str, choices: list[ColumnChoice], current: str | None):
        super().__init__()
        self.title_text, self.hint, self.choices, self.current = title, hint, choices, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="doc-dialog", id="column-picker") as dialog:
            dialog.border_title = self.title_text
            yield Label(self.hint, markup=False)
            yield OptionList(
                *(
                    Option(plain(f"{c.name:<18} {c.summary}", lines=False), id=c.name)
                    for c in self.choices
                ),
                id="column-options",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        names = [c.name for c in self.choices]
        if self.current in names:
            options.highlighted = names.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ColumnsDialog(BetrModal[list[str] | None]):
    """A checklist of the columns (shown ones first, in order); dismissed with the checked."""

    BINDINGS = bindings(DIALOG_ACTIONS, DIALOG)

    def __init__(self, corpus: str, choices: list[ColumnChoice]):
        super().__init__()
        self.corpus, self.choices = corpus, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="doc-dialog", id="columns-dialog") as dialog:
            dialog.border_title = "Columns"
            yield Label(
                f"the columns of corpus {one_line(self.corpus)}'s runs (remembered); "
                "space checks, enter applies",
                markup=False,
            )
            yield SelectionList[str](
                *(
                    Selection(plain(f"{c.name:<18} {c.summary}", lines=False), c.name, c.shown)
                    for c in self.choices
                ),
                id="columns-list",
            )
            with Horizontal(classes="doc-dialog-buttons"):
                yield Button("Apply", variant="primary", id="columns-apply")
                yield Button("Cancel", id="columns-cancel")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def on_key(self, event: Any) -> None:
        if event.key == "enter" and self.focused is self.query_one(SelectionList):
            event.stop()
            self.apply()

    @on(Button.Pressed, "#columns-cancel")
    def cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#columns-apply")
    def apply(self) -> None:
        checked = set(self.query_one(SelectionList).selected)
        self.dismiss([c.name for c in self.choices if c.name in checked])


def kept_bar(share: float | None) -> str:
    if share is None:
        return ""
    filled = round(max(0.0, min(1.0, share)) * BAR * 2)
    full, half = divmod(filled, 2)
    return ("█" * full + ("▌" if half else "")).ljust(BAR, "·")


def freq_lines(table: FrequencyTable) -> tuple[str, list[list[Any]], list[Where]]:
    """The table's heading line, its rows' cells (value, docs, % of view, tokens, kept share,
    bar) and each row's filter."""
    keep = (
        f"kept share at {table.keep_percent:.4g}% of {table.by}: of each value's {table.by} "
        f"(the whole view: {table.kept_share * 100:.1f}%)"
        if table.kept_share is not None
        else "not applied yet: no kept share"
    )
    head = (
        f"{table.column}: {table.n_values:,} values over {table.view_docs:,} docs "
        f"({table.view}) · {keep}"
    )
    if table.n_other:
        head += f" · the first {len(table.rows):,} listed, {table.n_other:,} more values "
        head += f"({table.other_docs:,} docs)"
    cells = []
    for r in table.rows:
        kept = "-" if r.kept_share is None else f"{r.kept_share * 100:.1f}%"
        cells.append(
            [
                one_line(r.value),
                Text(f"{r.docs:,}", justify="right"),
                Text(f"{r.doc_share * 100:.1f}%", justify="right"),
                Text(abbreviate(r.tokens), justify="right"),
                Text(kept, justify="right"),
                kept_bar(r.kept_share),
            ]
        )
    return head, cells, [r.where for r in table.rows]


FREQ_COLUMNS = ("value", "docs", "% docs", "tokens", "kept", "")
SORT_OF_COLUMN = {
    "value": "value",
    "docs": "docs",
    "% docs": "docs",
    "tokens": "tokens",
    "kept": "kept",
}


class FrequencyScreen(BetrModal[Where | None]):
    """The frequency table of one column over the current view, beside the list of columns
    (tab moves between them; a column picked there is counted); dismissed with the filter of
    the value picked (enter on the table), or None (escape)."""

    SCOPE = FREQUENCY
    BINDINGS = bindings(ACTIONS, FREQUENCY)
    DEFAULT_CSS = """
    #freq-dialog {
        width: 110;
        max-width: 98%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        padding: 0 1;
        background: $surface;
    }
    #freq-columns {
        width: 18;
        height: auto;
        max-height: 24;
        margin-right: 1;
    }
    #freq-main {
        width: 1fr;
        height: auto;
    }
    #freq-table {
        height: auto;
        max-height: 30;
    }
    """

    def __init__(self, index: RunIndex, view: View, column: str, choices: list[ColumnChoice]):
        super().__init__()
        self.index, self.view, self.column = index, view, column
        self.choices = choices
        self.sort, self.descending = "docs", True
        self.table: FrequencyTable | None = None
        self.wheres: list[Where] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="freq-dialog") as dialog:
            dialog.border_title = "Frequency table"
            yield OptionList(
                *(Option(plain(c.name, lines=False), id=c.name) for c in self.choices),
                id="freq-columns",
            )
            with Vertical(id="freq-main"):
                yield Static("counting…", id="freq-info", markup=False)
                yield PlainTable(id="freq-table", cursor_type="row", zebra_stripes=True)
                yield Static(
                    "enter: filter the documents to the value · s: sort · S: reverse · "
                    "tab: the columns · esc: back",
                    id="freq-hint",
                    markup=False,
                )

    def on_mount(self) -> None:
        grid = self.query_one(PlainTable)
        for title in FREQ_COLUMNS:
            grid.add_column(title, key=title or "bar")
        options = self.query_one(OptionList)
        names = [c.name for c in self.choices]
        if self.column in names:
            options.highlighted = names.index(self.column)
        grid.focus()
        self.recount()

    @on(OptionList.OptionSelected, "#freq-columns")
    @on(OptionList.OptionHighlighted, "#freq-columns")
    def column_picked(
        self, event: OptionList.OptionSelected | OptionList.OptionHighlighted
    ) -> None:
        name = event.option.id
        if name is None or name == self.column:
            return
        self.column = name
        self.sort, self.descending = "docs", True
        self.recount()

    def recount(self) -> None:
        """Count on the UI thread when the column is in memory, else in a worker."""
        try:
            if self.index.fields.get(self.column) is not None or not self._from_docs():
                self.show(self._count(None))
                return
        except BetrError as exc:
            self.betr.report_error(str(exc))
            self.dismiss(None)
            return
        self.query_one("#freq-info", Static).update(
            f"reading {self.column} of {len(self.index):,} docs from the workspace (once: "
            "it is kept there for next time)…"
        )
        self.count_worker()

    def _from_docs(self) -> bool:
        from engine.api.columns import column

        return column(self.column).from_docs

    def _count(self, conn: Any) -> FrequencyTable:
        return frequency_of_view(
            conn,
            self.index,
            self.view,
            self.column,
            sort=self.sort,
            descending=self.descending,
            limit=FREQ_ROWS,
            workspace=self.betr.workspace if conn is not None else None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="documents-frequency")
    def count_worker(self) -> None:
        with reading(self.betr.workspace) as conn:
            table = self._count(conn)
        self.app.call_from_thread(self.show, table)

    def show(self, table: FrequencyTable) -> None:
        if table.column != self.column:  # a worker's table for a column left since
            return
        self.table = table
        head, cells, self.wheres = freq_lines(table)
        self.query_one("#freq-info", Static).update(head)
        self.query_one("#freq-dialog").border_title = f"Frequency of {table.column}"
        grid = self.query_one(PlainTable)
        grid.clear()
        arrow = " ↓" if self.descending else " ↑"
        for title in FREQ_COLUMNS:
            sorted_here = title != "% docs" and SORT_OF_COLUMN.get(title) == self.sort
            label = plain(title + (arrow if sorted_here else ""), lines=False)
            grid.columns[ColumnKey(title or "bar")].label = label
        for i, row in enumerate(cells):
            grid.add_row(*row, key=str(i))

    def action_freq_sort(self) -> None:
        at = FREQ_SORTS.index(self.sort)
        self.sort = FREQ_SORTS[(at + 1) % len(FREQ_SORTS)]
        self.descending = self.sort != "value"
        self.recount()

    def action_freq_reverse(self) -> None:
        self.descending = not self.descending
        self.recount()

    def action_freq_close(self) -> None:
        self.dismiss(None)

    @on(DataTable.HeaderSelected)
    def header_sort(self, event: DataTable.HeaderSelected) -> None:
        sort = SORT_OF_COLUMN.get(str(event.column_key.value))
        if sort is None:
            return
        if sort == self.sort:
            self.descending = not self.descending
        else:
            self.sort, self.descending = sort, sort != "value"
        self.recount()

    @on(DataTable.RowSelected)
    def picked(self, event: DataTable.RowSelected) -> None:
        if 0 <= event.cursor_row < len(self.wheres):
            self.dismiss(self.wheres[event.cursor_row])
