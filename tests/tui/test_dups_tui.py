"""Duplicates in the app, as a user meets them: the Documents list marks a duplicate (`=` exact,
`≈` near, with its cluster's size), the viewer lists the other members and `d` opens them, and
the Threshold tab shows the kept set's duplicate share as the keep rate moves. Planted copies
in a synthetic run; near duplicates detected with `betr dups --near`."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.helpers import betr_json
from tests.integration.test_contamination import replace_text
from tests.integration.test_dups import paragraphs, text_of
from tests.tui.conftest import TEST_DEVICE, make_app, wait_until
from tui.screens.documents.columns import DUPS, look

T0 = 1_750_000_000.0
SNAPSHOT_ROOT = Path("/tmp/betr-tui-snapshots")


def build(root: Path) -> tuple[Workspace, dict[int, dict]]:
    """Positions 2 and 5 exact copies (another case), 3 and 8 near copies (a word changed)."""
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    make_synthetic_run(ws, 3000, n_sample=400, seed=5)
    conn = ws.connect()
    with transaction(conn):  # fixed times: screens show them
        conn.execute("UPDATE runs SET created_at = ?, finished_at = ?", (T0, T0 + 60))
        conn.execute("UPDATE corpora SET created_at = ?", (T0,))
        conn.execute("UPDATE benchmarks SET created_at = ?", (T0,))
    order = conn.execute(
        "SELECT o.position, o.doc_id, d.ext_id, d.n_tokens FROM prob_order o "
        "JOIN docs d ON d.id = o.doc_id WHERE o.run_id = 1 AND o.position <= 10 "
        "ORDER BY o.position"
    ).fetchall()
    conn.close()
    rng = random.Random(3)
    a, b = paragraphs(rng, 2), paragraphs(rng, 2)
    b2 = [list(p) for p in b]
    b2[0][10] = "other"
    for position, text in (
        (2, text_of(a)),
        (5, text_of(a).upper()),
        (3, text_of(b)),
        (8, text_of(b2)),
    ):
        replace_text(ws, order[position - 1][1], text)
    rows = betr_json(ws, "dups", "--corpus", "synthetic", "--near")
    assert len(rows) == 3  # one exact cluster, two near ones
    return ws, {r[0]: {"id": r[1], "ext": r[2], "tokens": r[3]} for r in order}


@pytest.fixture()
def planted(tmp_path):
    return build(tmp_path / "ws")


async def open_documents(pilot, app) -> None:
    await wait_until(pilot, lambda: app.session.run_id == 1, what="the run")
    await pilot.press("3")
    await wait_until(pilot, lambda: app.screen.SCOPE == "documents" and app.screen.view)
    await wait_until(pilot, lambda: app.screen.doclist.row_at(9) is not None, what="rows")


async def test_marks_viewer_members_and_threshold_share(planted):
    ws, pos = planted
    app = make_app(ws)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_documents(pilot, app)
        marks = [look(DUPS).cell(app.screen.doclist.row_at(i)) for i in range(10)]
        assert marks == ["", "=2≈2", "≈2", "", "=2≈2", "", "", "≈2", "", ""]
        await pilot.press("down", "enter")  # position 2
        await wait_until(
            pilot,
            lambda: app.screen.SCOPE == "viewer" and app.screen.duplicates is not None,
            what="the viewer's duplicates",
        )
        pane = str(app.screen.query_one("#viewer-dups").content)
        assert "= exact duplicates (1 other)" in pane and pos[5]["ext"] in pane
        assert "≈ near duplicates (1 other)" in pane
        await pilot.press("d")  # opens the other member
        await wait_until(
            pilot,
            lambda: (
                app.screen.SCOPE == "viewer"
                and app.screen.detail is not None
                and app.screen.detail.doc_id == pos[5]["id"]
            ),
            what="the member in a viewer",
        )
        await pilot.press("escape", "escape", "4")
        await wait_until(pilot, lambda: app.screen.SCOPE == "threshold", what="threshold")
        line = app.screen.query_one("#th-duplicates")
        await wait_until(pilot, lambda: "exact 1 doc" in str(line.content), what="dup line")
        text = str(line.content)
        # at the default keep (10% of tokens, hundreds of docs) both planted pairs are kept
        assert "exact 1 doc (" in text and "near 2 docs (" in text


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_duplicate_markers_snapshot(snap_compare, size):
    root = SNAPSHOT_ROOT / f"dups-{size[0]}"
    build(root)
    app = make_app(Workspace(root))

    async def run_before(pilot):
        await wait_until(
            pilot, lambda: app.session.run_id == 1 and app.device == TEST_DEVICE, what="run"
        )
        await open_documents(pilot, app)
        await pilot.pause(0.3)

    try:
        assert snap_compare(app, terminal_size=size, run_before=run_before)
    finally:
        shutil.rmtree(root, ignore_errors=True)
