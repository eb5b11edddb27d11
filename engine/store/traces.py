"""Reasoning traces (`traces`) of a benchmark: question, reasoning R, gold answer, and the
frontier's letter probabilities (one float32 per character of R, or NULL)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

COLUMNS = (
    "id, ext_id, question, reasoning, gold, final_answer, letter_probs, prob_source, spans, "
    "format, source"
)


def trace_sha256(row: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for key in ("question", "reasoning", "gold"):
        h.update((row.get(key) or "").encode("utf-8") + b"\0")
    h.update(json.dumps(row.get("spans")).encode() + b"\0")
    h.update(row.get("letter_probs") or b"")
    return h.hexdigest()


def insert_traces(conn: sqlite3.Connection, benchmark_id: int, rows: Sequence[dict]) -> int:
    """(inside a transaction) Insert traces; keys as `trace_rows` returns them. Returns the
    number inserted. A duplicate ext_id raises sqlite3.IntegrityError."""
    now = time.time()
    conn.executemany(
        "INSERT INTO traces (benchmark_id, ext_id, question, reasoning, gold, final_answer, "
        "letter_probs, prob_source, spans, format, source, sha256, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                benchmark_id,
                r["ext_id"],
                r["question"],
                r["reasoning"],
                r.get("gold"),
                r.get("final_answer"),
                r.get("letter_probs"),
                r.get("prob_source") or ("frontier" if r.get("letter_probs") else "none"),
                json.dumps(r["spans"]) if r.get("spans") is not None else None,
                r["format"],
                r["source"],
                trace_sha256(r),
                now,
            )
            for r in rows
        ],
    )
    return len(rows)


def existing_ext_ids(conn: sqlite3.Connection, benchmark_id: int) -> set[str]:
    return {
        r[0]
        for r in conn.execute("SELECT ext_id FROM traces WHERE benchmark_id = ?", (benchmark_id,))
    }


def trace_rows(
    conn: sqlite3.Connection, benchmark_id: int, *, with_probs: bool = True
) -> list[dict[str, Any]]:
    """Every trace of a benchmark in import order (spans decoded from JSON)."""
    cols = COLUMNS if with_probs else COLUMNS.replace("letter_probs", "NULL AS letter_probs")
    rows = conn.execute(
        f"SELECT {cols} FROM traces WHERE benchmark_id = ? ORDER BY id", (benchmark_id,)
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["spans"] = json.loads(d["spans"]) if d["spans"] else None
        out.append(d)
    return out


def trace_by_ext_id(
    conn: sqlite3.Connection, benchmark_id: int, ext_id: str
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM traces WHERE benchmark_id = ? AND ext_id = ?",
        (benchmark_id, ext_id),
    ).fetchone()
    if row is None:
        return None
    d = dict(row)
    d["spans"] = json.loads(d["spans"]) if d["spans"] else None
    return d


def traces_hash(conn: sqlite3.Connection, benchmark_id: int) -> tuple[str, int]:
    """(fingerprint of the benchmark's traces as they are now, count): a score over other
    traces is not reused."""
    h = hashlib.sha256()
    n = 0
    for ext_id, sha in conn.execute(
        "SELECT ext_id, sha256 FROM traces WHERE benchmark_id = ? ORDER BY id", (benchmark_id,)
    ):
        h.update(ext_id.encode("utf-8") + b"\0" + sha.encode() + b"\n")
        n += 1
    return h.hexdigest(), n


def set_letter_probs(
    conn: sqlite3.Connection, trace_id: int, probs: bytes | None, prob_source: str
) -> None:
    """(inside a transaction) New letter probabilities for a trace (teacher forcing)."""
    row = conn.execute(f"SELECT {COLUMNS} FROM traces WHERE id = ?", (trace_id,)).fetchone()
    if row is None:
        return
    d = dict(row)
    d["spans"] = json.loads(d["spans"]) if d["spans"] else None
    d["letter_probs"] = probs
    conn.execute(
        "UPDATE traces SET letter_probs = ?, prob_source = ?, sha256 = ? WHERE id = ?",
        (probs, prob_source, trace_sha256(d), trace_id),
    )


def trace_counts(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per benchmark with traces: how many, and how many carry letter probabilities."""
    rows = conn.execute(
        "SELECT b.id AS benchmark_id, b.name AS benchmark, COUNT(*) AS traces, "
        "SUM(t.letter_probs IS NOT NULL) AS with_probs, "
        "GROUP_CONCAT(DISTINCT t.format) AS formats FROM traces t "
        "JOIN benchmarks b ON b.id = t.benchmark_id GROUP BY b.id ORDER BY b.name"
    ).fetchall()
    return [dict(r) for r in rows]


def delete_traces(conn: sqlite3.Connection, benchmark_id: int) -> int:
    """(inside a transaction) Every trace of a benchmark, and the scores over them."""
    conn.execute("DELETE FROM rbridge_scores WHERE benchmark_id = ?", (benchmark_id,))
    return conn.execute("DELETE FROM traces WHERE benchmark_id = ?", (benchmark_id,)).rowcount
