"""Starting, cancelling and resuming jobs from the CLI or the TUI.

Detached workers run in their own session (and so their own process group): they outlive
the TUI or the shell that started them, and cancel can signal the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from engine.jobs import table
from engine.jobs.specs import JobSpec
from engine.workspace import Workspace

CANCEL_GRACE_S = 1.0
_children: list[subprocess.Popen] = []
_children_lock = threading.Lock()  # the TUI submits, cancels and resumes from worker threads


def reap_children() -> None:
    """Collect exited workers started by this process, so they leave no zombies."""
    with _children_lock:
        _children[:] = [proc for proc in _children if proc.poll() is None]


def spawn_worker(workspace: Workspace, job_id: int) -> int:
    """Start `python -m engine.jobs.worker` detached; returns its pid."""
    reap_children()
    log_path = workspace.job_log_path(job_id)
    fd = os.open(log_path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.jobs.worker", "-w", str(workspace.root), str(job_id)],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    finally:
        os.close(fd)
    with _children_lock:
        _children.append(proc)
    return proc.pid


def submit(
    workspace: Workspace, spec: JobSpec, *, title: str | None = None, detach: bool = True
) -> int:
    """Queue a job (its spec was checked when it was built); with detach=True also start its
    worker. Returns the job id."""
    conn = workspace.connect()
    try:
        job_id = table.create_job(
            conn, spec.kind, title or spec.title, spec.to_config(), run_id=spec.run_id_of
        )
    finally:
        conn.close()
    if detach:
        spawn_worker(workspace, job_id)
    return job_id


def resume(workspace: Workspace, job_id: int, *, detach: bool = True) -> table.JobInfo:
    conn = workspace.connect()
    try:
        job = table.prepare_resume(conn, job_id)
    finally:
        conn.close()
    if detach:
        spawn_worker(workspace, job_id)
    return job


def cancel(workspace: Workspace, job_id: int, *, grace_s: float = CANCEL_GRACE_S) -> table.JobInfo:
    """Ask the worker to stop at its next chunk; SIGTERM its group after `grace_s`, SIGKILL
    after another second. Blocks for at most about grace_s + 2 s (call it off the UI thread)."""
    conn = workspace.connect()
    try:
        job = table.request_cancel(conn, job_id)
        if job.state != "running":
            return job
        for signum, wait_s in ((None, grace_s), (signal.SIGTERM, 1.0), (signal.SIGKILL, 0.5)):
            if signum is not None and job.pgid and job.host == table.HOST:
                try:
                    os.killpg(job.pgid, signum)
                except (ProcessLookupError, PermissionError):
                    pass
            if _wait_until_finished(conn, job_id, wait_s):
                break
        job = table.get_job(conn, job_id)
        if job.stored_state == "running":
            # killed before it could write: its last chunk committed or rolled back, nothing else
            table.mark_finished(conn, job_id, "cancelled")
        _wait_for_exit(job, 2.0)
        reap_children()
        return table.get_job(conn, job_id)
    finally:
        conn.close()


def _wait_for_exit(job: table.JobInfo, timeout_s: float) -> None:
    """Until the worker process is gone (it exits right after writing its final state)."""
    if job.host != table.HOST or not job.pid:
        return
    deadline = time.monotonic() + timeout_s
    while table.process_alive(job.pid) and time.monotonic() < deadline:
        reap_children()
        time.sleep(0.02)


def _wait_until_finished(conn, job_id: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        job = table.get_job(conn, job_id)
        if job.stored_state != "running" or job.state == "interrupted":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
