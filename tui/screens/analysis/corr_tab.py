"""The Correlations tab: the protocol switch (o), the heatmap of one matrix (n cycles each
side with itself and across, PT-PT, SFT-SFT, PT->SFT or 150M-150M, 1B-1B, 150M->1B, and the
scales; s sorts) with its cell cursor spelled out below it, and the
tables of the other protocols: cross-stage transfer with reliability tiers, intra-category
coherence, accuracy-confidence alignment."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Static

from tui.screens.analysis.format import fmt_num, fmt_p, fmt_r, na_reason, name
from tui.screens.analysis.heatmap import SORTS, Heatmap
from tui.screens.analysis.tables import ExportTable

PROTOCOLS = ("matrix", "cross-stage", "coherence", "align")
VIEWS = ("an-corr-map-view", "an-corr-table-view")


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


class CorrTab(Vertical):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.protocol = PROTOCOLS[0]
        self.data: dict[str, Any] | None = None
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
        empty = self.query_one("#an-corr-empty", Static)
        empty.update(text)
        empty.display = bool(text)
        self.query_one("#an-corr-views").display = not text
        self.query_one("#an-corr-notes").display = not text
        if text:
            self.query_one("#an-corr-head", Static).update(f"Correlations · {self.protocol}")

    # -- showing a protocol's result -----------------------------------------------------------
    def show(self, protocol: str, data: dict[str, Any]) -> None:
        self.protocol, self.data = protocol, data
        self.show_empty("")
        notes = [name(n) for n in data.get("notes", [])]
        over = f"{data.get('method')} over {data.get('n_runs')} runs, metric {name(data['metric'])}"
        switcher = self.query_one(ContentSwitcher)
        if protocol == "matrix":
            self.matrices = data.get("matrices") or []
            self.matrix_index = min(self.matrix_index, max(0, len(self.matrices) - 1))
            switcher.current = VIEWS[0]
            if not self.matrices:
                self.show_empty("no matrix: no (stage, scale) has results for this metric")
                return
            for p in data.get("persistence") or []:
                notes.append(
                    f"structural persistence {name(p['scale'])}: r = {fmt_r(p.get('r'))} "
                    f"(p {fmt_p(p.get('p'))}, n {p.get('n')})"
                )
            self._show_matrix()
        else:
            switcher.current = VIEWS[1]
            self._show_table(protocol, data)
            self.query_one("#an-corr-head", Static).update(
                f"Correlations · {protocol} · {over}  (o: next protocol)"
            )
        notes.append("each run's last checkpoint (checkpoint=last)")
        self.query_one("#an-corr-notes", Static).update(" · ".join(notes))

    def _show_matrix(self, over: str = "") -> None:
        self._update_head()
        self.heatmap.show(self.matrices[self.matrix_index])
        self.show_legend()

    def _update_head(self) -> None:
        m, d = self.matrices[self.matrix_index], self.data or {}
        over = f"{d.get('method')} over {d.get('n_runs')} runs, metric {name(d.get('metric'))}"
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

    def _show_table(self, protocol: str, data: dict[str, Any]) -> None:
        main, second = (
            self.query_one("#an-corr-table", ExportTable),
            self.query_one("#an-corr-table2", ExportTable),
        )
        rows = data.get("rows") or []
        second.display = False
        if protocol == "cross-stage":
            tiers = {t["benchmark"]: t["tier"] for t in data.get("tiers_rows", [])}
            header = [
                "scale",
                "benchmark",
                "category",
                "r_acc",
                "p_acc",
                "n_acc",
                "r_conf",
                "p_conf",
                "n_conf",
                "tier",
            ]
            raw = [
                [
                    r["scale"],
                    r["benchmark"],
                    r["category"],
                    r["r_acc"],
                    r["p_acc"],
                    r["n_acc"],
                    r["r_conf"],
                    r["p_conf"],
                    r["n_conf"],
                    tiers.get(r["benchmark"]),
                ]
                for r in rows
            ]
            cells = [
                [
                    name(v[0]),
                    name(v[1]),
                    name(v[2] or "-"),
                    fmt_r(v[3]),
                    fmt_p(v[4]),
                    str(v[5]),
                    fmt_r(v[6]),
                    fmt_p(v[7]),
                    str(v[8]),
                    name(v[9] or "-"),
                ]
                for v in raw
            ]
            main.show("cross-stage", header, raw, cells)
            means = data.get("means") or []
            second.display = bool(means)
            mh = ["scale", "mean_r_acc", "n_acc", "mean_r_conf", "n_conf"]
            mraw = [[m[k] for k in mh] for m in means]
            second.show(
                "cross-stage-means",
                mh,
                mraw,
                [[name(v[0]), fmt_r(v[1]), str(v[2]), fmt_r(v[3]), str(v[4])] for v in mraw],
            )
        elif protocol == "coherence":
            header = ["scale", "protocol", "stage", "category", "mean_r", "n_pairs", "n_na"]
            raw = [[r[k] for k in header] for r in rows]
            cells = [
                [
                    name(v[0]),
                    name(v[1]),
                    name(v[2] or "-"),
                    name(v[3]),
                    fmt_r(v[4]),
                    str(v[5]),
                    str(v[6]),
                ]
                for v in raw
            ]
            main.show("coherence", header, raw, cells)
        else:
            header = ["stage", "scale", "category", "mean_r", "n_runs", "n_na"]
            by_cat = data.get("by_category") or []
            raw = [[r[k] for k in header] for r in by_cat]
            cells = [
                [name(v[0] or "-"), name(v[1]), name(v[2]), fmt_r(v[3]), str(v[4]), str(v[5])]
                for v in raw
            ]
            main.show("align-by-category", header, raw, cells)
            pers = data.get("persistence") or []
            second.display = bool(pers)
            ph = ["scale", "category", "r", "p", "n"]
            praw = [[p.get(k) for k in ph] for p in pers]
            second.show(
                "align-persistence",
                ph,
                praw,
                [[name(v[0]), name(v[1]), fmt_r(v[2]), fmt_p(v[3]), str(v[4])] for v in praw],
            )

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

    def on_heatmap_cursor_moved(self, message: Heatmap.CursorMoved) -> None:
        message.stop()
        self.query_one("#an-corr-status", Static).update(cell_status(message.heatmap))

    def export_rows(self) -> tuple[str, list[str], list[list[Any]]] | None:
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


__all__ = ["PROTOCOLS", "CorrTab", "cell_status", "fmt_num"]
