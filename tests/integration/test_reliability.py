"""Faults a demanding user runs into (issue #8): deleting under load, deleting what a job uses,
escape sequences in data, damaged workspace files, and the smaller messages around them."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.api.catalog import delete_corpus
from engine.jobs import launch
from engine.jobs.table import get_job, process_alive
from engine.store import db
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.helpers import REPO, betr, write_docs_jsonl
from tests.tui.conftest import fake_job

pytestmark = pytest.mark.usefixtures("olmo_wheel")

# What a terminal would execute: window title (OSC 0), clipboard write (OSC 52), clear screen
# and cursor home (CSI), a bell, and the 8-bit CSI some terminals honour.
ESCAPES = "\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b[H\x07\x9b31m"
INERT = "␛]0;pwned␇␛]52;c;ZWNobyBwd25lZA==␇␛[2J␛[H␇\\x9b31m"


def tables(ws: Workspace) -> dict[str, int]:
    conn = ws.connect(readonly=True)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'docs_fts%' "
                "AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: conn.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names}
    finally:
        conn.close()


# -- 1. deletes that scale with what they delete --------------------------------------------
def test_every_foreign_key_has_an_index_so_no_delete_scans_a_child_table(workspace):
    conn = workspace.connect(readonly=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        missing = []
        for table in names:
            if table.startswith(("sqlite_", "docs_fts")):
                continue
            leading = set()
            for index in conn.execute(f"PRAGMA index_list('{table}')").fetchall():
                cols = conn.execute(f"PRAGMA index_info('{index['name']}')").fetchall()
                if cols:
                    leading.add(cols[0]["name"])
            pk = [r["name"] for r in conn.execute(f"PRAGMA table_info('{table}')") if r["pk"] == 1]
            leading.update(pk[:1])
            for fk in conn.execute(f"PRAGMA foreign_key_list('{table}')"):
                if fk["from"] not in leading:
                    missing.append(f"{table}.{fk['from']} -> {fk['table']}")
    finally:
        conn.close()
    assert missing == []


def plans(ws: Workspace, statements: list[str]) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of each traced statement (with its values bound)."""
    conn = ws.connect(readonly=True)
    try:
        out = {}
        for sql in statements:
            head = sql.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "UPDATE", "DELETE", "INSERT") or "docs_fts_" in sql:
                continue  # FTS5's own statements on its shadow tables are its business
            out[sql] = [r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        return out
    finally:
        conn.close()


def test_no_statement_of_a_delete_scans_a_table(workspace, monkeypatch):
    make_synthetic_run(workspace, 3000, seed=3)
    make_synthetic_run(workspace, 500, seed=4, corpus="other", targets="other-targets")
    traced: list[str] = []
    real_connect = db.connect

    def tracing_connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(traced.append)
        return conn

    monkeypatch.setattr(db, "connect", tracing_connect)
    delete_corpus(workspace, "synthetic", batch=700)
    code, _, err = betr(workspace, "delete", "benchmark", "gsm8k")
    monkeypatch.undo()
    assert code == 0, err
    deletes = [s for s in traced if s.lstrip().upper().startswith(("DELETE", "UPDATE"))]
    assert any("FROM docs" in s for s in deletes) and any("doc_probs" in s for s in deletes)
    scans = {
        sql: [d for d in detail if d.startswith("SCAN") and "COVERING" not in d]
        for sql, detail in plans(workspace, traced).items()
    }
    assert {sql: d for sql, d in scans.items() if d} == {}
    # the other corpus and its run are untouched
    code, out, _ = betr(workspace, "list", "corpora", "--json")
    assert [(c["name"], c["n_docs"]) for c in json.loads(out)] == [("other", 500)]
    assert tables(workspace)["docs"] == 500


N_BIG = 50_000


@pytest.mark.slow
def test_deleting_a_50k_doc_corpus_with_an_applied_run_lets_an_import_finish(workspace, tmp_path):
    make_synthetic_run(workspace, N_BIG, seed=5)
    make_synthetic_run(workspace, 2000, seed=6, corpus="kept", targets="kept-targets")
    before = tables(workspace)
    assert before["doc_probs"] == N_BIG + 2000 and before["prob_order"] == N_BIG + 2000
    src = write_docs_jsonl(tmp_path / "new.jsonl", 4000, seed=2, words=20)
    result: dict = {}

    def import_meanwhile() -> None:
        result["import"] = betr(workspace, "import", "docs", str(src), "--corpus", "new", "--json")

    deleting = threading.Thread(
        target=lambda: result.setdefault("delete", delete_corpus(workspace, "synthetic"))
    )
    deleting.start()
    time.sleep(0.2)
    import_meanwhile()
    deleting.join(timeout=300)
    assert not deleting.is_alive()
    code, out, err = result["import"]
    assert code == 0, err
    assert json.loads(out)["docs"] == 4000
    assert result["delete"].rows == N_BIG and result["delete"].runs == 1
    after = tables(workspace)
    assert after["doc_probs"] == after["prob_order"] == 2000
    assert after["docs"] == 2000 + 4000
    assert after["run_sample"] == before["run_sample"] - N_BIG // 10
    code, out, _ = betr(workspace, "list", "jobs", "--json")
    assert [j["state"] for j in json.loads(out)] == ["done"]
    conn = workspace.connect()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_an_interrupted_delete_shows_deleting_and_finishes_when_run_again(workspace, monkeypatch):
    make_synthetic_run(workspace, 3000, seed=7)
    from engine.store import deletes

    calls = {"n": 0}
    real = deletes.delete_batched

    def dies_in_the_docs(conn, table, *args, **kwargs):
        if table == "docs":
            calls["n"] += 1
            raise KeyboardInterrupt  # as if killed between two batches
        return real(conn, table, *args, **kwargs)

    monkeypatch.setattr(deletes, "delete_batched", dies_in_the_docs)
    with pytest.raises(KeyboardInterrupt):
        delete_corpus(workspace, "synthetic")
    monkeypatch.undo()
    code, out, _ = betr(workspace, "list", "corpora", "--json")
    assert [(c["name"], c["state"]) for c in json.loads(out)] == [("synthetic", "deleting")]
    code, _, err = betr(workspace, "score", "--corpus", "synthetic", "--targets", "gsm8k")
    assert code == 2 and "corpus 'synthetic' is being deleted" in err
    code, out, err = betr(workspace, "delete", "corpus", "synthetic")
    assert (code, out) == (0, "deleted corpus 'synthetic' (3000 docs)\n"), err
    assert tables(workspace)["docs"] == 0


def test_a_worker_records_its_failure_even_when_the_database_is_busy(workspace, monkeypatch):
    """The final state write waits out another writer instead of leaving `running` behind."""
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 100)
    job_id = fake_job(workspace, state="running")
    holder = workspace.connect()
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(1.5, lambda: holder.execute("COMMIT")).start()
    from engine.jobs.table import mark_finished

    conn = workspace.connect()
    t0 = time.monotonic()
    mark_finished(conn, job_id, "failed", error="it broke")
    assert time.monotonic() - t0 >= 1.0
    conn.close()
    holder.close()
    job = get_job(workspace.connect(readonly=True), job_id)
    assert (job.state, job.error) == ("failed", "it broke")


