"""Jobs as both faces use them: list, show, launch (detached or here, with progress), cancel,
resume, read the log."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from typing import Any

from engine.jobs import launch
from engine.jobs.context import ProgressCallback
from engine.jobs.specs import JobSpec
from engine.jobs.table import FINISHED, RESUMABLE, JobInfo, get_job, list_jobs
from engine.jobs.worker import execute_job
from engine.workspace import Workspace

__all__ = [
    "FINISHED",
    "RESUMABLE",
    "JobInfo",
    "cancel",
    "follow_log",
    "job",
    "jobs",
    "queue",
    "reap_children",
    "resume",
    "run_here",
    "run_worker",
    "start",
]

reap_children = launch.reap_children


def jobs(workspace: Workspace, *, limit: int = 500) -> list[JobInfo]:
    with closing(workspace.connect(readonly=True)) as conn:
        return list_jobs(conn, limit=limit)


def job(workspace: Workspace, job_id: int) -> JobInfo:
    with closing(workspace.connect(readonly=True)) as conn:
        return get_job(conn, job_id)


def start(workspace: Workspace, spec: JobSpec, *, title: str | None = None) -> int:
    """Queue the job and start its worker in the background; returns the job id."""
    return launch.submit(workspace, spec, title=title, detach=True)


def queue(workspace: Workspace, spec: JobSpec, *, title: str | None = None) -> int:
    """Queue the job without a worker (to run it here with `run_here`)."""
    return launch.submit(workspace, spec, title=title, detach=False)


def run_here(
    workspace: Workspace, job_id: int, on_progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Run a queued job in this process to its final state; returns its result."""
    return execute_job(workspace, job_id, on_progress=on_progress)


def cancel(workspace: Workspace, job_id: int) -> JobInfo:
    """Ask the worker to stop at its next chunk (then SIGTERM, then SIGKILL); blocks a few
    seconds at most."""
    return launch.cancel(workspace, job_id)


def resume(workspace: Workspace, job_id: int, *, detach: bool = True) -> JobInfo:
    return launch.resume(workspace, job_id, detach=detach)


def run_worker(job_id: int, workspace_path: str | None) -> None:
    """`betr worker`: run one queued job in this process as a detached worker does, then exit
    at once with its code (the interpreter's teardown is skipped, see engine.jobs.worker)."""
    from engine.jobs.worker import exit_now
    from engine.jobs.worker import main as worker_main

    exit_now(worker_main([str(job_id)] + (["-w", workspace_path] if workspace_path else [])))


def follow_log(
    workspace: Workspace, job_id: int, emit: Callable[[str], None], *, follow: bool = False
) -> bool:
    """The job's log, to `emit` chunk by chunk; with `follow`, until the job finishes.
    False when the job has no log yet (NotFoundError when there is no such job)."""
    import time

    job(workspace, job_id)
    path = workspace.job_log_path(job_id)
    if not path.exists():
        return False
    with (
        closing(workspace.connect(readonly=True)) as conn,
        open(path, encoding="utf-8", errors="replace") as fh,
    ):
        while True:
            chunk = fh.read()
            if chunk:
                emit(chunk)
            if not follow or get_job(conn, job_id).state in FINISHED:
                emit(fh.read())
                return True
            time.sleep(0.5)
