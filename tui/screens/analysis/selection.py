"""What the Analysis screen's selectors hold, their options from `analysis_views.overview`, and
the arguments each tab's engine call takes from them (pure: no widgets)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from engine.api.analysis_corr import METHODS
from engine.api.analysis_fit import MATCH_KEYS
from engine.api.analysis_views import AnalysisOverview, Defaults, ItemGroup
from tui.screens.analysis.format import name

SEP = "\t"
SELECTS = ("benchmark", "x_side", "x_metric", "y_side", "y_metric", "scope", "method", "match")
MATCHES = tuple(MATCH_KEYS)
SAME_SERIES = (
    "x and y are the same numbers: a series fitted on itself gives R² = 1 whatever the data. "
    "Pick a smaller size (or another metric) for x and a larger size for y in the selectors above."
)


@dataclass(frozen=True)
class Selection:
    benchmark: str = ""  # the target benchmark
    x_side: str = ""  # "run<TAB>size"
    x_metric: str = ""  # "benchmark<TAB>metric"
    y_side: str = ""
    y_metric: str = ""
    scope: str = ""  # "", "stage:S" or "scale:X" (the Correlations tab)
    method: str = "pearson"
    match: str = "tokens"

    @classmethod
    def from_defaults(cls, d: Defaults | None, old: Selection | None = None) -> Selection:
        base = old or cls()
        if d is None:
            return base
        return replace(
            base,
            benchmark=d.benchmark,
            x_side=f"{d.x_run}{SEP}{d.x_size or ''}",
            x_metric=f"{d.x_benchmark}{SEP}{d.x_metric}",
            y_side=f"{d.y_run}{SEP}{d.y_size or ''}",
            y_metric=d.y_metric,
            match=d.match or base.match,
        )

    def side(self, which: str) -> tuple[str, str | None]:
        run, _, size = getattr(self, f"{which}_side").partition(SEP)
        return run, size or None

    def same_series(self) -> bool:
        """x and y are the same numbers (a fit of a series on itself: R^2 = 1 by construction)."""
        return (
            self.x_side == self.y_side and self.x_metric == f"{self.benchmark}{SEP}{self.y_metric}"
        )

    def fit_args(self) -> dict[str, Any]:
        (x_run, x_size), (y_run, y_size) = self.side("x"), self.side("y")
        x_bench, _, x_metric = self.x_metric.partition(SEP)
        stage = self.scope.partition(":")[2] if self.scope.startswith("stage:") else None
        return {
            "benchmark": x_bench,
            "x_run": x_run,
            "x_metric": x_metric,
            "x_size": x_size,
            "y_run": y_run,
            "y_metric": self.y_metric,
            "y_size": y_size,
            "y_benchmark": self.benchmark,
            "match": self.match,
            "x_stage": stage,
            "y_stage": stage,
        }

    def rank_args(self) -> dict[str, Any]:
        a = self.fit_args()
        for key in ("x_run", "y_run"):
            a.pop(key)
        return a

    def corr_args(self) -> dict[str, Any]:
        kind, _, value = self.scope.partition(":")
        return {
            "metric": self.y_metric or "acc",
            "method": self.method,
            "checkpoint": "last",
            "stage": value if kind == "stage" else None,
            "scale": value if kind == "scale" else None,
        }


def options(view: AnalysisOverview, sel: Selection) -> dict[str, list[tuple[str, str]]]:
    """Each select's (label, value) options; labels say which side they belong to."""
    benches = view.benchmarks
    target = next((b for b in benches if b.benchmark == sel.benchmark), None)
    y_metrics = target.metrics if target else []
    x_metrics = [(f"x {name(m)}", f"{sel.benchmark}{SEP}{m}") for m in y_metrics]
    for metric, where in view.metric_benchmarks.items():
        if metric not in y_metrics:
            x_metrics += [(f"x {name(metric)} @ {name(b)}", f"{b}{SEP}{metric}") for b in where]
    if sel.x_metric and sel.x_metric not in {v for _l, v in x_metrics}:
        b, _, m = sel.x_metric.partition(SEP)
        x_metrics.append((f"x {name(m)} @ {name(b)}", sel.x_metric))

    def sides(prefix: str) -> list[tuple[str, str]]:
        return [
            (
                f"{prefix} {name(s.run)}" + (f" · {name(s.size)}" if s.size else ""),
                f"{s.run}{SEP}{s.size or ''}",
            )
            for s in view.sides
        ]

    scope = [("all stages, scales", "")]
    scope += [(f"stage {name(s)}", f"stage:{s}") for s in view.stages]
    scope += [(f"scale {name(s)}", f"scale:{s}") for s in view.scales]
    return {
        "benchmark": [(f"target {name(b.benchmark)}", b.benchmark) for b in benches],
        "x_side": sides("x"),
        "x_metric": x_metrics,
        "y_side": sides("y"),
        "y_metric": [(f"y {name(m)}", m) for m in y_metrics],
        "scope": scope,
        "method": [(m, m) for m in METHODS],
        "match": [(f"match {m}", m) for m in MATCHES],
    }


def calibration_pairs(view: AnalysisOverview | None, sel: Selection) -> list[ItemGroup]:
    """The (run, benchmark, stage) groups with per-item results, the selected y run on the
    target benchmark first."""
    y_run = sel.side("y")[0]
    items = list(view.items) if view is not None else []
    return sorted(items, key=lambda it: (it.run != y_run, it.benchmark != sel.benchmark))


@dataclass
class AnalysisContext:
    """What the Analysis tabs read from their screen (one object, shared: the screen changes
    it, each tab reads it when it computes its key)."""

    view: AnalysisOverview | None = None  # `analysis_views.overview`
    sel: Selection = field(default_factory=Selection)
    default_sel: Selection | None = None  # what the overview's defaults chose

    def no_fit_note(self) -> str | None:
        """Why the selection has nothing to fit (an empty state, not an error): x and y are
        the same numbers, or the defaults found no pair of sides sharing checkpoints."""
        if self.sel.same_series():
            return SAME_SERIES
        d = self.view.defaults if self.view is not None else None
        note = d.fit_note if d is not None else None
        default = self.default_sel
        if note and default is not None and self.sel.fit_args() == default.fit_args():
            return str(note)
        return None
