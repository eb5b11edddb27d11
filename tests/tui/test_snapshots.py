"""SVG snapshots of the key screens on a fixed workspace (`pytest --snapshot-update` to accept).

Everything shown is fixed: rows are written straight into the DB with fixed times (shown in
UTC), the running job's rate and ETA are stored values, and its heartbeat is fresh."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from engine.store.db import transaction
from engine.workspace import Workspace
from tests.tui.conftest import TEST_DEVICE, fake_job, make_app, wait_until

SIZE = (160, 48)
SMALL = (80, 24)  # the default SSH terminal: every main screen fits it too
T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
SNAPSHOT_ROOT = Path("/tmp/betr-tui-snapshots")  # a fixed path: it is shown in the status bar


def build_workspace(name: str) -> Workspace:
    root = SNAPSHOT_ROOT / name
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    conn = ws.connect()
    with transaction(conn):
        conn.execute(
            "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, "
            "text_field, sources, n_docs, n_tokens, n_chars, n_skipped, job_id) "
            "VALUES ('wiki-sample', 'ready', ?, 'gpt-neox-olmo-dolma-v1_5', 'sha', 'text', ?, "
            "20000, 1234567, 8765432, 3, NULL)",
            (T0, json.dumps(["/data/wiki/part-0.jsonl", "/data/wiki/part-1.jsonl"])),
        )
        for name_, category, fmt, n, chars in (
            ("arc-easy", "science-qa", "olmes:mc", 2376, 612_000),
            ("gsm8k", "math", "gsm8k", 1319, 940_000),
        ):
            bench = conn.execute(
                "INSERT INTO benchmarks (name, category, split, format, sources, n_examples, "
                "n_chars, created_at) VALUES (?, ?, 'test', ?, '[]', ?, ?, ?)",
                (name_, category, fmt, n, chars, T0 + 60),
            ).lastrowid
            conn.execute(
                "INSERT INTO examples (benchmark_id, idx, ext_id, question, answer, text) "
                "VALUES (?, 0, 'q0', 'Which gas do plants take in?', 'CO2', ?)",
                (bench, "Which gas do plants take in? carbon dioxide " * 40),
            )
        target = conn.execute(
            "INSERT INTO target_sets (name, created_at) VALUES ('core', ?)", (T0 + 120,)
        ).lastrowid
        conn.execute(
            "INSERT INTO target_set_members (target_set_id, benchmark_id) "
            "SELECT ?, id FROM benchmarks",
            (target,),
        )
    conn.close()
    fake_job(
        ws,
        state="done",
        done=20_000,
        total=20_000,
        title="import part-0.jsonl +1 -> wiki-sample",
        config={"corpus": "wiki-sample", "paths": ["/data/wiki/part-0.jsonl"]},
        created_at=T0,
        live=False,
    )
    fake_job(
        ws,
        state="failed",
        done=0,
        total=None,
        unit="items",
        error="/data/news.jsonl:17: field 'text': missing\n  fix: fix or delete that record, "
        "or pass --skip-bad to skip bad records",
        title="import news.jsonl -> news",
        config={"corpus": "news", "paths": ["/data/news.jsonl"]},
        created_at=T0 + 300,
        live=False,
    )
    running = fake_job(
        ws,
        state="running",
        done=12_400,
        total=20_000,
        rate=3_100.0,
        eta_s=41.0,
        title="import crawl.jsonl.zst -> web-crawl",
        config={"corpus": "web-crawl", "paths": ["/data/crawl.jsonl.zst"], "skip_bad": True},
        created_at=T0 + 600,
        live=False,
    )
    conn = ws.connect()
    conn.execute(
        "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, text_field, "
        "sources, n_docs, n_tokens, n_chars, job_id) VALUES ('web-crawl', 'importing', ?, "
        "'gpt-neox-olmo-dolma-v1_5', 'sha', 'text', ?, 12400, 2876543, 15432100, ?)",
        (T0 + 601, json.dumps(["/data/crawl.jsonl.zst"]), running),
    )
    conn.close()
    ws.job_log_path(running).write_text(
        "2025-06-15 15:16:40 INFO start import-docs (attempt 1, pid 4242): import crawl\n"
        "2025-06-15 15:16:40 INFO counting records in 1 source(s)\n"
        "2025-06-15 15:16:43 WARNING skipped: crawl.jsonl.zst:1207: field 'text': missing\n"
    )
    return ws


@pytest.fixture()
def snapshot_app():
    apps = []

    def make(name: str, build=build_workspace):
        app = make_app(build(name))
        apps.append(app)
        return app

    yield make
    for app in apps:
        shutil.rmtree(app.workspace.root, ignore_errors=True)


def settled(app) -> bool:
    """Device probed, jobs polled, and the current screen's data on it."""
    if app.device != TEST_DEVICE or not app.jobs:
        return False
    if app.screen.SCOPE == "workspace":
        return app.screen.data is not None
    if app.screen.SCOPE == "jobs":
        return "skipped" in str(app.screen.query_one("#job-log-tail").content)
    return True


