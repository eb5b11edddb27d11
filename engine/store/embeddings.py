"""The workspace's embedding cache: float16 vectors keyed by (model id, text sha256)."""

from __future__ import annotations

import sqlite3

import numpy as np

from engine.store.db import transaction

BATCH = 500  # SQLite host parameters per IN (...) query, well under the limit


class SqliteEmbeddingCache:
    """Implements the cache protocol of `engine.embed.embed_cached` on the workspace DB."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def get_many(self, model_id: str, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), BATCH):
            part = keys[start : start + BATCH]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                f"SELECT text_sha256, vec FROM embeddings WHERE model_id = ? "
                f"AND text_sha256 IN ({marks})",
                (model_id, *part),
            )
            for key, blob in rows:
                found[bytes(key)] = np.frombuffer(blob, dtype=np.float16)
        return found

    def put_many(self, model_id: str, items: list[tuple[bytes, np.ndarray]]) -> None:
        rows = [(model_id, key, np.asarray(vec, dtype=np.float16).tobytes()) for key, vec in items]
        if self.conn.in_transaction:
            self._insert(rows)
        else:
            with transaction(self.conn):
                self._insert(rows)

    def _insert(self, rows: list[tuple]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO embeddings (model_id, text_sha256, vec) VALUES (?, ?, ?)", rows
        )

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            return self.conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return self.conn.execute(
            "SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)
        ).fetchone()[0]
