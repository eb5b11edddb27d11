"""Documents and their full-text index.

`docs_by_ids` is the one way to read documents by id (texts for scoring, rows for a page of the
Documents list, snippets for a comparison, an export): ids in, one dict per found doc out.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from engine.errors import NotFoundError, UsageError

IN_BATCH = 500  # ids per IN (...) query, well under SQLite's host parameter limit
FIELDS = {
    "ext_id": "ext_id",
    "text": "text",
    "source": "source",
    "meta": "meta",
    "n_tokens": "n_tokens",
    "n_chars": "n_chars",
    "corpus_id": "corpus_id",
}


def docs_by_ids(
    conn: sqlite3.Connection,
    ids: Iterable[int],
    fields: Sequence[str],
    *,
    snippet: int | None = None,
) -> dict[int, dict[str, Any]]:
    """doc id -> {field: value} for the ids that exist (deleted ones are simply absent).
    `fields` from FIELDS; with `snippet`, "snippet" holds the first `snippet` chars of the
    text (read without the rest of it)."""
    columns = [f"{FIELDS[f]} AS {f}" for f in fields]
    if snippet is not None:
        columns.append(f"substr(text, 1, {int(snippet)}) AS snippet")
    select = f"SELECT id, {', '.join(columns)} FROM docs WHERE id IN "
    wanted = [int(i) for i in ids]
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), IN_BATCH):
        part = wanted[start : start + IN_BATCH]
        for row in conn.execute(select + f"({','.join('?' * len(part))})", part):
            d = dict(row)
            out[d.pop("id")] = d
    return out


def doc_texts(conn: sqlite3.Connection, ids: Iterable[int]) -> list[str]:
    """The texts of `ids`, in their order (every id must exist)."""
    ids = [int(i) for i in ids]
    found = docs_by_ids(conn, ids, ("text",))
    return [found[i]["text"] for i in ids]


def corpus_doc_ids(conn: sqlite3.Connection, corpus_id: int) -> np.ndarray:
    """(n,) int64 ids of the corpus's docs, ascending."""
    rows = conn.execute("SELECT id FROM docs WHERE corpus_id = ? ORDER BY id", (corpus_id,))
    return np.array([r[0] for r in rows], dtype=np.int64)


# Chunk reads walk the rowid (the docs' id): `+corpus_id` keeps SQLite from answering them from
# the (corpus_id, ext_id) index, which would read every entry of the corpus and sort them, per
# chunk (O(n^2) over a chunked job). tests/integration/test_query_plans.py holds it.
CHUNK_END = (
    "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM docs WHERE +corpus_id = ? AND id > ? "
    "ORDER BY id LIMIT ?)"
)
DOCS_BETWEEN = "SELECT id, text FROM docs WHERE +corpus_id = ? AND id > ? AND id <= ? ORDER BY id"


def id_chunks(
    conn: sqlite3.Connection, corpus_id: int, after_id: int, size: int
) -> Iterator[tuple[int, int]]:
    """(after, last) id bounds of consecutive chunks of `size` docs of the corpus with id >
    `after_id` (a chunk is the docs with after < id <= last). Each bound is one statement over
    the next `size` ids, read whole, so memory stays flat with the corpus's size and no
    statement stays open while the caller writes."""
    start = after_id
    while True:
        last, n = conn.execute(CHUNK_END, (corpus_id, start, size)).fetchall()[0]
        if not n:
            return
        yield start, int(last)
        start = int(last)


def docs_between(
    conn: sqlite3.Connection, corpus_id: int, after: int, last: int
) -> list[sqlite3.Row]:
    """(id, text) of the corpus's docs with after < id <= last, by id."""
    return conn.execute(DOCS_BETWEEN, (corpus_id, after, last)).fetchall()


