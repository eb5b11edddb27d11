"""Evaluation results read column by column (for the analysis layer's polars frames): one list
per column instead of one dict per row, only the rows of the metrics asked for, and run
attributes (JSON) read and decoded by a separate call only when a protocol needs them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from engine.result_fields import VALUE_FIELDS

COLUMNS = VALUE_FIELDS


def eval_result_columns(
    conn: sqlite3.Connection,
    *,
    metric: str | Sequence[str] | None = None,
    benchmark: str | None = None,
) -> dict[str, list[Any]]:
    """{column: [values]} for COLUMNS (run, size, params, tokens, step, stage, benchmark,
    category, metric, value) of the rows with this metric (or any of these metrics) and
    benchmark; None filters nothing."""
    where, args = _where(metric, benchmark)
    cur = conn.cursor()
    cur.row_factory = None  # plain tuples: no per-row Row/dict objects
    cur.execute(f"SELECT {', '.join(COLUMNS)} FROM eval_results{where} ORDER BY id", args)
    rows = cur.fetchall()
    if not rows:
        return {c: [] for c in COLUMNS}
    return {c: list(col) for c, col in zip(COLUMNS, zip(*rows, strict=True), strict=True)}


def eval_result_attrs(
    conn: sqlite3.Connection,
    *,
    metric: str | Sequence[str] | None = None,
    benchmark: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """(run, attrs decoded) of the rows that carry run attributes, in the order of
    engine.store.evals.eval_results (run, params, tokens, step, benchmark, metric, id); each
    distinct JSON text is decoded once."""
    where, args = _where(metric, benchmark)
    cond = " AND attrs IS NOT NULL" if where else " WHERE attrs IS NOT NULL"
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(
        f"SELECT run, attrs FROM eval_results{where}{cond} "
        "ORDER BY run, params, tokens, step, benchmark, metric, id",
        args,
    )
    decoded: dict[str, Any] = {}
    out = []
    for run, text in cur.fetchall():
        if text not in decoded:
            decoded[text] = json.loads(text)
        if decoded[text]:
            out.append((run, decoded[text]))
    return out


def eval_metrics(conn: sqlite3.Connection) -> list[str]:
    """The distinct metrics of the stored results, sorted."""
    return [r[0] for r in conn.execute("SELECT DISTINCT metric FROM eval_results ORDER BY 1")]


def _where(metric: str | Sequence[str] | None, benchmark: str | None) -> tuple[str, list[Any]]:
    where, args = [], []
    if metric is not None:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        where.append(f"metric IN ({','.join('?' * len(metrics))})")
        args.extend(metrics)
    if benchmark is not None:
        where.append("benchmark = ?")
        args.append(benchmark)
    return (" WHERE " + " AND ".join(where)) if where else "", args
