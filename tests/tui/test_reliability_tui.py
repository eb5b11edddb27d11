"""The TUI under the faults of issue #8: escape sequences in data never reach the terminal, and a
run deleted under the Documents and Threshold screens leaves no stale rows behind."""

from __future__ import annotations

import pytest

from bench.synth_run import make_synthetic_run
from engine.api.catalog import delete_corpus
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.tui.conftest import make_app, wait_until
from tui.screens.documents.doclist import DocList

SIZE = (160, 48)
ESCAPES = "\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b[H\x9b31m"


@pytest.fixture()
def ws(tmp_path):
    workspace = Workspace.init(tmp_path / "ws")
    make_synthetic_run(workspace, 500, seed=2)
    conn = workspace.connect()
    with transaction(conn):
        first = conn.execute("SELECT doc_id FROM prob_order WHERE position = 1").fetchone()[0]
        conn.execute(
            "UPDATE docs SET text = ?, source = ? WHERE id = ?",
            (f"top doc {ESCAPES} end\nline two", f"evil{ESCAPES}.jsonl:1", first),
        )
        # a name from before names were checked at creation
        conn.execute("UPDATE benchmarks SET name = ? WHERE name = 'mmlu'", (f"mm{ESCAPES}lu",))
    conn.close()
    return workspace


def terminal_output(app) -> str:
    """What the app would write to the terminal for a full redraw of the current screen."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


def assert_inert(out: str) -> None:
    for raw in ("\x1b]", "\x07", "\x9b", "\x1b[2J", "\x1b[H"):
        assert raw not in out, repr(raw)


async def test_escape_sequences_in_data_never_reach_the_terminal(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.run_id is not None, what="current run")
        await wait_until(pilot, lambda: "Runs · 1" in terminal_output(app), what="workspace")
        assert_inert(terminal_output(app))
        await pilot.press("3")
        await wait_until(
            pilot,
            lambda: (
                app.screen.SCOPE == "documents"
                and app.screen.query_one(DocList).row_at(0) is not None
            ),
            what="first rows",
        )
        out = terminal_output(app)
        assert_inert(out)
        assert "top doc ␛]0;pwned␇" in out  # shown, as symbols
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: app.screen.SCOPE == "viewer" and app.screen.detail, what="viewer"
        )
        await pilot.pause(0.2)
        out = terminal_output(app)
        assert_inert(out)
        assert "␛]52;c;ZWNobyBwd25lZA==␇" in out
        await pilot.press("escape", "4")
        await wait_until(pilot, lambda: app.screen.SCOPE == "threshold", what="threshold")
        await pilot.pause(0.3)
        assert_inert(terminal_output(app))


async def test_a_run_deleted_under_the_screens_leaves_no_stale_rows(tmp_path):
    workspace = Workspace.init(tmp_path / "ws")
    make_synthetic_run(workspace, 800, seed=3)
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.run_id is not None, what="current run")
        await pilot.press("3")
        docs = app.screen
        await wait_until(
            pilot, lambda: docs.query_one(DocList).row_at(0) is not None, what="first rows"
        )
        await pilot.press("4")
        threshold = app.screen
        await wait_until(pilot, lambda: threshold.index is not None, what="threshold numbers")
        delete_corpus(workspace, "synthetic")
        await wait_until(pilot, lambda: app.session.run_id is None, what="the run to go")
        assert threshold.index is None
        assert "No current run" in str(threshold.query_one("#th-empty").render())
        await pilot.press("3")
        await pilot.pause(0.2)
        assert docs.index is None and docs.view is None
        assert docs.query_one(DocList).row_at(0) is None
        assert docs.query_one("#docs-empty").display
