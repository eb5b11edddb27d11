"""What a BETR run produced: the scored sample (`run_sample`), p(positive) per doc (`doc_probs`,
staged in `apply_staging` while an apply runs), the probability order with cumulative tokens
(`prob_order`), and the run's columns packed as numpy arrays (`run_columns`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

# Packed columns: prob order (whole corpus), then the scored sample by row in that order.
PROB_COLUMNS = {"doc_id": "<i8", "prob": "<f8", "n_tokens": "<i8"}
SAMPLE_COLUMNS = {
    "s_row": "<i8",
    "s_score": "<f8",
    "s_best_rank": "<i8",
    "s_best_cosine": "<f8",
    "s_bench": "<i8",
    "s_example": "<i8",
    "s_label": "<i1",
    "s_split": "<i1",
}
SPLITS = ("", "train", "valid", "unused")


# -- the scored sample --------------------------------------------------------------------------
def sample_doc_ids(conn: sqlite3.Connection, run_id: int) -> np.ndarray:
    rows = conn.execute(
        "SELECT doc_id FROM run_sample WHERE run_id = ? ORDER BY doc_id", (run_id,)
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def insert_sample(conn: sqlite3.Connection, run_id: int, doc_ids: Sequence[int]) -> None:
    """(call inside a transaction)"""
    conn.executemany(
        "INSERT INTO run_sample (run_id, doc_id) VALUES (?, ?)",
        [(run_id, int(d)) for d in doc_ids],
    )


def write_sample_scores(conn: sqlite3.Connection, run_id: int, rows: Sequence[tuple]) -> None:
    """(score, best_rank, best_cosine, example_id, benchmark_id, doc_id) per sample doc (call
    inside a transaction)."""
    conn.executemany(
        "UPDATE run_sample SET score = ?, best_rank = ?, best_cosine = ?, example_id = ?, "
        "benchmark_id = ? WHERE run_id = ? AND doc_id = ?",
        [(*r[:5], run_id, r[5]) for r in rows],
    )


def sample_by_score(conn: sqlite3.Connection, run_id: int) -> list[sqlite3.Row]:
    """(doc_id, score) of the sample in BETR order: score desc, best cosine desc, doc id."""
    return conn.execute(
        "SELECT doc_id, score FROM run_sample WHERE run_id = ? "
        "ORDER BY score DESC, best_cosine DESC, doc_id",
        (run_id,),
    ).fetchall()


def write_sample_labels(conn: sqlite3.Connection, run_id: int, rows: Sequence[tuple]) -> None:
    """(label, split, doc_id) per sample doc (call inside a transaction)."""
    conn.executemany(
        "UPDATE run_sample SET label = ?, split = ? WHERE run_id = ? AND doc_id = ?",
        [(r[0], r[1], run_id, r[2]) for r in rows],
    )


def count_sample(conn: sqlite3.Connection, run_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM run_sample WHERE run_id = ?", (run_id,)).fetchone()[0]


def ranked_rows(
    conn: sqlite3.Connection, run_id: int, *, applied: bool, limit: int | None, offset: int
) -> list[dict[str, Any]]:
    """The scored sample, best first, with p(positive) once applied."""
    prob = "p.prob" if applied else "NULL"
    join = "LEFT JOIN doc_probs p ON p.run_id = s.run_id AND p.doc_id = s.doc_id" if applied else ""
    rows = conn.execute(
        f"SELECT s.doc_id, d.ext_id, s.score, s.best_rank, s.best_cosine, b.name AS benchmark, "
        f"e.ext_id AS example_id, {prob} AS prob FROM run_sample s "
        f"JOIN docs d ON d.id = s.doc_id LEFT JOIN examples e ON e.id = s.example_id "
        f"LEFT JOIN benchmarks b ON b.id = s.benchmark_id {join} "
        f"WHERE s.run_id = ? ORDER BY s.score DESC, s.best_cosine DESC, s.doc_id "
        f"LIMIT ? OFFSET ?",
        (run_id, -1 if limit is None else limit, offset),
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        if not applied:
            d.pop("prob")
        out.append(d)
    return out


# -- probabilities: staged while an apply runs, swapped in at its end ---------------------------
def clear_results(conn: sqlite3.Connection, run_id: int) -> None:
    """A retrained classifier invalidates earlier probabilities (call inside a transaction)."""
    for table in ("doc_probs", "apply_staging", "prob_order", "run_columns"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))


def count_staged(conn: sqlite3.Connection, run_id: int, job_id: int) -> int:
    return conn.execute(
        "SELECT COUNT(*) FROM apply_staging WHERE run_id = ? AND job_id = ?", (run_id, job_id)
    ).fetchone()[0]


def stage_probs(conn: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """(run_id, doc_id, prob, job_id) rows (call inside a transaction)."""
    conn.executemany(
        "INSERT INTO apply_staging (run_id, doc_id, prob, job_id) VALUES (?, ?, ?, ?)", rows
    )


def swap_in_staged(conn: sqlite3.Connection, run_id: int, job_id: int) -> None:
    """The job's staged probabilities replace the run's, and the order is rebuilt (call inside
    a transaction). A doc deleted meanwhile is dropped by the join."""
    conn.execute("DELETE FROM doc_probs WHERE run_id = ?", (run_id,))
    conn.execute(
        "INSERT INTO doc_probs (run_id, doc_id, prob) SELECT s.run_id, s.doc_id, s.prob "
        "FROM apply_staging s JOIN docs d ON d.id = s.doc_id WHERE s.run_id = ? AND s.job_id = ?",
        (run_id, job_id),
    )
    conn.execute("DELETE FROM apply_staging WHERE run_id = ?", (run_id,))
    write_prob_order(conn, run_id)


def prob_of(conn: sqlite3.Connection, run_id: int, doc_id: int) -> float | None:
    row = conn.execute(
        "SELECT prob FROM doc_probs WHERE run_id = ? AND doc_id = ?", (run_id, doc_id)
    ).fetchone()
    return row[0] if row else None


def count_probs(conn: sqlite3.Connection, run_id: int) -> int:
    return conn.execute("SELECT COUNT(*) FROM doc_probs WHERE run_id = ?", (run_id,)).fetchone()[0]


def write_prob_order(conn: sqlite3.Connection, run_id: int) -> None:
    """prob_order (positions and cumulative tokens) from doc_probs, and the packed run columns
    (call inside a transaction). Ties in probability are broken by doc id, so the order, and
    every threshold, is stable."""
    conn.execute("DELETE FROM prob_order WHERE run_id = ?", (run_id,))
    conn.execute(
        "INSERT INTO prob_order (run_id, position, doc_id, prob, n_tokens, cum_tokens) "
        "SELECT p.run_id, ROW_NUMBER() OVER w, p.doc_id, p.prob, d.n_tokens, "
        "SUM(d.n_tokens) OVER w FROM doc_probs p JOIN docs d ON d.id = p.doc_id "
        "WHERE p.run_id = ? WINDOW w AS (ORDER BY p.prob DESC, p.doc_id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
        (run_id,),
    )
    pack_run_columns(conn, run_id)


# -- the probability order: cuts and exports ----------------------------------------------------
def order_totals(conn: sqlite3.Connection, run_id: int) -> tuple[int, int]:
    """(docs, tokens) in the run's probability order."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(MAX(cum_tokens), 0) FROM prob_order WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    return row[0], row[1]


