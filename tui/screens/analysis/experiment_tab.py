"""The Experiment tab: the demo experiment's answer, first (`betr demo experiment`'s verdict,
engine.analysis.experiment_verdict): for one metric at one proxy size, the paired differences
top - random and top - bottom on the same items of the targets' held-out examples and of the
control benchmarks (a bar from 0 with its error bar, in the primary colour only where the
interval excludes 0), then each selection's number with its 95% bootstrap interval (a point with
its error bar), the verdict's sentences, and the table of every number (what `e` exports).

Overlapping intervals of two selections do not mean "no difference": both carry the spread of
item difficulty, which the paired difference cancels. That is why the differences are drawn
too, and why the verdict reads them alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.api.demo import EXPERIMENT_METRICS as METRICS
from engine.api.demo import (
    SET_WORDS,
    SETS,
    ExperimentVerdict,
    lower_is_better,
    selection_label,
)
from tui.exports import region_svg
from tui.screens.analysis.format import Format, fmt_num, formatted, name
from tui.screens.analysis.selection import AnalysisContext
from tui.screens.analysis.tab import AnalysisTab
from tui.screens.tab import NothingToExport
from tui.widgets.intervals import IntervalChart, IntervalRow
from tui.widgets.tables import ExportTable

TABLE_KEYS = ["set", "selection", "value", "ci_low", "ci_high", "n_items", "benchmarks"]
TABLE_FORMATS: list[Format] = [str, name, fmt_num, fmt_num, fmt_num, str, name]
NO_EXPERIMENT = (
    "No demo experiment has finished in this workspace. In the demo workspace, press x "
    "(twice) to run it (betr demo experiment): tiny proxies on the BETR top, a random and the "
    "bottom 10% of the pool, scored on the targets' held-out examples and on control "
    "benchmarks, with 95% bootstrap intervals."
)


class ExperimentTab(AnalysisTab[int, ExperimentVerdict]):
    """Key: the experiment's job id (the newest finished one, read with the overview)."""

    TITLE = "Experiment"
    NAME = "experiment"
    LOADING = "reading the experiment's verdict…"
    EMPTY = "#an-exp-empty"
    CONTENT: ClassVar = ("#an-exp-body",)

    def __init__(self, context: AnalysisContext, **kwargs: Any):
        super().__init__(context, **kwargs)
        self.job: int | None = None  # the newest finished experiment (the screen sets it)
        self.metric = "bpb"
        self.proxy_size: int | None = None  # None: the largest

    def compose(self) -> ComposeResult:
        yield Static("", id="an-exp-empty", classes="an-empty", markup=False)
        with VerticalScroll(id="an-exp-body"):
            yield Static("", id="an-exp-head", markup=False)
            yield IntervalChart(id="an-exp-diffs", classes="an-exp-chart")
            yield IntervalChart(id="an-exp-values", classes="an-exp-chart")
            yield Static("", id="an-exp-verdict", markup=False)
            yield ExportTable(id="an-exp-table")
            yield Static("", id="an-exp-notes", classes="an-notes", markup=False)

    # -- reading -------------------------------------------------------------------------------
    def wanted(self) -> int:
        return self.job if self.job is not None else -1

    def empty_note(self, key: int) -> str | None:
        return NO_EXPERIMENT if key < 0 else None

    def read(self, key: int) -> ExperimentVerdict:
        from engine.api.demo import experiment_verdict

        found = experiment_verdict(self.services.workspace, key)
        if found is None:
            from engine.errors import NotFoundError

            raise NotFoundError(
                f"the demo experiment's job {key} kept no verdict (it finished before verdicts "
                "were kept): run it again with betr demo experiment"
            )
        return found

    # -- what is shown -------------------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        return sorted({v.size for v in self.answer.values}, reverse=True) if self.answer else []

    @property
    def metrics(self) -> list[str]:
        present = {v.metric for v in self.answer.values} if self.answer else set()
        return [m for m in METRICS if m in present]

    def shown_size(self) -> int | None:
        sizes = self.sizes
        return self.proxy_size if self.proxy_size in sizes else (sizes[0] if sizes else None)

    def next_metric(self) -> str:
        metrics = self.metrics
        if metrics:
            at = metrics.index(self.metric) if self.metric in metrics else -1
            self.metric = metrics[(at + 1) % len(metrics)]
            self.redraw()
        return self.metric

    def next_size(self) -> int | None:
        sizes = self.sizes
        if sizes:
            now = self.shown_size()
            self.proxy_size = (
                sizes[(sizes.index(now) + 1) % len(sizes)] if now in sizes else sizes[0]
            )
            self.redraw()
        return self.shown_size()

    def redraw(self) -> None:
        if self.answer is not None:
            self.show(self.answer)

    def show(self, answer: ExperimentVerdict) -> None:
        self.show_empty("")
        if self.metric not in self.metrics and self.metrics:
            self.metric = self.metrics[0]
        size, metric = self.shown_size(), self.metric
        keep = answer.keep
        values = [v for v in answer.values if v.size == size and v.metric == metric]
        paired = [p for p in answer.paired if p.size == size and p.metric == metric]
        better = "lower" if lower_is_better(metric) else "higher"
        sizes = ", ".join(f"{s:,}" for s in self.sizes)
        self.query_one("#an-exp-head", Static).update(
            f"Does the BETR selection train better proxies? {metric} at {size:,} params, "
            f"{better} is better\nv: metric ({', '.join(self.metrics)}) · z: size ({sizes})"
        )
        rows = [
            IntervalRow(
                selection_label(v.selection, keep),
                v.value,
                v.ci_low,
                v.ci_high,
                f"{SET_WORDS[v.set]} · {v.n_items} items: {', '.join(map(name, v.benchmarks))}",
            )
            for set_name in SETS
            for v in values
            if v.set == set_name
        ]
        chart = self.query_one("#an-exp-values", IntervalChart)
        chart.border_title = f"each selection's {metric}, with its 95% interval"
        chart.show(
            rows,
            caption="intervals that overlap can still differ: the paired differences above "
            "compare the same items",
        )
        diffs = [
            IntervalRow(
                f"{p.a} − {p.b}",
                p.diff,
                p.ci_low,
                p.ci_high,
                f"{SET_WORDS[p.set]} · {p.n_items} items",
            )
            for set_name in SETS
            for p in paired
            if p.set == set_name
        ]
        diff_chart = self.query_one("#an-exp-diffs", IntervalChart)
        diff_chart.border_title = f"paired differences on the same items ({better} is better)"
        diff_chart.show(
            diffs,
            reference=0.0,
            bars=True,
            signed=True,
            caption=f"a − b in {metric}, top = {selection_label('top', keep)}; a bright bar: "
            "its 95% interval excludes 0 (a difference beyond noise)",
        )
        prefix = f"{size:,} params, {metric}: "
        sentences = [s.removeprefix(prefix) for s in answer.verdicts if s.startswith(prefix)]
        self.query_one("#an-exp-verdict", Static).update(
            "verdict: " + "\n".join(sentences) if sentences else "verdict: none at this size"
        )
        raw = [
            [v.set, v.selection, v.value, v.ci_low, v.ci_high, v.n_items, ", ".join(v.benchmarks)]
            for v in values
        ] + [[p.set, f"{p.a} - {p.b}", p.diff, p.ci_low, p.ci_high, p.n_items, ""] for p in paired]
        table = self.query_one("#an-exp-table", ExportTable)
        table.show(f"experiment-{metric}-{size}", TABLE_KEYS, raw, formatted(raw, TABLE_FORMATS))
        table.border_title = "every number drawn above (a - b rows: paired differences)"
        notes = [
            f"{metric}: {METRICS[metric][1]}",
            f"{answer.confidence * 100:g}% {answer.method} bootstrap intervals, "
            f"{answer.n_resamples:,} resamples over items (seed {answer.seed}); each "
            "benchmark's items resampled within it",
        ]
        if answer.holdout:
            held = ", ".join(
                f"{name(b)} {n}" for b, n in answer.holdout.get("examples", {}).items()
            )
            notes.append(
                f"held out of the BETR run: {answer.holdout['fraction'] * 100:g}% of each "
                f"target benchmark's examples (seed {answer.holdout['seed']}): {held}"
            )
        notes += [name(n) for n in answer.notes]
        self.query_one("#an-exp-notes", Static).update("\n".join(notes))

    # -- exports -------------------------------------------------------------------------------
    def export_svg(self) -> tuple[str, str]:
        body = self.query_one("#an-exp-body", VerticalScroll)
        if not body.display or self.answer is None:
            raise NothingToExport("no experiment shown on this tab")
        chart = self.query_one("#an-exp-diffs", IntervalChart)
        region = body.region.intersection(
            chart.region.union(self.query_one("#an-exp-values").region)
        )
        return (
            f"experiment-{self.metric}",
            region_svg(self.app, region, "betr experiment"),
        )
