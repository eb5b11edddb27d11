"""`betr jobs list | show | cancel | resume | logs` and `betr worker`: background jobs."""

from __future__ import annotations

import click

from engine.cli.common import BetrCommand, BetrGroup, echo, emit_json, follow_job, obj, print_table
from engine.terminal import json_text


@click.group("jobs", cls=BetrGroup)
def jobs_group() -> None:
    """Background jobs: list, show, cancel, resume, logs."""


def show_jobs() -> None:
    """`betr jobs list` (and `betr list jobs`)."""
    from engine.api.jobs import jobs
    from engine.units import format_duration, format_rate

    found = jobs(obj().workspace)
    if obj().json:
        emit_json([j.as_dict() for j in found])
        return
    rows = []
    for j in found:
        total = f"/{j.total}" if j.total is not None else ""
        pct = f" ({j.fraction * 100:.0f}%)" if j.fraction is not None else ""
        rows.append(
            {
                "id": j.id,
                "title": j.title,
                "state": j.state,
                "progress": f"{j.done}{total} {j.unit}{pct}",
                "rate": format_rate(j.rate, j.unit) if j.state == "running" else "-",
                "eta": format_duration(j.eta_s) if j.state == "running" else "-",
            }
        )
    cols = [
        ("id", "job"),
        ("title", "title"),
        ("state", "state"),
        ("progress", "progress"),
        ("rate", "rate"),
        ("eta", "ETA"),
    ]
    print_table(rows, cols, "no jobs yet")


@jobs_group.command("list")
def jobs_list() -> None:
    """List jobs, newest first."""
    show_jobs()


@jobs_group.command("show")
@click.argument("job_id", type=int)
def jobs_show(job_id: int) -> None:
    """Show one job: state, progress, config, error, result."""
    from engine.api.jobs import job as get_job
    from engine.units import format_duration, format_rate

    ws = obj().workspace
    job = get_job(ws, job_id)
    if obj().json:
        emit_json(job.as_dict())
        return
    echo(f"job {job.id}: {job.title}")
    echo(f"  kind      {job.kind}")
    echo(f"  state     {job.state}" + (" (cancel requested)" if job.cancel_requested else ""))
    total = job.total if job.total is not None else "?"
    echo(f"  progress  {job.done}/{total} {job.unit}")
    if job.state == "running":
        echo(f"  rate      {format_rate(job.rate, job.unit)}   ETA {format_duration(job.eta_s)}")
    echo(f"  attempts  {job.attempts}   pid {job.pid or '-'}")
    echo(f"  log       {ws.job_log_path(job.id)}")
    echo(f"  config    {json_text(job.config)}")
    if job.error:
        echo(f"  error     {job.error}")
    if job.result:
        echo(f"  result    {json_text(job.result)}")


@jobs_group.command("cancel")
@click.argument("job_id", type=int)
def jobs_cancel(job_id: int) -> None:
    """Cancel a job: a flag the worker checks between chunks, then SIGTERM to its group."""
    from engine.api.jobs import cancel

    job = cancel(obj().workspace, job_id)
    if obj().json:
        emit_json(job.as_dict())
    else:
        echo(f"job {job_id} {job.state} at {job.done}/{job.total} {job.unit}")


@jobs_group.command("resume")
@click.argument("job_id", type=int)
@click.option("--detach", is_flag=True, help="Resume in the background and return at once.")
def jobs_resume(job_id: int, detach: bool) -> None:
    """Resume a failed, cancelled or interrupted job from its last committed chunk."""
    from engine.api.jobs import resume

    ws = obj().workspace
    job = resume(ws, job_id, detach=detach)
    if detach:
        if obj().json:
            emit_json({"job_id": job_id, "state": "queued"})
        else:
            where = f" from {job.done}/{job.total} {job.unit}" if job.total is not None else ""
            echo(f"job {job_id} resumed in the background{where}: betr jobs show {job_id}")
        return
    result = follow_job(ws, job_id, job.title)
    if result is not None:
        emit_json(result) if obj().json else echo(f"job {job_id} done: {json_text(result)}")


@jobs_group.command("logs", json=False)
@click.argument("job_id", type=int)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the job ends.")
def jobs_logs(job_id: int, follow: bool) -> None:
    """Print a job's log."""
    from engine.api.jobs import follow_log

    if not follow_log(obj().workspace, job_id, lambda text: echo(text, nl=False), follow=follow):
        echo(f"(job {job_id} has no log yet)")


@click.command("worker", cls=BetrCommand, json=False)
@click.argument("job_id", type=int)
def worker_cmd(job_id: int) -> None:
    """Run one queued job in this process (what detached jobs run)."""
    from engine.api.jobs import run_worker

    run_worker(job_id, obj().workspace_path)


COMMANDS = (jobs_group, worker_cmd)