# -- 3. nothing a job uses can be deleted ------------------------------------------------------
def test_deleting_what_a_running_job_uses_is_refused_naming_the_job(workspace, tmp_path):
    make_synthetic_run(workspace, 300, seed=8)
    importing = fake_job(
        workspace,
        title="import big.jsonl -> synthetic",
        config={"corpus": "synthetic", "paths": ["/data/big.jsonl"]},
    )
    before = tables(workspace)
    code, out, err = betr(workspace, "delete", "corpus", "synthetic")
    assert (code, out) == (2, "")
    assert err == (
        f"error: corpus 'synthetic' is in use by job {importing} (import big.jsonl -> "
        f"synthetic, running)\n  fix: wait for it to finish (betr jobs show {importing}), or "
        f"cancel it first: betr jobs cancel {importing}\n"
    )
    conn = workspace.connect()
    with transaction(conn):
        conn.execute("UPDATE jobs SET state = 'done' WHERE id = ?", (importing,))
        scoring = conn.execute(
            "INSERT INTO jobs (kind, title, config, state, run_id, created_at) "
            "VALUES ('betr-score', 'score run 1', '{\"run_id\": 1}', 'queued', 1, 0)"
        ).lastrowid
    conn.close()
    code, _, err = betr(workspace, "delete", "benchmark", "gsm8k")
    assert code == 2
    assert f"benchmark 'gsm8k' is in use by job {scoring} (score run 1, queued)" in err
    code, _, err = betr(workspace, "delete", "corpus", "synthetic")
    assert code == 2 and f"in use by job {scoring}" in err
    code, _, err = betr(workspace, "apply", "--run", "1")
    assert code == 2 and f"run '1' is in use by job {scoring}" in err
    assert tables(workspace) == {**before, "jobs": before["jobs"] + 1}


