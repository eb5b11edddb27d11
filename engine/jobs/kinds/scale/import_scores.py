"""`import-scores`: the Parquet shards of a Ray apply (id, prob, n_tokens, shard) into a run, as
if it had been applied locally, so the app browses them.

1. Check every shard before anything is written: probabilities in [0, 1], every id a doc of
   the run's corpus (else an InputError naming the shard and its first unknown ids), no doc
   twice, every doc of the corpus scored.
2. Stage the probabilities in `apply_staging`, chunk by chunk through `ctx.commit_chunk`; a
   killed worker resumes after the last committed chunk (the checkpoint holds the shard, its
   row and a fingerprint of the shard files: changed files start over).
3. Swap them into doc_probs and rebuild prob_order and the packed run columns in one
   transaction (engine.store.scores.swap_in_staged, as the local apply does), marking the run
   applied. The order, and every cut, is the local one: probability descending, doc id
   ascending; token counts are the corpus's (a shard whose counts differ is reported).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import numpy as np

from engine.betr.runs import require_state
from engine.betr.scale import check_probs
from engine.errors import InputError, UsageError
from engine.exec.scale.threshold import COLUMNS, read_columns, score_shards
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import ImportScoresCheckpoint
from engine.jobs.specs import ImportScoresSpec
from engine.store import runs as store_runs
from engine.store import scores
from engine.store.deletes import delete_batched
from engine.store.docs import match_ext_ids

CHUNK = 5000
SHOW_IDS = 5


def fingerprint(paths: list[str]) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime_ns) of each shard file: a resume needs the same files."""
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((os.path.basename(p), st.st_size, st.st_mtime_ns))
    return tuple(out)


def run_import_scores(ctx: JobContext, spec: ImportScoresSpec) -> dict[str, Any]:
    conn, run_id = ctx.conn, spec.run_id
    run = store_runs.get_run(conn, run_id)
    require_state(run, "trained", "applied", action="import scores into it")
    paths = score_shards(spec.path)
    state = staging_start(ctx, run, paths)
    checked = state.checked or {}
    ctx.start_phase(checked["docs"], "docs", done=state.staged)
    t0 = time.monotonic()
    state = stage_shards(ctx, run, paths, state)
    t_stage = time.monotonic() - t0

    def swap_in(c) -> None:
        scores.swap_in_staged(c, run_id, ctx.job_id)
        store_runs.set_state(c, run_id, "applied", finished=True)
        store_runs.update_metrics(
            c,
            run_id,
            applied_docs=state.staged,
            apply_s=round(t_stage, 3),
            imported_scores={
                "path": spec.path,
                "shards": len(paths),
                "token_mismatches": checked["token_mismatches"],
            },
        )

    ctx.commit_chunk(swap_in, advance=0, checkpoint=ImportScoresCheckpoint("imported"))
    return {
        "run_id": run_id,
        "path": spec.path,
        "shards": len(paths),
        "docs": state.staged,
        "token_mismatches": checked["token_mismatches"],
    }


def staging_start(ctx: JobContext, run: dict[str, Any], paths: list[str]) -> ImportScoresCheckpoint:
    """Where staging starts: after this job's last committed chunk when the shard files are
    the same and its staged rows all there, else at the first row, once every shard is
    checked (which raises before anything is written). What other imports or applies of the
    run staged goes."""
    shards = fingerprint(paths)
    staged = scores.count_staged(ctx.conn, run["id"], ctx.job_id)
    state = ctx.restore(ImportScoresCheckpoint)
    resuming = state.resumes(shards, staged)
    if not resuming:
        checked = check_shards(ctx.conn, run, paths)
        state = ImportScoresCheckpoint(
            "import-scores", shards=shards, shard=0, row=0, staged=0, checked=checked
        )
    mine = (run["id"], ctx.job_id if resuming else -1)
    delete_batched(ctx.conn, "apply_staging", "doc_id", "run_id = ? AND job_id != ?", mine)
    return state


def stage_shards(
    ctx: JobContext, run: dict[str, Any], paths: list[str], state: ImportScoresCheckpoint
) -> ImportScoresCheckpoint:
    """The shards' probabilities into apply_staging from `state` on, a chunk a transaction;
    returns the last checkpoint."""
    first_shard, first_row = state.shard or 0, state.row or 0
    for i in range(first_shard, len(paths)):
        cols = read_columns(paths[i], ("id", "prob"))
        doc_ids, _ = match_ext_ids(ctx.conn, run["corpus_id"], cols["id"])
        n = len(doc_ids)
        for start in range(first_row if i == first_shard else 0, n, CHUNK):
            end = min(n, start + CHUNK)
            rows = [
                (run["id"], int(d), float(p), ctx.job_id)
                for d, p in zip(doc_ids[start:end], cols["prob"][start:end], strict=True)
            ]
            state = dataclasses.replace(state, shard=i, row=end, staged=state.staged + len(rows))
            ctx.commit_chunk(
                lambda c, rows=rows: scores.stage_probs(c, rows),
                advance=len(rows),
                checkpoint=state,
            )
    return state


def check_shards(conn, run: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Every shard readable, its probabilities valid and its ids the corpus's docs; no doc
    twice; every doc of the corpus scored. Returns {docs, token_mismatches}."""
    seen: list[np.ndarray] = []
    mismatches = 0
    for path in paths:
        cols = read_columns(path, COLUMNS)
        check_probs(cols["prob"], cols["n_tokens"], path)
        doc_ids, n_tokens = match_ext_ids(conn, run["corpus_id"], cols["id"])
        unknown = np.flatnonzero(doc_ids < 0)
        if len(unknown):
            first = ", ".join(repr(str(cols["id"][i])) for i in unknown[:SHOW_IDS])
            raise InputError(
                f"{len(unknown)} of its {len(doc_ids)} ids are not docs of corpus "
                f"'{run['corpus']}' (first: {first})",
                file=path,
                field="id",
                fix="import scores from an apply over the run's own corpus, with the same "
                "--id-field as `betr import docs`",
            )
        mismatches += int(np.count_nonzero(n_tokens != cols["n_tokens"].astype(np.int64)))
        seen.append(doc_ids)
    every = np.concatenate(seen) if seen else np.zeros(0, dtype=np.int64)
    uniq, counts = np.unique(every, return_counts=True)
    if len(uniq) < len(every):
        dup = int(uniq[np.argmax(counts > 1)])
        where = [p for p, ids in zip(paths, seen, strict=True) if dup in ids]
        raise InputError(
            f"doc {dup} is scored {int(counts.max())} times (in {', '.join(where)})",
            file=where[0],
            field="id",
            fix="import the output directory of a single apply",
        )
    expected = int(run["corpus_docs"] or 0)
    if len(uniq) != expected:
        raise UsageError(
            f"the shards score {len(uniq)} of the {expected} docs of corpus '{run['corpus']}'",
            fix="apply the classifier to every shard of the corpus, then import again",
        )
    return {"docs": len(every), "token_mismatches": mismatches}
