"""Duplicates (migration 11): each doc's exact-duplicate hash, and near-duplicate runs (MinHash
LSH clusters of a corpus) with the band keys their job stages.

A doc's exact hash is written with it at import (or by `insert_hashes` for docs that came
without one); equal hashes within a corpus are one exact cluster. A near-duplicate run's
members are read only once `finished_at` is set, which happens in the transaction that
writes them and drops the staged band keys.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

IN_BATCH = 500


# -- exact hashes ---------------------------------------------------------------------------
def insert_hashes_by_ext_id(
    conn: sqlite3.Connection, corpus_id: int, rows: Iterable[tuple[int, str]]
) -> None:
    """(inside the import's transaction) (hash, ext_id) of docs just inserted."""
    conn.executemany(
        "INSERT INTO doc_hashes (doc_id, corpus_id, exact_hash) "
        "SELECT id, corpus_id, ? FROM docs WHERE corpus_id = ? AND ext_id = ?",
        [(h, corpus_id, e) for h, e in rows],
    )


def insert_hashes(conn: sqlite3.Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """(doc_id, corpus_id, hash) rows (inside a transaction)."""
    conn.executemany(
        "INSERT OR REPLACE INTO doc_hashes (doc_id, corpus_id, exact_hash) VALUES (?, ?, ?)",
        rows,
    )


def docs_without_hash(
    conn: sqlite3.Connection, corpus_id: int, after: int, limit: int
) -> list[sqlite3.Row]:
    """(id, text) of the corpus's next `limit` docs after id `after` that have no hash."""
    return conn.execute(
        "SELECT d.id, d.text FROM docs d WHERE +d.corpus_id = ? AND d.id > ? AND NOT EXISTS "
        "(SELECT 1 FROM doc_hashes h WHERE h.doc_id = d.id) ORDER BY d.id LIMIT ?",
        (corpus_id, after, limit),
    ).fetchall()


def count_without_hash(conn: sqlite3.Connection, corpus_id: int) -> int:
    n_docs = conn.execute("SELECT COUNT(*) FROM docs WHERE corpus_id = ?", (corpus_id,)).fetchone()
    hashed = conn.execute(
        "SELECT COUNT(*) FROM doc_hashes WHERE corpus_id = ?", (corpus_id,)
    ).fetchone()
    return int(n_docs[0]) - int(hashed[0])


def exact_groups(conn: sqlite3.Connection, corpus_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids, hashes), int64, of the corpus's docs whose hash another doc shares, by hash
    then doc id."""
    rows = conn.execute(
        "SELECT doc_id, exact_hash FROM doc_hashes WHERE corpus_id = ? AND exact_hash IN "
        "(SELECT exact_hash FROM doc_hashes WHERE corpus_id = ? GROUP BY exact_hash "
        "HAVING COUNT(*) > 1) ORDER BY exact_hash, doc_id",
        (corpus_id, corpus_id),
    ).fetchall()
    out = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(-1, 2)
    return out[:, 0].copy(), out[:, 1].copy()


def exact_hashes_of(conn: sqlite3.Connection, doc_ids: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    ids = [int(i) for i in doc_ids]
    for start in range(0, len(ids), IN_BATCH):
        part = ids[start : start + IN_BATCH]
        for row in conn.execute(
            f"SELECT doc_id, exact_hash FROM doc_hashes WHERE doc_id IN ({','.join('?' * len(part))})",
            part,
        ):
            out[row[0]] = row[1]
    return out


def exact_members(conn: sqlite3.Connection, corpus_id: int, exact_hash: int) -> list[int]:
    rows = conn.execute(
        "SELECT doc_id FROM doc_hashes WHERE corpus_id = ? AND exact_hash = ? ORDER BY doc_id",
        (corpus_id, exact_hash),
    ).fetchall()
    return [r[0] for r in rows]


def exact_sizes(conn: sqlite3.Connection, corpus_id: int, hashes: Iterable[int]) -> dict[int, int]:
    """hash -> docs of the corpus with it (each a lookup in the (corpus, hash) index)."""
    return {
        h: conn.execute(
            "SELECT COUNT(*) FROM doc_hashes WHERE corpus_id = ? AND exact_hash = ?",
            (corpus_id, h),
        ).fetchone()[0]
        for h in set(hashes)
    }


# -- near-duplicate runs --------------------------------------------------------------------
def params_text(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def create_near_run(conn: sqlite3.Connection, corpus_id: int, params: dict[str, Any]) -> int:
    """(inside a transaction) A pending run; returns its id."""
    return int(
        conn.execute(
            "INSERT INTO near_dup_runs (corpus_id, params, created_at) VALUES (?, ?, ?)",
            (corpus_id, params_text(params), time.time()),
        ).lastrowid
    )


_RUN = (
    "SELECT r.*, c.name AS corpus, j.state AS job_state FROM near_dup_runs r "
    "JOIN corpora c ON c.id = r.corpus_id LEFT JOIN jobs j ON j.id = r.job_id "
)


def _run(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    d = dict(row)
    d["params"] = json.loads(d["params"])
    return d


def get_near_run(conn: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    return _run(conn.execute(_RUN + "WHERE r.id = ?", (run_id,)).fetchone())


def finished_near_run(
    conn: sqlite3.Connection, corpus_id: int, params: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The newest finished run of the corpus (with these parameters, if given)."""
    sql = _RUN + "WHERE r.corpus_id = ? AND r.finished_at IS NOT NULL "
    args: list[Any] = [corpus_id]
    if params is not None:
        sql += "AND r.params = ? "
        args.append(params_text(params))
    return _run(
        conn.execute(sql + "ORDER BY r.finished_at DESC, r.id DESC LIMIT 1", args).fetchone()
    )


def near_runs_of_corpus(conn: sqlite3.Connection, corpus_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(_RUN + "WHERE r.corpus_id = ? ORDER BY r.id DESC", (corpus_id,))
    return [d for d in (_run(r) for r in rows) if d is not None]


def set_near_run_job(conn: sqlite3.Connection, run_id: int, job_id: int) -> None:
    conn.execute("UPDATE near_dup_runs SET job_id = ? WHERE id = ?", (job_id, run_id))


def insert_bands(
    conn: sqlite3.Connection, run_id: int, last_doc_id: int, doc_ids: np.ndarray, keys: np.ndarray
) -> None:
    conn.execute(
        "INSERT INTO near_dup_bands (run_id, last_doc_id, doc_ids, keys) VALUES (?, ?, ?, ?)",
        (
            run_id,
            int(last_doc_id),
            np.ascontiguousarray(doc_ids, dtype="<i8").tobytes(),
            np.ascontiguousarray(keys, dtype="<u8").tobytes(),
        ),
    )


def clear_bands(conn: sqlite3.Connection, run_id: int, after: int = 0) -> None:
    """Drop the run's staged chunks past doc id `after` (all of them with 0)."""
    conn.execute("DELETE FROM near_dup_bands WHERE run_id = ? AND last_doc_id > ?", (run_id, after))


def read_bands(
    conn: sqlite3.Connection, run_id: int, buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids (k,) int64, keys (k, buckets) uint64) staged for the run, by doc id."""
    ids: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    for row in conn.execute(
        "SELECT doc_ids, keys FROM near_dup_bands WHERE run_id = ? ORDER BY last_doc_id", (run_id,)
    ):
        ids.append(np.frombuffer(row[0], dtype="<i8"))
        keys.append(np.frombuffer(row[1], dtype="<u8").reshape(-1, buckets))
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, buckets), np.uint64)
    return np.concatenate(ids).astype(np.int64), np.concatenate(keys).astype(np.uint64)


def finish_near_run(
    conn: sqlite3.Connection,
    run_id: int,
    members: Sequence[tuple[int, int]],
    *,
    n_docs: int,
    n_signed: int,
    n_clusters: int,
) -> None:
    """(inside the last transaction) The run's (doc_id, cluster) members, its counts, its
    staged band keys dropped, and finished_at set."""
    conn.execute("DELETE FROM near_dup_members WHERE run_id = ?", (run_id,))
    conn.executemany(
        "INSERT INTO near_dup_members (run_id, doc_id, cluster) VALUES (?, ?, ?)",
        [(run_id, int(d), int(c)) for d, c in members],
    )
    clear_bands(conn, run_id)
    conn.execute(
        "UPDATE near_dup_runs SET n_docs = ?, n_signed = ?, n_clusters = ?, n_members = ?, "
        "finished_at = ? WHERE id = ?",
        (n_docs, n_signed, n_clusters, len(members), time.time(), run_id),
    )


def drop_other_near_runs(conn: sqlite3.Connection, run: dict[str, Any]) -> int:
    """(inside a transaction) The corpus's other runs with the same parameters (superseded)
    and its unfinished runs whose job ended or never started."""
    return conn.execute(
        "DELETE FROM near_dup_runs WHERE corpus_id = ? AND id != ? AND (params = ? OR "
        "(finished_at IS NULL AND (job_id IS NULL OR job_id IN "
        "(SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled')))))",
        (run["corpus_id"], run["id"], params_text(run["params"])),
    ).rowcount


def near_members(conn: sqlite3.Connection, run_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(doc ids, clusters), int64, of the run's members, by cluster then doc id."""
    rows = conn.execute(
        "SELECT doc_id, cluster FROM near_dup_members WHERE run_id = ? ORDER BY cluster, doc_id",
        (run_id,),
    ).fetchall()
    out = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(-1, 2)
    return out[:, 0].copy(), out[:, 1].copy()


def near_clusters_of(
    conn: sqlite3.Connection, run_id: int, doc_ids: Sequence[int]
) -> dict[int, int]:
    """doc id -> its cluster in the run, for the docs of `doc_ids` that are members."""
    out: dict[int, int] = {}
    ids = [int(i) for i in doc_ids]
    for start in range(0, len(ids), IN_BATCH):
        part = ids[start : start + IN_BATCH]
        for row in conn.execute(
            f"SELECT doc_id, cluster FROM near_dup_members WHERE run_id = ? AND doc_id IN "
            f"({','.join('?' * len(part))})",
            (run_id, *part),
        ):
            out[row[0]] = row[1]
    return out


def near_cluster_members(conn: sqlite3.Connection, run_id: int, cluster: int) -> list[int]:
    rows = conn.execute(
        "SELECT doc_id FROM near_dup_members WHERE run_id = ? AND cluster = ? ORDER BY doc_id",
        (run_id, cluster),
    ).fetchall()
    return [r[0] for r in rows]


def near_cluster_sizes(
    conn: sqlite3.Connection, run_id: int, clusters: Iterable[int]
) -> dict[int, int]:
    return {
        c: conn.execute(
            "SELECT COUNT(*) FROM near_dup_members WHERE run_id = ? AND cluster = ?", (run_id, c)
        ).fetchone()[0]
        for c in set(clusters)
    }
