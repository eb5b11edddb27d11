"""The per-source panel: how much of each source (or metadata value) survives the keep rate,
as a table and a bar chart of the table's own rows, so the classifier's sorting by domain
shows.

The run's docs are grouped once per field in a thread worker (`source_groups`: every doc's
source or metadata value read once; the panel reads like a tab, tui/screens/tab.py); after that
a keep rate is one binary search per group (`by_source`), so the table and the chart follow the
keep bar on the UI thread like the cards.
`v` groups by the next field: source, then each metadata field the corpus was imported with.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from engine.api.browse import RunIndex
from engine.api.tradeoff import (
    KeptBySource,
    SourceGroups,
    by_source,
    group_fields,
    source_groups,
)
from engine.errors import BetrError
from engine.units import abbreviate, format_percent
from tui.reads import reading
from tui.screens.tab import ScreenTab
from tui.screens.threshold.format import fmt_keep
from tui.widgets.bars import Bar, BarChart
from tui.widgets.cards import update_static
from tui.widgets.tables import KeyedTable

SOURCE = "source"
NAME_CELLS = 16  # a group's name in the table (longer ones cut, the end of a source kept)
COLUMNS: list[tuple[str, str, int | None]] = [
    ("group", "source", NAME_CELLS),
    ("docs", "kept docs", 11),
    ("tokens", "kept tokens", 13),
    ("survival", "survives", None),
    ("kept_share", "of kept", None),
    ("pool_share", "of pool", None),
]
OVER, UNDER = "▲", "▼"  # survives more / less than the pool as a whole


def short_name(name: str, cells: int, field: str) -> str:
    """A group's name in `cells`: a source keeps its end (the file), a value its start."""
    if len(name) <= cells:
        return name
    return "…" + name[-(cells - 1) :] if field == SOURCE else name[: cells - 1] + "…"


def values(n: int) -> str:
    return f"{n:,} value" + ("" if n == 1 else "s")


def pct(x: float) -> str:
    return format_percent(x)


Grouping = tuple[list[str], SourceGroups]  # (the fields to group by, the run's grouping)


