"""Result imports (helpers of `betr results`): key clashes, per-import summaries, the category
column of stored rows when the benchmark -> category map is edited, and the staging tables an
import writes behind.

Invariant: a reader never sees part of an import. Its rows are staged (eval_results_staging,
eval_items_staging) in bounded transactions, then `swap_in` moves them into eval_results and
eval_items in one transaction that also checks them against the stored keys; an import left
'staging' by a process that died is removed by the next import (`abandoned_imports`). A delete
marks the import 'deleting' and removes its rows in bounded transactions (so, unlike an
import, a delete in progress is seen shrinking: the price of never holding the lock long).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.result_fields import ITEM_FIELDS, RESULT_FIELDS
from engine.store.db import transaction
from engine.store.deletes import delete_batched

KEY_COLUMNS = ("run", "size", "tokens", "step", "stage", "benchmark", "metric")


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


# -- staging: an import's rows, invisible until swapped in ------------------------------------
STAGED_RESULT_COLUMNS = RESULT_FIELDS
STAGED_ITEM_COLUMNS = ITEM_FIELDS


def create_staging_import(
    conn: sqlite3.Connection, fmt: str, sources: Sequence[str], pid: int, host: str
) -> int:
    """(inside a transaction) A result import in state 'staging', written by process `pid`."""
    cur = conn.execute(
        "INSERT INTO result_imports (format, sources, created_at, state, pid, host) "
        "VALUES (?, ?, ?, 'staging', ?, ?)",
        (fmt, json.dumps(list(sources)), time.time(), pid, host),
    )
    return int(cur.lastrowid)


def stage_results(conn: sqlite3.Connection, import_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """(inside a transaction) Long rows (dicts with STAGED_RESULT_COLUMNS; attrs a dict or None)."""
    conn.executemany(
        f"INSERT INTO eval_results_staging (import_id, {', '.join(STAGED_RESULT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * (len(STAGED_RESULT_COLUMNS) + 1))})",
        [
            (import_id, *(_attrs(r) if k == "attrs" else r.get(k) for k in STAGED_RESULT_COLUMNS))
            for r in rows
        ],
    )


def stage_items(conn: sqlite3.Connection, import_id: int, items: Sequence[dict[str, Any]]) -> None:
    """(inside a transaction) Per-item rows (`logliks` a list of floats, `choices` a list or
    None: both stored as JSON, as `evals.insert_eval_items` stores them)."""
    conn.executemany(
        f"INSERT INTO eval_items_staging (import_id, {', '.join(STAGED_ITEM_COLUMNS)}) "
        f"VALUES ({', '.join('?' * (len(STAGED_ITEM_COLUMNS) + 1))})",
        [(import_id, *(_item_value(it, k) for k in STAGED_ITEM_COLUMNS)) for it in items],
    )


def _item_value(item: dict[str, Any], key: str) -> Any:
    if key == "logliks":
        return json.dumps([float(x) for x in item["logliks"]])
    if key == "choices" and item.get("choices") is not None:
        return json.dumps(list(item["choices"]), ensure_ascii=False)
    return item.get(key)


def _attrs(row: dict[str, Any]) -> str | None:
    attrs = row.get("attrs")
    return json.dumps(attrs, sort_keys=True) if attrs is not None else None


def staged_summary(conn: sqlite3.Connection, import_id: int) -> dict[str, Any]:
    """{rows, items, runs: [...], benchmarks: [...], metrics} of an import's staged rows."""
    r = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT metric) FROM eval_results_staging WHERE import_id = ?",
        (import_id,),
    ).fetchone()
    items = conn.execute(
        "SELECT COUNT(*) FROM eval_items_staging WHERE import_id = ?", (import_id,)
    ).fetchone()[0]
    names = {}
    for col in ("run", "benchmark"):
        names[col] = sorted(
            {
                row[0]
                for table in ("eval_results_staging", "eval_items_staging")
                for row in conn.execute(
                    f"SELECT DISTINCT {col} FROM {table} WHERE import_id = ?", (import_id,)
                )
            }
        )
    return {
        "rows": r[0],
        "metrics": r[1],
        "items": items,
        "runs": names["run"],
        "benchmarks": names["benchmark"],
    }


