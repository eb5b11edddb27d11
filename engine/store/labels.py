"""Hand labels on documents (`doc_labels`): good, bad or skip, one per doc."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from engine.store.db import transaction


def set_label(
    conn: sqlite3.Connection, doc_id: int, label: str | None, run_id: int | None, prob: float | None
) -> None:
    """Label a doc (None clears it), in one transaction."""
    with transaction(conn):
        if label is None:
            conn.execute("DELETE FROM doc_labels WHERE doc_id = ?", (doc_id,))
        else:
            conn.execute(
                "INSERT INTO doc_labels (doc_id, label, run_id, prob, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (doc_id) DO UPDATE SET label = excluded.label, "
                "run_id = excluded.run_id, prob = excluded.prob, created_at = excluded.created_at",
                (doc_id, label, run_id, prob, time.time()),
            )


def all_labels(conn: sqlite3.Connection) -> list[tuple[int, str]]:
    """(doc_id, label) of every labelled doc."""
    return [(r[0], r[1]) for r in conn.execute("SELECT doc_id, label FROM doc_labels")]


def labels_of(conn: sqlite3.Connection, doc_ids: Sequence[int]) -> dict[int, str]:
    ids = [int(i) for i in doc_ids]
    if not ids:
        return {}
    return dict(
        conn.execute(
            f"SELECT doc_id, label FROM doc_labels WHERE doc_id IN ({','.join('?' * len(ids))})",
            ids,
        )
    )


def label_row(conn: sqlite3.Connection, doc_id: int) -> sqlite3.Row | None:
    """(label, run_id, prob) of one doc's label."""
    return conn.execute(
        "SELECT label, run_id, prob FROM doc_labels WHERE doc_id = ?", (doc_id,)
    ).fetchone()


def list_labels(conn: sqlite3.Connection, run_id: int | None = None) -> list[dict[str, Any]]:
    """Every label with its doc, and p(positive) in `run_id` when given (None where absent)."""
    prob = "p.prob" if run_id is not None else "NULL"
    join = "LEFT JOIN doc_probs p ON p.doc_id = l.doc_id AND p.run_id = ?" if run_id else ""
    rows = conn.execute(
        f"SELECT l.doc_id, d.ext_id, c.name AS corpus, d.source, l.label, l.run_id AS labelled_in, "
        f"l.prob AS prob_when_labelled, {prob} AS prob, l.created_at FROM doc_labels l "
        f"JOIN docs d ON d.id = l.doc_id JOIN corpora c ON c.id = d.corpus_id {join} "
        "ORDER BY l.created_at, l.doc_id",
        (run_id,) if run_id else (),
    ).fetchall()
    return [dict(r) for r in rows]