def first_position_with_tokens(conn: sqlite3.Connection, run_id: int, tokens: float) -> int | None:
    """The first position whose cumulative tokens reach `tokens` (a binary search on the
    index), or None when none does."""
    return conn.execute(
        "SELECT MIN(position) FROM prob_order WHERE run_id = ? AND cum_tokens >= ?",
        (run_id, tokens),
    ).fetchone()[0]


def at_position(conn: sqlite3.Connection, run_id: int, position: int) -> sqlite3.Row:
    """(prob, cum_tokens) at a position of the probability order."""
    return conn.execute(
        "SELECT prob, cum_tokens FROM prob_order WHERE run_id = ? AND position = ?",
        (run_id, position),
    ).fetchone()


_EXPORT = (
    "SELECT o.position, o.doc_id, o.prob, o.n_tokens, d.ext_id, {text} AS text, d.source, d.meta "
    "FROM prob_order o JOIN docs d ON d.id = o.doc_id WHERE o.run_id = ? "
)


def export_rows(
    conn: sqlite3.Connection,
    run_id: int,
    upto: int,
    extra_positions: Sequence[int],
    *,
    with_text: bool = True,
) -> Iterator[tuple[sqlite3.Row, bool]]:
    """(row, is_extra): positions 1..upto in order, then `extra_positions` (sorted) in order;
    read as they are consumed. Without `with_text` the rows' text is NULL."""
    sql = _EXPORT.format(text="d.text" if with_text else "NULL")
    for r in conn.execute(sql + "AND o.position <= ? ORDER BY o.position", (run_id, upto)):
        yield r, False
    for start in range(0, len(extra_positions), 500):
        part = list(extra_positions[start : start + 500])
        for r in conn.execute(
            sql + f"AND o.position IN ({','.join('?' * len(part))}) ORDER BY o.position",
            (run_id, *part),
        ):
            yield r, True


