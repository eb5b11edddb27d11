"""What the Analysis screen can offer, read in one go: the runs, sizes, stages, benchmarks and
metrics of the long results table, the (run, benchmark) pairs with per-item results, and
defaults for the selectors that give a meaningful result (a smaller size predicting a larger
one, `engine.analysis.pairing`), or a note saying why there is none and what to pick.

Everything is counted in SQL (`engine.store.eval_summary`): no result row is read into Python
(at 200k rows a tenth of the time of reading them all: bench/tui_analysis.py). Benchmarks spelled several ways
(`arc_easy` from lm-eval, `arc-easy` imported) are one entry (`engine.names.normalise`), named
by the spelling with the most rows; the analysis calls match every spelling of a name.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Any

from engine.betr.select import SELECTION_ORDERS
from engine.names import canonical, normalise
from engine.store import eval_summary, evals
from engine.workspace import Workspace

FIT_TRIES = 12  # target benchmarks tried for a fit pair before settling for a ranking pair
DEMO_SELECTIONS = tuple(SELECTION_ORDERS)  # the demo experiment trains on each
DEMO_TARGET_BENCHMARK = "arc-easy"
# the proxy metric the demo's fit reads, first one present wins
DEMO_X_METRICS = ("rbridge_trace", "rbridge_benchmark", "bpb", "bpb_prompted")
TARGET_METRICS = ("acc", "acc_norm", "acc_per_char", "acc_bytes", "accuracy", "exact_match")


def _size_key(item: tuple[str | None, int | None]) -> tuple[Any, ...]:
    size, params = item
    return (params is None, params or 0, size or "")


@dataclass(frozen=True)
class BenchmarkEntry:
    """A benchmark of the results table: its shown name, its spellings in the table (`names`),
    its category, metrics and number of rows."""

    benchmark: str
    names: list[str]
    category: str | None
    metrics: list[str]
    n: int


@dataclass(frozen=True)
class ResultSide:
    """A run at a size (its parameter count when the results say it) and its number of rows."""

    run: str
    size: str | None
    params: int | None
    n: int


@dataclass(frozen=True)
class ItemGroup:
    """A (run, benchmark, stage) with per-item results (calibration), and how many."""

    run: str
    benchmark: str
    stage: str | None
    n: int


@dataclass(frozen=True)
class Defaults:
    """The selectors to start from; `fit_note`: None, or why they have nothing to fit and
    what to pick."""

    benchmark: str
    x_benchmark: str
    x_run: str
    x_size: str | None
    x_metric: str
    y_run: str
    y_size: str | None
    y_metric: str
    match: str
    fit_note: str | None


@dataclass(frozen=True)
class AnalysisOverview:
    """What the Analysis screen can offer: the number of result rows; the benchmarks (by
    category, then name); the sides (runs with their sizes, smallest first); the metrics,
    stages and scales; {metric: [benchmarks]}; the per-item groups; the demo experiment's
    datasets present; and the defaults (None: nothing to select)."""

    n_rows: int
    benchmarks: list[BenchmarkEntry]
    sides: list[ResultSide]
    metrics: list[str]
    metric_benchmarks: dict[str, list[str]]
    stages: list[str]
    scales: list[str]
    items: list[ItemGroup]
    demo: list[str]
    defaults: Defaults | None = None


def overview(workspace: Workspace) -> AnalysisOverview:
    """The AnalysisOverview of the workspace's results, counted in SQL."""
    with closing(workspace.connect(readonly=True)) as conn:
        pairs = eval_summary.benchmark_metrics(conn)
        cats = evals.categories(conn) if pairs else {}  # the workspace's map, seeded on import
        # a category from the file itself (a CSV column) for the benchmarks the map lacks
        row_cats = eval_summary.row_categories(conn, sorted({b for b, _m, _n in pairs} - set(cats)))
        side_rows = eval_summary.sides(conn) if pairs else []
        item_rows = eval_summary.item_groups(conn)
        out = _view(pairs, row_cats, cats, side_rows, item_rows)
        return replace(out, defaults=defaults(conn, out))


