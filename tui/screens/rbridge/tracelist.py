"""The trace list of one score: trace id, score, R-phi, gold NLL, tokens, flags; sortable.

`s` cycles the sort column, a click on a header sorts by it (a second click reverses it).
Numbers sort largest first with missing values last; the id column sorts in import order.
Row keys are the traces' database ids; the trace's own id (from the imported file) is shown,
made visible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

from engine.api.rbridge import TraceScore
from tui.safe_text import one_line
from tui.screens.rbridge.tokens import fmt_num
from tui.widgets.cells import Cells
from tui.widgets.tables import PlainTable

# (key, label, width); the sortable ones in `s` order
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("ext_id", "trace", 12),
    ("score", "score", 6),
    ("nll_rphi", "R-phi", 6),
    ("nll_gold", "gold", 6),
    ("n_tokens", "tokens", 6),
    ("flags", "flags", None),
)
SORT_ORDER = ("score", "nll_rphi", "nll_gold", "n_tokens", "flags", "ext_id")
NUMERIC = {"score", "nll_rphi", "nll_gold", "n_tokens"}
ID_WIDTH = 12


def trace_cells(row: TraceScore) -> Cells:
    ext = one_line(row.ext_id)
    if len(ext) > ID_WIDTH:
        ext = ext[: ID_WIDTH - 1] + "…"
    flags = ", ".join(one_line(f) for f in row.flags or [])
    return (
        ext,
        Text(fmt_num(row.score), justify="right"),
        Text(fmt_num(row.nll_rphi), justify="right"),
        Text(fmt_num(row.nll_gold), justify="right"),
        Text(str(row.n_tokens if row.n_tokens is not None else "-"), justify="right"),
        Text(flags or "·", style="bold" if flags else "dim"),
    )


def sort_rows(rows: list[TraceScore], column: str, reverse: bool = False) -> list[TraceScore]:
    """Numbers largest first (`reverse`: smallest first), missing values last either way;
    flags: flagged first; ids: import order."""
    if column == "ext_id":
        return list(reversed(rows)) if reverse else list(rows)
    if column == "flags":
        out = sorted(rows, key=lambda r: -len(r.flags or []))
        return list(reversed(out)) if reverse else out

    def value(r: TraceScore) -> float | None:
        v = r.value(column)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    by_value = cast("Callable[[TraceScore], float]", value)  # `present`: never None
    return sorted(present, key=by_value, reverse=not reverse) + missing


class TraceList(PlainTable):
    def __init__(self, **kwargs: Any):
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.rows_data: list[TraceScore] = []
        self.sort_column = "ext_id"
        self.sort_reverse = False

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def show(self, rows: list[TraceScore]) -> None:
        """The score's traces; the cursor stays on the same trace when it is still there."""
        keep = self.highlighted_trace
        self.rows_data = rows
        self._fill(keep)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        if reverse is None:  # a header click: that column, or the same column reversed
            reverse = column == self.sort_column and not self.sort_reverse
        self.sort_column, self.sort_reverse = column, reverse
        self._fill(self.highlighted_trace)

    def cycle_sort(self) -> str:
        at = SORT_ORDER.index(self.sort_column) if self.sort_column in SORT_ORDER else -1
        self.sort_by(SORT_ORDER[(at + 1) % len(SORT_ORDER)], reverse=False)
        return self.sort_column

    def _fill(self, keep: int | None) -> None:
        with self.app.batch_update():
            self.clear()
            for key, label, _width in COLUMNS:
                column = self.columns[ColumnKey(key)]
                mark = ""
                if key == self.sort_column and key != "ext_id":
                    mark = " ▲" if self.sort_reverse else " ▼"
                column.label = Text(label + mark)
            for row in sort_rows(self.rows_data, self.sort_column, self.sort_reverse):
                self.add_row(*trace_cells(row), key=str(row.trace_id))
            if keep is not None and str(keep) in self.rows:
                self.move_cursor(row=self.get_row_index(str(keep)))
        self.refresh()

    @property
    def highlighted_trace(self) -> int | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # cursor outside a table that shrank
            return None
        return int(key) if key is not None else None

    def sorted_ids(self) -> list[int]:
        return [int(k.value) for k in self.rows if k.value is not None]

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))
