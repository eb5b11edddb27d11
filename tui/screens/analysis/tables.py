"""A small DataTable that remembers what it shows, so `e` can write it as CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from tui.safe_text import plain_cell
from tui.widgets.tables import PlainTable


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
