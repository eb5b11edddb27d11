"""Contamination checks and their hits (migration 7).

A check covers positions 1..upto of a run's probability order against the benchmarks imported
when it was planned; a job fills its hits chunk by chunk and sets `finished_at` last, in the
transaction that also drops the checks it makes obsolete. Only finished checks are read as
results.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

FINAL_JOB_STATES = ("done", "failed", "cancelled")
ORPHAN_S = 3600.0  # a planned check whose job has not started after this is abandoned
_CHECK = (
    "SELECT c.*, r.finished_at AS run_finished_at, j.state AS job_state "
    "FROM contamination_checks c JOIN runs r ON r.id = c.run_id "
    "LEFT JOIN jobs j ON j.id = c.job_id "
)


# -- what a check is checked against --------------------------------------------------------
def benchmarks_key(conn: sqlite3.Connection) -> str:
    """sha256 of every benchmark's id, name, size and import time: changes when one is
    imported or deleted."""
    rows = conn.execute(
        "SELECT id, name, n_examples, created_at FROM benchmarks ORDER BY id"
    ).fetchall()
    return hashlib.sha256(json.dumps([tuple(r) for r in rows]).encode()).hexdigest()


def count_examples(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM examples").fetchone()[0]


def examples_for_check(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """(id, benchmark_id, split, text) of every example, by benchmark name, then file order."""
    return conn.execute(
        "SELECT e.id, e.benchmark_id, b.split, e.text FROM examples e "
        "JOIN benchmarks b ON b.id = e.benchmark_id ORDER BY b.name, e.idx, e.id"
    ).fetchall()


def docs_by_position(
    conn: sqlite3.Connection, run_id: int, after: int, upto: int, limit: int
) -> list[sqlite3.Row]:
    """(position, doc_id, text) of positions after+1..upto (at most `limit`) of the run's
    probability order."""
    return conn.execute(
        "SELECT o.position, o.doc_id, d.text FROM prob_order o JOIN docs d ON d.id = o.doc_id "
        "WHERE o.run_id = ? AND o.position > ? AND o.position <= ? ORDER BY o.position LIMIT ?",
        (run_id, after, upto, limit),
    ).fetchall()


def doc_position(conn: sqlite3.Connection, run_id: int, doc_id: int) -> int | None:
    """The doc's position in the run's probability order (a scan of the run's order)."""
    row = conn.execute(
        "SELECT position FROM prob_order WHERE run_id = ? AND doc_id = ?", (run_id, doc_id)
    ).fetchone()
    return None if row is None else row[0]


# -- checks ---------------------------------------------------------------------------------
def create_check(
    conn: sqlite3.Connection,
    run_id: int,
    n: int,
    *,
    scope: str,
    keep: float | None,
    keep_by: str | None,
    upto: int,
    run_version: float | None,
    benchmarks_key: str,
) -> int:
    """(inside a transaction) A pending check; returns its id."""
    return int(
        conn.execute(
            "INSERT INTO contamination_checks (run_id, n, scope, keep, keep_by, upto, "
            "run_version, benchmarks_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, n, scope, keep, keep_by, upto, run_version, benchmarks_key, time.time()),
        ).lastrowid
    )


def get_check(conn: sqlite3.Connection, check_id: int) -> dict[str, Any] | None:
    row = conn.execute(_CHECK + "WHERE c.id = ?", (check_id,)).fetchone()
    return None if row is None else dict(row)


def checks_of_run(conn: sqlite3.Connection, run_id: int) -> list[dict[str, Any]]:
    """Every check of the run (finished or not), newest first."""
    rows = conn.execute(_CHECK + "WHERE c.run_id = ? ORDER BY c.id DESC", (run_id,)).fetchall()
    return [dict(r) for r in rows]


def find_finished_check(
    conn: sqlite3.Connection,
    run_id: int,
    n: int,
    upto: int,
    run_version: float | None,
    benchmarks_key: str,
) -> dict[str, Any] | None:
    """The newest finished check of the run at n over at least positions 1..upto, made with
    these results of the run and these benchmarks."""
    row = conn.execute(
        _CHECK + "WHERE c.run_id = ? AND c.n = ? AND c.upto >= ? AND c.run_version IS ? "
        "AND c.benchmarks_key = ? AND c.finished_at IS NOT NULL ORDER BY c.id DESC LIMIT 1",
        (run_id, n, upto, run_version, benchmarks_key),
    ).fetchone()
    return None if row is None else dict(row)


def set_check_job(conn: sqlite3.Connection, check_id: int, job_id: int) -> None:
    conn.execute("UPDATE contamination_checks SET job_id = ? WHERE id = ?", (job_id, check_id))


def finish_check(conn: sqlite3.Connection, check_id: int, docs_hit: int, hits: int) -> None:
    """(inside the transaction of the last chunk) The check's hits are complete."""
    conn.execute(
        "UPDATE contamination_checks SET docs_hit = ?, hits = ?, finished_at = ? WHERE id = ?",
        (docs_hit, hits, time.time(), check_id),
    )


def drop_obsolete_checks(conn: sqlite3.Connection, check: dict[str, Any]) -> int:
    """(inside a transaction) Other checks of `check`'s run that nothing will read again:
    finished ones at the same n that it covers or that are stale (other run results or
    benchmarks), unfinished ones whose job ended, and planned ones no job took up within
    ORPHAN_S. Returns how many went."""
    return conn.execute(
        "DELETE FROM contamination_checks WHERE run_id = ? AND id != ? AND ("
        "(finished_at IS NOT NULL AND n = ? AND (upto <= ? OR run_version IS NOT ? "
        "OR benchmarks_key != ?)) OR (finished_at IS NULL AND job_id IN "
        f"(SELECT id FROM jobs WHERE state IN ({','.join('?' * len(FINAL_JOB_STATES))}))) "
        "OR (finished_at IS NULL AND job_id IS NULL AND created_at < ?))",
        (
            check["run_id"],
            check["id"],
            check["n"],
            check["upto"],
            check["run_version"],
            check["benchmarks_key"],
            *FINAL_JOB_STATES,
            time.time() - ORPHAN_S,
        ),
    ).rowcount


def check_ids_of_run(conn: sqlite3.Connection, run_id: int) -> list[int]:
    return [
        r[0]
        for r in conn.execute("SELECT id FROM contamination_checks WHERE run_id = ?", (run_id,))
    ]


# -- hits -----------------------------------------------------------------------------------
def _upto(upto: int | None) -> int:
    return 2**62 if upto is None else upto


def insert_hits(conn: sqlite3.Connection, check_id: int, rows: Sequence[tuple]) -> None:
    """(position, doc_id, example_id, benchmark_id, start, end, ngrams) rows (inside a
    transaction)."""
    conn.executemany(
        "INSERT INTO contamination_hits (check_id, position, doc_id, example_id, benchmark_id, "
        "span_start, span_end, ngrams) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(check_id, *r) for r in rows],
    )


def clear_hits(conn: sqlite3.Connection, check_id: int) -> None:
    """(inside a transaction) A check restarted from its first doc."""
    conn.execute("DELETE FROM contamination_hits WHERE check_id = ?", (check_id,))


_HIT = (
    "SELECT h.position, h.doc_id, d.ext_id AS doc, d.n_tokens, h.benchmark_id, "
    "b.name AS benchmark, b.split, h.example_id, e.ext_id AS example, "
    "h.span_start AS start, h.span_end AS end, h.ngrams "
    "FROM contamination_hits h JOIN docs d ON d.id = h.doc_id "
    "JOIN benchmarks b ON b.id = h.benchmark_id JOIN examples e ON e.id = h.example_id "
)


def hits(conn: sqlite3.Connection, check_id: int, upto: int | None = None) -> list[sqlite3.Row]:
    """The check's hits at positions 1..upto (all when None), by position, then benchmark
    name, then example, then start."""
    return conn.execute(
        _HIT + "WHERE h.check_id = ? AND h.position <= ? "
        "ORDER BY h.position, b.name, e.idx, h.example_id, h.span_start",
        (check_id, _upto(upto)),
    ).fetchall()


def hit_docs(conn: sqlite3.Connection, check_id: int, upto: int | None = None) -> list[sqlite3.Row]:
    """(position, doc_id, n_tokens) of each doc with a hit at positions 1..upto, by position."""
    return conn.execute(
        "SELECT h.position, h.doc_id, d.n_tokens FROM contamination_hits h "
        "JOIN docs d ON d.id = h.doc_id WHERE h.check_id = ? AND h.position <= ? "
        "GROUP BY h.position ORDER BY h.position",
        (check_id, _upto(upto)),
    ).fetchall()


def hits_of_doc(conn: sqlite3.Connection, check_id: int, doc_id: int) -> list[sqlite3.Row]:
    """The doc's hits with each example's benchmark, split, question, answer and text."""
    return conn.execute(
        "SELECT h.position, h.doc_id, h.benchmark_id, b.name AS benchmark, b.split, "
        "h.example_id, e.ext_id AS example, e.question, e.answer, e.text AS example_text, "
        "h.span_start AS start, h.span_end AS end, h.ngrams FROM contamination_hits h "
        "JOIN benchmarks b ON b.id = h.benchmark_id JOIN examples e ON e.id = h.example_id "
        "WHERE h.check_id = ? AND h.doc_id = ? ORDER BY h.span_start, b.name, e.idx",
        (check_id, doc_id),
    ).fetchall()


def counts_by_benchmark(
    conn: sqlite3.Connection, check_id: int, upto: int | None = None
) -> list[sqlite3.Row]:
    """(benchmark_id, benchmark, split, docs, examples, hits) of each benchmark with a hit at
    positions 1..upto, by name."""
    return conn.execute(
        "SELECT h.benchmark_id, b.name AS benchmark, b.split, COUNT(DISTINCT h.doc_id) AS docs, "
        "COUNT(DISTINCT h.example_id) AS examples, COUNT(*) AS hits "
        "FROM contamination_hits h JOIN benchmarks b ON b.id = h.benchmark_id "
        "WHERE h.check_id = ? AND h.position <= ? GROUP BY h.benchmark_id ORDER BY b.name",
        (check_id, _upto(upto)),
    ).fetchall()


def docs_with_hits(
    conn: sqlite3.Connection, check_id: int, doc_ids: list[int] | None = None
) -> set[int]:
    """Ids of the docs with a hit in the check (among `doc_ids` when given)."""
    sql = "SELECT DISTINCT doc_id FROM contamination_hits WHERE check_id = ?"
    if doc_ids is None:
        return {r[0] for r in conn.execute(sql, (check_id,))}
    found: set[int] = set()
    for start in range(0, len(doc_ids), 900):
        part = doc_ids[start : start + 900]
        marks = ",".join("?" * len(part))
        rows = conn.execute(sql + f" AND doc_id IN ({marks})", (check_id, *part))
        found.update(r[0] for r in rows)
    return found
