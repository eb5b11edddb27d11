"""The Correlations tab (`analysis_corr.corr`): the protocol switch (o), the heatmap of one
matrix (n cycles each side with itself and across, PT-PT, SFT-SFT, PT->SFT or 150M-150M, 1B-1B,
150M->1B, and the scales; s sorts) with its cell cursor spelled out below it, and the tables of
the other protocols: cross-stage transfer with reliability tiers, intra-category coherence,
accuracy-confidence alignment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from engine.api.analysis_corr import PROTOCOLS as ALL_PROTOCOLS
from engine.api.analysis_corr import CorrResult
from tui.exports import strips_svg
from tui.screens.analysis.format import fmt_p, fmt_r, formatted, na_reason, name
from tui.screens.analysis.heatmap import SORTS, Heatmap
from tui.screens.analysis.messages import HeatmapCursorMoved
from tui.screens.analysis.selection import AnalysisContext, Selection
from tui.screens.analysis.tab import AnalysisTab
from tui.screens.tab import NothingToExport, Rows
from tui.widgets.tables import ExportTable

# the protocols the tab switches through: every one needing no --attribute (tiers show with
# cross-stage, the protocol they summarise)
PROTOCOLS = tuple(
    n for n, p in ALL_PROTOCOLS.items() if not p.needs_attribute and p.derived_from is None
)
VIEWS = ("an-corr-map-view", "an-corr-table-view")
Columns = Sequence[tuple[str, Callable[[Any], Any]]]  # (column, how its cells read)


@dataclass(frozen=True)
class CorrAnswer:
    """A protocol's result, and for cross-stage the tiers' rows shown beside it."""

    result: CorrResult
    tiers_rows: list[dict[str, Any]] = field(default_factory=list)


def name_or_dash(value: Any) -> str:
    return name(value or "-")


CROSS_STAGE: Columns = [
    ("scale", name),
    ("benchmark", name),
    ("category", name_or_dash),
    ("r_acc", fmt_r),
    ("p_acc", fmt_p),
    ("n_acc", str),
    ("r_conf", fmt_r),
    ("p_conf", fmt_p),
    ("n_conf", str),
    ("tier", name_or_dash),
]
CROSS_STAGE_MEANS: Columns = [
    ("scale", name),
    ("mean_r_acc", fmt_r),
    ("n_acc", str),
    ("mean_r_conf", fmt_r),
    ("n_conf", str),
]
COHERENCE: Columns = [
    ("scale", name),
    ("protocol", name),
    ("stage", name_or_dash),
    ("category", name),
    ("mean_r", fmt_r),
    ("n_pairs", str),
    ("n_na", str),
]
ALIGN_BY_CATEGORY: Columns = [
    ("stage", name_or_dash),
    ("scale", name),
    ("category", name),
    ("mean_r", fmt_r),
    ("n_runs", str),
    ("n_na", str),
]
ALIGN_PERSISTENCE: Columns = [
    ("scale", name),
    ("category", name),
    ("r", fmt_r),
    ("p", fmt_p),
    ("n", str),
]


def show_records(
    table: ExportTable, stem: str, columns: Columns, records: Sequence[dict[str, Any]]
) -> None:
    """`records` as the table's rows: the raw values for the CSV, drawn through `columns`."""
    header = [column for column, _fmt in columns]
    raw = [[r.get(column) for column in header] for r in records]
    table.show(stem, header, raw, formatted(raw, [fmt for _column, fmt in columns]))


def cell_status(heatmap: Heatmap) -> str:
    """The cursor cell in words: row and column benchmark (category), r, p and n."""
    grid, cell = heatmap.grid, heatmap.cursor_cell()
    if grid is None or cell is None:
        return "no matrix"
    i, j = cell
    r, p, n = grid.cell(i, j)
    row = f"{name(grid.rows[i])} ({name(grid.row_cats[i] or '-')})"
    col = f"{name(grid.cols[j])} ({name(grid.col_cats[j] or '-')})"
    if r is None:
        return f"{row} × {col} · r n/a · p n/a · n = {n} ({na_reason(n)})"
    return f"{row} × {col} · r = {fmt_r(r)} · p = {fmt_p(p)} · n = {n}"