def _view(
    pairs: list[tuple[str, str, int]],
    row_cats: dict[str, str],
    cats: dict[str, str],
    side_rows: list[tuple[str, str | None, str | None, int | None, int]],
    item_rows: list[tuple[str, str, str | None, int]],
) -> AnalysisOverview:
    shown = canonical((b for b, _m, _n in pairs), (n for _b, _m, n in pairs))
    groups: dict[str, dict[str, Any]] = {}  # shown name -> its spellings, metrics, rows
    for bench, metric, n in pairs:
        g = groups.setdefault(shown[bench], {"names": set(), "metrics": set(), "n": 0})
        g["names"].add(bench)
        g["metrics"].add(metric)
        g["n"] += n
    benches: list[BenchmarkEntry] = []
    metric_benches: dict[str, set[str]] = {}
    for name, g in groups.items():
        names = sorted(g["names"])
        category = next((cats[b] for b in names if b in cats), None)
        category = category or next((row_cats[b] for b in names if b in row_cats), None)
        benches.append(BenchmarkEntry(name, names, category, sorted(g["metrics"]), g["n"]))
        for metric in g["metrics"]:
            metric_benches.setdefault(metric, set()).add(name)
    benches.sort(key=lambda b: (b.category is None, b.category or "", b.benchmark))
    sides: dict[tuple[str, str | None], dict[str, Any]] = {}
    stages: set[str] = set()
    sizes: dict[str, int | None] = {}
    for run, size, stage, params, n in side_rows:
        side = sides.setdefault((run, size), {"run": run, "size": size, "params": None, "n": 0})
        side["n"] += n
        side["params"] = side["params"] if side["params"] is not None else params
        if stage:
            stages.add(stage)
        if size:
            sizes[size] = sizes.get(size) if sizes.get(size) is not None else params
    side_list = [
        ResultSide(**s)
        for s in sorted(
            sides.values(), key=lambda s: (*_size_key((s["size"], s["params"])), s["run"])
        )
    ]
    return AnalysisOverview(
        n_rows=sum(n for _b, _m, n in pairs),
        benchmarks=benches,
        sides=side_list,
        metrics=sorted(metric_benches),
        metric_benchmarks={m: sorted(b) for m, b in sorted(metric_benches.items())},
        stages=sorted(stages),
        scales=[s for s, _p in sorted(sizes.items(), key=_size_key)],
        items=[
            ItemGroup(run, bench, stage, n)
            for run, bench, stage, n in sorted(item_rows, key=lambda r: str(r[:3]))
        ],
        demo=demo_datasets(side_list),
    )


def demo_datasets(sides: list[ResultSide]) -> list[str]:
    """The demo experiment's datasets in the table (demo-top-10pct, ...), top first."""
    runs = {s.run for s in sides}
    found = []
    for sel in DEMO_SELECTIONS:
        found += sorted(r for r in runs if r.startswith(f"demo-{sel}-") and r.endswith("pct"))
    return found


def defaults(conn: sqlite3.Connection, view: AnalysisOverview) -> Defaults | None:
    """Selectors to start from: the target benchmark and metric (acc where there is one, the
    benchmark with the most rows), and the sides `engine.analysis.pairing.choose` picks on it
    (trying the next benchmarks when one has no fit pair); for the demo experiment, the
    rBridge score of the small proxy against the large one's accuracy on arc-easy."""
    from engine.analysis.pairing import choose

    sides, benches = view.sides, view.benchmarks
    if not sides or not benches:
        return None
    by_n = sorted(benches, key=lambda b: -b.n)
    with_target = [b for b in by_n if any(m in b.metrics for m in TARGET_METRICS)]
    order = with_target + [b for b in by_n if b not in with_target]
    if view.demo:
        demo = [b for b in benches if normalise(b.benchmark) == normalise(DEMO_TARGET_BENCHMARK)]
        order = demo + [b for b in order if b not in demo]
    first = None
    for bench in order[:FIT_TRIES]:
        y_metric = next((m for m in TARGET_METRICS if m in bench.metrics), bench.metrics[0])
        y_rows = eval_summary.checkpoint_keys(conn, bench.names, y_metric)
        x_bench, x_metric, x_rows = bench.benchmark, y_metric, None
        for metric in DEMO_X_METRICS if view.demo else ():
            where = view.metric_benchmarks.get(metric)
            if where:
                x_bench, x_metric = where[0], metric
                names = next(b.names for b in benches if b.benchmark == x_bench)
                x_rows = eval_summary.checkpoint_keys(conn, names, metric)
                break
        pair = choose(y_rows, x_rows, prefer_runs=view.demo)
        if pair is None:
            continue
        chosen = Defaults(
            benchmark=bench.benchmark,
            x_benchmark=x_bench,
            x_run=pair.x.run,
            x_size=pair.x.size,
            x_metric=x_metric,
            y_run=pair.y.run,
            y_size=pair.y.size,
            y_metric=y_metric,
            match=pair.match,
            fit_note=pair.note,
        )
        if pair.fits:
            return chosen
        first = first or chosen
    return first
