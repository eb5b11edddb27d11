"""rBridge scores: one `rbridge_scores` row per (proxy, benchmark, weighting config, traces),
and per trace its score, baselines and packed per-token arrays (`rbridge_trace_scores`).

The row is the cache key: a finished one (state 'done') for the same proxy sha256, traces hash
and config hash is reused instead of recomputed. A job fills a pending row trace by trace;
'done' is set only in the transaction that writes the benchmark's aggregates.

A rescore never touches the finished row while it runs: it fills a row of its own beside it,
keyed by the config hash + RESCORE_MARK (so the UNIQUE key holds and no lookup finds it), and
`finish_score` swaps it in: the old row (and its per-trace rows) goes and the new one takes the
real key, in the one transaction that marks it done. A killed rescore leaves the old score
complete and shown.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

SCORE_COLUMNS = (
    "s.id, s.proxy_id, s.benchmark_id, s.proxy_sha256, s.traces_hash, s.config, s.config_hash, "
    "s.state, s.metrics, s.job_id, s.created_at, s.finished_at, p.name AS proxy, "
    "b.name AS benchmark"
)
FROM = "FROM rbridge_scores s JOIN proxies p ON p.id = s.proxy_id JOIN benchmarks b ON b.id = s.benchmark_id"


def _score(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    d = dict(row)
    d["config"] = json.loads(d["config"])
    d["metrics"] = json.loads(d["metrics"])
    return d


def find_score(
    conn: sqlite3.Connection,
    proxy_id: int,
    benchmark_id: int,
    proxy_sha256: str,
    traces_hash: str,
    config_hash: str,
) -> dict[str, Any] | None:
    return _score(
        conn.execute(
            f"SELECT {SCORE_COLUMNS} {FROM} WHERE s.proxy_id = ? AND s.benchmark_id = ? AND "
            "s.proxy_sha256 = ? AND s.traces_hash = ? AND s.config_hash = ?",
            (proxy_id, benchmark_id, proxy_sha256, traces_hash, config_hash),
        ).fetchone()
    )


def create_score(
    conn: sqlite3.Connection,
    *,
    proxy_id: int,
    benchmark_id: int,
    proxy_sha256: str,
    traces_hash: str,
    config: dict[str, Any],
    config_hash: str,
) -> int:
    """(inside a transaction) A pending score row."""
    cur = conn.execute(
        "INSERT INTO rbridge_scores (proxy_id, benchmark_id, proxy_sha256, traces_hash, config, "
        "config_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            proxy_id,
            benchmark_id,
            proxy_sha256,
            traces_hash,
            json.dumps(config, sort_keys=True),
            config_hash,
            time.time(),
        ),
    )
    return int(cur.lastrowid)


RESCORE_MARK = "~rescore"


def find_rescore(conn: sqlite3.Connection, done: dict[str, Any]) -> dict[str, Any] | None:
    """The row a rescore of the finished row `done` fills, if there is one."""
    return find_score(
        conn,
        done["proxy_id"],
        done["benchmark_id"],
        done["proxy_sha256"],
        done["traces_hash"],
        done["config_hash"] + RESCORE_MARK,
    )


def delete_score(conn: sqlite3.Connection, score_id: int) -> None:
    """(inside a transaction) A score row and, by cascade, its per-trace rows."""
    conn.execute("DELETE FROM rbridge_scores WHERE id = ?", (score_id,))


def set_score_job(conn: sqlite3.Connection, score_id: int, job_id: int) -> None:
    conn.execute("UPDATE rbridge_scores SET job_id = ? WHERE id = ?", (job_id, score_id))


def get_score(conn: sqlite3.Connection, score_id: int) -> dict[str, Any] | None:
    return _score(
        conn.execute(f"SELECT {SCORE_COLUMNS} {FROM} WHERE s.id = ?", (score_id,)).fetchone()
    )


def list_scores(
    conn: sqlite3.Connection, *, benchmark_id: int | None = None, proxy_id: int | None = None
) -> list[dict[str, Any]]:
    where, args = [], []
    if benchmark_id is not None:
        where.append("s.benchmark_id = ?")
        args.append(benchmark_id)
    if proxy_id is not None:
        where.append("s.proxy_id = ?")
        args.append(proxy_id)
    sql = f"SELECT {SCORE_COLUMNS} {FROM}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY s.id", args).fetchall()
    return [_score(r) for r in rows]


def scored_trace_ids(conn: sqlite3.Connection, score_id: int) -> set[int]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT trace_id FROM rbridge_trace_scores WHERE score_id = ?", (score_id,)
        )
    }


def write_trace_scores(conn: sqlite3.Connection, score_id: int, rows: Sequence[dict]) -> None:
    """(inside a transaction) Per-trace results: keys trace_id, score, nll_rphi, nll_gold, bpb
    (betr's prompted per-trace bits per byte), n_tokens, flags (list), tokens (bytes or None),
    and for a mask trace the release's sums mask_nll, mask_bytes, mask_words, mask_tokens."""
    conn.executemany(
        "INSERT OR REPLACE INTO rbridge_trace_scores (score_id, trace_id, score, nll_rphi, "
        "nll_gold, bpb, n_tokens, flags, tokens, mask_nll, mask_bytes, mask_words, mask_tokens) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                score_id,
                r["trace_id"],
                r["score"],
                r["nll_rphi"],
                r["nll_gold"],
                r["bpb"],
                r["n_tokens"],
                json.dumps(list(r["flags"])),
                r["tokens"],
                *(r.get(k) for k in MASK_COLUMNS),
            )
            for r in rows
        ],
    )


