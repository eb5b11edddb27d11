"""Typed reads of the workspace, shared by the CLI (`betr list/show`) and the TUI screens."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from engine.errors import NotFoundError

READY = "state = 'ready' AND deleting_at IS NULL"


def _json(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


def list_corpora(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """One dict per corpus: counts (docs, tokens, chars, skipped), tokenizer, state, sources."""
    rows = conn.execute(
        "SELECT id, name, CASE WHEN deleting_at IS NULL THEN state ELSE 'deleting' END AS state, "
        "created_at, tokenizer, text_field, sources, n_docs, n_tokens, n_chars, n_skipped, job_id "
        "FROM corpora ORDER BY name"
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["sources"] = _json(r["sources"], [])
        out.append(d)
    return out


def list_benchmarks(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, name, category, split, format, sources, n_examples, n_chars, n_skipped, "
        "created_at FROM benchmarks ORDER BY name"
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["sources"] = _json(r["sources"], [])
        out.append(d)
    return out


def list_target_sets(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT t.id, t.name, t.created_at, GROUP_CONCAT(b.name, ',') AS members, "
        "COUNT(b.id) AS n_benchmarks, COALESCE(SUM(b.n_examples), 0) AS n_examples "
        "FROM target_sets t LEFT JOIN target_set_members m ON m.target_set_id = t.id "
        "LEFT JOIN benchmarks b ON b.id = m.benchmark_id GROUP BY t.id ORDER BY t.name"
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["members"] = sorted(r["members"].split(",")) if r["members"] else []
        out.append(d)
    return out


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
        d["config"] = _json(r["config"], {})
        d["metrics"] = _json(r["metrics"], {})
        out.append(d)
    return out


def workspace_summary(conn: sqlite3.Connection) -> dict[str, int]:
    """Totals for the Workspace screen header."""
    row = conn.execute(
        f"SELECT (SELECT COUNT(*) FROM corpora WHERE {READY}) AS corpora, "
        f"(SELECT COALESCE(SUM(n_docs), 0) FROM corpora WHERE {READY}) AS docs, "
        f"(SELECT COALESCE(SUM(n_tokens), 0) FROM corpora WHERE {READY}) AS tokens, "
        "(SELECT COUNT(*) FROM benchmarks) AS benchmarks, "
        "(SELECT COALESCE(SUM(n_examples), 0) FROM benchmarks) AS examples, "
        "(SELECT COUNT(*) FROM target_sets) AS target_sets, "
        "(SELECT COUNT(*) FROM runs) AS runs, "
        "(SELECT COUNT(*) FROM jobs) AS jobs"
    ).fetchone()
    return dict(row)


def get_doc(conn: sqlite3.Connection, doc_ref: str, *, corpus: str | None = None) -> dict[str, Any]:
    """A document by internal id (an integer) or by its external id (optionally in `corpus`)."""
    base = (
        "SELECT d.id, d.ext_id, d.text, d.n_tokens, d.n_chars, d.source, d.meta, "
        "c.name AS corpus, c.tokenizer FROM docs d JOIN corpora c ON c.id = d.corpus_id "
    )
    rows: list[sqlite3.Row] = []
    if doc_ref.isdigit() and corpus is None:
        rows = conn.execute(base + "WHERE d.id = ?", (int(doc_ref),)).fetchall()
    if not rows:
        if corpus is None:
            rows = conn.execute(base + "WHERE d.ext_id = ?", (doc_ref,)).fetchall()
        else:
            rows = conn.execute(
                base + "WHERE d.ext_id = ? AND c.name = ?", (doc_ref, corpus)
            ).fetchall()
    if not rows:
        where = f" in corpus '{corpus}'" if corpus else ""
        raise NotFoundError(
            f"no document '{doc_ref}'{where}",
            fix="pass the numeric doc id or the document's own id (with --corpus if ambiguous)",
        )
    if len(rows) > 1:
        names = ", ".join(sorted(r["corpus"] for r in rows))
        raise NotFoundError(
            f"document id '{doc_ref}' exists in several corpora ({names})",
            fix="add --corpus NAME",
        )
    d = dict(rows[0])
    d["meta"] = _json(d["meta"])
    return d
