"""Jobs as the faces see them: JobInfo with the effective state, over `engine.store.jobs`.

A job's stored `state` is what its worker last wrote. A worker that died without writing
(kill -9, power loss) leaves `running` behind; `effective_state` turns that into
`interrupted` when the worker process is gone (on this host) or its heartbeat is stale (a
worker on another host).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from engine.errors import NotFoundError, UsageError
from engine.store import catalog
from engine.store import jobs as store_jobs

STATES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
FINISHED = ("done", "failed", "cancelled", "interrupted")
RESUMABLE = ("failed", "cancelled", "interrupted")
HEARTBEAT_INTERVAL_S = 1.0
HEARTBEAT_STALE_S = 10.0  # a worker on another host whose heartbeat is older is gone
HEARTBEAT_LOST_S = 900.0  # ... on this host, with its pid alive (the pid may have been reused)
HOST = socket.gethostname()


@dataclass
class JobInfo:
    id: int
    kind: str
    title: str
    config: dict[str, Any]
    state: str  # effective state (running with a dead worker reads as interrupted)
    stored_state: str
    done: int
    total: int | None
    unit: str
    rate: float | None
    eta_s: float | None
    error: str | None
    pid: int | None
    pgid: int | None
    host: str | None
    heartbeat: float | None
    cancel_requested: bool
    attempts: int
    run_id: int | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    checkpoint: dict[str, Any] | None = None
    result: dict[str, Any] | None = field(default=None)

    @property
    def fraction(self) -> float | None:
        """done/total in [0, 1], or None when the total is not known yet."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["fraction"] = self.fraction
        return d


