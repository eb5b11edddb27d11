"""The local executor: an operator in this process over batches read from the workspace, each
result committed with the job's progress and checkpoint in one transaction.

It knows nothing of job kinds: the caller hands it the batches (e.g. `CorpusChunks`),
what to write for each, and the checkpoint that goes with it. `sink` is anything with `commit_chunk(write, *, advance,
checkpoint)`, i.e. the job's context.

With `workers` > 1 the operator runs in that many spawned processes (each sets up its own
copy once; the job's process reads the batches, keeps at most two per worker in flight and
commits the results in input order, so checkpoints and resume are exactly as with one).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from engine.embed import EmbeddingCache, embed_cached
from engine.ops import Batch, Operator
from engine.ops.embed import EmbedTexts
from engine.store import docs


class ChunkSink(Protocol):
    """Where results go: the job's context (its checkpoint is the job kind's dataclass)."""

    def commit_chunk(
        self, write: Callable[[sqlite3.Connection], Any], *, advance: int, checkpoint: Any
    ) -> Any: ...


class CorpusChunks:
    """A corpus's texts by chunk, read in whichever process runs the operator (so with
    several processes the job's process neither reads nor sends the texts): `chunks(conn,
    after_id, size)` gives (after, last) id bounds, and calling it with one gives the batch
    {"id": [...], "text": [...]} through its own read-only connection."""

    def __init__(self, workspace: Any, corpus_id: int):
        self.workspace, self.corpus_id = workspace, corpus_id
        self._conn: sqlite3.Connection | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_conn": None}

    def chunks(self, conn: sqlite3.Connection, after_id: int, size: int) -> Iterator[tuple]:
        return docs.id_chunks(conn, self.corpus_id, after_id, size)

    def __call__(self, bounds: tuple[int, int]) -> Batch:
        if self._conn is None:
            self._conn = self.workspace.connect(readonly=True)
        rows = docs.docs_between(self._conn, self.corpus_id, *bounds)
        return {"id": [r[0] for r in rows], "text": [r[1] for r in rows]}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_worker: dict[str, Any] = {}  # (in a pool process) its operator and loader


def _init_worker(op: Operator, load: Callable[[Any], Batch] | None) -> None:
    """(in each pool process) Ctrl-C goes to the job's process, which stops the pool; set the
    operator up once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    op.setup()
    _worker.update(op=op, load=load)


def _call_worker(item: Any) -> Batch:
    """(in a pool process) op(batch) (the batch loaded here from `item` when there is a
    loader), without the texts, which the caller has or does not need."""
    load = _worker["load"]
    out = _worker["op"](load(item) if load is not None else item)
    return {k: v for k, v in out.items() if k != "text"}


def map_in_processes(
    op: Operator,
    batches: Iterable[Any],
    workers: int,
    load: Callable[[Any], Batch] | None = None,
) -> Iterator[Batch]:
    """op(batch) for each batch (or op(load(item)) for each item, loaded in the worker), in
    input order, computed by `workers` spawned processes (the operator and loader are pickled
    to each, so they must pickle without a loaded model or open connection). At most two
    batches per worker are in flight; on exit (done, error, cancel) the pool is stopped and
    batches not started are dropped."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    pool = ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(op, load)
    )
    pending: deque = deque()
    try:
        it = iter(batches)
        for batch in it:
            pending.append(pool.submit(_call_worker, batch))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        with contextlib.suppress(Exception):
            pool.shutdown(wait=True, cancel_futures=True)


def run_batches(
    sink: ChunkSink,
    op: Operator,
    batches: Iterable[Batch],
    *,
    write: Callable[[sqlite3.Connection, Batch], None],
    checkpoint: Callable[[Batch], Any],
    workers: int = 1,
    load: Callable[[Any], Batch] | None = None,
) -> int:
    """op.setup(), then for each batch: op(batch), and write(conn, result) committed with
    progress (the batch's rows) and checkpoint(result). Returns the rows processed. With
    `load`, `batches` are items that load(item) turns into batches (e.g. CorpusChunks). With
    `workers` > 1, op (and load) run in that many processes (`map_in_processes`); results come
    back without the "text" column."""
    op.setup()
    rows = 0
    if workers > 1:
        outs = map_in_processes(op, batches, workers, load)
    else:
        outs = (op(load(b) if load is not None else b) for b in batches)
    with contextlib.closing(outs):  # a cancel (raised by commit_chunk) stops the pool now
        for out in outs:
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
