"""The job system end to end: detached workers, kill -9 + resume, cancel, concurrent writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest

from engine.jobs import launch
from engine.jobs.specs import ImportDocsSpec
from engine.jobs.table import list_jobs
from engine.jobs.worker import execute_job
from engine.store import catalog as queries
from engine.workspace import Workspace
from tests.helpers import job_state, wait_for, write_docs_jsonl

pytestmark = pytest.mark.usefixtures("olmo_wheel")


def submit_import(ws: Workspace, path, corpus: str, *, detach: bool) -> int:
    spec = ImportDocsSpec(corpus=corpus, paths=(str(path),), meta_fields=("src",))
    return launch.submit(ws, spec, detach=detach)


def corpus_rows(ws: Workspace, corpus: str) -> list[tuple]:
    conn = ws.connect(readonly=True)
    try:
        return conn.execute(
            "SELECT d.ext_id, d.text, d.n_tokens, d.n_chars, d.source, d.meta FROM docs d "
            "JOIN corpora c ON c.id = d.corpus_id WHERE c.name = ? ORDER BY d.ext_id",
            (corpus,),
        ).fetchall()
    finally:
        conn.close()


def integrity(ws: Workspace) -> str:
    conn = ws.connect()
    try:
        conn.execute("INSERT INTO docs_fts(docs_fts) VALUES ('integrity-check')")
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_9_mid_import_then_resume_gives_identical_rows(workspace, tmp_path):
    src = write_docs_jsonl(tmp_path / "big.jsonl", 40_000, seed=1)
    reference = execute_job(workspace, submit_import(workspace, src, "reference", detach=False))

    job_id = submit_import(workspace, src, "killed", detach=True)
    job = wait_for(
        lambda: (j := job_state(workspace, job_id)).done > 0 and j.state == "running" and j,
        60,
        "the worker to commit its first chunk",
    )
    assert job.done < job.total, "the import finished before it could be killed; make it bigger"
    os.killpg(job.pgid, signal.SIGKILL)
    wait_for(lambda: job_state(workspace, job_id).state == "interrupted", 15, "interrupted")
    killed_at = job_state(workspace, job_id).done
    assert 0 < killed_at < 40_000
    # the corpus is not usable while partial
    conn = workspace.connect(readonly=True)
    assert [c["state"] for c in queries.list_corpora(conn) if c["name"] == "killed"] == [
        "importing"
    ]
    conn.close()
    assert integrity(workspace) == "ok"

    launch.resume(workspace, job_id, detach=False)
    result = execute_job(workspace, job_id)
    assert result["docs"] == reference["docs"] == 40_000
    assert result["tokens"] == reference["tokens"]
    assert corpus_rows(workspace, "killed") == corpus_rows(workspace, "reference")
    final = job_state(workspace, job_id)
    assert final.state == "done" and final.attempts == 2
    assert integrity(workspace) == "ok"


@pytest.mark.slow
def test_cancel_stops_within_two_seconds(workspace, tmp_path):
    src = write_docs_jsonl(tmp_path / "big.jsonl", 40_000, seed=2)
    job_id = submit_import(workspace, src, "to-cancel", detach=True)
    wait_for(lambda: job_state(workspace, job_id).done > 0, 60, "progress")
    t0 = time.monotonic()
    job = launch.cancel(workspace, job_id)
    elapsed = time.monotonic() - t0
    assert job.state == "cancelled"
    assert elapsed < 2.0, f"cancel took {elapsed:.2f} s"
    assert not_alive(job.pid)
    # a cancelled import can be resumed to completion
    launch.resume(workspace, job_id, detach=False)
    assert execute_job(workspace, job_id)["docs"] == 40_000


def not_alive(pid: int) -> bool:
    from engine.jobs.table import process_alive

    launch.reap_children()
    return wait_for(lambda: not process_alive(pid), 3, "the worker to exit")


@pytest.mark.slow
def test_two_writers_and_a_polling_reader_never_see_database_is_locked(workspace, tmp_path):
    a = write_docs_jsonl(tmp_path / "a.jsonl", 30_000, seed=3)
    b = write_docs_jsonl(tmp_path / "b.jsonl", 30_000, seed=4)
    jobs = [
        submit_import(workspace, a, "a", detach=True),
        submit_import(workspace, b, "b", detach=True),
    ]
    errors: list[str] = []
    polls = 0
    deadline = time.monotonic() + 30
    conn = workspace.connect(readonly=True)
    while time.monotonic() < deadline:
        try:
            list_jobs(conn)
            queries.list_corpora(conn)
            queries.workspace_summary(conn)
            conn.execute("SELECT COUNT(*) FROM docs").fetchone()
            polls += 1
        except sqlite3.OperationalError as exc:
            errors.append(str(exc))
        time.sleep(0.02)
    conn.close()
    assert errors == []
    assert polls > 100
    for job_id in jobs:
        job = wait_for(
            lambda j=job_id: (s := job_state(workspace, j)).state in ("done", "failed") and s,
            120,
            f"job {job_id} to finish",
        )
        assert job.state == "done", job.error
        assert "locked" not in (job.error or "")
    log = workspace.job_log_path(jobs[0]).read_text()
    assert "locked" not in log


def test_resume_refuses_a_finished_job_and_cancel_a_done_one(workspace, tmp_path):
    from engine.errors import UsageError

    src = write_docs_jsonl(tmp_path / "s.jsonl", 50)
    job_id = submit_import(workspace, src, "small", detach=False)
    execute_job(workspace, job_id)
    with pytest.raises(UsageError, match="only failed, cancelled or interrupted jobs resume"):
        launch.resume(workspace, job_id, detach=False)
    with pytest.raises(UsageError, match="already done"):
        launch.cancel(workspace, job_id)


@pytest.mark.slow
def test_a_job_reports_rate_and_eta_while_running(workspace, tmp_path):
    src = write_docs_jsonl(tmp_path / "m.jsonl", 12_000, seed=5)
    job_id = submit_import(workspace, src, "m", detach=False)
    seen: list[tuple] = []
    lock = threading.Lock()

    def on_progress(done, total, unit, rate, eta):
        with lock:
            seen.append((done, total, unit, rate, eta))

    execute_job(workspace, job_id, on_progress=on_progress)
    assert seen[0][1] == 12_000 and seen[0][2] == "docs"
    dones = [s[0] for s in seen]
    assert dones == sorted(dones) and dones[-1] == 12_000
    assert any(s[3] and s[3] > 0 for s in seen)
    assert any(s[4] is not None for s in seen)
    job = job_state(workspace, job_id)
    assert (job.done, job.total, job.state) == (12_000, 12_000, "done")