class SourcePanel(ScreenTab[tuple[int, str], Grouping]):
    """A panel of the Threshold tab that reads like a tab: its key is (run id, field), its read
    the grouping; it says what it is doing in its heading, above the table it keeps."""

    NAME = "sources"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.index: RunIndex | None = None
        self.fields: list[str] = [SOURCE]
        self.field = SOURCE
        self.groups: dict[str, SourceGroups] = {}  # field -> grouping, of the current run
        self.kept: KeptBySource | None = None  # the last by_source(...) shown
        self._keep: tuple[float, str] | None = None
        self._grouping: tuple[int, str] | None = None  # (run id, field) of the rows in the table

    def compose(self) -> ComposeResult:
        yield Static("", id="th-src-heading", markup=False)
        with Horizontal(id="th-src-body"):
            table = KeyedTable(COLUMNS, id="th-src-table", cursor_type="none")
            table.can_focus = False  # the keys stay with the keep bar
            yield table
            yield BarChart(id="th-src-plot")

    def on_mount(self) -> None:
        self.query_one("#th-src-plot").border_title = "share of its tokens kept (│ whole pool)"

    @property
    def result(self) -> KeptBySource | None:
        """The last `by_source(...)` shown."""
        return self.kept

    # -- the run and its groupings -------------------------------------------------------------
    def set_run(self, index: RunIndex | None) -> None:
        """A new run (None: none shown); its grouping by the current field loads at once."""
        self.index = index
        self.groups = {}
        self.kept = None
        self._grouping = None
        self.clear()  # a grouping still being read is of another run
        self.query_one("#th-src-table", KeyedTable).clear()
        if index is not None:
            self.refresh_content()

    def cycle_field(self) -> str:
        """Group by the next field (source, then each metadata field); returns it."""
        fields = self.fields
        self.field = fields[(fields.index(self.field) + 1) % len(fields)] if fields else SOURCE
        if self.index is not None:
            if self.field in self.groups:
                self.asked = self.wanted()  # a grouping by another field is dropped
                self.redraw()
            else:
                self.refresh_content()
        return self.field

    def wanted(self) -> tuple[int, str]:
        assert self.index is not None  # read only with a run
        return (self.index.run_id, self.field)

    def loading_text(self, key: tuple[int, str]) -> str:
        return f"grouping the pool by {key[1]}…"

    def show_empty(self, text: str) -> None:
        self._set_heading(text)

    def read(self, key: tuple[int, str]) -> Grouping:
        index, field = self.index, key[1]
        if index is None or index.run_id != key[0]:
            raise BetrError(f"run {key[0]} is no longer shown")  # dropped: not asked any more
        with reading(self.services.workspace) as conn:
            fields = group_fields(conn, index.corpus_id)
            groups = source_groups(conn, index, field if field in fields else SOURCE)
        return fields, groups

    def show_error(self, error: BetrError) -> None:
        self._set_heading(f"cannot group by {self.field}: {error}")
        self._grouping = None
        self.query_one("#th-src-table", KeyedTable).clear()

    def show(self, answer: Grouping) -> None:
        fields, groups = answer
        self.fields = fields
        self.field = groups.field
        self.groups[self.field] = groups
        self.redraw()

    # -- the numbers ---------------------------------------------------------------------------
    def show_keep(self, keep: float, by: str) -> None:
        """The kept share per group at this keep rate (once the grouping is loaded)."""
        self._keep = (keep, by)
        self.redraw()

    def redraw(self) -> None:
        groups = self.groups.get(self.field)
        if self.index is None or groups is None or self._keep is None:
            return
        try:
            r = by_source(self.index, groups, *self._keep)
        except BetrError as exc:
            self._set_heading(str(exc))
            return
        self.kept = r
        self._set_heading(self.heading(r))
        self.fill(r)
        self.plot(r)

    def heading(self, r: KeptBySource) -> str:
        fields = self.fields
        nxt = fields[(fields.index(self.field) + 1) % len(fields)] if self.field in fields else ""
        key = f" · v: by {nxt}" if nxt and nxt != self.field else ""
        other = f", the smallest {r.n_other:,} as one row" if r.n_other else ""
        return (
            f"kept share by {r.field} at {fmt_keep(r.keep_percent)} of {r.by} "
            f"({values(r.n_values)}{other}) · kept/pool · {OVER}{UNDER} survives more/less "
            f"than the whole pool's {pct(r.kept_token_share)}{key}"
        )

    def _set_heading(self, text: str) -> None:
        update_static(self.query_one("#th-src-heading", Static), text)

    def fill(self, r: KeptBySource) -> None:
        table = self.query_one("#th-src-table", KeyedTable)
        grouping = (r.run_id, r.field)
        if grouping != self._grouping:  # another grouping: its rows, in its order
            self._grouping = grouping
            title = short_name(r.field, NAME_CELLS, "")
            if not table.set_columns([("group", title, NAME_CELLS), *COLUMNS[1:]]):
                table.clear()
        whole = r.kept_token_share
        dim = Style(dim=True)
        rows: dict[str, list[Any]] = {}
        for g in r.rows:
            mark = OVER if g.survival > whole else UNDER if g.survival < whole else " "
            rows[g.group] = [
                short_name(g.group, NAME_CELLS, r.field),
                Text(f"{abbreviate(g.kept_docs)}/{abbreviate(g.docs)}", justify="right"),
                Text(f"{abbreviate(g.kept_tokens)}/{abbreviate(g.tokens)}", justify="right"),
                Text(f"{pct(g.survival)} {mark}", justify="right"),
                Text(pct(g.kept_share), justify="right"),
                Text(pct(g.pool_share), justify="right", style=dim),
            ]
        table.sync(rows)

    def plot(self, r: KeptBySource) -> None:
        """The table's rows as bars: each group's share of its tokens kept, in percent (the
        table's "survives" column), with the whole pool's share as the reference line."""
        chart = self.query_one("#th-src-plot", BarChart)
        height = chart.content_region.height
        fits = max(1, height - 1) if height else len(r.rows)
        shown = r.rows[:fits]
        left = len(r.rows) - len(shown)
        whole = r.kept_token_share * 100
        caption = f"whole pool │ {pct(r.kept_token_share)}"
        if left:
            caption += f" · {left} more in the table"
        chart.show(
            [Bar(short_name(g.group, NAME_CELLS, r.field), g.survival * 100) for g in shown],
            whole,
            "%",
            caption,
        )