def wait_for_done(ws: Workspace, job_id: int, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    conn = ws.connect(readonly=True)
    try:
        while time.monotonic() < deadline:
            job = get_job(conn, job_id)
            if job.done >= at_least:
                return
            assert job.state in ("queued", "running"), (job.state, job.error)
            time.sleep(0.02)
    finally:
        conn.close()
    raise AssertionError("the job made no progress")


@pytest.mark.slow
def test_resuming_an_import_whose_corpus_was_deleted_says_so(workspace, tmp_path):
    src = write_docs_jsonl(tmp_path / "big.jsonl", 30_000, seed=4, words=30)
    code, out, err = betr(workspace, "import", "docs", str(src), "--corpus", "big", "--detach")
    assert code == 0, err
    job_id = int(out.split()[1])
    wait_for_done(workspace, job_id, 2000)
    job = get_job(workspace.connect(readonly=True), job_id)
    os.killpg(job.pgid, signal.SIGKILL)
    while process_alive(job.pid):
        launch.reap_children()
        time.sleep(0.01)
    code, out, err = betr(workspace, "delete", "corpus", "big")
    assert code == 0, err
    code, out, err = betr(workspace, "jobs", "resume", str(job_id))
    assert code == 2
    assert "Traceback" not in err
    assert err == (
        "error: the partial corpus 'big' of this import was deleted, so it cannot be resumed\n"
        "  fix: import the files again: betr import docs ... --corpus big\n"
    )
    assert get_job(workspace.connect(readonly=True), job_id).state == "failed"


# -- 4. escape sequences from data ---------------------------------------------------------------
def test_escape_sequences_in_a_doc_print_inert(workspace, tmp_path, capfdbinary):
    src = tmp_path / "evil.jsonl"
    doc = {"id": "evil", "text": f"before {ESCAPES} after\nsecond\tline", "note": ESCAPES}
    src.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    code, _, err = betr(workspace, "import", "docs", str(src), "--corpus", "c", "--meta", "note")
    assert code == 0, err
    code, out, _ = betr(workspace, "show", "doc", "evil")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert f"before {INERT} after\nsecond\tline" in out
    assert 'meta: {"note": "\\u001b]0;pwned\\u0007' in out  # the JSON of the metadata
    # JSON stays exact data: every control character escaped, none raw
    code, out, _ = betr(workspace, "show", "doc", "evil", "--json")
    assert not any(c in out for c in "\x1b\x07\x9b")
    assert json.loads(out)["text"] == doc["text"]


def test_escape_sequences_in_the_docs_listing_and_logs_print_inert(workspace, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # `betr docs` fits its lines to the terminal
    make_synthetic_run(workspace, 200, seed=9)
    conn = workspace.connect()
    with transaction(conn):
        first = conn.execute("SELECT doc_id FROM prob_order WHERE position = 1").fetchone()[0]
        conn.execute(
            "UPDATE docs SET text = ?, source = ? WHERE id = ?",
            (f"top doc {ESCAPES} end", f"evil{ESCAPES}.jsonl:1", first),
        )
    conn.close()
    code, out, err = betr(workspace, "docs", "--run", "1", "--limit", "3")
    assert code == 0, err
    assert not any(c in out for c in "\x1b\x07\x9b")
    assert "top doc ␛]0;pwned␇" in out
    job_id = fake_job(workspace, state="failed", title=f"import {ESCAPES}", error=ESCAPES)
    workspace.job_log_path(job_id).write_text(f"a line {ESCAPES}\n")
    for args in (("jobs", "list"), ("jobs", "show", str(job_id)), ("jobs", "logs", str(job_id))):
        code, out, err = betr(workspace, *args)
        assert code == 0, err
        assert not any(c in out + err for c in "\x1b\x07\x9b"), args
        assert "␛]0;pwned␇" in out, args


@pytest.mark.parametrize(
    "args",
    [
        ("import", "docs", "{src}", "--corpus", "bad\x1b]0;x\x07name"),
        ("import", "bench", "{bench}", "--name", "bad\x9bname", "--format", "gsm8k"),
        ("targets", "create", "bad\x07set", "--bench", "b"),
        ("targets", "create", "bad\u202eset", "--bench", "b"),
    ],
)
def test_names_with_control_characters_are_refused(workspace, tmp_path, args):
    src = write_docs_jsonl(tmp_path / "d.jsonl", 3)
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"question": "q?", "answer": "a"}) + "\n")
    assert (
        betr(workspace, "import", "bench", str(bench), "--name", "b", "--format", "gsm8k")[0] == 0
    )
    before = tables(workspace)
    args = [a.format(src=src, bench=bench) for a in args]
    code, out, err = betr(workspace, *args)
    assert code == 2
    assert "holds a control character" in err or "holds a control character" in out
    assert not any(c in out + err for c in "\x1b\x07\x9b\u202e")
    assert tables(workspace) == before


