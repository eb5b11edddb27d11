"""Scores computed outside the workspace (a Ray apply's Parquet shards): their ids matched to
the corpus's docs. Staging and the swap into doc_probs are engine.store.scores'."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

IN_BATCH = 500  # ids per IN (...) query, well under SQLite's host parameter limit


def match_ext_ids(
    conn: sqlite3.Connection, corpus_id: int, ext_ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(doc id, n_tokens) of each ext id in the corpus, aligned with `ext_ids`; -1 for both
    where the corpus has no doc with that id. Each lookup uses the (corpus_id, ext_id) index."""
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
