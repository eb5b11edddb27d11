"""The Analysis screen's exports: `e` writes the table in focus as CSV, `p` the tab's plot as
SVG, both under <workspace>/exports/."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.workspace import open_private
from tui.screens.analysis.format import export_path, region_svg, strips_svg, write_csv
from tui.screens.analysis.heatmap import Heatmap
from tui.screens.analysis.tables import ExportTable

if TYPE_CHECKING:
    from tui.screens.analysis.screen import AnalysisScreen


def export_table(screen: AnalysisScreen) -> None:
    """`e`: the focused table (else the tab's first, or the heatmap's cells) to CSV."""
    focused = screen.focused
    pane = screen.query_one(f"#{screen.active_tab}")
    tables = [t for t in pane.query(ExportTable) if t.display and t.has_rows]
    table = focused if isinstance(focused, ExportTable) and focused in tables else None
    rows = None
    if table is None and screen.active_tab == "an-tab-corr":
        rows = screen.corr_tab.export_rows()
    if table is None and rows is None and tables:
        table = tables[0]
    if table is not None:
        rows = (table.stem, table.header, table.raw)
    if rows is None:
        screen.notify("no table to export on this tab", severity="warning")
        return
    stem, header, data = rows
    path = export_path(screen.betr.workspace.exports_dir, stem, "csv")
    try:
        write_csv(path, header, data)
    except OSError as exc:
        screen.betr.report_error(f"cannot write {path}: {exc}")
        return
    screen.notify(f"table saved: {path} ({len(data)} rows)", markup=False)


def export_plot(screen: AnalysisScreen) -> None:
    """`p`: the tab's plot (the whole heatmap on Correlations) to SVG."""
    tab = screen.active_tab
    if tab == "an-tab-rank":
        screen.notify("the Ranking tab has no plot: e exports its table", severity="warning")
        return
    if tab == "an-tab-corr":
        heatmap = screen.query_one(Heatmap)
        if heatmap.grid is None or screen.corr_tab.protocol != "matrix":
            screen.notify("no heatmap shown (o: the matrix protocol)", severity="warning")
            return
        stem = screen.corr_tab.export_rows()[0]  # type: ignore[index]
        svg = strips_svg(heatmap.all_strips(), heatmap.virtual_size.width, f"betr {stem}")
    else:
        plot = screen.query_one(f"#{tab} .an-plot")
        if not plot.display or ("fit" if tab == "an-tab-fit" else "cal") not in screen.results:
            screen.notify("no plot shown on this tab", severity="warning")
            return
        stem = "fit-plot" if tab == "an-tab-fit" else "reliability"
        svg = region_svg(screen.app, plot.region, f"betr {stem}")
    path = export_path(screen.betr.workspace.exports_dir, stem, "svg")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_private(path, "w", encoding="utf-8") as fh:
            fh.write(svg)
    except OSError as exc:
        screen.betr.report_error(f"cannot write {path}: {exc}")
        return
    screen.notify(f"plot saved: {path}", markup=False)