def staged_duplicate(
    conn: sqlite3.Connection, import_id: int
) -> tuple[tuple, list[str], int] | None:
    """(key, two sources, number of duplicated keys) of the first key (KEY_COLUMNS) that two
    staged rows share, or None."""
    keys = ", ".join(KEY_COLUMNS)
    rows = conn.execute(
        f"SELECT {keys}, MIN(source), MAX(source) FROM eval_results_staging WHERE import_id = ? "
        f"GROUP BY {keys} HAVING COUNT(*) > 1 LIMIT 1000",
        (import_id,),
    ).fetchall()
    if not rows:
        return None
    return tuple(rows[0][:7]), [rows[0][7], rows[0][8]], len(rows)


_SAME_KEY = " AND ".join(
    f"r.{k} = s.{k}" if k in ("run", "benchmark", "metric") else f"r.{k} IS s.{k}"
    for k in KEY_COLUMNS
)


def staged_clash(conn: sqlite3.Connection, import_id: int) -> tuple[tuple, Any, int] | None:
    """(key, the stored row's import id or source, how many staged rows clash) of the first
    staged row whose key a stored row has, or None. (Inside the swap's transaction, so nothing
    can come between the check and the swap.)"""
    row = conn.execute(
        f"SELECT {', '.join('s.' + k for k in KEY_COLUMNS)}, r.import_id, r.source "
        f"FROM eval_results_staging s JOIN eval_results r ON {_SAME_KEY} "
        "WHERE s.import_id = ? LIMIT 1",
        (import_id,),
    ).fetchone()
    if row is None:
        return None
    n = conn.execute(
        f"SELECT COUNT(*) FROM eval_results_staging s WHERE s.import_id = ? AND EXISTS "
        f"(SELECT 1 FROM eval_results r WHERE {_SAME_KEY})",
        (import_id,),
    ).fetchone()[0]
    return tuple(row[:7]), row[7] if row[7] is not None else row[8], n


def swap_in(conn: sqlite3.Connection, import_id: int) -> None:
    """(inside a transaction) The staged rows and items become the import's stored ones (in
    staging order), and the import is done. The staged copies are removed afterwards, in
    bounded transactions (`clear_staging`)."""
    now = time.time()
    cols = ", ".join(STAGED_RESULT_COLUMNS)
    conn.execute(
        f"INSERT INTO eval_results ({cols}, import_id, created_at) SELECT {cols}, import_id, ? "
        "FROM eval_results_staging WHERE import_id = ? ORDER BY seq",
        (now, import_id),
    )
    cols = ", ".join(STAGED_ITEM_COLUMNS)
    conn.execute(
        f"INSERT INTO eval_items ({cols}, import_id, created_at) SELECT {cols}, import_id, ? "
        "FROM eval_items_staging WHERE import_id = ? ORDER BY seq",
        (now, import_id),
    )
    conn.execute(
        "UPDATE result_imports SET state = 'done', pid = NULL, host = NULL WHERE id = ?",
        (import_id,),
    )


def clear_staging(conn: sqlite3.Connection, import_id: int) -> None:
    """An import's staged rows, deleted in bounded transactions (outside any transaction)."""
    for table in ("eval_results_staging", "eval_items_staging"):
        delete_batched(conn, table, "seq", "import_id = ?", (import_id,))


def delete_import_rows(conn: sqlite3.Connection, import_id: int) -> None:
    """An import: marked 'deleting', its rows and items (and staged rows) deleted in bounded
    transactions, then its row (outside any transaction)."""
    with transaction(conn):
        conn.execute("UPDATE result_imports SET state = 'deleting' WHERE id = ?", (import_id,))
    clear_staging(conn, import_id)
    for table in ("eval_results", "eval_items"):
        delete_batched(conn, table, "id", "import_id = ?", (import_id,))
    with transaction(conn):
        conn.execute("DELETE FROM result_imports WHERE id = ?", (import_id,))


def abandoned_imports(
    conn: sqlite3.Connection, alive: Callable[[int | None, str | None], bool]
) -> list[int]:
    """Imports left 'staging' or 'deleting' by a process that is gone (`alive(pid, host)`)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT id, pid, host, state FROM result_imports WHERE state != 'done' ORDER BY id"
        )
        if r[3] == "deleting" or not alive(r[1], r[2])
    ]
