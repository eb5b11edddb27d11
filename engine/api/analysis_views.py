"""What the Analysis screen can offer, read in one go: the runs, sizes, stages, benchmarks and
metrics of the long results table, the (run, benchmark) pairs with per-item results, and
sensible defaults for the selectors (the demo experiment's naming when present).

Read-only; grouped in plain Python (no polars: the TUI imports this module at startup).
"""

from __future__ import annotations

from contextlib import closing
from typing import Any

from engine.store import evals
from engine.workspace import Workspace

DEMO_SELECTIONS = ("top", "random", "bottom")
DEMO_TARGET_BENCHMARK = "arc-easy"
# the proxy metric the demo's fit reads, first one present wins
DEMO_X_METRICS = ("rbridge_trace", "rbridge_benchmark", "bpb", "bpb_prompted")
TARGET_METRICS = ("acc", "acc_norm", "acc_per_char", "acc_bytes", "accuracy", "exact_match")


def _size_key(item: tuple[str | None, int | None]) -> tuple[Any, ...]:
    size, params = item
    return (params is None, params or 0, size or "")


def overview(workspace: Workspace) -> dict[str, Any]:
    """{n_rows, benchmarks [{benchmark, category, metrics, n}] (by category, then name),
    sides [{run, size, params, n}] (runs with their sizes, smallest first), metrics, stages,
    scales, metric_benchmarks {metric: [benchmarks]}, items [{run, benchmark, stage, n}]
    (per-item results for calibration), demo (the demo experiment's datasets present),
    defaults {benchmark, x_benchmark, x_run, x_size, x_metric, y_run, y_size, y_metric}}."""
    with closing(workspace.connect(readonly=True)) as conn:
        rows = evals.all_eval_results(conn)
        cats = evals.categories(conn)
        item_rows = evals.eval_items(conn)
    benches: dict[str, dict[str, Any]] = {}
    sides: dict[tuple[str, str | None], dict[str, Any]] = {}
    stages: set[str] = set()
    sizes: dict[str, int | None] = {}
    metric_benches: dict[str, set[str]] = {}
    for r in rows:
        b = benches.setdefault(
            r["benchmark"],
            {"benchmark": r["benchmark"], "category": r.get("category") or cats.get(r["benchmark"]),
             "metrics": set(), "n": 0},
        )  # fmt: skip
        b["metrics"].add(r["metric"])
        b["n"] += 1
        side = sides.setdefault(
            (r["run"], r.get("size")),
            {"run": r["run"], "size": r.get("size"), "params": r.get("params"), "n": 0,
             "metrics": set()},
        )  # fmt: skip
        side["n"] += 1
        side["metrics"].add((r["benchmark"], r["metric"]))
        if r.get("stage"):
            stages.add(r["stage"])
        if r.get("size"):
            known = sizes.get(r["size"])
            sizes[r["size"]] = known if known is not None else r.get("params")
        metric_benches.setdefault(r["metric"], set()).add(r["benchmark"])
    bench_list = sorted(
        ({**b, "metrics": sorted(b["metrics"])} for b in benches.values()),
        key=lambda b: (b["category"] is None, b["category"] or "", b["benchmark"]),
    )
    side_list = sorted(
        ({**s, "metrics": sorted(s["metrics"])} for s in sides.values()),
        key=lambda s: (*_size_key((s["size"], s["params"])), s["run"]),
    )
    items: dict[tuple[str, str, str | None], int] = {}
    for it in item_rows:
        key = (it["run"], it["benchmark"], it.get("stage"))
        items[key] = items.get(key, 0) + 1
    out = {
        "n_rows": len(rows),
        "benchmarks": bench_list,
        "sides": side_list,
        "metrics": sorted(metric_benches),
        "metric_benchmarks": {m: sorted(b) for m, b in sorted(metric_benches.items())},
        "stages": sorted(stages),
        "scales": [s for s, _p in sorted(sizes.items(), key=_size_key)],
        "items": [
            {"run": run, "benchmark": bench, "stage": stage, "n": n}
            for (run, bench, stage), n in sorted(items.items(), key=lambda kv: str(kv[0]))
        ],
    }
    out["demo"] = demo_datasets(side_list)
    out["defaults"] = defaults(out)
    return out


def demo_datasets(sides: list[dict[str, Any]]) -> list[str]:
    """The demo experiment's datasets in the table (demo-top-10pct, ...), top first."""
    runs = {s["run"] for s in sides}
    found = []
    for sel in DEMO_SELECTIONS:
        found += sorted(r for r in runs if r.startswith(f"demo-{sel}-") and r.endswith("pct"))
    return found


def _has(side: dict[str, Any], benchmark: str, metric: str) -> bool:
    return (benchmark, metric) in {tuple(m) for m in side["metrics"]}


def defaults(view: dict[str, Any]) -> dict[str, Any]:
    """Selectors to start from: the target benchmark and metric (acc where there is one), the
    target side at the largest size and the proxy side at the next size below it; for the demo
    experiment, the rBridge score of the small proxy against the large one's accuracy on
    arc-easy."""
    sides, benches = view["sides"], view["benchmarks"]
    if not sides or not benches:
        return {}
    by_n = sorted(benches, key=lambda b: -b["n"])
    target_bench = by_n[0]["benchmark"]
    if view["demo"] and any(b["benchmark"] == DEMO_TARGET_BENCHMARK for b in benches):
        target_bench = DEMO_TARGET_BENCHMARK
    else:
        for b in by_n:
            if any(m in b["metrics"] for m in TARGET_METRICS):
                target_bench = b["benchmark"]
                break
    tb = next(b for b in benches if b["benchmark"] == target_bench)
    y_metric = next((m for m in TARGET_METRICS if m in tb["metrics"]), tb["metrics"][0])
    run = view["demo"][0] if view["demo"] else min(s["run"] for s in sides)
    mine = [s for s in sides if s["run"] == run]
    with_y = [s for s in mine if _has(s, target_bench, y_metric)] or mine
    y_side = with_y[-1]
    x_bench, x_metric = target_bench, y_metric
    x_candidates = [s for s in mine if s["run"] == y_side["run"] and s is not y_side] or [
        s for s in mine if s is not y_side
    ]
    # the next size below the target's: the one most likely trained at the same token counts
    x_side = x_candidates[-1] if x_candidates else y_side
    for metric in DEMO_X_METRICS if view["demo"] else ():
        pairs = [tuple(m) for m in x_side["metrics"] if m[1] == metric]
        if pairs:
            x_bench, x_metric = pairs[0]
            break
    return {
        "benchmark": target_bench,
        "x_benchmark": x_bench,
        "x_run": x_side["run"],
        "x_size": x_side["size"],
        "x_metric": x_metric,
        "y_run": y_side["run"],
        "y_size": y_side["size"],
        "y_metric": y_metric,
    }