def process_alive(pid: int | None) -> bool:
    """True if `pid` is a live (not zombie) process on this host."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            # state is the field after the parenthesised command name
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def effective_state(row: sqlite3.Row, now: float | None = None) -> str:
    """`running` only while its worker lives: on this host, while its process is alive (a
    heartbeat held back by another writer's lock does not make a live worker interrupted;
    after HEARTBEAT_LOST_S without one, a reused pid no longer counts); on another host,
    while its heartbeat is fresh (HEARTBEAT_STALE_S)."""
    state = row["state"]
    if state != "running":
        return state
    now = time.time() if now is None else now
    age = float("inf") if row["heartbeat"] is None else now - row["heartbeat"]
    if row["host"] == HOST:
        return state if process_alive(row["pid"]) and age <= HEARTBEAT_LOST_S else "interrupted"
    return state if age <= HEARTBEAT_STALE_S else "interrupted"


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def job_from_row(row: sqlite3.Row, now: float | None = None) -> JobInfo:
    return JobInfo(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        config=_loads(row["config"]) or {},
        state=effective_state(row, now),
        stored_state=row["state"],
        done=row["done"],
        total=row["total"],
        unit=row["unit"],
        rate=row["rate"],
        eta_s=row["eta_s"],
        error=row["error"],
        pid=row["pid"],
        pgid=row["pgid"],
        host=row["host"],
        heartbeat=row["heartbeat"],
        cancel_requested=bool(row["cancel_requested"]),
        attempts=row["attempts"],
        run_id=row["run_id"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        checkpoint=_loads(row["checkpoint"]),
        result=_loads(row["result"]),
    )


def create_job(
    conn: sqlite3.Connection,
    kind: str,
    title: str,
    config: dict[str, Any],
    *,
    run_id: int | None = None,
) -> int:
    return store_jobs.insert_job(conn, kind, title, config, run_id)


def get_job(conn: sqlite3.Connection, job_id: int) -> JobInfo:
    row = store_jobs.job_row(conn, job_id)
    if row is None:
        raise NotFoundError(f"no job {job_id}", fix="`betr jobs list` shows the jobs")
    return job_from_row(row)


def list_jobs(conn: sqlite3.Connection, *, limit: int = 500) -> list[JobInfo]:
    now = time.time()
    return [job_from_row(r, now) for r in store_jobs.job_rows(conn, limit)]


def active_jobs(conn: sqlite3.Connection) -> list[JobInfo]:
    """Queued jobs and running jobs whose worker is alive (oldest first)."""
    now = time.time()
    rows = store_jobs.rows_in_states(conn, ("queued", "running"))
    return [job for job in (job_from_row(r, now) for r in rows) if job.active]


def job_uses(conn: sqlite3.Connection, job: JobInfo) -> dict[str, set]:
    """What a job reads or writes: {"corpus": corpus ids, "benchmark": benchmark names,
    "run": run ids}."""
    uses: dict[str, set] = {"corpus": set(), "benchmark": set(), "run": set()}
    if job.kind == "import-docs":
        uses["corpus"] |= store_jobs.corpora_of_import(conn, job.config.get("corpus"), job.id)
    run_id = job.config.get("run_id", job.run_id)
    if run_id is not None:
        uses["run"].add(run_id)
        inputs = store_jobs.run_inputs(conn, run_id)
        if inputs is not None:
            uses["corpus"].add(inputs[0])
            uses["benchmark"] |= inputs[1]
    cfg = job.config
    bench_ids = set(cfg.get("benchmark_ids") or ())
    if cfg.get("benchmark_id") is not None:
        bench_ids.add(cfg["benchmark_id"])
    if job.kind == "contamination":  # checks against every benchmark
        uses["benchmark"] |= set(catalog.benchmark_ids(conn))
    if bench_ids:  # rBridge scoring, multiple-choice evaluation, trace generation
        uses["benchmark"] |= {n for n, i in catalog.benchmark_ids(conn).items() if i in bench_ids}
    if job.kind != "import-docs" and cfg.get("corpus_id") is not None:  # proxy training
        uses["corpus"].add(cfg["corpus_id"])
    if cfg.get("selection_run") is not None:
        uses["run"].add(cfg["selection_run"])
    return uses


def refuse_if_in_use(conn: sqlite3.Connection, what: str, key: int | str, name: str) -> None:
    """UsageError naming the queued or running job that uses corpus `key` (an id), benchmark
    `key` (a name) or run `key` (an id), and how to cancel it; nothing when no active job does."""
    busy = [job for job in active_jobs(conn) if key in job_uses(conn, job)[what]]
    if busy:
        job = busy[0]
        more = f" (and {len(busy) - 1} more job(s))" if len(busy) > 1 else ""
        raise UsageError(
            f"{what} '{name}' is in use by job {job.id} ({job.title}, {job.state}){more}",
            fix=f"wait for it to finish (betr jobs show {job.id}), or cancel it first: "
            f"betr jobs cancel {job.id}",
        )


def request_cancel(conn: sqlite3.Connection, job_id: int) -> JobInfo:
    """Set the cancel flag; a queued job (no worker yet) is cancelled at once."""
    job = get_job(conn, job_id)
    if job.state in FINISHED:
        raise UsageError(f"job {job_id} is already {job.state}; nothing to cancel")
    store_jobs.request_cancel(conn, job_id)
    return get_job(conn, job_id)


def mark_finished(
    conn: sqlite3.Connection,
    job_id: int,
    state: str,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> None:
    """The job's final state (retried while another writer holds the database)."""
    assert state in FINISHED, state
    store_jobs.finish(conn, job_id, state, error, result)


def persist_interrupted(conn: sqlite3.Connection) -> list[int]:
    """Write `interrupted` for running jobs whose worker is gone; returns their ids."""
    now = time.time()
    rows = store_jobs.rows_in_states(conn, ("running",))
    dead = [r["id"] for r in rows if effective_state(r, now) == "interrupted"]
    if dead:
        store_jobs.mark_interrupted(conn, dead)
    return dead


def prepare_resume(conn: sqlite3.Connection, job_id: int) -> JobInfo:
    """Put a failed, cancelled or interrupted job back in the queue, keeping its checkpoint."""
    persist_interrupted(conn)
    job = get_job(conn, job_id)
    if job.state not in RESUMABLE:
        raise UsageError(
            f"job {job_id} is {job.state}; only failed, cancelled or interrupted jobs resume"
        )
    store_jobs.requeue(conn, job_id)
    return get_job(conn, job_id)