MASK_COLUMNS = ("mask_nll", "mask_bytes", "mask_words", "mask_tokens")


def lacks_mask_sums(conn: sqlite3.Connection, score_id: int) -> bool:
    """A score with a mask trace scored without the release's sums (before migration 8)."""
    return (
        conn.execute(
            "SELECT 1 FROM rbridge_trace_scores ts JOIN traces t ON t.id = ts.trace_id "
            "WHERE ts.score_id = ? AND t.spans IS NOT NULL AND ts.mask_bytes IS NULL LIMIT 1",
            (score_id,),
        ).fetchone()
        is not None
    )


def trace_scores(
    conn: sqlite3.Connection, score_id: int, *, with_tokens: bool = False
) -> list[dict[str, Any]]:
    """Per-trace results joined with the trace's id and text, in import order."""
    tokens = "ts.tokens" if with_tokens else "NULL AS tokens"
    rows = conn.execute(
        f"SELECT ts.trace_id, t.ext_id, ts.score, ts.nll_rphi, ts.nll_gold, ts.bpb, ts.n_tokens, "
        f"ts.flags, {tokens}, t.prob_source, length(t.reasoning) AS n_chars, "
        "ts.mask_nll, ts.mask_bytes, ts.mask_words, ts.mask_tokens "
        "FROM rbridge_trace_scores ts JOIN traces t ON t.id = ts.trace_id "
        "WHERE ts.score_id = ? ORDER BY t.id",
        (score_id,),
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["flags"] = json.loads(d["flags"])
        out.append(d)
    return out


def trace_score(conn: sqlite3.Connection, score_id: int, trace_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT trace_id, score, nll_rphi, nll_gold, bpb, n_tokens, flags, tokens, mask_nll, "
        "mask_bytes, mask_words, mask_tokens "
        "FROM rbridge_trace_scores WHERE score_id = ? AND trace_id = ?",
        (score_id, trace_id),
    ).fetchone()
    if row is None:
        return None
    d = dict(row)
    d["flags"] = json.loads(d["flags"])
    return d


def finish_score(conn: sqlite3.Connection, score_id: int, metrics: dict[str, Any]) -> None:
    """(inside a transaction) The aggregates, and state 'done'; a rescore's row replaces the
    finished row it was computed beside (module doc)."""
    row = get_score(conn, score_id)
    key = row["config_hash"] if row is not None else ""
    if key.endswith(RESCORE_MARK):
        key = key[: -len(RESCORE_MARK)]
        old = find_score(
            conn, row["proxy_id"], row["benchmark_id"], row["proxy_sha256"], row["traces_hash"], key
        )
        if old is not None:
            delete_score(conn, old["id"])
    conn.execute(
        "UPDATE rbridge_scores SET state = 'done', metrics = ?, finished_at = ?, config_hash = ? "
        "WHERE id = ?",
        (json.dumps(metrics), time.time(), key, score_id),
    )
