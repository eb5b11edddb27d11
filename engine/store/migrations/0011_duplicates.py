"""Data step of migration 11: the exact-duplicate hash of every doc imported before it.

exact_hash = BLAKE2b-64 (signed, little endian) of the text in Unicode NFC, lowercased, with
every whitespace run one space and no leading or trailing whitespace: what
engine.betr.dedup_text.exact_hash computed when this migration was written (a test holds the
two equal). Read by id in batches, in the migration's one transaction: a killed migration
leaves no hash behind and runs again whole. Self-contained on purpose: a migration never
imports today's code.
"""

import hashlib
import unicodedata

BATCH = 2000


def _hash(text):
    norm = " ".join(unicodedata.normalize("NFC", text).lower().split())
    digest = hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def migrate(conn):
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, corpus_id, text FROM docs WHERE id > ? ORDER BY id LIMIT ?", (last, BATCH)
        ).fetchall()
        if not rows:
            return
        conn.executemany(
            "INSERT INTO doc_hashes (doc_id, corpus_id, exact_hash) VALUES (?, ?, ?)",
            [(r[0], r[1], _hash(r[2])) for r in rows],
        )
        last = rows[-1][0]