def workspace_steps(app):
    async def run_before(pilot):
        await wait_until(pilot, lambda: settled(app), what="workspace screen data")
        await pilot.pause(0.3)  # the tables' columns size to their rows on the next refresh
        # refresh the heartbeat check: stay far from the 10 s staleness limit
        assert time.time() - app.jobs[0].heartbeat < 5

    return run_before


def jobs_steps(app):
    async def run_before(pilot):
        await pilot.press("2")
        await wait_until(pilot, lambda: settled(app), what="jobs screen data")

    return run_before


def test_workspace_screen(snap_compare, snapshot_app):
    app = snapshot_app("workspace")
    assert snap_compare(app, terminal_size=SIZE, run_before=workspace_steps(app))


def test_workspace_screen_at_80x24(snap_compare, snapshot_app):
    app = snapshot_app("workspace-small")
    assert snap_compare(app, terminal_size=SMALL, run_before=workspace_steps(app))


def test_jobs_screen(snap_compare, snapshot_app):
    app = snapshot_app("jobs")
    assert snap_compare(app, terminal_size=SIZE, run_before=jobs_steps(app))


def test_jobs_screen_at_80x24(snap_compare, snapshot_app):
    app = snapshot_app("jobs-small")
    assert snap_compare(app, terminal_size=SMALL, run_before=jobs_steps(app))


def test_help_on_the_jobs_screen(snap_compare, snapshot_app):
    app = snapshot_app("help")

    async def run_before(pilot):
        await jobs_steps(app)(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_jobs_screen_with_the_failed_job_selected(snap_compare, snapshot_app):
    app = snapshot_app("failed")

    async def run_before(pilot):
        await jobs_steps(app)(pilot)
        await pilot.press("down")
        await wait_until(
            pilot,
            lambda: "no log yet" in str(app.screen.query_one("#job-log-tail").content),
            what="the failed job's (empty) log",
        )

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# -- browsing screens (issue 4) on a generated, deterministic applied run --------------------
def browse_workspace(name: str) -> Workspace:
    from bench.synth_run import make_synthetic_run

    root = SNAPSHOT_ROOT / name
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    make_synthetic_run(ws, 5000, n_sample=600, seed=7)
    conn = ws.connect()
    with transaction(conn):  # fixed times: the Workspace screen shows them
        conn.execute("UPDATE runs SET created_at = ?, finished_at = ?", (T0, T0 + 60))
        conn.execute("UPDATE corpora SET created_at = ?", (T0,))
        conn.execute("UPDATE benchmarks SET created_at = ?", (T0,))
        conn.execute("UPDATE target_sets SET created_at = ?", (T0,))
    conn.close()
    return ws


async def open_documents(pilot, app) -> None:
    await wait_until(
        pilot, lambda: app.session.run_id == 1 and app.device == TEST_DEVICE, what="run"
    )
    await pilot.press("3")
    await wait_until(
        pilot,
        lambda: (
            app.screen.SCOPE == "documents"
            and app.screen.view is not None
            and all(app.screen.doclist.row_at(r) is not None for r in range(40))
        ),
        what="the first rows",
    )


async def open_threshold(pilot, app) -> None:
    await wait_until(
        pilot, lambda: app.session.run_id == 1 and app.device == TEST_DEVICE, what="run"
    )
    await pilot.press("4")
    await wait_until(
        pilot, lambda: getattr(app.screen, "stats", None) is not None, what="threshold numbers"
    )


def documents_steps(app):
    async def run_before(pilot):
        await open_documents(pilot, app)
        await pilot.press("down", "down", "down")
        await pilot.pause(0.2)

    return run_before


def viewer_steps(app):
    async def run_before(pilot):
        await open_documents(pilot, app)
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                app.screen.SCOPE == "viewer"
                and app.screen.detail is not None
                and app.screen.nearest is not None
                and app.screen.duplicates is not None
            ),
            what="the document and its nearest examples",
        )
        first = app.screen.detail.doc_id
        await pilot.press("y")  # labelled good: the viewer moves on to the next document
        await wait_until(
            pilot,
            lambda: app.screen.detail and app.screen.detail.doc_id != first,
            what="the next document",
        )
        await pilot.press("left_square_bracket")  # back to the labelled one
        await wait_until(
            pilot,
            lambda: (
                app.screen.detail
                and app.screen.detail.doc_id == first
                and app.screen.detail.label == "good"
                and app.screen.nearest is not None
                and app.screen.duplicates is not None
            ),
            what="the label",
        )
        await pilot.pause(0.2)

    return run_before