# -- packed columns -----------------------------------------------------------------------------
def build_run_columns(conn: sqlite3.Connection, run_id: int) -> dict[str, np.ndarray]:
    """The packed columns of an applied run, read from prob_order and run_sample (a row scan)."""
    rows = conn.execute(
        "SELECT doc_id, prob, n_tokens FROM prob_order WHERE run_id = ? ORDER BY position",
        (run_id,),
    )
    # straight into typed arrays, row by row: no list of a million row tuples on the way
    dtype = [("doc_id", np.int64), ("prob", np.float64), ("n", np.int64)]
    arr = np.fromiter((tuple(r) for r in rows), dtype=dtype)
    cols = {
        "doc_id": arr["doc_id"].copy(),
        "prob": arr["prob"].copy(),
        "n_tokens": arr["n"].copy(),
    }
    del arr
    sample = conn.execute(
        "SELECT o.position - 1, s.score, s.best_rank, s.best_cosine, s.benchmark_id, "
        "s.example_id, s.label, s.split FROM run_sample s JOIN prob_order o "
        "ON o.run_id = s.run_id AND o.doc_id = s.doc_id WHERE s.run_id = ? ORDER BY o.position",
        (run_id,),
    ).fetchall()
    cols.update(sample_columns(sample))
    return cols


def sample_columns(sample: Sequence[Sequence[Any]]) -> dict[str, np.ndarray]:
    """Rows of (row, score, best_rank, best_cosine, benchmark_id, example_id, label, split) as
    the packed sample columns."""

    def col(i: int, dtype: str, default: float) -> np.ndarray:
        return np.array([default if r[i] is None else r[i] for r in sample], dtype=dtype)

    return {
        "s_row": col(0, "<i8", 0),
        "s_score": col(1, "<f8", 0.0),
        "s_best_rank": col(2, "<i8", 0),
        "s_best_cosine": col(3, "<f8", np.nan),
        "s_bench": col(4, "<i8", -1),
        "s_example": col(5, "<i8", -1),
        "s_label": col(6, "<i1", -1),
        "s_split": np.array(
            [SPLITS.index(r[7]) if r[7] in SPLITS else 0 for r in sample], dtype="<i1"
        ),
    }


def pack_run_columns(conn: sqlite3.Connection, run_id: int) -> int:
    """Write the run's packed columns into run_columns (call inside the transaction that writes
    prob_order). Returns the bytes written."""
    cols = build_run_columns(conn, run_id)
    conn.execute("DELETE FROM run_columns WHERE run_id = ?", (run_id,))
    size = 0
    for name, dtype in {**PROB_COLUMNS, **SAMPLE_COLUMNS}.items():
        data = np.ascontiguousarray(cols[name], dtype=dtype).tobytes()
        size += len(data)
        conn.execute(
            "INSERT INTO run_columns (run_id, name, dtype, data) VALUES (?, ?, ?, ?)",
            (run_id, name, dtype, data),
        )
    return size


def read_packed(conn: sqlite3.Connection, run_id: int) -> dict[str, np.ndarray] | None:
    """The packed columns, or None when the run has none (applied before they existed)."""
    rows = conn.execute(
        "SELECT name, dtype, data FROM run_columns WHERE run_id = ? ", (run_id,)
    ).fetchall()
    cols = {r[0]: np.frombuffer(r[2], dtype=r[1]) for r in rows}
    if set(cols) != set(PROB_COLUMNS) | set(SAMPLE_COLUMNS):
        return None
    return cols


def sample_in_betr_order(conn: sqlite3.Connection, run_id: int) -> list[sqlite3.Row]:
    """The scored sample of a run not yet applied: (doc_id, n_tokens, score, best_rank,
    best_cosine, benchmark_id, example_id, label, split) in BETR order."""
    return conn.execute(
        "SELECT s.doc_id, d.n_tokens, s.score, s.best_rank, s.best_cosine, s.benchmark_id, "
        "s.example_id, s.label, s.split FROM run_sample s JOIN docs d ON d.id = s.doc_id "
        "WHERE s.run_id = ? ORDER BY s.score DESC, s.best_cosine DESC, s.doc_id",
        (run_id,),
    ).fetchall()
