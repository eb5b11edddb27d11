"""The cache lookup of an rBridge score, shared by `engine.api.rbridge.plan_score` and the demo
experiment: a finished row for the same proxy files, traces and weighting config is reused,
else a pending row is created for a scoring job to fill; a rescore gets a row of its own
beside the finished one, which stays complete and shown until the rescore swaps in
(engine.store.rbridge)."""

from __future__ import annotations

import sqlite3
from typing import Any

from engine.errors import UsageError
from engine.jobs.table import get_job
from engine.rbridge.proxy_dir import check_model_dir, model_sha256
from engine.rbridge.weights import ScoreConfig
from engine.store import rbridge as store_rb
from engine.store import traces
from engine.store.db import transaction


def plan_score_row(
    conn: sqlite3.Connection,
    proxy: dict[str, Any],
    benchmark: sqlite3.Row | dict[str, Any],
    cfg: ScoreConfig,
    *,
    rescore: bool = False,
) -> tuple[int, bool]:
    """(score id, cached) of `proxy` on `benchmark` under `cfg`."""
    th, n = traces.traces_hash(conn, benchmark["id"])
    if n == 0:
        name = benchmark["name"]
        raise UsageError(
            f"benchmark '{name}' has no traces",
            fix=f"import some: betr rbridge import PATH --benchmark {name} --format ...",
        )
    sha = model_sha256(check_model_dir(proxy["path"]))
    if sha != proxy["sha256"]:
        raise UsageError(
            f"the files of proxy '{proxy['name']}' at {proxy['path']} changed since it was "
            "registered",
            fix=f"register them as a new proxy: betr proxy add {proxy['path']} --name NEW",
        )
    row = store_rb.find_score(conn, proxy["id"], benchmark["id"], sha, th, cfg.hash())
    if row is not None and row["state"] == "done" and store_rb.lacks_mask_sums(conn, row["id"]):
        rescore = True  # scored before the release's masked-span bpb existed: score again
    if row is not None and row["state"] == "done" and not rescore:
        return row["id"], True
    key = cfg.hash()
    with transaction(conn):
        if row is not None and row["state"] == "done":  # a rescore: fill a row beside it
            key += store_rb.RESCORE_MARK
            earlier = store_rb.find_rescore(conn, row)
            if earlier is not None:
                busy = earlier["job_id"] is not None and get_job(conn, earlier["job_id"]).active
                if busy:
                    raise UsageError(
                        f"score {row['id']} is being rescored by job {earlier['job_id']}",
                        fix=f"wait for it (betr jobs show {earlier['job_id']}) or cancel it",
                    )
                store_rb.delete_score(conn, earlier["id"])  # from scratch, as asked
        elif row is not None:  # pending: a job fills it (or resumes filling it)
            return row["id"], False
        return store_rb.create_score(
            conn,
            proxy_id=proxy["id"],
            benchmark_id=benchmark["id"],
            proxy_sha256=sha,
            traces_hash=th,
            config=cfg.as_dict(),
            config_hash=key,
        ), False
