"""Evaluation results in one long shape (`eval_results`: run, size, tokens, step, stage,
benchmark, metric, value, ...) and per-item multiple-choice log-likelihoods (`mc_items`)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from engine.result_fields import ITEM_FIELDS, RESULT_FIELDS

RESULT_KEYS = (*RESULT_FIELDS, "proxy_id", "job_id", "import_id")
ITEM_KEYS = (*ITEM_FIELDS, "import_id")


def insert_eval_results(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """(inside a transaction) Long-shape rows; missing keys are NULL, attrs a dict or None."""
    now = time.time()
    values = []
    for r in rows:
        row = dict(r)
        if row.get("attrs") is not None:
            row["attrs"] = json.dumps(row["attrs"], sort_keys=True)
        values.append((*(row.get(k) for k in RESULT_KEYS), now))
    conn.executemany(
        f"INSERT INTO eval_results ({', '.join(RESULT_KEYS)}, created_at) "
        f"VALUES ({', '.join('?' * (len(RESULT_KEYS) + 1))})",
        values,
    )
    return len(values)


def delete_eval_results(
    conn: sqlite3.Connection,
    *,
    proxy_id: int | None = None,
    benchmark: str | None = None,
    metrics: Sequence[str] | None = None,
    source: str | None = None,
) -> int:
    """(inside a transaction) Rows matching every given filter (at least one filter)."""
    where, args = [], []
    for col, value in (("proxy_id", proxy_id), ("benchmark", benchmark), ("source", source)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    if metrics:
        where.append(f"metric IN ({','.join('?' * len(metrics))})")
        args.extend(metrics)
    if not where:
        raise ValueError("delete_eval_results needs a filter")
    return conn.execute(f"DELETE FROM eval_results WHERE {' AND '.join(where)}", args).rowcount


def eval_results(
    conn: sqlite3.Connection,
    *,
    benchmark: str | None = None,
    metric: str | None = None,
    proxy_id: int | None = None,
    run: str | None = None,
) -> list[dict[str, Any]]:
    where, args = [], []
    for col, value in (
        ("benchmark", benchmark),
        ("metric", metric),
        ("proxy_id", proxy_id),
        ("run", run),
    ):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    sql = f"SELECT id, {', '.join(RESULT_KEYS)} FROM eval_results"
    if where:
        sql += " WHERE " + " AND ".join(where)
    out = []
    for r in conn.execute(sql + " ORDER BY run, params, tokens, step, benchmark, metric, id", args):
        d = dict(r)
        d["attrs"] = json.loads(d["attrs"]) if d["attrs"] else None
        out.append(d)
    return out


def upsert_mc_items(
    conn: sqlite3.Connection,
    proxy_id: int,
    rows: Sequence[tuple[int, int, str, str, int | None, str]],
) -> None:
    """(inside a transaction) (example_id, gold, logliks JSON, n_chars JSON, job_id, bos) per
    item; n_chars: the characters of each continuation as scored (the delimiter counted)."""
    conn.executemany(
        "INSERT OR REPLACE INTO mc_items (proxy_id, example_id, gold, logliks, n_chars, job_id, "
        "bos) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(proxy_id, *r) for r in rows],
    )


def mc_item_rows(
    conn: sqlite3.Connection, proxy_id: int, benchmark_id: int | None = None
) -> list[dict[str, Any]]:
    """Per-item log-likelihoods of a proxy (on one benchmark), in example order, with the
    example's own id (ext_id), choices (list) and the BOS convention the item was scored
    under."""
    sql = (
        "SELECT m.example_id, e.ext_id, e.benchmark_id, m.gold, m.logliks, m.n_chars, m.bos, e.choices "
        "FROM mc_items m JOIN examples e ON e.id = m.example_id WHERE m.proxy_id = ?"
    )
    args: list[Any] = [proxy_id]
    if benchmark_id is not None:
        sql += " AND e.benchmark_id = ?"
        args.append(benchmark_id)
    out = []
    for r in conn.execute(sql + " ORDER BY e.benchmark_id, e.idx", args):
        d = dict(r)
        d["logliks"] = json.loads(d["logliks"])
        d["n_chars"] = json.loads(d["n_chars"])
        d["choices"] = json.loads(d["choices"]) if d["choices"] else None
        out.append(d)
    return out


def mc_done_example_ids(
    conn: sqlite3.Connection, proxy_id: int, benchmark_id: int, bos: str = "auto"
) -> set[int]:
    """Examples of the benchmark this proxy already has items for, scored under `bos`."""
    return {
        r[0]
        for r in conn.execute(
            "SELECT m.example_id FROM mc_items m JOIN examples e ON e.id = m.example_id "
            "WHERE m.proxy_id = ? AND e.benchmark_id = ? AND m.bos = ?",
            (proxy_id, benchmark_id, bos),
        )
    }


def finish_import(
    conn: sqlite3.Connection, import_id: int, *, n_rows: int, n_items: int, n_dropped: int
) -> None:
    conn.execute(
        "UPDATE result_imports SET n_rows = ?, n_items = ?, n_dropped = ? WHERE id = ?",
        (n_rows, n_items, n_dropped, import_id),
    )


def list_imports(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every result import with its state: 'done', or 'staging' / 'deleting' while a
    process writes or removes its rows (engine.store.result_imports)."""
    out = []
    for r in conn.execute("SELECT * FROM result_imports ORDER BY id"):
        d = dict(r)
        d["sources"] = json.loads(d["sources"])
        out.append(d)
    return out


