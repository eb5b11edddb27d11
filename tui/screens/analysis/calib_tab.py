"""The Calibration tab: the reliability diagram (accuracy per confidence bin, before and after
temperature scaling, with the diagonal), ECE before and after, the temperature T, and the
bins as a table (`analysis_corr.calibration`), for one (run, benchmark) pair at a time (c: the
next pair with per-item results)."""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static
from textual_plotext import PlotextPlot

from engine.api.analysis_corr import CalibrationBin, CalibrationResult
from engine.api.analysis_views import ItemGroup
from tui.exports import region_svg
from tui.screens.analysis.format import NO_ITEMS, Format, fmt_key, fmt_num, formatted, name
from tui.screens.analysis.selection import AnalysisContext, calibration_pairs
from tui.screens.analysis.tab import AnalysisTab
from tui.screens.tab import NothingToExport
from tui.widgets.plots import plot_rgb
from tui.widgets.tables import ExportTable

Pair = tuple[str, str, str | None]  # (run, benchmark, stage)
BIN_COLUMNS = ["bin", "lo", "hi", "n", "acc", "conf", "n_scaled", "acc_scaled", "conf_scaled"]
three = partial(fmt_num, digits=3)
BIN_FORMATS: list[Format] = [str, three, three, str, three, three, str, three, three]


def summary_text(res: CalibrationResult, k: int, total: int) -> str:
    cp = res.checkpoint
    where = " · ".join(
        f"{key} {fmt_key(value) if key == 'tokens' else name(value)}"
        for key, value in (("size", cp.size), ("tokens", cp.tokens), ("step", cp.step))
        if value is not None
    )
    t = res.temperature
    bound = res.temperature_at_bound
    lo, hi = res.bounds
    flag = f" ⚠ at the {bound} bound of [{lo:g}, {hi:g}]: not converged" if bound else ""
    return (
        f"{name(res.run)} on {name(res.benchmark)} ({where}) · pair {k + 1}/{total} "
        f"(c: next)\nECE {fmt_num(res.ece)} → {fmt_num(res.ece_scaled)} after scaling "
        f"at T = {fmt_num(t)}{flag} · NLL {fmt_num(res.nll)} → "
        f"{fmt_num(res.nll_scaled)}"
        f" · acc {fmt_num(res.acc)} · {res.n_items} items: T fitted on {res.n_fit},"
        f" ECE on the other {res.n_eval} (15 bins, seed {res.seed}, items in "
        "natural id order)"
    )


def bin_rows(res: CalibrationResult) -> list[list[Any]]:
    """One row per bin, before and after scaling side by side (BIN_COLUMNS)."""

    def counts(side: CalibrationBin | None) -> list[Any]:
        return [0, None, None] if side is None else [side.n, side.acc, side.conf]

    before = {b.bin: b for b in res.bins}
    after = {b.bin: b for b in res.bins_scaled}
    rows = []
    for b in sorted(set(before) | set(after)):
        x, y = before.get(b), after.get(b)
        src = x or y
        assert src is not None  # b is a bin of one side
        rows.append([b, src.lo, src.hi, *counts(x), *counts(y)])
    return rows


class CalibrationTab(AnalysisTab[Pair | None, CalibrationResult]):
    TITLE = "Calibration"
    NAME = "cal"
    LOADING = "calibrating…"
    EMPTY = "#an-cal-empty"
    CONTENT: ClassVar = ("#an-cal-summary", "#an-cal-body", "#an-cal-notes")

    def __init__(self, context: AnalysisContext, **kwargs: Any):
        super().__init__(context, **kwargs)
        self.pair_index = 0  # which of the pairs with per-item results (c: the next)
        # the bars drawn, per series: (bin, accuracy), from the bins table's rows
        self.plotted: dict[str, list[tuple[int, float]]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="an-cal-empty", classes="an-empty", markup=False)
        yield Static("", id="an-cal-summary", markup=False)
        with Horizontal(id="an-cal-body"):
            yield PlotextPlot(id="an-cal-plot", classes="an-plot")
            yield ExportTable(id="an-cal-bins")
        yield Static("", id="an-cal-notes", classes="an-notes", markup=False)

    # -- the read ------------------------------------------------------------------------------
    def pairs(self) -> list[ItemGroup]:
        return calibration_pairs(self.context.view, self.context.sel)

    def wanted(self) -> Pair | None:
        pairs = self.pairs()
        if not pairs:
            return None
        p = pairs[self.pair_index % len(pairs)]
        return (p.run, p.benchmark, p.stage)

    def empty_note(self, key: Pair | None) -> str | None:
        return NO_ITEMS if key is None else None

    def read(self, key: Pair | None) -> CalibrationResult:
        from engine.api.analysis_corr import calibration

        assert key is not None  # empty_note says so instead
        run, bench, stage = key
        return calibration(self.services.workspace, run, bench, stage=stage)

    def next_pair(self) -> None:
        self.pair_index += 1

    # -- drawing -------------------------------------------------------------------------------
    def show(self, answer: CalibrationResult) -> None:
        res = answer
        total = len(self.pairs())
        self.show_empty("")
        self.query_one("#an-cal-summary", Static).update(
            summary_text(res, self.pair_index % total, total)
        )
        raw = bin_rows(res)
        drawn = [row for row in raw if row[3] or row[6]]  # the bins with items
        table = self.query_one("#an-cal-bins", ExportTable)
        table.show("calibration-bins", BIN_COLUMNS, raw, formatted(drawn, BIN_FORMATS))
        table.border_title = "bins with items (before | after)"
        notes = [name(n) for n in res.notes]
        self.query_one("#an-cal-notes", Static).update(" · ".join(notes) or "")
        self.draw(res)

    def draw(self, res: CalibrationResult) -> None:
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
        for key, side, label, colour, shift in (
            ("bins", res.bins, "before (T = 1)", "error", -0.012),
            ("bins_scaled", res.bins_scaled, "after scaling", "primary", 0.012),
        ):
            bins = [b for b in side if b.n and b.acc is not None]
            self.plotted[key] = [(b.bin, b.acc) for b in bins if b.acc is not None]
            if bins:
                xs = [(b.lo + b.hi) / 2 + shift for b in bins]
                plt.bar(
                    xs,
                    [b.acc for b in bins],
                    width=0.02,
                    label=label,
                    color=plot_rgb(self.app, colour),
                )
        plt.xlim(0, 1)
        plt.ylim(0, 1)
        plt.xticks([0, 0.25, 0.5, 0.75, 1])
        plt.xlabel("confidence (bin centre)")
        plt.ylabel("accuracy")
        plot.border_title = f"reliability: ECE {fmt_num(res.ece)} → {fmt_num(res.ece_scaled)}"
        plot.refresh()

    def export_svg(self) -> tuple[str, str]:
        plot = self.query_one("#an-cal-plot", PlotextPlot)
        if not plot.display or self.answer is None:
            raise NothingToExport("no plot shown on this tab")
        return "reliability", region_svg(self.app, plot.region, "betr reliability")
