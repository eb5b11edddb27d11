"""The Documents screen's frequency table (`F`) at a million docs: the engine's table against a
bare polars group-by of the same columns, and the TUI's key-to-frame time (goal: under 100 ms).

1. engine (median of 5): `frequency_of_view` of a text column (meta.lang), the benchmark, and
   two binned numeric columns (tokens, prob), each over the whole view and over the kept view,
   against a bare `polars` group-by (count and token sum) of the same codes and tokens;
   once: reading a metadata field from the docs (its one-off cost before it is packed);
2. TUI (headless, 160x48): from `F` to the frame showing the table of the sort column (the
   field already read; the table opens on the column the list is sorted by, in a panel that
   takes the list's place), and once the first F of a metadata field, which reads it from the
   docs and packs it.

    .venv/bin/python -m bench.frequency                 # 1M docs (built once, then reused)
    .venv/bin/python -m bench.frequency --docs 20000 --json
    .venv/bin/python -m bench.frequency --readonly /path/ws --run 1 --field meta.source

`--readonly WS` measures the engine part on an existing workspace without writing to it (no
migration, the field is not packed: it is read from the docs each time the bench runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.keyframe import KeyFrameTimer
from bench.synth_run import make_synthetic_run
from engine.api.browse import Query, load_run_index, make_view
from engine.api.columns import column, ensure_fields, sort_spec
from engine.api.frequency import frequency_of_view
from engine.workspace import Workspace

GOAL_MS = 100.0
REPEAT = 5


def median_ms(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def build(path: Path, n_docs: int) -> Workspace:
    if (path / "betr.sqlite").exists():
        ws = Workspace.open(path)
        conn = ws.connect(readonly=True)
        n = conn.execute("SELECT COUNT(*) FROM prob_order WHERE run_id = 1").fetchone()[0]
        conn.close()
        if n == n_docs:
            return ws
        import shutil

        shutil.rmtree(path)
    t0 = time.perf_counter()
    ws = Workspace.init(path)
    make_synthetic_run(ws, n_docs, n_sample=min(100_000, max(10, n_docs // 10)), seed=0)
    print(f"built {n_docs:,} docs in {time.perf_counter() - t0:.0f} s at {path}", flush=True)
    return ws


def bare_group_by(codes: np.ndarray, tokens: np.ndarray) -> Any:
    """The baseline: polars' group-by of the same codes with a count and a token sum."""
    import polars as pl

    return (
        pl.DataFrame({"code": codes, "tokens": tokens})
        .group_by("code")
        .agg(pl.len(), pl.col("tokens").sum())
    )


def engine_rows(ws: Workspace, run_id: int, field: str, *, store: bool) -> list[dict[str, Any]]:
    from engine.betr.frequency import column_codes

    rows: list[dict[str, Any]] = []
    conn = ws.connect(readonly=True)
    try:
        index = load_run_index(conn, run_id)
        t0 = time.perf_counter()
        ensure_fields(conn, index, [field], workspace=ws if store else None)
        read_ms = (time.perf_counter() - t0) * 1000
        rows.append(
            {
                "step": f"read {field}",
                "docs": len(index),
                "ours_ms": read_ms,
                "baseline": None,
                "baseline_ms": None,
                "ratio": None,
                "detail": "once per corpus and field (then packed in the workspace)"
                if store
                else "read-only workspace: not packed",
            }
        )
        for kept in (None, "kept"):
            view = make_view(conn, index, Query(kept=kept))
            for name in (field, "benchmark", "tokens", "prob"):
                col = column(name)
                codes = column_codes(index, col)[0][view.rows]
                tokens = index.n_tokens[view.rows]
                ours = median_ms(lambda n=name, v=view: frequency_of_view(None, index, v, n))
                base = median_ms(lambda c=codes, t=tokens: bare_group_by(c, t))
                rows.append(
                    {
                        "step": f"freq {name}" + (" (kept view)" if kept else ""),
                        "docs": len(view),
                        "ours_ms": ours,
                        "baseline": "bare polars group-by (count, token sum) of the same codes",
                        "baseline_ms": base,
                        "ratio": base / ours if ours else None,
                        "detail": "binned" if col.binning else "",
                    }
                )
    finally:
        conn.close()
    return rows