def insert_eval_items(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """(inside a transaction) Per-item rows; `logliks` a list, `choices` a list or None (both
    stored as JSON)."""
    now = time.time()
    values = []
    for r in rows:
        row = dict(r)
        row["logliks"] = json.dumps([float(x) for x in row["logliks"]])
        if row.get("choices") is not None:
            row["choices"] = json.dumps(list(row["choices"]), ensure_ascii=False)
        values.append((*(row.get(k) for k in ITEM_KEYS), now))
    conn.executemany(
        f"INSERT INTO eval_items ({', '.join(ITEM_KEYS)}, created_at) "
        f"VALUES ({', '.join('?' * (len(ITEM_KEYS) + 1))})",
        values,
    )
    return len(values)


def eval_items(
    conn: sqlite3.Connection,
    *,
    run: str | None = None,
    benchmark: str | None = None,
    stage: str | None = None,
) -> list[dict[str, Any]]:
    """Per-item rows (logliks decoded), imported items and the proxies' own (mc_items)
    together: a proxy's items carry run = its dataset (or name), stage 'PT'."""
    where, args = [], []
    for col, value in (("run", run), ("benchmark", benchmark), ("stage", stage)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    sql = (
        "SELECT * FROM (SELECT run, size, params, tokens, step, stage, benchmark, item, gold, "
        "logliks, source FROM eval_items UNION ALL "
        "SELECT COALESCE(p.dataset, p.name) AS run, NULL AS size, p.params, p.tokens, p.step, "
        "'PT' AS stage, b.name AS benchmark, e.ext_id AS item, m.gold, m.logliks, "
        "'proxy:' || p.id AS source FROM mc_items m JOIN proxies p ON p.id = m.proxy_id "
        f"JOIN examples e ON e.id = m.example_id JOIN benchmarks b ON b.id = e.benchmark_id){cond} "
        "ORDER BY run, benchmark, stage, tokens, step, item"
    )
    out = []
    for r in conn.execute(sql, args):
        d = dict(r)
        d["logliks"] = json.loads(d["logliks"])
        out.append(d)
    return out


def categories(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT benchmark, category FROM benchmark_categories"))


def set_categories(conn: sqlite3.Connection, mapping: dict[str, str]) -> None:
    """(inside a transaction) Upsert benchmark -> category entries."""
    conn.executemany(
        "INSERT INTO benchmark_categories (benchmark, category) VALUES (?, ?) "
        "ON CONFLICT (benchmark) DO UPDATE SET category = excluded.category",
        sorted(mapping.items()),
    )


def all_eval_results(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every long-shape row (what the analysis layer reads into a polars frame)."""
    return eval_results(conn)


def item_details(
    conn: sqlite3.Connection, *, run: str | None = None, benchmark: str | None = None
) -> list[dict[str, Any]]:
    """Per-item rows with what every multiple-choice metric needs: imported items (choices and
    delimiter where the samples file gave them) and the proxies' own (the example's choices,
    the continuations' characters as scored, the BOS convention); logliks, choices and
    n_chars decoded (n_chars None for an imported item: delimiter + choice is its
    continuation)."""
    where, args = [], []
    for col, value in (("run", run), ("benchmark", benchmark)):
        if value is not None:
            where.append(f"{col} = ?")
            args.append(value)
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    sql = (
        "SELECT * FROM (SELECT run, size, params, tokens, step, stage, benchmark, item, gold, "
        "logliks, choices, delimiter, NULL AS n_chars, NULL AS bos, source FROM eval_items "
        "UNION ALL SELECT COALESCE(p.dataset, p.name) AS run, NULL AS size, p.params, p.tokens, "
        "p.step, 'PT' AS stage, b.name AS benchmark, e.ext_id AS item, m.gold, m.logliks, "
        "e.choices, NULL AS delimiter, m.n_chars, m.bos, 'proxy:' || p.id AS source "
        "FROM mc_items m JOIN proxies p ON p.id = m.proxy_id JOIN examples e ON e.id = "
        f"m.example_id JOIN benchmarks b ON b.id = e.benchmark_id){cond} "
        "ORDER BY run, benchmark, stage, tokens, step, source, item"
    )
    out = []
    for r in conn.execute(sql, args):
        d = dict(r)
        for key in ("logliks", "choices", "n_chars"):
            d[key] = json.loads(d[key]) if d[key] is not None else None
        out.append(d)
    return out
