"""Result imports (helpers of `betr results`): key clashes, per-import summaries, and the
category column of stored rows when the benchmark -> category map is edited."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

KEY_COLUMNS = ("run", "size", "tokens", "step", "stage", "benchmark", "metric")


def existing_keys(conn: sqlite3.Connection, runs: Iterable[str]) -> dict[tuple[Any, ...], Any]:
    """{(run, size, tokens, step, stage, benchmark, metric): import_id or source} of the
    stored rows of these runs."""
    out: dict[tuple[Any, ...], Any] = {}
    names = sorted(set(runs))
    for i in range(0, len(names), 500):
        chunk = names[i : i + 500]
        sql = (
            f"SELECT {', '.join(KEY_COLUMNS)}, import_id, source FROM eval_results "
            f"WHERE run IN ({','.join('?' * len(chunk))})"
        )
        for r in conn.execute(sql, chunk):
            out[tuple(r[:7])] = r[7] if r[7] is not None else r[8]
    return out


def import_summaries(conn: sqlite3.Connection) -> dict[int, dict[str, int]]:
    """{import_id: {runs, benchmarks, metrics}} (distinct counts of its rows)."""
    return {
        r[0]: {"runs": r[1], "benchmarks": r[2], "metrics": r[3]}
        for r in conn.execute(
            "SELECT import_id, COUNT(DISTINCT run), COUNT(DISTINCT benchmark), "
            "COUNT(DISTINCT metric) FROM eval_results WHERE import_id IS NOT NULL "
            "GROUP BY import_id"
        )
    }


def totals(conn: sqlite3.Connection) -> dict[str, int]:
    r = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT run), COUNT(DISTINCT benchmark), COUNT(DISTINCT metric) "
        "FROM eval_results"
    ).fetchone()
    return {"rows": r[0], "runs": r[1], "benchmarks": r[2], "metrics": r[3]}


def set_row_categories(conn: sqlite3.Connection, mapping: Mapping[str, str]) -> int:
    """(inside a transaction) The category column of stored rows of these benchmarks."""
    n = 0
    for bench, cat in sorted(mapping.items()):
        n += conn.execute(
            "UPDATE eval_results SET category = ? WHERE benchmark = ?", (cat, bench)
        ).rowcount
    return n
