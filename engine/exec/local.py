"""The local executor: an operator in this process over batches read from the workspace, each
result committed with the job's progress and checkpoint in one transaction.

It knows nothing of job kinds: the caller hands it the batches (e.g. `corpus_text_batches`),
what to write for each, and the checkpoint that goes with it. `sink` is anything with `commit_chunk(write, *, advance,
checkpoint)`, i.e. the job's context.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from engine.embed import EmbeddingCache, embed_cached
from engine.ops import Batch, Operator
from engine.ops.embed import EmbedTexts
from engine.store import docs


class ChunkSink(Protocol):
    def commit_chunk(
        self, write: Callable[[sqlite3.Connection], Any], *, advance: int, checkpoint: dict
    ) -> Any: ...


def corpus_text_batches(
    conn: sqlite3.Connection, corpus_id: int, *, after_id: int, size: int
) -> Iterator[Batch]:
    """The corpus's docs with id > `after_id`, by id, as batches {"id": [...], "text": [...]}
    of at most `size` (read one at a time, as they are consumed)."""
    while rows := docs.docs_after(conn, corpus_id, after_id, size):
        after_id = rows[-1][0]
        yield {"id": [r[0] for r in rows], "text": [r[1] for r in rows]}


def run_batches(
    sink: ChunkSink,
    op: Operator,
    batches: Iterable[Batch],
    *,
    write: Callable[[sqlite3.Connection, Batch], None],
    checkpoint: Callable[[Batch], dict[str, Any]],
) -> int:
    """op.setup(), then for each batch: op(batch), and write(conn, result) committed with
    progress (the batch's rows) and checkpoint(result). Returns the rows processed."""
    op.setup()
    rows = 0
    for batch in batches:
        out = op(batch)
        n = len(out["id"])
        sink.commit_chunk(lambda c, o=out: write(c, o), advance=n, checkpoint=checkpoint(out))
        rows += n
    return rows


def embed_texts(
    op: EmbedTexts,
    texts: Sequence[str],
    cache: EmbeddingCache,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(n, dim) float32 unit vectors of `texts` through the embedding cache: only texts not
    cached under the model embed, each once, and each chunk of new vectors is stored as it
    lands (engine.embed.embed_cached)."""
    op.setup()
    return embed_cached(op, texts, cache, batch_size=op.batch_size, progress=progress)
