"""Deleting corpora and benchmarks in bounded transactions.

A corpus can hold millions of documents, and each run over it as many probabilities. One
`DELETE FROM corpora` would cascade all of them in a single transaction and hold the write lock
for minutes, so other writers (imports, jobs) time out. Instead:

1. `mark_corpus_deleting` sets `corpora.deleting_at` (the corpus disappears from analyses);
2. each run's rows go table by table, then the docs, in transactions of about 0.1 s each
   (`delete_batched` sizes them as it goes), with a short pause between them so a waiting
   writer gets the lock;
3. `finish_corpus_delete` removes the corpus row (and what little is left) in one transaction.

Every statement finds its rows through an index (each child table has one on its foreign key),
so a delete costs what it deletes, not what the workspace holds. A delete killed part way
leaves the corpus marked `deleting`; running it again finishes it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from engine.errors import NotFoundError
from engine.store import catalog, contamination
from engine.store.db import transaction

DELETE_BATCH = 2000  # rows in the first transaction; later ones aim at TARGET_S each
TARGET_S = 0.1  # a writer waiting for the lock waits about this long, never the whole delete
MAX_BATCH = 100_000
PAUSE_S = 0.01  # between transactions: a writer waiting in its busy handler gets the lock

# a run's bulky rows: (table, the key that, with run_id, is its primary key)
RUN_TABLES = (
    ("doc_probs", "doc_id"),
    ("apply_staging", "doc_id"),
    ("prob_order", "position"),
    ("run_sample", "doc_id"),
)

Progress = Callable[[int], None]


def delete_batched(
    conn: sqlite3.Connection,
    table: str,
    key: str,
    where: str,
    params: tuple,
    *,
    batch: int = DELETE_BATCH,
    on_rows: Progress | None = None,
) -> int:
    """DELETE FROM `table` WHERE `where` in transactions of about TARGET_S seconds each (the
    first deletes `batch` rows, the next as many as fitted in that time); returns the number of
    rows deleted. `key` identifies a row within `where` (the rest of an index)."""
    sql = (
        f"DELETE FROM {table} WHERE {where} AND {key} IN "
        f"(SELECT {key} FROM {table} WHERE {where} LIMIT ?)"
    )
    total = 0
    while True:
        t0 = time.monotonic()
        with transaction(conn):
            n = conn.execute(sql, (*params, *params, batch)).rowcount
        elapsed = time.monotonic() - t0
        total += n
        if on_rows is not None and n:
            on_rows(n)
        if n < batch:
            return total
        batch = max(100, min(MAX_BATCH, int(batch * TARGET_S / max(elapsed, 1e-3))))
        time.sleep(PAUSE_S)


def corpus_for_delete(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = catalog.corpus_by_name(conn, name)
    if row is None:
        raise NotFoundError(f"no corpus '{name}'", fix="`betr list corpora` shows them")
    return row


def mark_corpus_deleting(conn: sqlite3.Connection, corpus_id: int) -> None:
    """Call inside the transaction that checked nothing uses the corpus."""
    conn.execute(
        "UPDATE corpora SET deleting_at = COALESCE(deleting_at, ?) WHERE id = ?",
        (time.time(), corpus_id),
    )


def runs_of_corpus(conn: sqlite3.Connection, corpus_id: int) -> list[int]:
    return [r[0] for r in conn.execute("SELECT id FROM runs WHERE corpus_id = ?", (corpus_id,))]


def artifact_paths(conn: sqlite3.Connection, run_id: int) -> list[str]:
    """Workspace-relative paths of a run's files (fastText models)."""
    return [r[0] for r in conn.execute("SELECT path FROM artifacts WHERE run_id = ?", (run_id,))]


def delete_run(
    conn: sqlite3.Connection, run_id: int, *, batch: int = DELETE_BATCH, on_rows=None
) -> None:
    """A run and everything it produced, its bulky tables in bounded transactions."""
    for check_id in contamination.check_ids_of_run(conn, run_id):
        delete_batched(
            conn,
            "contamination_hits",
            "position",
            "check_id = ?",
            (check_id,),
            batch=batch,
            on_rows=on_rows,
        )
    for table, key in RUN_TABLES:
        delete_batched(conn, table, key, "run_id = ?", (run_id,), batch=batch, on_rows=on_rows)
    with transaction(conn):
        # what is left is small: packed columns, artifacts rows, jobs.run_id set to NULL
        conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def delete_docs(
    conn: sqlite3.Connection, corpus_id: int, *, batch: int = DELETE_BATCH, on_rows=None
) -> int:
    return delete_batched(
        conn, "docs", "id", "corpus_id = ?", (corpus_id,), batch=batch, on_rows=on_rows
    )


def finish_corpus_delete(conn: sqlite3.Connection, corpus_id: int) -> None:
    with transaction(conn):
        conn.execute("DELETE FROM corpora WHERE id = ?", (corpus_id,))


def benchmark_for_delete(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = catalog.benchmark_by_name(conn, name)
    if row is None:
        raise NotFoundError(f"no benchmark '{name}'", fix="`betr list benchmarks` shows them")
    return row


def delete_benchmark_row(conn: sqlite3.Connection, benchmark_id: int) -> None:
    """The benchmark and its examples (call inside a transaction; thousands of rows at most).
    Runs that targeted it keep their rows, with the example and benchmark ids set to NULL."""
    conn.execute(
        "DELETE FROM meta WHERE key = (SELECT ? || name FROM benchmarks WHERE id = ?)",
        (catalog.TEXT_FIELDS_KEY, benchmark_id),
    )
    conn.execute("DELETE FROM benchmarks WHERE id = ?", (benchmark_id,))


def delete_benchmark_scores(conn: sqlite3.Connection, benchmark_id: int) -> None:
    """The per-trace rBridge rows over a benchmark (packed per-token arrays: the bulky part),
    in bounded transactions, before the benchmark row's cascade removes the rest."""
    score_ids = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM rbridge_scores WHERE benchmark_id = ?", (benchmark_id,)
        )
    ]
    for score_id in score_ids:
        delete_batched(conn, "rbridge_trace_scores", "trace_id", "score_id = ?", (score_id,))


def delete_proxy_scores(conn: sqlite3.Connection, proxy_id: int) -> None:
    """Likewise for every score of a proxy."""
    score_ids = [
        r[0] for r in conn.execute("SELECT id FROM rbridge_scores WHERE proxy_id = ?", (proxy_id,))
    ]
    for score_id in score_ids:
        delete_batched(conn, "rbridge_trace_scores", "trace_id", "score_id = ?", (score_id,))
