"""Running one job: `python -m engine.jobs.worker -w WORKSPACE JOB_ID` (also `betr worker`).

The same `execute_job` runs detached workers and the CLI's foreground jobs. It claims the
job, keeps a heartbeat, runs the job function, and always leaves a final state behind:
done, failed (with the error), cancelled, or interrupted (SIGTERM without a cancel request).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
import threading
import traceback
from typing import Any

from engine.errors import BetrError, JobCancelled, UsageError, damaged_database_message
from engine.jobs.context import JobContext, ProgressCallback
from engine.jobs.registry import job_function
from engine.jobs.specs import spec_from_config
from engine.jobs.table import HEARTBEAT_INTERVAL_S, HOST, get_job, mark_finished
from engine.store import jobs as store_jobs
from engine.store.db import (
    JOB_BUSY_TIMEOUT_MS,
    is_damaged_database,
    rollback_if_open,
    set_busy_timeout,
)
from engine.terminal import visible
from engine.workspace import Workspace

PRIVATE_UMASK = 0o077  # a workspace is owner-only (engine.workspace): so is what a job writes


class JobInterrupted(Exception):
    """SIGTERM arrived without a cancel request (shutdown, kill): resumable."""


class Heartbeat(threading.Thread):
    """Writes `jobs.heartbeat` every second from its own connection while the job runs."""

    def __init__(self, workspace: Workspace, job_id: int):
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.workspace = workspace
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self) -> None:
        conn = self.workspace.connect()
        try:
            while not self.stopped.wait(HEARTBEAT_INTERVAL_S):
                try:
                    store_jobs.beat(conn, self.job_id)
                except sqlite3.OperationalError:
                    pass  # a busy moment: the next beat will land
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


def job_logger(workspace: Workspace, job_id: int) -> logging.Logger:
    logger = logging.getLogger(f"betr.job.{job_id}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    path = workspace.job_log_path(job_id)
    for old in list(logger.handlers):  # job N of another workspace, run in this process before
        if getattr(old, "baseFilename", None) != str(path.resolve()):
            logger.removeHandler(old)
            old.close()
    if not logger.handlers:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        os.close(fd)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def claim(conn: sqlite3.Connection, job_id: int) -> None:
    """queued -> running, recording who runs it; refuses a job that is not queued."""
    if not store_jobs.claim(conn, job_id, os.getpid(), os.getpgrp(), HOST):
        job = get_job(conn, job_id)
        raise UsageError(
            f"job {job_id} is {job.state}, not queued",
            fix=f"`betr jobs resume {job_id}` re-queues a failed, cancelled or interrupted job",
        )


def _raise_on_sigterm(conn: sqlite3.Connection, job_id: int):
    def handler(signum, frame):
        if store_jobs.cancel_requested(conn, job_id):
            raise JobCancelled(f"job {job_id} cancelled")
        raise JobInterrupted(f"job {job_id} stopped by signal {signum}")

    return handler


def execute_job(
    workspace: Workspace,
    job_id: int,
    *,
    on_progress: ProgressCallback | None = None,
    handle_sigterm: bool = False,
) -> dict[str, Any]:
    """Run job `job_id` to a final state. Returns the job's result dict.

    BetrError -> state failed, re-raised for the caller to show; other exceptions -> failed
    with the traceback in the job log, re-raised; JobCancelled / KeyboardInterrupt ->
    cancelled; SIGTERM without a cancel request -> interrupted.
    """
    conn = workspace.connect()
    set_busy_timeout(conn, JOB_BUSY_TIMEOUT_MS)  # a job waits out others' writes
    logger = job_logger(workspace, job_id)
    waits = logging.getLogger("betr.workspace")  # "waiting for the workspace" into the job log
    handlers = list(logger.handlers)
    for handler in handlers:
        waits.addHandler(handler)
    try:
        claim(conn, job_id)
    except BaseException:
        for handler in handlers:
            waits.removeHandler(handler)
        raise
    umask = os.umask(PRIVATE_UMASK)  # what the job writes (checkpoints, caches) is owner-only
    job = get_job(conn, job_id)
    logger.info("start %s (attempt %d, pid %d): %s", job.kind, job.attempts, os.getpid(), job.title)
    heartbeat = Heartbeat(workspace, job_id)
    heartbeat.start()
    if handle_sigterm:
        signal.signal(signal.SIGTERM, _raise_on_sigterm(conn, job_id))
    try:
        spec = spec_from_config(job.kind, job.config)
        func = job_function(job.kind)
        ctx = JobContext(workspace, conn, job, logger, on_progress)
        result = func(ctx, spec) or {}
    except (JobCancelled, KeyboardInterrupt):
        rollback_if_open(conn)
        logger.info("cancelled at %d", get_job(conn, job_id).done)
        mark_finished(conn, job_id, "cancelled")
        raise
    except JobInterrupted as exc:
        rollback_if_open(conn)
        logger.info("interrupted: %s", exc)
        mark_finished(conn, job_id, "interrupted", error=str(exc))
        raise
    except BetrError as exc:
        rollback_if_open(conn)
        logger.error("failed: %s", exc)
        mark_finished(conn, job_id, "failed", error=str(exc))
        raise
    except BaseException as exc:
        rollback_if_open(conn)
        logger.error("internal error:\n%s", traceback.format_exc())
        mark_finished(
            conn,
            job_id,
            "failed",
            error=f"internal error: {type(exc).__name__}: {exc} "
            f"(traceback in {workspace.job_log_path(job_id)})",
        )
        raise
    finally:
        os.umask(umask)
        for handler in handlers:
            waits.removeHandler(handler)
        heartbeat.stop()
        if handle_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    mark_finished(conn, job_id, "done", result=result)
    logger.info("done: %s", result)
    conn.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="betr worker", description="Run one betr job.")
    parser.add_argument("-w", "--workspace", default=None)
    parser.add_argument("job_id", type=int)
    args = parser.parse_args(argv)
    try:
        workspace = Workspace.open(args.workspace)
        execute_job(workspace, args.job_id, handle_sigterm=True)
    except (JobCancelled, JobInterrupted):
        return 0
    except BetrError as exc:
        print(f"error: {visible(str(exc))}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as exc:
        if not is_damaged_database(exc):
            traceback.print_exc()
            return 1
        print(f"error: {damaged_database_message(exc)}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        return 1
    return 0


def exit_now(code: int) -> None:
    """Leave at once once the job's final state is written: the interpreter's own teardown
    (torch, faiss, thread pools) can take a second, during which the job would read as
    finished while its process still runs."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
