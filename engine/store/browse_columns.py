"""The Documents screen's columns in the workspace: the columns chosen per corpus, and packed
text fields of a corpus's docs (source, metadata) read once for sorting and frequency tables.

A workspace older than these tables (opened read-only, so not migrated) reads as "nothing
stored": the reads return None and the callers compute.
"""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np

from engine.store.db import transaction


def _missing_table(exc: sqlite3.OperationalError) -> bool:
    return "no such table" in str(exc)


def corpus_inputs(conn: sqlite3.Connection, corpus_id: int) -> list[str]:
    """The names of the inputs (files) the corpus was imported from."""
    row = conn.execute("SELECT sources FROM corpora WHERE id = ?", (corpus_id,)).fetchone()
    return list(json.loads(row[0] or "[]")) if row is not None else []


def chosen_columns(conn: sqlite3.Connection, corpus_id: int) -> list[str] | None:
    """The columns chosen for the corpus, in order (None: never chosen)."""
    try:
        row = conn.execute(
            "SELECT columns FROM corpus_columns WHERE corpus_id = ?", (corpus_id,)
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return None
        raise
    return None if row is None else [str(c) for c in json.loads(row[0])]


def set_chosen_columns(conn: sqlite3.Connection, corpus_id: int, columns: list[str]) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO corpus_columns (corpus_id, columns, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (corpus_id) DO UPDATE SET columns = excluded.columns, "
            "updated_at = excluded.updated_at",
            (corpus_id, json.dumps(columns), time.time()),
        )


def read_field_column(
    conn: sqlite3.Connection, corpus_id: int, field: str, n_docs: int
) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """(doc ids, codes, categories) of a packed field read when the corpus had `n_docs` docs,
    or None."""
    try:
        row = conn.execute(
            "SELECT doc_id, code, categories FROM field_columns "
            "WHERE corpus_id = ? AND field = ? AND n_docs = ?",
            (corpus_id, field, n_docs),
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return None
        raise
    if row is None:
        return None
    ids = np.frombuffer(row[0], dtype=np.int64)
    codes = np.frombuffer(row[1], dtype=np.int32)
    return ids, codes, [str(c) for c in json.loads(row[2])]


def write_field_column(
    conn: sqlite3.Connection,
    corpus_id: int,
    field: str,
    n_docs: int,
    doc_ids: np.ndarray,
    codes: np.ndarray,
    categories: list[str],
) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO field_columns "
            "(corpus_id, field, n_docs, doc_id, code, categories, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                corpus_id,
                field,
                n_docs,
                np.ascontiguousarray(doc_ids, dtype=np.int64).tobytes(),
                np.ascontiguousarray(codes, dtype=np.int32).tobytes(),
                json.dumps(categories, ensure_ascii=False),
                time.time(),
            ),
        )
