"""The proxies on the selected benchmark: a table (checkpoint, dataset, size, tokens, rBridge,
R-phi, gold, bpb) and one metric of theirs plotted against training tokens, a curve per
(dataset, size), log x when the tokens span two decades or more. Moving the table's cursor picks the
proxy (the screen follows `ProxyPicked`)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.color import Color
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from engine.api.rbridge_views import Curve, ProxyScore, curves
from engine.units import abbreviate
from tui.safe_text import one_line, plain
from tui.screens.rbridge.messages import ProxyPicked
from tui.screens.rbridge.tokens import fmt_num
from tui.widgets.cells import Cells
from tui.widgets.plots import bench_palette, plot_rgb
from tui.widgets.tables import PlainTable

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("proxy", "checkpoint", None),
    ("dataset", "dataset", None),
    ("params", "size", None),
    ("tokens", "tokens", None),
    ("rbridge", "rBridge", None),
    ("nll_rphi", "R-phi", None),
    ("nll_gold", "gold", None),
    ("bpb", "bpb", None),
    ("bpb_prompted", "bpb prompted", None),
    ("state", "score", None),
)
# metric, legend label, theme colour
SERIES = (
    ("rbridge", "rBridge", "primary"),
    ("nll_rphi", "R-phi", "warning"),
    ("nll_gold", "gold", "success"),
    ("bpb", "bpb", "secondary"),
    ("bpb_prompted", "bpb prompted", "accent"),
)
LOG_X_SPAN = 100.0  # max/min tokens from which the x axis is logarithmic
MAX_CURVES = 8  # the plot's legend stays readable; the table lists every proxy


def state_text(row: ProxyScore) -> Text:
    if row.pending:
        return Text("scoring…", style="italic")
    stopped = row.stopped
    if row.score_id is None:
        if stopped:  # its job failed, was cancelled or interrupted: say so, never "scoring"
            return Text(f"{stopped} (S)", style="italic")
        return Text("not scored (S)", style="dim")
    flags = sum(row.flags.values())
    text = f"#{row.score_id}" + (f" · {flags} flag" if flags else "")
    return Text(text + (f" · {stopped}" if stopped else ""), style="dim")


def proxy_cells(row: ProxyScore) -> Cells:
    def num(key: str) -> Text:
        return Text(fmt_num(row.metric(key)), justify="right")

    return (
        one_line(row.proxy),
        one_line(row.dataset or "-"),
        Text(abbreviate(row.params) if row.params is not None else "-", justify="right"),
        Text(abbreviate(row.tokens) if row.tokens is not None else "-", justify="right"),
        num("rbridge"),
        num("nll_rphi"),
        num("nll_gold"),
        num("bpb"),
        num("bpb_prompted"),
        state_text(row),
    )


class ProxyTable(PlainTable):
    def __init__(self, **kwargs: Any):
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.rows_data: list[ProxyScore] = []
        self._quiet = False

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def show(self, rows: list[ProxyScore], selected: str | None) -> None:
        self.rows_data = rows
        self._quiet = True  # refilling moves the cursor: not a pick
        try:
            with self.app.batch_update():
                self.clear()
                for row in rows:
                    self.add_row(*proxy_cells(row), key=str(row.proxy))
                self.select(selected)
        finally:
            self.call_after_refresh(self._unquiet)
        self.refresh()

    def _unquiet(self) -> None:
        self._quiet = False

    def select(self, proxy: str | None) -> None:
        if proxy is not None and proxy in self.rows:
            self.move_cursor(row=self.get_row_index(proxy), scroll=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if not self._quiet and event.row_key.value is not None:
            self.post_message(ProxyPicked(str(event.row_key.value)))


def log_x(tokens: list[float]) -> bool:
    lo, hi = min(tokens), max(tokens)
    return lo > 0 and hi / lo >= LOG_X_SPAN


def curve_label(c: Curve) -> str:
    size = "size ?" if c.params is None else abbreviate(c.params)
    return f"{one_line(c.dataset or '-')} · {size}"


class ProxyPlot(PlotextPlot):
    """One metric (m cycles rBridge, R-phi, gold NLL, bpb and betr's prompted bpb: their scales
    differ, so never two on
    one axis) against training tokens, a curve per (dataset, size); the selected proxy's curve
    first and in the primary colour. `curves` is what is drawn (tests compare it with the
    table)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.curves: list[Curve] = []
        self.metric = SERIES[0][0]

    def show(
        self, rows: list[ProxyScore], selected: ProxyScore | None, metric: str | None = None
    ) -> None:
        self.metric = metric or self.metric
        key, label, _colour = next(s for s in SERIES if s[0] == self.metric)
        plt = self.plt
        plt.clear_figure()
        found = curves(rows, key)
        mine = (selected.dataset, selected.params) if selected else None
        found.sort(key=lambda c: ((c.dataset, c.params) != mine, c.dataset or "", c.params or 0))
        self.curves = found[:MAX_CURVES]
        if not self.curves:
            self.border_title = plain(f"{label} vs training tokens · m: next metric")
            plt.title(
                "no scored checkpoints with a token count yet: register checkpoints with "
                "--dataset and --tokens, and score them (S)"
            )
            self.refresh()
            return
        x = [t for c in self.curves for t in c.tokens]
        logx = log_x(x)
        if logx:
            plt.xscale("log")
        palette = bench_palette(self.app.theme_variables or {}) or ["#ffffff"]
        for k, c in enumerate(self.curves):
            colour = Color.parse(palette[k % len(palette)]).rgb
            plt.plot(c.tokens, c.values, label=curve_label(c), color=colour, marker="braille")
            plt.scatter(c.tokens, c.values, color=colour, marker="dot")
        if selected and selected.tokens is not None:
            plt.vline(float(selected.tokens), color=plot_rgb(self.app, "foreground"))
        plt.xlabel("training tokens" + (" (log)" if logx else ""))
        plt.ylabel(label)
        ticks = sorted(set(x))
        if len(ticks) <= 6:
            plt.xticks(ticks, [abbreviate(t) for t in ticks])
        more = len(found) - len(self.curves)
        self.border_title = plain(
            f"{label} vs training tokens · {len(self.curves)} curve(s), one per dataset and "
            f"size" + (f" (+{more} in the table)" if more else "") + " · m: next metric"
        )
        self.refresh()
