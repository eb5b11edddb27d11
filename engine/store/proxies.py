"""Proxy models (`proxies`): local causal LM directories, with the sha256 of their files and,
for a training curve, the dataset, step and token count of each checkpoint."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

COLUMNS = (
    "id, name, path, sha256, model_type, params, dataset, step, tokens, origin, job_id, created_at"
)


def add_proxy(
    conn: sqlite3.Connection,
    *,
    name: str,
    path: str,
    sha256: str,
    model_type: str | None = None,
    params: int | None = None,
    dataset: str | None = None,
    step: int | None = None,
    tokens: int | None = None,
    origin: str = "added",
    job_id: int | None = None,
) -> int:
    """Insert a proxy (inside the caller's transaction); returns its id. The same directory
    with the same sha256 registered again returns the existing id."""
    row = conn.execute(
        "SELECT id FROM proxies WHERE path = ? AND sha256 = ?", (path, sha256)
    ).fetchone()
    if row is not None:
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO proxies (name, path, sha256, model_type, params, dataset, step, tokens, "
        "origin, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            name,
            path,
            sha256,
            model_type,
            params,
            dataset,
            step,
            tokens,
            origin,
            job_id,
            time.time(),
        ),
    )
    return int(cur.lastrowid)


def get_proxy(conn: sqlite3.Connection, ident: int | str) -> dict[str, Any] | None:
    """By id, or by name."""
    if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
        row = conn.execute(f"SELECT {COLUMNS} FROM proxies WHERE id = ?", (int(ident),)).fetchone()
        if row is not None or isinstance(ident, int):
            return dict(row) if row else None
    row = conn.execute(f"SELECT {COLUMNS} FROM proxies WHERE name = ?", (ident,)).fetchone()
    return dict(row) if row else None


def list_proxies(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every proxy, grouped by dataset and ordered by training tokens (a curve reads down)."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM proxies ORDER BY dataset IS NULL, dataset, params, "
        "tokens IS NULL, tokens, step, id"
    ).fetchall()
    return [dict(r) for r in rows]


def path_registered(conn: sqlite3.Connection, path: str) -> bool:
    """Whether a proxy is registered at `path` (a resolved directory)."""
    return (
        conn.execute("SELECT 1 FROM proxies WHERE path = ? LIMIT 1", (path,)).fetchone() is not None
    )


def proxy_names(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM proxies ORDER BY id")]


def proxies_of_job(conn: sqlite3.Connection, job_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM proxies WHERE job_id = ? ORDER BY tokens, id", (job_id,)
    ).fetchall()
    return [dict(r) for r in rows]


def delete_proxy(conn: sqlite3.Connection, proxy_id: int) -> None:
    """(inside a transaction) A proxy and, by cascade, its scores and evaluation rows."""
    conn.execute("DELETE FROM proxies WHERE id = ?", (proxy_id,))
