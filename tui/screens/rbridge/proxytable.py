"""The proxies on the selected benchmark: a table (checkpoint, dataset, tokens, rBridge, R-phi,
gold, bpb) and the selected proxy's curve (its dataset's checkpoints) plotted against training
tokens, log x when the tokens span two decades or more. Moving the table's cursor picks the
proxy (the screen follows `ProxyTable.Picked`)."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual_plotext import PlotextPlot

from engine.api.rbridge_views import curve
from engine.terminal import visible
from engine.units import abbreviate
from tui.screens.rbridge.tokens import fmt_num
from tui.widgets.plots import plot_rgb

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("proxy", "checkpoint", None),
    ("dataset", "dataset", None),
    ("tokens", "tokens", 7),
    ("rbridge", "rBridge", 7),
    ("nll_rphi", "R-phi", 7),
    ("nll_gold", "gold", 7),
    ("bpb", "bpb", 6),
    ("state", "score", None),
)
# metric, legend label, theme colour
SERIES = (
    ("rbridge", "rBridge", "primary"),
    ("nll_rphi", "R-phi", "warning"),
    ("nll_gold", "gold", "success"),
    ("bpb", "bpb", "secondary"),
)
LOG_X_SPAN = 100.0  # max/min tokens from which the x axis is logarithmic


def state_text(row: dict[str, Any]) -> Text:
    if row["pending"]:
        return Text("scoring…", style="italic")
    stopped = row.get("stopped")
    if row["score_id"] is None:
        if stopped:  # its job failed, was cancelled or interrupted: say so, never "scoring"
            return Text(f"{stopped} (S)", style="italic")
        return Text("not scored (S)", style="dim")
    flags = sum((row.get("flags") or {}).values())
    text = f"#{row['score_id']}" + (f" · {flags} flag" if flags else "")
    return Text(text + (f" · {stopped}" if stopped else ""), style="dim")


def proxy_cells(row: dict[str, Any]) -> tuple:
    def num(key: str) -> Text:
        return Text(fmt_num(row.get(key)), justify="right")

    return (
        visible(str(row["proxy"]), lines=False),
        visible(str(row["dataset"] or "-"), lines=False),
        Text(abbreviate(row["tokens"]) if row["tokens"] is not None else "-", justify="right"),
        num("rbridge"),
        num("nll_rphi"),
        num("nll_gold"),
        num("bpb"),
        state_text(row),
    )


class ProxyTable(DataTable):
    class Picked(Message):
        def __init__(self, proxy: str):
            super().__init__()
            self.proxy = proxy

    def __init__(self, **kwargs: Any):
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.rows_data: list[dict] = []
        self._quiet = False

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def show(self, rows: list[dict], selected: str | None) -> None:
        self.rows_data = rows
        self._quiet = True  # refilling moves the cursor: not a pick
        try:
            with self.app.batch_update():
                self.clear()
                for row in rows:
                    self.add_row(*proxy_cells(row), key=str(row["proxy"]))
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
            self.post_message(self.Picked(str(event.row_key.value)))


def log_x(tokens: list[float]) -> bool:
    lo, hi = min(tokens), max(tokens)
    return lo > 0 and hi / lo >= LOG_X_SPAN


class ProxyPlot(PlotextPlot):
    """Each score of the selected proxy's dataset against training tokens."""

    def show(self, rows: list[dict], selected: dict | None) -> None:
        plt = self.plt
        plt.clear_figure()
        dataset = selected["dataset"] if selected else None
        points = curve(rows, dataset) if selected else []
        name = visible(str(dataset), lines=False) if dataset else "-"
        if not points:
            self.border_title = f"scores vs training tokens · dataset {name}"
            why = (
                "pick a proxy"
                if selected is None
                else "no scored checkpoints with a token count in this dataset yet"
                if dataset
                else "this proxy has no dataset: register checkpoints with --dataset and --tokens"
            )
            plt.title(why)
            self.refresh()
            return
        x = [float(r["tokens"]) for r in points]
        logx = log_x(x)
        if logx:
            plt.xscale("log")
        for key, label, colour in SERIES:
            xs = [xv for xv, r in zip(x, points, strict=True) if _finite(r.get(key))]
            ys = [float(r[key]) for r in points if _finite(r.get(key))]
            if ys:
                plt.plot(xs, ys, label=label, color=plot_rgb(self.app, colour), marker="braille")
                plt.scatter(xs, ys, color=plot_rgb(self.app, colour), marker="dot")
        if selected.get("tokens") is not None:
            plt.vline(float(selected["tokens"]), color=plot_rgb(self.app, "foreground"))
        plt.xlabel("training tokens" + (" (log)" if logx else ""))
        ticks = sorted(set(x))
        if len(ticks) <= 6:
            plt.xticks(ticks, [abbreviate(t) for t in ticks])
        self.border_title = (
            f"scores vs training tokens · dataset {name} · {len(points)} checkpoints"
        )
        self.refresh()


def _finite(v: Any) -> bool:
    return v is not None and math.isfinite(float(v))
