"""The Documents screen's VisiData-style browsing: pick a column (to sort by), the frequency
table of a column (`F`, a panel of the screen), and the checklist of columns shown (`C`).

The frequency table is computed on the UI thread when the column is in memory (a few
bincounts: milliseconds at a million docs), else in a thread worker that reads the field from
the workspace first (once; it is then packed there). Every value from the data
reaches the screen as plain Text (tui.safe_text): `[bold]` or an escape sequence in a metadata
value shows as written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, OptionList, SelectionList, Static
from textual.widgets.data_table import ColumnKey
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from engine.api.browse import RunIndex, View
from engine.api.columns import ColumnChoice, Where, column
from engine.api.frequency import FREQ_SORTS, FrequencyTable, frequency_of_view
from engine.errors import BetrError
from engine.units import abbreviate
from tui.action_model import bindings
from tui.reads import reading
from tui.safe_text import one_line, plain
from tui.screens.base import DIALOG, DIALOG_ACTIONS, BetrModal
from tui.screens.documents.actions import ACTIONS, FREQUENCY
from tui.screens.documents.messages import FrequencyPicked
from tui.widgets.tables import PlainTable
from tui.workers import WorkersReportToApp

if TYPE_CHECKING:
    from tui.app_protocol import AppServices

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


class FrequencyPanel(WorkersReportToApp, Horizontal, can_focus=False):
    """The frequency table of one column over the current view, beside the list of columns
    (tab moves between them; a column picked there is counted). It lives on the Documents
    screen, hidden until `open` (a panel shown in place costs a fraction of a new screen's
    mount); enter on a value posts `FrequencyPicked` with its filter, escape `FrequencyPicked`
    with None. A worker thread reads a text field the first time it is counted."""

    BINDINGS: ClassVar = bindings(ACTIONS, FREQUENCY)
    DEFAULT_CSS = """
    FrequencyPanel {
        height: 1fr;
        padding: 0 1;
        display: none;
    }
    FrequencyPanel > #freq-columns {
        width: 18;
        height: 1fr;
        margin-right: 1;
    }
    FrequencyPanel > #freq-main {
        width: 1fr;
        height: 1fr;
    }
    FrequencyPanel #freq-table {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None):
        super().__init__(id=id)
        self.index: RunIndex | None = None
        self.view: View | None = None
        self.column = ""
        self.choices: list[ColumnChoice] = []
        self.sort, self.descending = "docs", True
        self.table: FrequencyTable | None = None
        self.wheres: list[Where] = []

    def compose(self) -> ComposeResult:
        yield OptionList(id="freq-columns")
        with Vertical(id="freq-main"):
            yield Static("", id="freq-info", markup=False)
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

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    def open(self, index: RunIndex, view: View, column: str, choices: list[ColumnChoice]) -> None:
        """Show the table of `column` over `view` (`choices`: the columns listed beside)."""
        self.index, self.view, self.column = index, view, column
        self.sort, self.descending = "docs", True
        self.table = None
        names = [c.name for c in choices]
        options = self.query_one(OptionList)
        if names != [c.name for c in self.choices]:
            self.choices = choices
            options.clear_options()
            options.add_options([Option(plain(n, lines=False), id=n) for n in names])
        with options.prevent(OptionList.OptionHighlighted):
            options.highlighted = names.index(column) if column in names else None
        self.display = True
        self.query_one(PlainTable).focus()
        self.recount()

    def close(self, where: Where | None) -> None:
        self.display = False
        self.table = None
        self.post_message(FrequencyPicked(where))

    @on(OptionList.OptionSelected, "#freq-columns")
    @on(OptionList.OptionHighlighted, "#freq-columns")
    def column_picked(
        self, event: OptionList.OptionSelected | OptionList.OptionHighlighted
    ) -> None:
        name = event.option.id
        if name is None or name == self.column or not self.is_open:
            return
        self.column = name
        self.sort, self.descending = "docs", True
        self.recount()

    def recount(self) -> None:
        """Count on the UI thread when the column is in memory, else in a worker."""
        assert self.index is not None
        try:
            if self.column in self.index.fields or not column(self.column).from_docs:
                self.show(self._count(None))
                return
        except BetrError as exc:
            self.app.notify(str(exc), severity="error", markup=False)
            self.close(None)
            return
        self.query_one("#freq-info", Static).update(
            f"reading {self.column} of {len(self.index):,} docs from the workspace (once: "
            "it is kept there for next time)…"
        )
        self.query_one(PlainTable).clear()
        self.count_worker(self.column)

    def _count(self, conn: Any) -> FrequencyTable:
        assert self.index is not None and self.view is not None
        workspace = cast("AppServices", self.app).workspace
        return frequency_of_view(
            conn,
            self.index,
            self.view,
            self.column,
            sort=self.sort,
            descending=self.descending,
            limit=FREQ_ROWS,
            workspace=workspace if conn is not None else None,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="documents-frequency")
    def count_worker(self, name: str) -> None:
        with reading(cast("AppServices", self.app).workspace) as conn:
            table = self._count(conn)
        self.app.call_from_thread(self.show, table)

    def show(self, table: FrequencyTable) -> None:
        if table.column != self.column or not self.is_open:  # a table for a column left since
            return
        self.table = table
        head, cells, self.wheres = freq_lines(table)
        self.query_one("#freq-info", Static).update(head)
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
        self.close(None)

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
        event.stop()
        if 0 <= event.cursor_row < len(self.wheres):
            self.close(self.wheres[event.cursor_row])
