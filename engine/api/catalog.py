"""Deleting what a workspace holds: corpora (with their docs and runs) and benchmarks.

Nothing a queued or running job uses can be deleted: the refusal names the job and how to
cancel it. A corpus goes in bounded transactions (engine.store.deletes), so imports and jobs
running meanwhile keep writing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.jobs.table import refuse_if_in_use
from engine.store import deletes
from engine.store.db import transaction
from engine.workspace import Workspace


@dataclass(frozen=True)
class Deleted:
    what: str  # "corpus" | "benchmark"
    name: str
    rows: int  # docs or examples
    runs: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def delete_corpus(
    workspace: Workspace,
    name: str,
    *,
    batch: int = deletes.DELETE_BATCH,
    on_progress: Callable[[int, int], None] | None = None,
) -> Deleted:
    """Delete corpus `name`, its documents and every run over it (and the runs' model files).

    `on_progress(done, total)` counts deleted docs. A delete that was interrupted (the corpus
    shows as `deleting`) is finished by calling this again."""
    conn = workspace.connect()
    try:
        with transaction(conn):
            row = deletes.corpus_for_delete(conn, name)
            refuse_if_in_use(conn, "corpus", row["id"], name)
            deletes.mark_corpus_deleting(conn, row["id"])
        corpus_id, n_docs = row["id"], row["n_docs"]
        run_ids = deletes.runs_of_corpus(conn, corpus_id)
        for run_id in run_ids:
            files = deletes.artifact_paths(conn, run_id)
            deletes.delete_run(conn, run_id, batch=batch)
            for rel in files:
                (workspace.root / rel).unlink(missing_ok=True)
        done = 0

        def rows(n: int) -> None:
            nonlocal done
            done += n
            if on_progress is not None:
                on_progress(done, n_docs)

        deletes.delete_docs(conn, corpus_id, batch=batch, on_rows=rows)
        deletes.finish_corpus_delete(conn, corpus_id)
    finally:
        conn.close()
    return Deleted("corpus", name, n_docs, len(run_ids))


def delete_benchmark(workspace: Workspace, name: str) -> Deleted:
    """Delete benchmark `name` and its examples (one transaction: examples are few)."""
    conn = workspace.connect()
    try:
        with transaction(conn):
            row = deletes.benchmark_for_delete(conn, name)
            refuse_if_in_use(conn, "benchmark", name, name)
            deletes.delete_benchmark_row(conn, row["id"])
    finally:
        conn.close()
    return Deleted("benchmark", name, row["n_examples"])