# -- 5. damaged workspace files -----------------------------------------------------------------
VERBS = [
    ("list", "corpora"),
    ("list", "benchmarks"),
    ("list", "targets"),
    ("list", "runs"),
    ("list", "jobs"),
    ("show", "doc", "1"),
    ("delete", "corpus", "c"),
    ("delete", "benchmark", "b"),
    ("jobs", "list"),
    ("jobs", "show", "1"),
    ("jobs", "cancel", "1"),
    ("jobs", "resume", "1"),
    ("jobs", "logs", "1"),
    ("import", "docs", "{src}", "--corpus", "x"),
    ("import", "bench", "{src}", "--name", "x"),
    ("targets", "create", "t", "--bench", "b"),
    ("targets", "list"),
    ("score", "--corpus", "c", "--targets", "t"),
    ("train", "--run", "1"),
    ("apply", "--run", "1"),
    ("select", "--run", "1", "--keep", "10%", "--out", "{out}"),
    ("ranked", "--run", "1"),
    ("runs", "list"),
    ("runs", "show", "1"),
    ("tradeoff", "--run", "1"),
    ("overlap", "--run", "1", "--run", "2", "--keep", "10%"),
    ("agreement", "--run", "1"),
    ("docs", "--run", "1"),
    ("labels", "set", "1", "good"),
    ("labels", "list"),
    ("labels", "export", "{out}"),
]


def damage(ws: Workspace, how: str) -> None:
    conn = ws.connect()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = ws.db_path.read_bytes()
    for suffix in ("-wal", "-shm"):
        Path(str(ws.db_path) + suffix).unlink(missing_ok=True)
    if how == "random":
        ws.db_path.write_bytes(os.urandom(len(data)))
    else:
        ws.db_path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("how", ["random", "truncated"])
