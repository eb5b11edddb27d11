"""A small DataTable that remembers what it shows, so `e` can write it as CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tui.screens.analysis.format import name


class ExportTable(DataTable):
    """`show(stem, header, rows, cells=None)`: `rows` are the raw values (the CSV), `cells`
    what is drawn (formatted text; the raw values made visible when not given)."""

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
        drawn = cells if cells is not None else [[name("" if v is None else v) for v in r]
                                                 for r in rows]  # fmt: skip
        with self.app.batch_update():
            self.clear(columns=True)
            self.add_columns(*header)
            self.add_rows(drawn)

    @property
    def has_rows(self) -> bool:
        return bool(self.raw)
