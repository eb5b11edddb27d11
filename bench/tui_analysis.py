"""The Analysis screen: opening it over a large results table, and the Correlations heatmap's
cursor move.

Open (issue #18), on `--rows` result rows (default 200 000, shaped like Pythia + DCLM: a model
suite with 27 checkpoints per model, and hundreds of data pools with one checkpoint per size):

1. engine: `analysis_views.overview` (the selectors and their defaults, counted in SQL) against
   the overview before #18 (every row read into Python and grouped there), in the same run;
   then the Fit tab's default `fit`;
2. TUI (headless, 160x48): from the key `6` to the Fit tab showing its content (a fit or the
   note saying what to pick), against the same key on an empty workspace (Textual's own cost of
   building the screen), median of --opens fresh apps.

Heatmap cursor (issue #11), on a 60 x 60 benchmark matrix:

3. TUI: from the arrow key to the end of the first frame that shows the cursor on its new cell,
   against a keystroke into an Input (the floor of a key-to-frame round trip), median of 40;
4. the widget work alone: the move plus drawing every visible line.

    .venv/bin/python -m bench.tui_analysis [--rows 200000] [--opens 3] [--skip-open|--skip-heatmap]
    .venv/bin/python -m bench.tui_analysis --real     # ../shared/data's Pythia + DCLM results

Goals: the Analysis screen open under 1 s at 200k rows; the heatmap's cursor move under 30 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from bench.tui import report
from engine.workspace import Workspace

GOAL_MS = 30.0
OPEN_GOAL_MS = 1000.0
N = 60
CATEGORIES = ("commonsense", "science", "NLI", "semantic", "math", "code")


def matrix(n: int = N, seed: int = 0) -> dict:
    """A {rows, cols, r, p, n} matrix like `corr(..., "matrix")` returns, random but valid."""
    rng = np.random.default_rng(seed)
    names = [f"bench-{k:02d}" for k in range(n)]
    cats = [CATEGORIES[k * len(CATEGORIES) // n] for k in range(n)]
    r = np.clip(rng.normal(0, 0.5, (n, n)), -1, 1)
    r = (r + r.T) / 2
    np.fill_diagonal(r, 1.0)
    obj = r.astype(object)
    obj[3, :] = None  # one n/a row and column (a constant benchmark)
    obj[:, 3] = None
    p = np.full((n, n), 0.01).astype(object)
    return {
        "kind": "PT-PT",
        "scale": "1B",
        "stage": "PT",
        "rows": names,
        "cols": names,
        "r": obj.tolist(),
        "p": p.tolist(),
        "n": [[400] * n] * n,
        "row_categories": cats,
        "col_categories": cats,
    }


async def bench() -> None:
    from textual.app import App, ComposeResult
    from textual.screen import Screen
    from textual.widgets import Input

    from tui.screens.analysis.heatmap import Heatmap

    painted: list[float] = []
    waiting: list[Callable[[], bool]] = []
    refresh = Screen._compositor_refresh

    def timed_refresh(self) -> None:
        refresh(self)
        if waiting and not painted and waiting[0]():
            painted.append(time.perf_counter())

    Screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]

    class HeatmapApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Input(id="input")
            yield Heatmap(id="map")

        def on_mount(self) -> None:
            self.query_one(Heatmap).show(matrix())

    app = HeatmapApp()
    async with app.run_test(size=(160, 48)) as pilot:
        heatmap = app.query_one(Heatmap)

        async def press_ms(key: str, done: Callable[[], bool]) -> float:
            t0 = time.perf_counter()
            painted.clear()
            waiting.append(done)
            await pilot.press(key)
            while not painted:
                await asyncio.sleep(0.001)
            await pilot.pause()
            waiting.clear()
            return (painted[0] - t0) * 1000

        await pilot.pause(0.5)
        app.query_one(Input).focus()
        base = []
        for ch in "1234567890" * 2:
            base.append(await press_ms(ch, lambda c=ch: app.query_one(Input).value.endswith(c)))
        heatmap.focus()
        await pilot.pause()
        moves = []
        for k in range(40):
            key = ("down", "right")[k % 2] if k < 30 else ("up", "left")[k % 2]
            before = heatmap.cursor
            moves.append(await press_ms(key, lambda b=before: heatmap.cursor != b))
        print(f"-- TUI (headless, 160x48): {N}x{N} matrix, cell width {heatmap.cell_w}")
        report(
            "cursor move (TUI)",
            statistics.median(moves),
            "Input keystroke",
            statistics.median(base),
        )
        goal = statistics.median(moves) < GOAL_MS
        print(f"goal < {GOAL_MS:.0f} ms: {'ok' if goal else 'MISSED'}")

        def move_and_draw() -> None:
            heatmap.action_move(1 if heatmap.cursor[0] < N - 2 else -N + 2, 0)
            for y in range(heatmap.size.height):
                heatmap.render_line(y)

        times = []
        for _ in range(50):
            t0 = time.perf_counter()
            move_and_draw()
            times.append((time.perf_counter() - t0) * 1000)
        heatmap._cache.clear()
        t0 = time.perf_counter()
        for y in range(heatmap.size.height):
            heatmap.render_line(y)
        full = (time.perf_counter() - t0) * 1000
        print("-- widget work alone: the move plus every visible line (cached lines reused)")
        report("move + draw", statistics.median(times), "full redraw", full)


# -- opening the Analysis screen over a large results table ---------------------------------------
SUITE_SIZES = (
    ("70M", 70e6),
    ("160M", 160e6),
    ("410M", 410e6),
    ("1B", 1e9),
    ("1.4B", 1.4e9),
    ("2.8B", 2.8e9),
    ("6.9B", 6.9e9),
    ("12B", 12e9),
)
POOL_SIZES = (("412M", 412e6), ("1.4B", 1.4e9), ("6.9B", 6.9e9))


def result_rows(n_rows: int, seed: int = 0):
    """About n_rows long rows, yielded in chunks: a Pythia-like suite (8 sizes x 2 variants,
    27 checkpoints, 2 metrics per benchmark) and DCLM-like pools (one checkpoint per size, most
    at 1.4B, some also at 412M or 6.9B), over 60 benchmarks, half of the rows each."""
    rng = np.random.default_rng(seed)
    benches = [f"task_{k:02d}" for k in range(60)]
    steps = [1000 * k for k in range(1, 28)]
    per_model = len(steps) * len(benches) * 2
    n_models = max(1, n_rows // 2 // per_model)
    chunk: list[dict[str, Any]] = []
    for m in range(n_models):
        size, params = SUITE_SIZES[m % len(SUITE_SIZES)]
        run = f"suite-{size.lower()}" + ("-deduped" if (m // len(SUITE_SIZES)) % 2 else "")
        run += f"-v{m // (2 * len(SUITE_SIZES))}" if m >= 2 * len(SUITE_SIZES) else ""
        for step in steps:
            for b in benches:
                acc = float(
                    np.clip(0.25 + 0.05 * np.log10(params / 7e7) + rng.normal(0, 0.01), 0, 1)
                )
                base = {
                    "run": run,
                    "size": size,
                    "params": int(params),
                    "tokens": step * 2_097_152,
                    "step": step,
                    "stage": "PT",
                    "benchmark": b,
                    "source": "bench",
                }
                chunk += [
                    {**base, "metric": "acc", "value": acc},
                    {**base, "metric": "acc_norm", "value": acc + 0.01},
                ]
            if len(chunk) >= 20_000:
                yield chunk
                chunk = []
    pool = 0
    while n_models * per_model + pool * len(benches) * 2 * 1.4 < n_rows:
        sizes = [POOL_SIZES[1]] + ([POOL_SIZES[2]] if pool % 4 == 0 else [])
        sizes += [POOL_SIZES[0]] if pool % 7 == 0 else []
        for size, params in sizes:
            for b in benches:
                acc = float(rng.uniform(0.25, 0.7))
                base = {
                    "run": f"pool_{pool:04d}_[fasttext]-wd=0p033",
                    "size": size,
                    "params": int(params),
                    "tokens": int(params * 20),
                    "stage": "PT",
                    "benchmark": b,
                    "source": "bench",
                }
                chunk += [
                    {**base, "metric": "acc", "value": acc},
                    {**base, "metric": "perplexity", "value": 10 - 5 * acc},
                ]
        pool += 1
        if len(chunk) >= 20_000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build_results(root: Path, n_rows: int, real: bool) -> Workspace:
    from engine.store import evals
    from engine.store.db import transaction

    ws = Workspace.init(root)
    if real:
        from engine.api.results import import_results

        data = Path(os.environ.get("BETR_SHARED_DATA", Path(__file__).parents[2] / "shared/data"))
        import_results(ws, [str(data / "eval_results" / "pythia")], "lm-eval")
        import_results(ws, [str(data / "eval_results" / "dclm")], "dclm")
        return ws
    with closing(ws.connect()) as conn:
        for chunk in result_rows(n_rows):
            with transaction(conn):
                evals.insert_eval_results(conn, chunk)
    return ws


def overview_before_18(workspace: Workspace) -> dict[str, Any]:
    """The baseline: the overview as it was before #18, every row read into Python (with its
    attributes decoded) and grouped there, plus every per-item row (logliks decoded)."""
    from engine.store import evals

    with closing(workspace.connect(readonly=True)) as conn:
        rows = evals.all_eval_results(conn)
        evals.categories(conn)
        evals.eval_items(conn)
    benches: dict[str, dict[str, Any]] = {}
    sides: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        b = benches.setdefault(r["benchmark"], {"metrics": set(), "n": 0})
        b["metrics"].add(r["metric"])
        b["n"] += 1
        side = sides.setdefault((r["run"], r["size"]), {"n": 0, "metrics": set()})
        side["n"] += 1
        side["metrics"].add((r["benchmark"], r["metric"]))
    return {"n_rows": len(rows), "benchmarks": benches, "sides": sides}


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


async def open_ms(workspace: Workspace) -> float:
    """A fresh app on `workspace`: ms from the key 6 to the Fit tab showing its content."""
    from tui.app import BetrApp
    from tui.screens.analysis.screen import AnalysisScreen

    app = BetrApp(workspace, probe_device=lambda preference: "cpu (bench)")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        t0 = time.perf_counter()
        await pilot.press("6")
        while True:
            screen = app.screen
            if isinstance(screen, AnalysisScreen) and screen.view is not None:
                if not screen.view.n_rows:
                    break  # the empty workspace: its empty state is the content
                text = str(screen.query_one("#an-fit-empty").content)
                if "fit" in screen.results or (text and "fitting" not in text):
                    break
            if time.perf_counter() - t0 > 120:
                raise RuntimeError("the Analysis screen did not settle in 120 s")
            await asyncio.sleep(0.002)
        return (time.perf_counter() - t0) * 1000


def bench_open(n_rows: int, opens: int, real: bool) -> None:
    from engine.api.analysis_fit import FitRequest, fit
    from engine.api.analysis_views import overview

    with tempfile.TemporaryDirectory(prefix="betr-bench-analysis-") as tmp:
        t0 = time.perf_counter()
        ws = build_results(Path(tmp) / "ws", n_rows, real)
        empty = Workspace.init(Path(tmp) / "empty")
        view = overview(ws)
        d = view.defaults
        assert d is not None  # the built results have sides and benchmarks
        kind = "real: Pythia + DCLM" if real else "generated"
        print(
            f"-- Analysis open: {view.n_rows:,} result rows ({kind}), "
            f"{len(view.sides)} (run, size) sides, {len(view.benchmarks)} benchmarks; "
            f"built in {time.perf_counter() - t0:.1f} s"
        )
        print(
            f"   default: x {d.x_run} {d.x_size}, y {d.y_run} {d.y_size}, "
            f"{d.benchmark} {d.y_metric}, match {d.match}"
            + (" (no fit: a note says what to pick)" if d.fit_note else "")
        )
        repeat = 3
        ours = best_ms(lambda: overview(ws), repeat)
        base = best_ms(lambda: overview_before_18(ws), repeat)
        report("overview (engine)", ours, "rows grouped in Python (before #18)", base)
        if not d.fit_note:
            args = {
                "benchmark": d.benchmark,
                "x_run": d.x_run,
                "x_metric": d.x_metric,
                "y_run": d.y_run,
                "y_metric": d.y_metric,
                "x_size": d.x_size,
                "y_size": d.y_size,
                "match": d.match,
            }
            fit_ms = best_ms(lambda: fit(ws, FitRequest(**args)), repeat)
            print(f"default fit (engine, warm) {fit_ms:9.2f} ms")
        tui, floor = [], []
        for _ in range(opens):  # fresh apps, alternating: load on a shared machine hits both
            tui.append(asyncio.run(open_ms(ws)))
            floor.append(asyncio.run(open_ms(empty)))
        print(
            f"   opens (ms): {', '.join(f'{t:.0f}' for t in tui)}; empty workspace: "
            f"{', '.join(f'{t:.0f}' for t in floor)}"
        )
        med, base_med = statistics.median(tui), statistics.median(floor)
        report("open Analysis (TUI)", med, "the same key, empty workspace", base_med)
        print(
            f"goal < {OPEN_GOAL_MS:.0f} ms: {'ok' if med < OPEN_GOAL_MS else 'MISSED'}; the "
            f"data's share (open minus the empty workspace's) {med - base_med:.0f} ms, which "
            "includes importing polars and scipy (the first open in a process)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--real", action="store_true", help="../shared/data's Pythia + DCLM")
    parser.add_argument("--skip-open", action="store_true")
    parser.add_argument("--skip-heatmap", action="store_true")
    args = parser.parse_args()
    if not args.skip_open:
        bench_open(args.rows, args.opens, args.real)
    if not args.skip_heatmap:
        asyncio.run(bench())


if __name__ == "__main__":
    main()