def insert_docs(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """(corpus_id, ext_id, text, n_tokens, n_chars, source, meta) rows (inside a transaction);
    sqlite3.IntegrityError on an ext_id already in the corpus."""
    conn.executemany(
        "INSERT INTO docs (corpus_id, ext_id, text, n_tokens, n_chars, source, meta) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def sources_of_ext_ids(
    conn: sqlite3.Connection, corpus_id: int, ext_ids: Sequence[str]
) -> dict[str, str]:
    """ext_id -> source of the docs of the corpus with these ids."""
    out: dict[str, str] = {}
    for start in range(0, len(ext_ids), IN_BATCH):
        part = list(ext_ids[start : start + IN_BATCH])
        for row in conn.execute(
            f"SELECT ext_id, source FROM docs WHERE corpus_id = ? AND ext_id IN "
            f"({','.join('?' * len(part))})",
            (corpus_id, *part),
        ):
            out[row["ext_id"]] = row["source"]
    return out


def doc_exists(conn: sqlite3.Connection, doc_id: int) -> bool:
    return conn.execute("SELECT 1 FROM docs WHERE id = ?", (doc_id,)).fetchone() is not None


def doc_with_corpus(conn: sqlite3.Connection, doc_id: int) -> dict[str, Any] | None:
    """Every field of one doc, with its corpus name and tokenizer; meta decoded."""
    row = conn.execute(_DOC + "WHERE d.id = ?", (doc_id,)).fetchone()
    return None if row is None else _doc(row)


_DOC = (
    "SELECT d.id, d.ext_id, d.text, d.n_tokens, d.n_chars, d.source, d.meta, "
    "c.name AS corpus, c.tokenizer FROM docs d JOIN corpora c ON c.id = d.corpus_id "
)


def _doc(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["meta"] = json.loads(d["meta"]) if d["meta"] else None
    return d


def get_doc(conn: sqlite3.Connection, doc_ref: str, *, corpus: str | None = None) -> dict[str, Any]:
    """A document by internal id (an integer) or by its external id (optionally in `corpus`)."""
    rows: list[sqlite3.Row] = []
    if doc_ref.isdigit() and corpus is None:
        rows = conn.execute(_DOC + "WHERE d.id = ?", (int(doc_ref),)).fetchall()
    if not rows:
        if corpus is None:
            rows = conn.execute(_DOC + "WHERE d.ext_id = ?", (doc_ref,)).fetchall()
        else:
            rows = conn.execute(
                _DOC + "WHERE d.ext_id = ? AND c.name = ?", (doc_ref, corpus)
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
    return _doc(rows[0])


def set_sources_from_ext_ids(conn: sqlite3.Connection, corpus_id: int, prefix: str) -> None:
    """source = prefix || ext_id for every doc of the corpus (call inside a transaction)."""
    conn.execute("UPDATE docs SET source = ? || ext_id WHERE corpus_id = ?", (prefix, corpus_id))


# -- filters: ids of the docs matching a source prefix, a metadata value, a text search ----------
def ids_with_source(conn: sqlite3.Connection, corpus_id: int, prefix: str) -> np.ndarray:
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = conn.execute(
        "SELECT id FROM docs WHERE corpus_id = ? AND source LIKE ? ESCAPE '\\'",
        (corpus_id, "%" + like + "%"),
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def ids_with_meta(conn: sqlite3.Connection, corpus_id: int, key: str, value: str) -> np.ndarray:
    if not key.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise UsageError(f"bad metadata field '{key}'", fix="e.g. --meta lang=en")
    rows = conn.execute(
        "SELECT id FROM docs WHERE corpus_id = ? AND CAST(json_extract(meta, ?) AS TEXT) = ?",
        (corpus_id, f'$."{key}"', value),
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def fts_doc_ids(conn: sqlite3.Connection, text: str) -> np.ndarray:
    """Doc ids matching an FTS5 query; words that are not valid FTS5 syntax are searched as
    quoted terms, so `don't` or `C++` just work."""
    sql = "SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?"
    try:
        rows = conn.execute(sql, (text,)).fetchall()
    except sqlite3.OperationalError:
        quoted = " ".join('"' + w.replace('"', '""') + '"' for w in text.split())
        if not quoted:
            raise UsageError("the search is empty", fix="type a word to search for") from None
        try:
            rows = conn.execute(sql, (quoted,)).fetchall()
        except sqlite3.OperationalError as exc:
            raise UsageError(
                f"cannot search for '{text}': {exc}", fix="use plain words or an FTS5 query"
            ) from None
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def _fts_query(conn: sqlite3.Connection, text: str) -> str:
    """The FTS5 query `fts_doc_ids` runs for `text`: itself when valid, else its words
    quoted."""
    try:
        conn.execute("SELECT rowid FROM docs_fts WHERE docs_fts MATCH ? LIMIT 0", (text,))
        return text
    except sqlite3.OperationalError:
        return " ".join('"' + w.replace('"', '""') + '"' for w in text.split())


def fts_snippets(
    conn: sqlite3.Connection, text: str, ids: Sequence[int], tokens: int, marks: tuple[str, str]
) -> dict[int, str]:
    """doc id -> its text around the search's hits (FTS5 `snippet`: about `tokens` words, "…"
    where cut), each hit between marks[0] and marks[1], for the ids among `ids` that match."""
    query = _fts_query(conn, text)
    if not query:
        return {}
    out: dict[int, str] = {}
    wanted = [int(i) for i in ids]
    tokens = max(1, min(64, int(tokens)))
    for start in range(0, len(wanted), IN_BATCH):
        part = wanted[start : start + IN_BATCH]
        rows = conn.execute(
            "SELECT rowid, snippet(docs_fts, 0, ?, ?, '…', ?) FROM docs_fts "
            f"WHERE docs_fts MATCH ? AND rowid IN ({','.join('?' * len(part))})",
            (marks[0], marks[1], tokens, query, *part),
        )
        out.update({int(r[0]): str(r[1]) for r in rows})
    return out


def meta_texts(
    conn: sqlite3.Connection, ids: Sequence[int], keys: Sequence[str]
) -> dict[int, list[str | None]]:
    """doc id -> each metadata field of `keys` as text (as `ids_with_meta` compares it)."""
    for key in keys:
        if not key.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise UsageError(f"bad metadata field '{key}'", fix="e.g. --columns meta.lang")
    if not keys:
        return {int(i): [] for i in ids}
    cols = ", ".join("CAST(json_extract(meta, ?) AS TEXT)" for _ in keys)
    paths = [f'$."{k}"' for k in keys]
    wanted = [int(i) for i in ids]
    out: dict[int, list[str | None]] = {}
    for start in range(0, len(wanted), IN_BATCH):
        part = wanted[start : start + IN_BATCH]
        rows = conn.execute(
            f"SELECT id, {cols} FROM docs WHERE id IN ({','.join('?' * len(part))})",
            (*paths, *part),
        )
        out.update({int(r[0]): list(r[1:]) for r in rows})
    return out


# -- grouping: every doc's source or metadata value (the per-source view) ---------------------
def corpus_meta_fields(conn: sqlite3.Connection, corpus_id: int) -> list[str]:
    """The metadata fields the corpus was imported with (`--meta`), in import order."""
    row = conn.execute("SELECT meta_fields FROM corpora WHERE id = ?", (corpus_id,)).fetchone()
    return list(json.loads(row[0] or "[]")) if row is not None else []


def group_value_chunks(
    conn: sqlite3.Connection, corpus_id: int, key: str | None, size: int = 100_000
) -> Iterator[tuple[np.ndarray, list[str | None]]]:
    """(doc ids, values) of every doc of the corpus, `size` at a time: its source (`key`
    None), else its metadata field `key` as text, as `ids_with_meta` compares it (None where
    the doc lacks it). The statement stays open between chunks: read with a read-only
    connection."""
    if key is None:
        rows = conn.execute("SELECT id, source FROM docs WHERE corpus_id = ?", (corpus_id,))
    else:
        if not key.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise UsageError(f"bad metadata field '{key}'", fix="e.g. --by-source meta.lang")
        rows = conn.execute(
            "SELECT id, CAST(json_extract(meta, ?) AS TEXT) FROM docs WHERE corpus_id = ?",
            (f'$."{key}"', corpus_id),
        )
    while chunk := rows.fetchmany(size):
        yield np.fromiter((r[0] for r in chunk), np.int64, len(chunk)), [r[1] for r in chunk]


def match_ext_ids(
    conn: sqlite3.Connection, corpus_id: int, ext_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(doc id, n_tokens) of each ext id in the corpus, aligned with `ext_ids` (e.g. the ids of
    scores computed outside the workspace, a Ray apply's shards); -1 for both where the corpus
    has no doc with that id. Each lookup uses the (corpus_id, ext_id) index."""
    ids = [str(e) for e in ext_ids]
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(ids), IN_BATCH):
        part = ids[start : start + IN_BATCH]
        for row in conn.execute(
            f"SELECT ext_id, id, n_tokens FROM docs WHERE corpus_id = ? AND ext_id IN "
            f"({','.join('?' * len(part))})",
            (corpus_id, *part),
        ):
            found[row[0]] = (row[1], row[2])
    out = np.array([found.get(e, (-1, -1)) for e in ids], dtype=np.int64).reshape(-1, 2)
    return out[:, 0], out[:, 1]
