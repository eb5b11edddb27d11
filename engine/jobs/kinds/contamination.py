"""The contamination check as a resumable job (METHODS "Contamination").

It fills the pending check that `engine.api.contamination.plan_check` created: the n-gram
index of every benchmark's examples (evaluation splits first) is built once, then the run's
docs go through it in probability order, positions 1..upto, a chunk at a time; each chunk's
hits are committed with the job's progress and a checkpoint (the last position done), so a
killed worker resumes after its last committed chunk. The check is marked finished only in the
transaction of the last step, so a half-done check is never read as a result.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

from engine.betr.contamination import split_rank
from engine.betr.runs import require_state
from engine.errors import UsageError
from engine.exec.local import available_cores, run_batches
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import ContaminationCheckpoint
from engine.jobs.specs import ContaminationSpec
from engine.ops import Batch
from engine.ops.contamination import FindOverlaps
from engine.store import contamination as store_c
from engine.store import runs as store_runs

CHUNK_DOCS = 2000
PARALLEL_MIN_DOCS = 50_000  # a check of fewer docs runs in the job's process


def run_contamination(ctx: JobContext, spec: ContaminationSpec) -> dict[str, Any]:
    conn = ctx.conn
    check = store_c.get_check(conn, spec.check_id)
    again = f"check again: betr contamination --run {spec.run_id}"
    if check is None:
        raise UsageError(
            f"contamination check {spec.check_id} no longer exists (its run was deleted, or "
            "a newer check replaced it)",
            fix=again,
        )
    if check["finished_at"] is not None:
        return {**_summary(check), "skipped": "already checked"}
    run = unchanged_run(conn, check, again)
    examples = sorted(store_c.examples_for_check(conn), key=lambda r: split_rank(r["split"]))
    refs = [(r["id"], r["benchmark_id"]) for r in examples]
    state = claim_check(ctx, check)
    upto = int(check["upto"])
    ctx.start_phase(upto, "docs", done=state.after)
    ctx.log.info(
        "checking positions %d..%d of run %d against %d examples, n = %d",
        state.after + 1,
        upto,
        run["id"],
        len(examples),
        check["n"],
    )

    def write(c: sqlite3.Connection, out: Batch) -> None:
        hits = [
            (pos, doc, *refs[ex], start, end, k) for pos, doc, ex, start, end, k in out["overlaps"]
        ]
        store_c.insert_hits(c, check["id"], hits)

    def checkpoint_of(out: Batch) -> ContaminationCheckpoint:
        nonlocal state
        state = state.checked(out["position"][-1], out["overlaps"])
        return state

    t0 = time.monotonic()
    op = FindOverlaps([r["text"] for r in examples], int(check["n"]))
    workers = check_workers(spec.workers, upto - state.after)
    batches = _batches(conn, run["id"], state.after, upto)
    run_batches(ctx, op, batches, write=write, checkpoint=checkpoint_of, workers=workers)
    ctx.commit_chunk(
        lambda c: finish_check(ctx, c, check, run, state, again),
        advance=0,
        checkpoint=ContaminationCheckpoint(check_id=check["id"], finished=True),
    )
    out = _summary(store_c.get_check(conn, check["id"]) or check)
    return {**out, "workers": workers, "seconds": round(time.monotonic() - t0, 3)}


def unchanged_run(conn: sqlite3.Connection, check: dict[str, Any], again: str) -> dict[str, Any]:
    """The check's run, applied as it was when the check was planned, with the same
    benchmarks imported (a UsageError saying what changed otherwise)."""
    run = store_runs.get_run(conn, check["run_id"])
    require_state(run, "applied", action="check its docs for contamination")
    if run["finished_at"] != check["run_version"]:
        raise UsageError(
            f"run {run['id']} was applied again after this check was planned", fix=again
        )
    if store_c.benchmarks_key(conn) != check["benchmarks_key"]:
        raise UsageError(
            "benchmarks were imported or deleted after this check was planned", fix=again
        )
    return run


def claim_check(ctx: JobContext, check: dict[str, Any]) -> ContaminationCheckpoint:
    """Where the check continues: after the last position this job committed, or (another
    check's checkpoint, or none) from the start, its earlier hits cleared. The check names
    this job, in the same transaction."""
    restored = ctx.restore(ContaminationCheckpoint)
    resuming = restored.check_id == check["id"] and restored.after is not None
    state = restored
    if not resuming:
        state = ContaminationCheckpoint(check_id=check["id"], after=0, docs_hit=0, hits=0)
    if not resuming or check["job_id"] != ctx.job_id:

        def claim(c: sqlite3.Connection) -> None:
            if not resuming:
                store_c.clear_hits(c, check["id"])
            store_c.set_check_job(c, check["id"], ctx.job_id)

        ctx.commit_chunk(claim, advance=0, checkpoint=state)
    return state


def finish_check(
    ctx: JobContext,
    c: sqlite3.Connection,
    check: dict[str, Any],
    run: dict[str, Any],
    state: ContaminationCheckpoint,
    again: str,
) -> None:
    """(inside the last transaction) The check finished with its counts, unless what it
    checked changed meanwhile (an apply or an import); the run's obsolete checks dropped."""
    if store_runs.run_version(c, run["id"]) != (run["state"], check["run_version"]):
        raise UsageError(f"run {run['id']} was applied again during the check", fix=again)
    if store_c.benchmarks_key(c) != check["benchmarks_key"]:
        raise UsageError("benchmarks were imported during the check", fix=again)
    store_c.finish_check(c, check["id"], state.docs_hit, state.hits)
    dropped = store_c.drop_obsolete_checks(c, check)
    ctx.log.info("dropped %d obsolete check(s) of run %d", dropped, run["id"])


def check_workers(asked: int | None, remaining: int) -> int:
    """Processes for a check: as asked, or every core when at least PARALLEL_MIN_DOCS docs
    remain (each process builds its own index); never more than one per chunk left."""
    chunks = max(1, -(-remaining // CHUNK_DOCS))
    if asked is None:
        asked = available_cores() if remaining >= PARALLEL_MIN_DOCS else 1
    return max(1, min(asked, chunks))


def _batches(conn: sqlite3.Connection, run_id: int, after: int, upto: int) -> Iterator[Batch]:
    """{"id", "position", "text"} batches of positions after+1..upto, read as consumed."""
    while rows := store_c.docs_by_position(conn, run_id, after, upto, CHUNK_DOCS):
        after = rows[-1]["position"]
        yield {
            "id": [r["doc_id"] for r in rows],
            "position": [r["position"] for r in rows],
            "text": [r["text"] for r in rows],
        }


def _summary(check: dict[str, Any]) -> dict[str, Any]:
    return {
        "check_id": check["id"],
        "run_id": check["run_id"],
        "n": check["n"],
        "scope": check["scope"],
        "docs": check["upto"],
        "docs_hit": check["docs_hit"],
        "hits": check["hits"],
    }