def threshold_steps(app):
    async def run_before(pilot):
        await open_threshold(pilot, app)
        screen = app.screen
        for selector, value in (("#th-params", "1e9"), ("#th-tokens", "2e10")):
            screen.query_one(selector).focus()
            await pilot.press(*value, "enter")
        await wait_until(
            pilot,
            lambda: screen.stats.compute_law.compute == 1.2e20,
            what="the budget's numbers",
        )
        await pilot.press("escape", "plus", "plus")  # keep 12 % of tokens
        await wait_until(pilot, lambda: screen.stats.keep_percent == 12.0, what="keep 12%")
        await wait_until(pilot, lambda: screen.by_source is not None, what="kept by source")
        await pilot.press("v")  # the per-source panel by the corpus's metadata field
        await wait_until(
            pilot,
            lambda: screen.by_source.field == "meta.lang" and screen.by_source.keep_percent == 12.0,
            what="kept by meta.lang",
        )
        dups = screen.query_one("#th-duplicates")
        await wait_until(pilot, lambda: "near" in str(dups.content), what="the duplicates line")
        # the plots redraw once the keep rests, and again at their size once the lines above
        # them (the duplicates line) have their final height
        await wait_until(
            pilot, lambda: not any(w.is_running for w in app.workers), 30, "workers idle"
        )
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.5)

    return run_before


def agreement_steps(app):
    async def run_before(pilot):
        await open_threshold(pilot, app)
        await pilot.press("t")
        await wait_until(
            pilot, lambda: app.screen.agreement is not None, what="the agreement numbers"
        )
        await pilot.pause(0.3)

    return run_before


def test_documents_screen(snap_compare, snapshot_app):
    app = snapshot_app("documents", browse_workspace)
    assert snap_compare(app, terminal_size=SIZE, run_before=documents_steps(app))


def test_documents_screen_at_80x24(snap_compare, snapshot_app):
    app = snapshot_app("documents-small", browse_workspace)
    assert snap_compare(app, terminal_size=SMALL, run_before=documents_steps(app))


def test_document_viewer(snap_compare, snapshot_app):
    app = snapshot_app("viewer", browse_workspace)
    assert snap_compare(app, terminal_size=SIZE, run_before=viewer_steps(app))


def test_document_viewer_at_80x24(snap_compare, snapshot_app):
    app = snapshot_app("viewer-small", browse_workspace)
    assert snap_compare(app, terminal_size=SMALL, run_before=viewer_steps(app))


def test_threshold_screen_with_a_budget(snap_compare, snapshot_app):
    app = snapshot_app("threshold", browse_workspace)
    assert snap_compare(app, terminal_size=SIZE, run_before=threshold_steps(app))


def test_threshold_screen_with_a_budget_at_80x24(snap_compare, snapshot_app):
    app = snapshot_app("threshold-small", browse_workspace)
    assert snap_compare(app, terminal_size=SMALL, run_before=threshold_steps(app))


def test_agreement_tab(snap_compare, snapshot_app):
    app = snapshot_app("agreement", browse_workspace)
    assert snap_compare(app, terminal_size=SIZE, run_before=agreement_steps(app))


def test_agreement_tab_at_80x24(snap_compare, snapshot_app):
    app = snapshot_app("agreement-small", browse_workspace)
    assert snap_compare(app, terminal_size=SMALL, run_before=agreement_steps(app))