async def tui_rows(ws: Workspace, field: str) -> list[dict[str, Any]]:
    from tui.app import BetrApp
    from tui.screens.documents.browsing import FrequencyPanel

    timer = KeyFrameTimer()
    app = BetrApp(ws, probe_device=lambda _pref: "cpu (bench)")
    rows: list[dict[str, Any]] = []
    async with timer, app.run_test(size=(160, 48)) as pilot:
        await timer.until(lambda: app.session.run_id is not None)
        await pilot.press("3")
        await timer.until(
            lambda: (
                getattr(app.screen, "view", None) is not None
                and app.screen.doclist.row_at(0) is not None
            )
        )
        documents = app.screen
        n = len(documents.index)
        panel = documents.query_one(FrequencyPanel)

        def table_of(name: str) -> Callable[[], bool]:
            def shown() -> bool:
                return panel.is_open and panel.table is not None and panel.table.column == name

            return shown

        async def close() -> None:
            await pilot.press("escape")
            await timer.until(lambda: not panel.is_open)

        async def sorted_by(name: str) -> None:
            """The list sorted by `name`: F opens on the sort column."""
            descending = column(name).descending
            documents.request(replace(documents.wanted, sort=sort_spec(name, descending)))
            await timer.until(lambda: documents.view.query.sort == sort_spec(name, descending))

        # the first time the field is read from the docs (and packed): its cold cost
        await sorted_by(field)
        t0 = time.perf_counter()
        await timer.press_ms(pilot, "F", table_of(field))
        cold = (time.perf_counter() - t0) * 1000
        await close()
        shown: dict[str, list[float]] = {field: [], "benchmark": [], "tokens": []}
        for name in shown:
            await sorted_by(name)
            for _ in range(REPEAT):
                shown[name].append(await timer.press_ms(pilot, "F", table_of(name)))
                await close()
        for name, times in shown.items():
            ms = statistics.median(times)
            rows.append(
                {
                    "step": f"TUI F -> table of {name}",
                    "docs": n,
                    "ours_ms": ms,
                    "baseline": None,
                    "baseline_ms": None,
                    "ratio": None,
                    "detail": f"goal < {GOAL_MS:.0f} ms: " + ("ok" if ms < GOAL_MS else "MISSED"),
                }
            )
        rows.append(
            {
                "step": f"TUI first table of {field}",
                "docs": n,
                "ours_ms": cold,
                "baseline": None,
                "baseline_ms": None,
                "ratio": None,
                "detail": "reads the field from the docs and packs it (once per corpus)",
            }
        )
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        base = ""
        if r["baseline_ms"] is not None:
            base = f"   baseline {r['baseline_ms']:8.2f} ms   ratio {r['ratio']:5.2f}x"
        docs = f"{r['docs']:>9,}" if r["docs"] is not None else " " * 9
        detail = f"   {r['detail']}" if r["detail"] else ""
        print(f"{r['step']:<34} {docs} docs {r['ours_ms']:9.2f} ms{base}{detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--readonly", type=Path, default=None, help="An existing workspace.")
    parser.add_argument("--run", type=int, default=1)
    parser.add_argument("--field", default="meta.lang")
    parser.add_argument("--no-tui", action="store_true", help="Engine numbers only.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.readonly is not None:
        # not Workspace.open: it would migrate the workspace; only read-only connections here
        ws = Workspace(args.readonly.resolve())
        rows = engine_rows(ws, args.run, args.field, store=False)
    else:
        path = args.workspace or Path(f"/tmp/betr-bench-freq-{args.docs}")
        os.environ.setdefault("BETR_CONFIG", str(path / "no-config.toml"))
        ws = build(path, args.docs)
        rows = engine_rows(ws, args.run, args.field, store=False)
        if not args.no_tui:
            rows += asyncio.run(tui_rows(ws, args.field))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"-- frequency tables (median of {REPEAT}; ratio = baseline time / ours)")
        print_rows(rows)


if __name__ == "__main__":
    main()