def matrix_title(m: dict[str, Any], k: int, total: int) -> str:
    kind = m.get("kind") or "within"
    stage = f" · stage {name(m['stage'])}" if m.get("stage") else ""
    return f"{kind} · {name(m.get('scale') or '-')}{stage} ({k + 1}/{total}, n: next)"


class CorrTab(AnalysisTab[tuple[Selection, str], CorrAnswer]):
    TITLE = "Correlations"
    NAME = "corr"
    LOADING = "correlating…"
    EMPTY = "#an-corr-empty"
    CONTENT: ClassVar = ("#an-corr-views", "#an-corr-notes")

    def __init__(self, context: AnalysisContext, **kwargs: Any):
        super().__init__(context, **kwargs)
        self.wanted_protocol = PROTOCOLS[0]  # what o chose (the next read's)
        self.protocol = PROTOCOLS[0]  # the protocol shown
        self.data: CorrResult | None = None
        self.matrices: list[dict[str, Any]] = []
        self.matrix_index = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="an-corr-head", markup=False)
        yield Static("", id="an-corr-empty", classes="an-empty", markup=False)
        with ContentSwitcher(initial=VIEWS[0], id="an-corr-views"):
            with Vertical(id="an-corr-map-view"):
                yield Static("", id="an-corr-legend", markup=False)
                yield Heatmap(id="an-heatmap")
                yield Static("", id="an-corr-status", markup=False)
            with Vertical(id="an-corr-table-view"):
                yield ExportTable(id="an-corr-table")
                yield ExportTable(id="an-corr-table2")
        yield Static("", id="an-corr-notes", classes="an-notes", markup=False)

    @property
    def heatmap(self) -> Heatmap:
        return self.query_one(Heatmap)

    def show_empty(self, text: str) -> None:
        super().show_empty(text)
        if text:
            self.query_one("#an-corr-head", Static).update(f"Correlations · {self.protocol}")

    def focus_content(self) -> None:
        self.heatmap.focus()

    # -- the read ------------------------------------------------------------------------------
    def wanted(self) -> tuple[Selection, str]:
        return (self.context.sel, self.wanted_protocol)

    def read(self, key: tuple[Selection, str]) -> CorrAnswer:
        from engine.api.analysis_corr import CorrRequest, corr

        sel, protocol = key
        ws, args = self.services.workspace, sel.corr_args()
        data = corr(ws, CorrRequest(protocol, **args))
        if protocol == "cross-stage":
            return CorrAnswer(data, corr(ws, CorrRequest("tiers", **args)).parts["rows"])
        return CorrAnswer(data)

    def next_protocol(self) -> None:
        at = PROTOCOLS.index(self.wanted_protocol)
        self.wanted_protocol = PROTOCOLS[(at + 1) % len(PROTOCOLS)]

    # -- showing a protocol's result -----------------------------------------------------------
    def show(self, answer: CorrAnswer) -> None:
        assert self.asked is not None  # an answer to the last read asked
        protocol, data = self.asked[1], answer.result
        self.protocol, self.data = protocol, data
        self.show_empty("")
        notes = [name(n) for n in data.notes]
        over = f"{data.method} over {data.n_runs} runs, metric {name(data.metric)}"
        switcher = self.query_one(ContentSwitcher)
        if protocol == "matrix":
            self.matrices = data.parts.get("matrices") or []
            self.matrix_index = min(self.matrix_index, max(0, len(self.matrices) - 1))
            switcher.current = VIEWS[0]
            if not self.matrices:
                self.show_empty("no matrix: no (stage, scale) has results for this metric")
                return
            for p in data.parts.get("persistence") or []:
                notes.append(
                    f"structural persistence {name(p['scale'])}: r = {fmt_r(p.get('r'))} "
                    f"(p {fmt_p(p.get('p'))}, n {p.get('n')})"
                )
            self._show_matrix()
        else:
            switcher.current = VIEWS[1]
            self._show_table(protocol, answer)
            self.query_one("#an-corr-head", Static).update(
                f"Correlations · {protocol} · {over}  (o: next protocol)"
            )
        notes.append("each run's last checkpoint (checkpoint=last)")
        self.query_one("#an-corr-notes", Static).update(" · ".join(notes))

    def _show_matrix(self) -> None:
        self._update_head()
        self.heatmap.show(self.matrices[self.matrix_index])
        self.show_legend()

    def _update_head(self) -> None:
        m, d = self.matrices[self.matrix_index], self.data
        assert d is not None  # a matrix is shown
        over = f"{d.method} over {d.n_runs} runs, metric {name(d.metric)}"
        self.query_one("#an-corr-head", Static).update(
            f"Correlations · matrix {matrix_title(m, self.matrix_index, len(self.matrices))} · "
            f"{over} · sort {self.heatmap.sort} (s)"
        )

    def show_legend(self) -> None:
        legend = Text("r ")
        for label, style in self.heatmap.scale_swatches():
            legend.append(f"{label:^5}", style=style)
        legend.append("  ")
        legend.append("╱╱╱", style=self.heatmap.na_style)
        legend.append(" n/a (n < 3 or a constant vector) · arrows move the cursor")
        self.query_one("#an-corr-legend", Static).update(legend)

    def _show_table(self, protocol: str, answer: CorrAnswer) -> None:
        main = self.query_one("#an-corr-table", ExportTable)
        second = self.query_one("#an-corr-table2", ExportTable)
        data = answer.result.parts
        rows = data.get("rows") or []
        second.display = False
        if protocol == "cross-stage":
            tiers = {t["benchmark"]: t["tier"] for t in answer.tiers_rows}
            tiered = [{**r, "tier": tiers.get(r["benchmark"])} for r in rows]
            show_records(main, "cross-stage", CROSS_STAGE, tiered)
            means = data.get("means") or []
            second.display = bool(means)
            show_records(second, "cross-stage-means", CROSS_STAGE_MEANS, means)
        elif protocol == "coherence":
            show_records(main, "coherence", COHERENCE, rows)
        else:
            by_category = data.get("by_category") or []
            show_records(main, "align-by-category", ALIGN_BY_CATEGORY, by_category)
            persistence = data.get("persistence") or []
            second.display = bool(persistence)
            show_records(second, "align-persistence", ALIGN_PERSISTENCE, persistence)

    # -- keys ----------------------------------------------------------------------------------
    def next_matrix(self) -> bool:
        if self.protocol != "matrix" or len(self.matrices) < 2:
            return False
        self.matrix_index = (self.matrix_index + 1) % len(self.matrices)
        self._show_matrix()
        return True

    def cycle_sort(self) -> str:
        sort = SORTS[(SORTS.index(self.heatmap.sort) + 1) % len(SORTS)]
        self.heatmap.set_sort(sort)
        if self.matrices and self.protocol == "matrix":
            self._update_head()  # the head names the sort
        return sort

    @on(HeatmapCursorMoved)
    def cursor_moved(self, message: HeatmapCursorMoved) -> None:
        message.stop()
        self.query_one("#an-corr-status", Static).update(cell_status(self.heatmap))

    # -- exports -------------------------------------------------------------------------------
    def main_rows(self) -> Rows | None:
        """The heatmap as a long table (row, col, categories, r, p, n)."""
        if self.protocol != "matrix" or not self.matrices:
            return None
        m = self.matrices[self.matrix_index]
        grid = self.heatmap.grid
        if grid is None:
            return None
        header = ["row", "col", "row_category", "col_category", "r", "p", "n"]
        rows = [
            [grid.rows[i], grid.cols[j], grid.row_cats[i], grid.col_cats[j], *grid.cell(i, j)]
            for i in self.heatmap.row_order
            for j in self.heatmap.col_order
        ]
        stem = f"corr-{m.get('kind') or 'within'}-{m.get('scale') or ''}"
        return stem, header, rows

    def export_svg(self) -> tuple[str, str]:
        heatmap = self.heatmap
        rows = self.main_rows()
        if heatmap.grid is None or self.protocol != "matrix" or rows is None:
            raise NothingToExport("no heatmap shown (o: the matrix protocol)")
        stem = rows[0]
        return stem, strips_svg(heatmap.all_strips(), heatmap.virtual_size.width, f"betr {stem}")
