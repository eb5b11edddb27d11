"""The runs table: one analysis with its full config, cache key, state and metrics."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from engine.errors import NotFoundError
from engine.store.db import transaction


def create_run(
    conn: sqlite3.Connection,
    kind: str,
    name: str,
    config: dict,
    config_hash: str,
    corpus_id: int | None,
    target_set_id: int | None,
) -> int:
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO runs (kind, name, config, config_hash, state, corpus_id, target_set_id, "
            "created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
            (
                kind,
                name,
                json.dumps(config, sort_keys=True),
                config_hash,
                corpus_id,
                target_set_id,
                time.time(),
            ),
        )
    return int(cur.lastrowid)


def find_finished_run(conn: sqlite3.Connection, config_hash: str) -> int | None:
    """The newest run with this config hash that got past `pending`."""
    row = conn.execute(
        "SELECT id FROM runs WHERE config_hash = ? AND state != 'pending' ORDER BY id DESC LIMIT 1",
        (config_hash,),
    ).fetchone()
    return row["id"] if row else None


def get_run(conn: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """A run with its config and metrics decoded, its corpus name and size, and whether the
    corpus is being deleted."""
    row = conn.execute(
        "SELECT r.*, c.name AS corpus, c.n_docs AS corpus_docs, c.n_tokens AS corpus_tokens, "
        "c.deleting_at IS NOT NULL AS corpus_deleting FROM runs r "
        "LEFT JOIN corpora c ON c.id = r.corpus_id WHERE r.id = ?",
        (run_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no run {run_id}", fix="`betr list runs` shows the runs")
    run = dict(row)
    run["config"] = json.loads(run["config"])
    run["metrics"] = json.loads(run["metrics"] or "{}")
    return run


def run_version(conn: sqlite3.Connection, run_id: int) -> tuple | None:
    """(state, finished_at): changes whenever the run's results change; None if no such run."""
    row = conn.execute("SELECT state, finished_at FROM runs WHERE id = ?", (run_id,)).fetchone()
    return None if row is None else (row[0], row[1])


def list_runs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT r.id, r.kind, r.name, r.state, r.config, r.config_hash, r.metrics, "
        "r.created_at, r.finished_at, c.name AS corpus, t.name AS target_set "
        "FROM runs r LEFT JOIN corpora c ON c.id = r.corpus_id "
        "LEFT JOIN target_sets t ON t.id = r.target_set_id ORDER BY r.id DESC"
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["config"] = json.loads(r["config"]) if r["config"] else {}
        d["metrics"] = json.loads(r["metrics"]) if r["metrics"] else {}
        out.append(d)
    return out


def run_states(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """id, name, state, corpus name and finished_at of every run (what the TUI polls)."""
    return [
        dict(r)
        for r in conn.execute(
            "SELECT r.id, r.name, r.state, c.name AS corpus, r.finished_at "
            "FROM runs r LEFT JOIN corpora c ON c.id = r.corpus_id ORDER BY r.id"
        )
    ]


def set_state(conn: sqlite3.Connection, run_id: int, state: str, *, finished: bool = False):
    """(call inside a transaction)"""
    if finished:
        conn.execute(
            "UPDATE runs SET state = ?, finished_at = ? WHERE id = ?", (state, time.time(), run_id)
        )
    else:
        conn.execute("UPDATE runs SET state = ? WHERE id = ?", (state, run_id))


def update_metrics(conn: sqlite3.Connection, run_id: int, **metrics: Any) -> None:
    """Merge `metrics` into runs.metrics (call inside a transaction)."""
    row = conn.execute("SELECT metrics FROM runs WHERE id = ?", (run_id,)).fetchone()
    merged = json.loads(row["metrics"] or "{}")
    merged.update(metrics)
    conn.execute("UPDATE runs SET metrics = ? WHERE id = ?", (json.dumps(merged), run_id))


def update_config(conn: sqlite3.Connection, run_id: int, **entries: Any) -> None:
    """Merge `entries` into runs.config (call inside a transaction): what a later step chose
    (the classifier's settings). The config hash stays the plan's, the run's cache key."""
    row = conn.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
    merged = json.loads(row["config"] or "{}")
    merged.update(entries)
    conn.execute(
        "UPDATE runs SET config = ? WHERE id = ?", (json.dumps(merged, sort_keys=True), run_id)
    )


def artifact(conn: sqlite3.Connection, run_id: int, kind: str) -> sqlite3.Row | None:
    """(path relative to the workspace, sha256) of the run's file of `kind`."""
    return conn.execute(
        "SELECT path, sha256 FROM artifacts WHERE run_id = ? AND kind = ?", (run_id, kind)
    ).fetchone()


def replace_artifact(conn: sqlite3.Connection, run_id: int, kind: str, path: str, sha256: str):
    """(call inside a transaction)"""
    conn.execute("DELETE FROM artifacts WHERE run_id = ? AND kind = ?", (run_id, kind))
    conn.execute(
        "INSERT INTO artifacts (run_id, kind, path, sha256, created_at) VALUES (?, ?, ?, ?, ?)",
        (run_id, kind, path, sha256, time.time()),
    )
