"""Topic clusters of a run's scored sample (migration `*_clusters.sql`).

A cluster set is one k-means of a run's scored sample, cached by (run, k, seed). The job writes
it whole (the set row, its packed arrays and its clusters) in one transaction, so a set that
exists is complete: there is no pending state to read around. A second job for the same key
that finishes later leaves the first one's set as it is (`insert_set` returns None).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from engine.errors import NotFoundError

SET_COLUMNS = "id, run_id, k, seed, niter, n_docs, dim, model_id, job_id, created_at"
ARRAYS = {"doc_ids": "<i8", "labels": "<i4", "cosine": "<f4"}


# -- what a clustering reads ----------------------------------------------------------------
def sample_members(conn: sqlite3.Connection, run_id: int) -> dict[str, np.ndarray]:
    """The run's scored sample by doc id: {"doc_id", "n_tokens", "bench" (the best-matching
    benchmark's id, -1 for none)}."""
    rows = conn.execute(
        "SELECT s.doc_id, d.n_tokens, COALESCE(s.benchmark_id, -1) FROM run_sample s "
        "JOIN docs d ON d.id = s.doc_id WHERE s.run_id = ? ORDER BY s.doc_id",
        (run_id,),
    ).fetchall()
    arr = np.array([tuple(r) for r in rows], dtype=np.int64).reshape(-1, 3)
    return {"doc_id": arr[:, 0].copy(), "n_tokens": arr[:, 1].copy(), "bench": arr[:, 2].copy()}


def texts_in_chunks(
    conn: sqlite3.Connection, doc_ids: Sequence[int], *, chars: int | None, chunk: int = 2000
) -> Iterator[str]:
    """The docs' texts (the first `chars` characters of each, or all of it), in the order of
    `doc_ids`, read `chunk` docs at a time as they are consumed."""
    head = "text" if chars is None else f"substr(text, 1, {int(chars)})"
    for start in range(0, len(doc_ids), chunk):
        part = [int(i) for i in doc_ids[start : start + chunk]]
        rows = conn.execute(
            f"SELECT id, {head} FROM docs WHERE id IN ({','.join('?' * len(part))})", part
        ).fetchall()
        found = {r[0]: r[1] for r in rows}
        for i in part:
            yield found[i]


# -- sets -----------------------------------------------------------------------------------
def find_set(conn: sqlite3.Connection, run_id: int, k: int, seed: int) -> dict[str, Any] | None:
    """The cluster set of (run, k, seed) without its arrays, or None."""
    row = conn.execute(
        f"SELECT {SET_COLUMNS} FROM cluster_sets WHERE run_id = ? AND k = ? AND seed = ?",
        (run_id, k, seed),
    ).fetchone()
    return None if row is None else dict(row)


def sets_of_run(conn: sqlite3.Connection, run_id: int) -> list[dict[str, Any]]:
    """Every cluster set of the run (without arrays), newest first."""
    rows = conn.execute(
        f"SELECT {SET_COLUMNS} FROM cluster_sets WHERE run_id = ? ORDER BY id DESC", (run_id,)
    ).fetchall()
    return [dict(r) for r in rows]


def set_arrays(conn: sqlite3.Connection, set_id: int) -> dict[str, np.ndarray]:
    """The set's packed arrays: doc_ids (ascending), labels, cosine."""
    row = conn.execute(
        "SELECT doc_ids, labels, cosine FROM cluster_sets WHERE id = ?", (set_id,)
    ).fetchone()
    return {name: np.frombuffer(row[name], dtype=dtype) for name, dtype in ARRAYS.items()}


def insert_set(
    conn: sqlite3.Connection,
    run_id: int,
    k: int,
    seed: int,
    *,
    niter: int,
    dim: int,
    model_id: str,
    arrays: dict[str, np.ndarray],
    clusters: Sequence[dict[str, Any]],
    job_id: int | None,
) -> int | None:
    """(inside a transaction) The set and its clusters ({cluster, docs, tokens, title, pull,
    nearest} each); None, writing nothing, when (run, k, seed) is cached already."""
    blobs = {n: np.ascontiguousarray(arrays[n], dtype=d).tobytes() for n, d in ARRAYS.items()}
    cur = conn.execute(
        "INSERT OR IGNORE INTO cluster_sets (run_id, k, seed, niter, n_docs, dim, model_id, "
        "doc_ids, labels, cosine, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            k,
            seed,
            niter,
            len(arrays["doc_ids"]),
            dim,
            model_id,
            blobs["doc_ids"],
            blobs["labels"],
            blobs["cosine"],
            job_id,
            time.time(),
        ),
    )
    if cur.rowcount == 0:
        return None
    set_id = int(cur.lastrowid)
    conn.executemany(
        "INSERT INTO clusters (set_id, cluster, docs, tokens, title, pull, nearest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                set_id,
                c["cluster"],
                c["docs"],
                c["tokens"],
                json.dumps(c["title"]),
                json.dumps(c["pull"]),
                json.dumps(c["nearest"]),
            )
            for c in clusters
        ],
    )
    return set_id


def clusters_of_set(conn: sqlite3.Connection, set_id: int) -> list[dict[str, Any]]:
    """The set's clusters by number, their JSON fields decoded (pull's keys as ints)."""
    rows = conn.execute(
        "SELECT cluster, docs, tokens, title, pull, nearest FROM clusters WHERE set_id = ? "
        "ORDER BY cluster",
        (set_id,),
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["title"] = json.loads(d["title"])
        d["pull"] = {int(b): n for b, n in json.loads(d["pull"]).items()}
        d["nearest"] = json.loads(d["nearest"])
        out.append(d)
    return out


def member_ids(
    conn: sqlite3.Connection, run_id: int, k: int, seed: int, cluster: int
) -> np.ndarray:
    """The doc ids of one cluster of (run, k, seed), ascending (the Documents filter);
    NotFoundError when that clustering or cluster does not exist."""
    found = find_set(conn, run_id, k, seed)
    if found is None or not 0 <= cluster < k:
        what = f"cluster {cluster} of k = {k}" if found is not None else f"k = {k}"
        raise NotFoundError(
            f"run {run_id} has no clusters at {what}, seed {seed}",
            fix=f"betr clusters --run {run_id} --k {k} --seed {seed} lists them",
        )
    arrays = set_arrays(conn, found["id"])
    return arrays["doc_ids"][arrays["labels"] == cluster]


def delete_set(conn: sqlite3.Connection, set_id: int) -> None:
    conn.execute("DELETE FROM cluster_sets WHERE id = ?", (set_id,))


def examples_by_id(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """example id -> {ext_id, question, text, benchmark} for the ids that still exist."""
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT e.id, e.ext_id, e.question, e.text, b.name AS benchmark FROM examples e "
        f"JOIN benchmarks b ON b.id = e.benchmark_id WHERE e.id IN ({','.join('?' * len(ids))})",
        ids,
    ).fetchall()
    return {r["id"]: {k: r[k] for k in ("ext_id", "question", "text", "benchmark")} for r in rows}


def benchmark_names(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    rows = conn.execute(
        f"SELECT id, name FROM benchmarks WHERE id IN ({','.join('?' * len(ids))})", ids
    ).fetchall()
    return {r[0]: r[1] for r in rows}
