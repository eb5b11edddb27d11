"""The Calibration tab: the reliability diagram (accuracy per confidence bin, before and after
temperature scaling, with the diagonal), ECE before and after, the temperature T, and the
bins as a table."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tui.screens.analysis.format import fmt_key, fmt_num, name
from tui.screens.analysis.tables import ExportTable
from tui.widgets.plots import plot_rgb


def summary_text(res: dict[str, Any], k: int, total: int) -> str:
    cp = res.get("checkpoint") or {}
    where = " · ".join(
        f"{key} {fmt_key(cp[key]) if key == 'tokens' else name(cp[key])}"
        for key in ("size", "tokens", "step")
        if cp.get(key) is not None
    )
    t = res.get("temperature")
    bound = res.get("temperature_at_bound")
    lo, hi = res.get("bounds") or (None, None)
    flag = f" ⚠ at the {bound} bound of [{lo:g}, {hi:g}]: not converged" if bound else ""
    return (
        f"{name(res['run'])} on {name(res['benchmark'])} ({where}) · pair {k + 1}/{total} "
        f"(c: next)\nECE {fmt_num(res['ece'])} → {fmt_num(res['ece_scaled'])} after scaling "
        f"at T = {fmt_num(t)}{flag} · NLL {fmt_num(res.get('nll'))} → "
        f"{fmt_num(res.get('nll_scaled'))}"
        f" · acc {fmt_num(res.get('acc'))} · {res['n_items']} items: T fitted on {res['n_fit']},"
        f" ECE on the other {res['n_eval']} (15 bins, seed {res.get('seed', 0)}, items in "
        "natural id order)"
    )


class CalibrationTab(Vertical):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # the bars drawn, per series: (bin, accuracy), from the bins table's rows
        self.plotted: dict[str, list[tuple[int, float]]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="an-cal-empty", classes="an-empty", markup=False)
        yield Static("", id="an-cal-summary", markup=False)
        with Horizontal(id="an-cal-body"):
            yield PlotextPlot(id="an-cal-plot", classes="an-plot")
            yield ExportTable(id="an-cal-bins")
        yield Static("", id="an-cal-notes", classes="an-notes", markup=False)

    def show_empty(self, text: str) -> None:
        empty = self.query_one("#an-cal-empty", Static)
        empty.update(text)
        empty.display = bool(text)
        for part in ("#an-cal-summary", "#an-cal-body", "#an-cal-notes"):
            self.query_one(part).display = not text

    def show(self, res: dict[str, Any], k: int, total: int) -> None:
        self.show_empty("")
        self.query_one("#an-cal-summary", Static).update(summary_text(res, k, total))
        before = {b["bin"]: b for b in res.get("bins") or []}
        after = {b["bin"]: b for b in res.get("bins_scaled") or []}
        header = ["bin", "lo", "hi", "n", "acc", "conf", "n_scaled", "acc_scaled", "conf_scaled"]
        raw = []
        for b in sorted(set(before) | set(after)):
            x, y = before.get(b, {}), after.get(b, {})
            src = x or y
            raw.append(
                [
                    b,
                    src.get("lo"),
                    src.get("hi"),
                    x.get("n", 0),
                    x.get("acc"),
                    x.get("conf"),
                    y.get("n", 0),
                    y.get("acc"),
                    y.get("conf"),
                ]
            )
        cells = [
            [
                str(v[0]),
                fmt_num(v[1], 3),
                fmt_num(v[2], 3),
                str(v[3]),
                fmt_num(v[4], 3),
                fmt_num(v[5], 3),
                str(v[6]),
                fmt_num(v[7], 3),
                fmt_num(v[8], 3),
            ]
            for v in raw
            if v[3] or v[6]
        ]
        table = self.query_one("#an-cal-bins", ExportTable)
        table.show("calibration-bins", header, raw, cells)
        table.border_title = "bins with items (before | after)"
        notes = [name(n) for n in res.get("notes", [])]
        self.query_one("#an-cal-notes", Static).update(" · ".join(notes) or "")
        self.draw(res)

    def draw(self, res: dict[str, Any]) -> None:
        plot = self.query_one("#an-cal-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        self.plotted = {}
        plt.plot(
            [0, 1],
            [0, 1],
            color=plot_rgb(self.app, "foreground"),
            marker="braille",
            label="perfect calibration",
        )
        for key, label, colour, shift in (
            ("bins", "before (T = 1)", "error", -0.012),
            ("bins_scaled", "after scaling", "primary", 0.012),
        ):
            bins = [b for b in res.get(key) or [] if b.get("n") and b.get("acc") is not None]
            self.plotted[key] = [(b["bin"], b["acc"]) for b in bins]
            if bins:
                xs = [(b["lo"] + b["hi"]) / 2 + shift for b in bins]
                plt.bar(
                    xs,
                    [b["acc"] for b in bins],
                    width=0.02,
                    label=label,
                    color=plot_rgb(self.app, colour),
                )
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xticks([0, 0.25, 0.5, 0.75, 1])
        plt.xlabel("confidence (bin centre)")
        plt.ylabel("accuracy")
        plot.border_title = f"reliability: ECE {fmt_num(res['ece'])} → {fmt_num(res['ece_scaled'])}"
        plot.refresh()
