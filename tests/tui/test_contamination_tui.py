"""Contamination in the app, as a user meets it: `x` on the Documents screen lists only the
docs that share a word 13-gram with a benchmark example (marked `!`), the viewer shows each
overlap in context next to the benchmark item and `o` selects the span in the text, and the
Threshold tab counts the contaminated kept docs per benchmark. Planted docs as in
tests/integration/test_contamination.py; the check run with `betr contamination`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.api import contamination as api
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.helpers import betr_json
from tests.integration.test_contamination import plant
from tests.tui.conftest import TEST_DEVICE, make_app, wait_until
from tui.screens.documents.columns import CONTAMINATED_MARK, MARKS, look

SIZE = (160, 48)
T0 = 1_750_000_000.0
SNAPSHOT_ROOT = Path("/tmp/betr-tui-snapshots")


def build(root: Path, tmp: Path) -> tuple[Workspace, dict]:
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    make_synthetic_run(ws, 3000, n_sample=400, seed=5)
    conn = ws.connect()
    with transaction(conn):  # fixed times: screens show them
        conn.execute("UPDATE runs SET created_at = ?, finished_at = ?", (T0, T0 + 60))
        conn.execute("UPDATE corpora SET created_at = ?", (T0,))
        conn.execute("UPDATE benchmarks SET created_at = ?", (T0,))
    conn.close()
    tmp.mkdir(parents=True, exist_ok=True)
    docs = plant(ws, tmp, 1)
    check = betr_json(ws, "contamination", "--run", "1")
    assert check, "the planted docs are found"
    return ws, docs


@pytest.fixture()
def planted(tmp_path):
    return build(tmp_path / "ws", tmp_path / "bench")


async def test_filter_open_and_select_the_overlap(planted):
    ws, docs = planted
    dirty = api.contaminated_doc_ids(ws, 1)
    assert dirty == {docs[r]["id"] for r in ("k1", "k2", "k3")}  # the 12-gram (k4) is clean
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.run_id == 1, what="the run")
        await pilot.press("3")
        screen = app.screen
        await wait_until(pilot, lambda: screen.SCOPE == "documents" and screen.view, what="list")
        await pilot.press("x")
        await wait_until(pilot, lambda: screen.view.query.contaminated, what="the filter")
        listed = {int(screen.index.doc_id[r]) for r in screen.view.rows}
        assert listed == dirty
        await wait_until(pilot, lambda: screen.doclist.row_at(0) is not None, what="rows")
        first = screen.doclist.row_at(0)
        assert first.contaminated is True and look(MARKS).cell(first)[2] == CONTAMINATED_MARK
        assert first.doc_id == docs["k1"]["id"]  # the first in probability order

        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.SCOPE == "viewer", what="the viewer")
        viewer = app.screen
        await wait_until(
            pilot,
            lambda: viewer.contamination is not None and viewer.detail is not None,
            what="the overlaps",
        )
        hit, other = viewer.contamination.hits  # evaluation split first
        assert (hit.benchmark, hit.example, hit.split) == ("quiz", "q-exact", "test")
        assert (other.benchmark, other.example, other.split) == ("drill", "t-1", "train")
        text = viewer.detail.text
        assert (
            text[hit.start : hit.end]
            == hit.span
            == " ".join(
                "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
                "november oscar papa quebec romeo sierra tango".split()
            )
        )
        await pilot.pause()
        pane = viewer.query_one("#viewer-contamination").content
        shown = " ".join(str(r) for r in pane.renderables)
        assert "2 overlap(s), word 13-grams" in shown
        await pilot.press("o")
        area = viewer.query_one("#viewer-text")
        assert area.selected_text == hit.span

        await pilot.press("escape", "escape", "4")
        await wait_until(
            pilot, lambda: getattr(app.screen, "stats", None) is not None, what="threshold"
        )
        line = app.screen.query_one("#th-contamination")
        await wait_until(pilot, lambda: "quiz (test) 3 docs" in str(line.content), what="counts")


async def test_the_threshold_key_runs_a_check_of_the_kept_set(tmp_path):
    """No check yet: the line says how to run one; x runs it as a background job, and the
    counts appear when it finishes."""
    ws = Workspace.init(tmp_path / "ws")
    make_synthetic_run(ws, 2000, n_sample=300, seed=5)
    plant(ws, tmp_path, 1)
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.run_id == 1, what="the run")
        await pilot.press("4")
        await wait_until(
            pilot, lambda: getattr(app.screen, "stats", None) is not None, what="threshold"
        )
        line = app.screen.query_one("#th-contamination")
        await wait_until(pilot, lambda: "no check covers" in str(line.content), what="no check")
        await pilot.press("x")
        await wait_until(
            pilot,
            lambda: "quiz (test) 3 docs" in str(line.content),
            timeout=60,
            what="the check's counts",
        )
    assert api.current_check(ws, 1, keep=0.10) is not None


def test_viewer_shows_the_overlap(snap_compare):
    root = SNAPSHOT_ROOT / "contamination"
    ws, _docs = build(root, SNAPSHOT_ROOT / "contamination-bench")
    app = make_app(ws)

    async def run_before(pilot):
        await wait_until(
            pilot, lambda: app.session.run_id == 1 and app.device == TEST_DEVICE, what="run"
        )
        await pilot.press("3")
        await wait_until(pilot, lambda: app.screen.SCOPE == "documents" and app.screen.view)
        await pilot.press("x")
        await wait_until(pilot, lambda: app.screen.view.query.contaminated, what="filter")
        await wait_until(pilot, lambda: app.screen.doclist.row_at(0) is not None, what="rows")
        await pilot.press("down", "enter")  # the case-and-punctuation variant
        await wait_until(
            pilot,
            lambda: (
                app.screen.SCOPE == "viewer"
                and app.screen.contamination is not None
                and app.screen.detail is not None
                and app.screen.nearest is not None
                and app.screen.duplicates is not None
            ),
            what="the viewer",
        )
        await pilot.press("o")
        await pilot.pause(0.3)

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(SNAPSHOT_ROOT / "contamination-bench", ignore_errors=True)
