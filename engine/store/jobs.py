"""The jobs table: one row per job, written by launchers and workers, read by both faces.
Rows go out as sqlite3.Row; `engine.jobs.table` turns them into JobInfo (with the effective
state: a `running` row whose worker is gone reads as interrupted)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from engine.store.db import retry_busy, transaction


def insert_job(
    conn: sqlite3.Connection, kind: str, title: str, config: dict[str, Any], run_id: int | None
) -> int:
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO jobs (kind, title, config, run_id, created_at) VALUES (?, ?, ?, ?, ?)",
            (kind, title, json.dumps(config, sort_keys=True), run_id, time.time()),
        )
    return int(cur.lastrowid)


def job_row(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()


def job_rows(conn: sqlite3.Connection, limit: int) -> list[sqlite3.Row]:
    """The newest `limit` jobs, newest first."""
    return conn.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def rows_in_states(conn: sqlite3.Connection, states: Sequence[str]) -> list[sqlite3.Row]:
    """Jobs whose stored state is one of `states`, oldest first."""
    return conn.execute(
        f"SELECT * FROM jobs WHERE state IN ({','.join('?' * len(states))}) ORDER BY id",
        list(states),
    ).fetchall()


def claim(conn: sqlite3.Connection, job_id: int, pid: int, pgid: int, host: str) -> bool:
    """queued -> running, recording who runs it; False if the job was not queued."""
    now = time.time()
    with transaction(conn):
        cur = conn.execute(
            "UPDATE jobs SET state = 'running', pid = ?, pgid = ?, host = ?, heartbeat = ?, "
            "started_at = ?, attempts = attempts + 1, error = NULL, rate = NULL, eta_s = NULL "
            "WHERE id = ? AND state = 'queued'",
            (pid, pgid, host, now, now, job_id),
        )
    return cur.rowcount == 1


def beat(conn: sqlite3.Connection, job_id: int) -> None:
    """The heartbeat of a running job (autocommit: one statement)."""
    conn.execute(
        "UPDATE jobs SET heartbeat = ? WHERE id = ? AND state = 'running'", (time.time(), job_id)
    )


def cancel_requested(conn: sqlite3.Connection, job_id: int) -> bool:
    row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


def request_cancel(conn: sqlite3.Connection, job_id: int) -> None:
    """Set the cancel flag; a queued job (no worker yet) is cancelled at once."""
    with transaction(conn):
        conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
        conn.execute(
            "UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'",
            (time.time(), job_id),
        )


def set_total(conn: sqlite3.Connection, job_id: int, total: int | None, unit: str, done: int):
    """A new phase's count: the last phase's rate and ETA (of another unit) go."""
    with transaction(conn):
        conn.execute(
            "UPDATE jobs SET total = ?, unit = ?, done = ?, rate = NULL, eta_s = NULL WHERE id = ?",
            (total, unit, done, job_id),
        )


def set_eta(conn: sqlite3.Connection, job_id: int, eta: float | None) -> None:
    """An ETA without progress (autocommit: one statement); the rate goes with it."""
    conn.execute("UPDATE jobs SET rate = NULL, eta_s = ? WHERE id = ?", (eta, job_id))


def record_progress(
    conn: sqlite3.Connection,
    job_id: int,
    done: int,
    rate: float | None,
    eta: float | None,
    checkpoint: dict[str, Any],
) -> None:
    """Progress and checkpoint of a chunk (inside the chunk's transaction)."""
    conn.execute(
        "UPDATE jobs SET done = ?, rate = ?, eta_s = ?, checkpoint = ?, heartbeat = ? WHERE id = ?",
        (done, rate, eta, json.dumps(checkpoint), time.time(), job_id),
    )


def set_checkpoint(conn: sqlite3.Connection, job_id: int, checkpoint: dict | None) -> None:
    """(inside a transaction) A new checkpoint; None also resets the progress to 0."""
    if checkpoint is None:
        conn.execute("UPDATE jobs SET checkpoint = NULL, done = 0 WHERE id = ?", (job_id,))
    else:
        conn.execute(
            "UPDATE jobs SET checkpoint = ? WHERE id = ?", (json.dumps(checkpoint), job_id)
        )


def set_done_to_total(conn: sqlite3.Connection, job_id: int) -> None:
    """(inside a transaction)"""
    conn.execute("UPDATE jobs SET done = total WHERE id = ?", (job_id,))


def finish(
    conn: sqlite3.Connection,
    job_id: int,
    state: str,
    error: str | None,
    result: dict[str, Any] | None,
) -> None:
    """The job's final state; retried while another writer holds the database, so a worker
    that fails because the database was busy still records its failure."""

    def write() -> None:
        with transaction(conn):
            conn.execute(
                "UPDATE jobs SET state = ?, error = ?, result = COALESCE(?, result), "
                "finished_at = ?, rate = NULL, eta_s = NULL WHERE id = ?",
                (
                    state,
                    error,
                    json.dumps(result) if result is not None else None,
                    time.time(),
                    job_id,
                ),
            )

    retry_busy(write)


def mark_interrupted(conn: sqlite3.Connection, job_ids: Sequence[int]) -> None:
    with transaction(conn):
        conn.executemany(
            "UPDATE jobs SET state = 'interrupted', rate = NULL, eta_s = NULL "
            "WHERE id = ? AND state = 'running'",
            [(i,) for i in job_ids],
        )


def requeue(conn: sqlite3.Connection, job_id: int) -> None:
    """Back in the queue, keeping the checkpoint; its progress goes back to the checkpoint's
    `resumes_at` when it has one (engine.jobs.context)."""
    with transaction(conn):
        conn.execute(
            "UPDATE jobs SET state = 'queued', cancel_requested = 0, error = NULL, "
            "finished_at = NULL, pid = NULL, pgid = NULL, "
            "done = COALESCE(json_extract(checkpoint, '$.resumes_at'), done) WHERE id = ?",
            (job_id,),
        )


def corpora_of_import(conn: sqlite3.Connection, name: str | None, job_id: int) -> set[int]:
    """Ids of the corpus an import job creates (by name, or recorded with its job id)."""
    rows = conn.execute("SELECT id FROM corpora WHERE name = ? OR job_id = ?", (name, job_id))
    return {r[0] for r in rows}


def run_inputs(conn: sqlite3.Connection, run_id: int) -> tuple[int | None, set[str]] | None:
    """(corpus id, target benchmark names) of a run, or None when there is no such run."""
    row = conn.execute("SELECT corpus_id, config FROM runs WHERE id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    return row[0], set(json.loads(row[1]).get("benchmarks", {}))