def test_every_verb_on_a_damaged_workspace_exits_2_with_a_clean_message(workspace, tmp_path, how):
    make_synthetic_run(workspace, 2000, seed=1)
    damage(workspace, how)
    src = write_docs_jsonl(tmp_path / "d.jsonl", 3)
    failures = []
    for verb in VERBS:
        args = [a.format(src=src, out=tmp_path / "o.jsonl") for a in verb]
        code, _, err = betr(workspace, *args)
        if (
            code != 2
            or not err.startswith("error: cannot open the workspace database")
            or ("Traceback" in err)
        ):
            failures.append((verb, code, err[-300:]))
    assert failures == []
    code, _, err = betr(None, "init", str(workspace.root))
    assert code == 2 and err.startswith("error: cannot open the workspace database")
    worker = subprocess.run(
        [sys.executable, "-m", "engine.jobs.worker", "-w", str(workspace.root), "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert worker.returncode == 2
    assert worker.stderr.startswith("error: cannot open the workspace database")


# -- 6. the smaller ones -------------------------------------------------------------------------
def test_init_makes_an_existing_directory_owner_only(tmp_path):
    root = tmp_path / "shared-dir"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    ws = Workspace.init(root)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(ws.db_path.stat().st_mode) == 0o600


def test_benchmark_sources_are_stored_as_absolute_paths(workspace, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("q.jsonl").write_text(json.dumps({"question": "q?", "answer": "a"}) + "\n")
    assert betr(workspace, "import", "bench", "q.jsonl", "--name", "q", "--format", "gsm8k")[0] == 0
    _, out, _ = betr(workspace, "list", "benchmarks", "--json")
    assert json.loads(out)[0]["sources"] == [str(tmp_path / "q.jsonl")]


def test_skipped_records_are_logged_without_suggesting_skip_bad(workspace, tmp_path):
    src = tmp_path / "d.jsonl"
    src.write_text('{"text": "fine"}\n{"body": "no text"}\n')
    code, _, err = betr(workspace, "import", "docs", str(src), "--corpus", "c", "--skip-bad")
    assert code == 0, err
    log = workspace.job_log_path(1).read_text()
    assert "skipped: " in log and f"{src}:2: field 'text': missing" in log
    assert "--skip-bad" not in log


def test_resume_in_the_background_says_where_it_continues(workspace, tmp_path):
    job_id = fake_job(workspace, state="failed", total=None)
    _, out, _ = betr(workspace, "jobs", "resume", str(job_id), "--detach")
    assert out == f"job {job_id} resumed in the background: betr jobs show {job_id}\n"
    launch.cancel(workspace, job_id)


def test_resume_says_where_it_really_continues_from(workspace):
    """Training reports tokens between its saved states: a resume continues from the last
    saved state (the checkpoint's `resumes_at`), and says that, not the last reported count
    (issue 19.11)."""
    from tests.tui.conftest import update_job

    job_id = fake_job(workspace, state="failed", done=40_960, total=102_400, unit="tokens")
    update_job(workspace, job_id, checkpoint=json.dumps({"step": 56, "resumes_at": 28_672}))
    _, out, _ = betr(workspace, "jobs", "resume", str(job_id), "--detach")
    assert out == (
        f"job {job_id} resumed in the background from 28672/102400 tokens: "
        f"betr jobs show {job_id}\n"
    )
    launch.cancel(workspace, job_id)


def test_a_live_worker_whose_heartbeat_waits_on_a_lock_stays_running(workspace):
    """A worker whose heartbeat is 30 s old but whose process lives reads running, and
    `jobs resume` refuses to start a second worker for it (issue 19.11)."""
    from tests.tui.conftest import update_job

    job_id = fake_job(workspace, state="running")  # this test process is its worker
    update_job(workspace, job_id, heartbeat=time.time() - 30)
    code, out, _ = betr(workspace, "jobs", "show", str(job_id), "--json")
    assert code == 0 and json.loads(out)["state"] == "running"
    code, _, err = betr(workspace, "jobs", "resume", str(job_id))
    assert code == 2 and f"job {job_id} is running" in err


@pytest.mark.slow
def test_a_cancelled_job_reads_cancelled_only_once_its_worker_is_gone(workspace, tmp_path):
    src = write_docs_jsonl(tmp_path / "big.jsonl", 20_000, seed=4, words=30)
    code, out, err = betr(workspace, "import", "docs", str(src), "--corpus", "big", "--detach")
    assert code == 0, err
    job_id = int(out.split()[1])
    wait_for_done(workspace, job_id, 2000)
    job = launch.cancel(workspace, job_id)
    assert job.state == "cancelled"
    assert not process_alive(job.pid)
    code, out, _ = betr(workspace, "list", "corpora", "--json")
    # cancelled, it stays importing (invisible to analyses) until resumed or deleted
    assert [(c["name"], c["state"]) for c in json.loads(out)] == [("big", "importing")]
