"""The long results table summarised in SQL (for the Analysis screen's selectors and defaults):
counts grouped by benchmark and metric, by run and size, by the per-item groups, and the
checkpoint keys of the few sides a default fit is chosen from. Each is one GROUP BY or one
indexed lookup: no row of the table is read into Python (200k rows summarise in ~0.2 s)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from engine.result_fields import VALUE_FIELDS


def _tuples(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
    cur = conn.cursor()
    cur.row_factory = None
    return cur.execute(sql, args).fetchall()


def benchmark_metrics(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(benchmark, metric, rows) for every pair present (a scan of the covering index)."""
    return _tuples(
        conn,
        "SELECT benchmark, metric, COUNT(*) FROM eval_results GROUP BY benchmark, metric",
    )


def row_categories(conn: sqlite3.Connection, benchmarks: Sequence[str]) -> dict[str, str]:
    """benchmark -> the category its first row carries (a file's own category column), for
    these benchmarks: one index seek each, never a scan of their rows."""
    out = {}
    for bench in benchmarks:
        row = conn.execute(
            "SELECT category FROM eval_results WHERE benchmark = ? LIMIT 1", (bench,)
        ).fetchone()
        if row is not None and row[0] is not None:
            out[bench] = row[0]
    return out


def sides(conn: sqlite3.Connection) -> list[tuple[str, str | None, str | None, int | None, int]]:
    """(run, size, stage, params, rows) per (run, size, stage)."""
    return _tuples(
        conn,
        "SELECT run, size, stage, MAX(params), COUNT(*) FROM eval_results "
        "GROUP BY run, size, stage",
    )


def item_groups(conn: sqlite3.Connection) -> list[tuple[str, str, str | None, int]]:
    """(run, benchmark, stage, items) of the per-item results: imported items and the proxies'
    own multiple-choice items (run = the proxy's dataset or name, stage 'PT'), as
    `engine.store.evals.eval_items` reads them."""
    return _tuples(
        conn,
        "SELECT run, benchmark, stage, SUM(n) FROM ("
        "SELECT run, benchmark, stage, COUNT(*) AS n FROM eval_items "
        "GROUP BY run, benchmark, stage UNION ALL "
        "SELECT COALESCE(p.dataset, p.name), b.name, 'PT', COUNT(*) FROM mc_items m "
        "JOIN proxies p ON p.id = m.proxy_id JOIN examples e ON e.id = m.example_id "
        "JOIN benchmarks b ON b.id = e.benchmark_id GROUP BY 1, 2) GROUP BY run, benchmark, stage",
    )


def checkpoint_keys(
    conn: sqlite3.Connection, benchmarks: Sequence[str], metric: str
) -> list[tuple[str, str | None, int | None, str | None, int | None, int | None]]:
    """(run, size, params, stage, tokens, step) of the rows of one metric on these benchmarks
    (one name spelled several ways), with a value (an indexed lookup)."""
    marks = ",".join("?" * len(benchmarks))
    return _tuples(
        conn,
        f"SELECT run, size, params, stage, tokens, step FROM eval_results "
        f"WHERE benchmark IN ({marks}) AND metric = ? AND value IS NOT NULL",
        [*benchmarks, metric],
    )


FRAME_COLUMNS = ("id", *VALUE_FIELDS, "source")


def frame_rows(conn: sqlite3.Connection, benchmark: str) -> list[dict[str, Any]]:
    """The rows of one benchmark with the columns a fit or ranking frame reads (no run
    attributes: decoding their JSON was half the time of a fit's read)."""
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(
        f"SELECT {', '.join(FRAME_COLUMNS)} FROM eval_results WHERE benchmark = ? "
        "ORDER BY run, params, tokens, step, benchmark, metric, id",
        (benchmark,),
    )
    return [dict(zip(FRAME_COLUMNS, r, strict=True)) for r in cur.fetchall()]


def benchmark_names(conn: sqlite3.Connection) -> list[str]:
    """The distinct benchmark names of the stored results, sorted."""
    return [r[0] for r in _tuples(conn, "SELECT DISTINCT benchmark FROM eval_results ORDER BY 1")]
