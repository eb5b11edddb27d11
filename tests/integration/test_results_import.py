"""Results imports that never hold the write lock for long and never show half an import
(issue 19.4): a 150k-row import beside a running rBridge score job and `betr import bench`
runs; kill -9 mid-import leaves nothing visible and the next import clears it; a writer that
cannot get the lock says who holds it (exit 2, no traceback).

The CSV is constructed here: 100 runs x 50 steps x 10 benchmarks x 3 metrics."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import closing

import pytest

from engine.store import db
from tests.helpers import REPO, betr, job_state, wait_for

N_ROWS = 150_000


def write_results_csv(path, n: int = N_ROWS, seed: int = 0):
    rng = random.Random(seed)
    with open(path, "w") as fh:
        fh.write("run,size,tokens,step,benchmark,metric,value,seed\n")
        for i in range(n):
            run, rest = divmod(i, 1500)
            step, rest = divmod(rest, 30)
            bench, metric = divmod(rest, 3)
            fh.write(
                f"run-{run:04d},1B,{step * 10**6},{step},b{bench},"
                f"{('acc', 'acc_norm', 'ce')[metric]},{rng.random():.6f},0\n"
            )
    return path


def cli(ws, *args: str) -> subprocess.Popen:
    """`betr ARGS -w WS` as its own process (stdout, stderr captured)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "engine", *args, "-w", str(ws.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def counts(ws) -> dict[str, int]:
    with closing(ws.connect(readonly=True)) as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("eval_results", "eval_results_staging", "result_imports")
        }


@pytest.mark.slow
def test_a_150k_row_import_beside_a_score_job_and_bench_imports(workspace, tmp_path, tiny_lm_dir):
    """Both complete (a bench import may instead exit 2 with the busy message): no traceback,
    no failed job, every row imported once."""
    ws = workspace
    bench = tmp_path / "mini.jsonl"
    bench.write_text(json.dumps({"id": 1, "question": "Q?", "answer": "So 72. #### 72"}) + "\n")
    assert betr(ws, "import", "bench", str(bench), "--name", "mini")[0] == 0
    words = "the proxy reads each letter of this reasoning and weighs it by the frontier ".split()
    traces = tmp_path / "traces.jsonl"
    traces.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"t{i}",
                    "benchmark": "mini",
                    "question": f"Q{i}?",
                    "reasoning": " ".join(words[(i + k) % len(words)] for k in range(40)),
                }
            )
            + "\n"
            for i in range(160)
        )
    )
    for args in (
        ("rbridge", "import", str(traces), "--benchmark", "mini", "--format", "plain"),
        ("proxy", "add", str(tiny_lm_dir), "--name", "tiny"),
    ):
        code, _, err = betr(ws, *args)
        assert code == 0, err
    csv = write_results_csv(tmp_path / "results.csv")
    code, out, err = betr(
        ws, "rbridge", "score", "--proxy", "tiny", "--benchmark", "mini", "--detach", "--json"
    )
    assert code == 0, err
    job_id = json.loads(out)["job_id"]
    importing = cli(ws, "results", "import", str(csv), "--format", "csv", "--json")
    benches = []
    for i in range(3):
        other = tmp_path / f"bench{i}.jsonl"
        other.write_text(json.dumps({"id": 1, "question": f"Q{i}?", "answer": "#### 1"}) + "\n")
        benches.append(cli(ws, "import", "bench", str(other), "--name", f"extra{i}"))
        time.sleep(0.3)
    out, err = importing.communicate(timeout=600)
    assert importing.returncode == 0, err
    assert json.loads(out)["rows"] == N_ROWS and "Traceback" not in err
    for proc in benches:
        _, b_err = proc.communicate(timeout=120)
        assert "Traceback" not in b_err, b_err
        assert proc.returncode == 0 or (proc.returncode == 2 and "workspace busy" in b_err), b_err
    wait_for(lambda: job_state(ws, job_id).state in ("done", "failed"), 300, "the score job")
    job = job_state(ws, job_id)
    assert job.state == "done", job.error
    with closing(ws.connect(readonly=True)) as conn:
        imported = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT run || step || benchmark || metric) FROM eval_results "
            "WHERE import_id IS NOT NULL"
        ).fetchone()
        scored = conn.execute("SELECT COUNT(*) FROM eval_results WHERE proxy_id IS NOT NULL")
        assert scored.fetchone()[0] >= 3  # the score's rows (rBridge, R-phi, bpb)
    assert tuple(imported) == (N_ROWS, N_ROWS)
    assert counts(ws)["eval_results_staging"] == 0


@pytest.mark.slow
def test_kill_9_mid_import_shows_nothing_and_the_next_import_clears_it(workspace, tmp_path):
    ws = workspace
    csv = write_results_csv(tmp_path / "results.csv")
    proc = cli(ws, "results", "import", str(csv), "--format", "csv")

    def staged() -> int:
        try:
            return counts(ws)["eval_results_staging"]
        except Exception:  # the first migration may still be running
            return 0

    wait_for(lambda: staged() > 0, 120, "the first staged rows", interval=0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    seen = counts(ws)
    assert seen["eval_results"] == 0 and seen["eval_results_staging"] > 0
    code, out, _ = betr(ws, "results", "list", "--json")
    assert json.loads(out)["totals"]["rows"] == 0
    assert [i["state"] for i in json.loads(out)["imports"]] == ["staging"]
    code, out, err = betr(ws, "results", "import", str(csv), "--format", "csv", "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == N_ROWS
    assert counts(ws) == {"eval_results": N_ROWS, "eval_results_staging": 0, "result_imports": 1}


def test_a_writer_that_cannot_get_the_lock_says_who_holds_it(workspace, tmp_path, monkeypatch):
    """Another process holds the write lock past the busy timeout: the import waits with a
    note, then exits 2 with "workspace busy: job N (...) is writing"; nothing changes."""
    from tests.tui.conftest import fake_job

    ws = workspace
    job_id = fake_job(ws, state="running", title="a long writer")
    csv = write_results_csv(tmp_path / "small.csv", n=300)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 800)
    monkeypatch.setattr(db, "NOTICE_AFTER_MS", 100)
    holder = ws.connect()
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, _, err = betr(ws, "results", "import", str(csv), "--format", "csv")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2, err
    assert "note: waiting for the workspace" in err
    assert f"workspace busy: job {job_id} (a long writer) is writing" in err
    assert "Traceback" not in err
    assert counts(ws)["eval_results"] == 0


def test_a_job_waits_out_a_long_write_instead_of_failing(workspace, tmp_path, monkeypatch):
    """A job's own writes wait for the lock far longer than a command's (it never dies of
    "database is locked"), and say so in its log: here commands give up after 0.2 s and the
    lock is held for 2 s."""
    from engine.api.imports import import_docs_spec
    from engine.jobs import launch
    from engine.jobs.worker import execute_job
    from tests.helpers import write_docs_jsonl

    ws = workspace
    src = write_docs_jsonl(tmp_path / "docs.jsonl", 200, seed=1)
    job_id = launch.submit(ws, import_docs_spec(ws, corpus="web", paths=[str(src)]), detach=False)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(db, "NOTICE_AFTER_MS", 50)
    holder = ws.connect()
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(2.0, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        result = execute_job(ws, job_id)
    finally:
        release.join()
        holder.close()
    assert result["docs"] == 200 and job_state(ws, job_id).state == "done"
    assert "waiting for the workspace" in ws.job_log_path(job_id).read_text()


pytestmark = pytest.mark.usefixtures("olmo_wheel")
