"""A DataTable updated in place by row key: only changed cells are rewritten (dolphie style)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist


class KeyedTable(DataTable):
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
        rows: dict[str, Sequence[Any]],
        *,
        sort_by: str | None = None,
        sort_key: Any = None,
        reverse: bool = False,
    ) -> None:
        """Make the table show exactly `rows` (key -> cells in column order)."""
        added = changed = False
        column_keys = [key for key, _label, _width in self._column_specs]
        with self.app.batch_update():
            for key in [k.value for k in self.rows if k.value not in rows]:
                self.remove_row(key)
                changed = True
            for key, cells in rows.items():
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
