"""Near duplicates of a corpus (MinHash LSH, engine.betr.minhash) as a resumable job.

It fills the pending near-duplicate run that `engine.api.dups.plan_near_dups` created, in
three steps: (1) the exact-duplicate hash of any doc that has none (docs written without the
import job), committed a chunk at a time; (2) the band keys of every doc, by doc id, a chunk
at a time (in `workers` processes for a large corpus), each chunk staged with the job's
progress and a checkpoint (the last doc id staged), so a killed worker resumes after its last
committed chunk; (3) the clusters from every staged key (connected components of the LSH
candidates), written with the run's counts in one transaction that also drops the staged keys
and sets finished_at, so a half-done run is never read as a result.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from typing import Any

from engine.betr.dedup_text import exact_hash
from engine.betr.minhash import MinHashParams, cluster_labels
from engine.errors import UsageError
from engine.exec.local import CorpusChunks, available_cores, run_batches
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import NearDupCheckpoint
from engine.jobs.specs import NearDupSpec
from engine.ops.minhash import MinHashBands
from engine.store import catalog
from engine.store import dups as store_dups

CHUNK_DOCS = 2000
PARALLEL_MIN_DOCS = 20_000  # a smaller corpus is signed in the job's process


def run_near_dups(ctx: JobContext, spec: NearDupSpec) -> dict[str, Any]:
    conn = ctx.conn
    again = f"run it again: betr dups --corpus {spec.corpus} --near"
    run = store_dups.get_near_run(conn, spec.near_run_id)
    if run is None:
        raise UsageError(
            f"near-duplicate run {spec.near_run_id} no longer exists (its corpus was deleted, "
            "or a newer run replaced it)",
            fix=again,
        )
    if run["finished_at"] is not None:
        return {**summary(run), "skipped": "already done"}
    corpus = catalog.corpus_by_id(conn, run["corpus_id"])
    if corpus is None or corpus["deleting_at"] is not None:
        raise UsageError(f"corpus '{spec.corpus}' is being deleted", fix=again)
    params = MinHashParams(**run["params"])
    state = claim_run(ctx, run)
    t0 = time.monotonic()
    if not state.hashed:
        state = backfill_hashes(ctx, run["corpus_id"], state)
    n_docs = int(corpus["n_docs"])
    ctx.start_phase(n_docs, "docs", done=state.docs or 0)
    ctx.log.info("near duplicates of %s (%d docs): %s", spec.corpus, n_docs, params.describe())

    def write(c: sqlite3.Connection, out: dict[str, Any]) -> None:
        store_dups.insert_bands(c, run["id"], out["id"][-1], out["signed"], out["keys"])

    def checkpoint_of(out: dict[str, Any]) -> NearDupCheckpoint:
        nonlocal state
        state = state.chunk_done(out["id"][-1], len(out["id"]), len(out["signed"]))
        return state

    reader = CorpusChunks(ctx.workspace, run["corpus_id"])  # texts read where the op runs
    chunks = reader.chunks(conn, after_id=state.after or 0, size=CHUNK_DOCS)
    workers = near_workers(spec.workers, n_docs - (state.docs or 0))
    ctx.log.info("signing on %d process(es)", workers)
    op = MinHashBands(params.as_dict(), batch_size=CHUNK_DOCS)
    try:
        run_batches(
            ctx, op, chunks, write=write, checkpoint=checkpoint_of, workers=workers, load=reader
        )
    finally:
        reader.close()
    t_sign = time.monotonic() - t0
    ctx.log.info("clustering the band keys of %d signed docs", state.signed or 0)
    doc_ids, keys = store_dups.read_bands(conn, run["id"], params.buckets)
    labels = cluster_labels(keys)
    in_cluster = labels >= 0
    members = list(zip(doc_ids[in_cluster].tolist(), labels[in_cluster].tolist(), strict=True))
    n_clusters = int(labels.max()) + 1 if len(labels) and in_cluster.any() else 0

    def finish(c: sqlite3.Connection) -> None:
        store_dups.finish_near_run(
            c,
            run["id"],
            members,
            n_docs=state.docs or 0,
            n_signed=len(doc_ids),
            n_clusters=n_clusters,
        )
        dropped = store_dups.drop_other_near_runs(c, run)
        ctx.log.info("dropped %d superseded near-duplicate run(s)", dropped)

    ctx.commit_chunk(
        finish, advance=0, checkpoint=NearDupCheckpoint(near_run_id=run["id"], finished=True)
    )
    out = summary(store_dups.get_near_run(conn, run["id"]) or run)
    return {
        **out,
        "workers": workers,
        "sign_s": round(t_sign, 3),
        "seconds": round(time.monotonic() - t0, 3),
    }


def claim_run(ctx: JobContext, run: dict[str, Any]) -> NearDupCheckpoint:
    """Where the run continues: after the last chunk this job staged for it, or (another run's
    checkpoint, or none) from the start, its staged keys cleared. The run names this job."""
    restored = ctx.restore(NearDupCheckpoint)
    resuming = restored.near_run_id == run["id"]
    state = restored if resuming else NearDupCheckpoint(near_run_id=run["id"])

    def claim(c: sqlite3.Connection) -> None:
        # chunks staged past the checkpoint (none: a chunk and its checkpoint commit together)
        store_dups.clear_bands(c, run["id"], state.after or 0)
        store_dups.set_near_run_job(c, run["id"], ctx.job_id)

    ctx.commit_chunk(claim, advance=0, checkpoint=state)
    return state


def backfill_hashes(ctx: JobContext, corpus_id: int, state: NearDupCheckpoint) -> NearDupCheckpoint:
    """The exact hash of every doc of the corpus that has none, a chunk per commit (resumable
    by construction: each chunk reads the docs still without one)."""
    conn = ctx.conn
    missing = store_dups.count_without_hash(conn, corpus_id)
    if missing:
        ctx.start_phase(missing, "docs hashed")
        ctx.log.info("exact hashes for %d doc(s) imported without one", missing)
        after = 0
        while rows := store_dups.docs_without_hash(conn, corpus_id, after, CHUNK_DOCS):
            hashes = [(r[0], corpus_id, exact_hash(r[1])) for r in rows]
            ctx.commit_chunk(
                lambda c, h=hashes: store_dups.insert_hashes(c, h),
                advance=len(rows),
                checkpoint=state,
            )
            after = rows[-1][0]
    state = dataclasses.replace(state, hashed=True)
    ctx.advance(0, state)
    return state


def near_workers(asked: int | None, remaining: int) -> int:
    """Processes: as asked, or every core when at least PARALLEL_MIN_DOCS docs remain; never
    more than one per chunk left."""
    chunks = max(1, -(-remaining // CHUNK_DOCS))
    if asked is None:
        asked = available_cores() if remaining >= PARALLEL_MIN_DOCS else 1
    return max(1, min(asked, chunks))


def summary(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "near_run_id": run["id"],
        "corpus": run.get("corpus"),
        "params": run["params"],
        "docs": run["n_docs"],
        "signed": run["n_signed"],
        "clusters": run["n_clusters"],
        "members": run["n_members"],
    }
