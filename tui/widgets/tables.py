"""Tables whose cells are data: `PlainTable`, a DataTable that never parses markup,
`KeyedTable`, updated in place by row key (only changed cells are rewritten, dolphie style), and
`ExportTable`, which remembers the raw values it shows so that `e` can write them as CSV.

A DataTable parses a plain `str` cell, column label or row label as markup; every table of the
app is a `PlainTable`, which passes them through `tui.safe_text.plain`, so a name like
`c[x=1-2]` or `[bold]` shows as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from tui.safe_text import plain, plain_cell


class PlainTable(DataTable[Any]):
    """A DataTable whose string cells and labels are shown verbatim (never markup)."""

    def add_column(
        self, label: Any, *, width: int | None = None, key: str | None = None, default: Any = None
    ) -> ColumnKey:
        return super().add_column(plain(label, lines=False), width=width, key=key, default=default)

    def add_row(
        self, *cells: Any, height: int | None = 1, key: str | None = None, label: Any = None
    ) -> RowKey:
        shown = None if label is None else plain(label, lines=False)
        return super().add_row(*map(plain_cell, cells), height=height, key=key, label=shown)

    def update_cell(
        self, row_key: Any, column_key: Any, value: Any, *, update_width: bool = False
    ) -> None:
        super().update_cell(row_key, column_key, plain_cell(value), update_width=update_width)

    def update_cell_at(self, coordinate: Any, value: Any, *, update_width: bool = False) -> None:
        super().update_cell_at(coordinate, plain_cell(value), update_width=update_width)


class KeyedTable(PlainTable):
    """Rows are keyed by a string id; `sync` adds, updates and removes rows without a rebuild."""

    def __init__(self, columns: Sequence[tuple[str, str, int | None]], **kwargs: Any):
        """`columns`: (key, label, width or None for auto)."""
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(**kwargs)
        self._column_specs = columns

    def on_mount(self) -> None:
        for key, label, width in self._column_specs:
            self.add_column(label, key=key, width=width)

    def set_columns(self, columns: Sequence[tuple[str, str, int | None]]) -> bool:
        """Other column widths (a narrow screen): the rows go, the next `sync` refills them.
        False when the columns are those already shown."""
        if list(columns) == list(self._column_specs):
            return False
        self._column_specs = columns
        if self.is_mounted:
            self.clear(columns=True)
            for key, label, width in columns:
                self.add_column(label, key=key, width=width)
        return True

    def sync(
        self,
        rows: Mapping[str, Sequence[Any]],
        *,
        sort_by: str | None = None,
        sort_key: Any = None,
        reverse: bool = False,
    ) -> None:
        """Make the table show exactly `rows` (key -> cells in column order)."""
        added = changed = False
        column_keys = [key for key, _label, _width in self._column_specs]
        with self.app.batch_update():
            for row_key in [k for k in self.rows if k.value not in rows]:
                self.remove_row(row_key)
                changed = True
            for key, raw in rows.items():
                cells = [plain_cell(cell) for cell in raw]
                if key in self.rows:
                    for column, value in zip(column_keys, cells, strict=True):
                        if self.get_cell(key, column) != value:
                            self.update_cell(key, column, value, update_width=True)
                            changed = True
                else:
                    self.add_row(*cells, key=key)
                    added = changed = True
            if added and sort_by is not None:
                self.sort(sort_by, key=sort_key, reverse=reverse)
            if changed:
                # auto-width columns may have grown: repaint the header row with the body,
                # or the terminal keeps the header drawn at the old widths
                self.refresh()

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # cursor outside the (shrunk) table
            return None

    def move_to(self, key: str) -> bool:
        if key not in self.rows:
            return False
        self.move_cursor(row=self.get_row_index(key))
        return True


class ExportTable(PlainTable):
    """`show(stem, header, rows, cells=None)`: `rows` are the raw values (the CSV), `cells`
    what is drawn (formatted text; the raw values when not given), always as plain text."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)
        self.stem = "table"
        self.header: list[str] = []
        self.raw: list[list[Any]] = []

    def show(
        self,
        stem: str,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        cells: Sequence[Sequence[str | Text]] | None = None,
    ) -> None:
        self.stem, self.header, self.raw = stem, list(header), [list(r) for r in rows]
        if cells is None:
            cells = [["" if v is None else str(v) for v in r] for r in rows]
        drawn = [[plain_cell(c) for c in r] for r in cells]
        with self.app.batch_update():
            self.clear(columns=True)
            self.add_columns(*header)
            self.add_rows(drawn)

    @property
    def has_rows(self) -> bool:
        return bool(self.raw)

    def rows_to_export(self) -> tuple[str, list[str], list[list[Any]]]:
        """(file stem, header, raw rows): what `e` writes."""
        return self.stem, self.header, self.raw
