"""The Clusters tab as a user meets it, on a run whose scored sample has three planted topics
(tests/integration/test_clusters.py): opening the tab clusters the sample as a background job,
the table and the bar chart show each cluster's kept share as `betr clusters --json` has it and
follow the keep rate, `n` reclusters with another k, and enter on a cluster opens the Documents
screen filtered to its docs. Snapshots at 160x48 and 80x24."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.synth_run import make_synthetic_run
from engine.api import clusters as api
from engine.store.db import transaction
from engine.units import format_percent
from engine.workspace import Workspace
from tests.helpers import betr_json
from tests.integration.test_clusters import TOPICS, plant_topics
from tests.tui.conftest import TEST_DEVICE, make_app, wait_until
from tui.screens.threshold.clusters import ClustersTab, title_text

SIZE = (160, 48)
SMALL = (80, 24)
T0 = 1_750_000_000.0
SNAPSHOT_ROOT = Path("/tmp/betr-tui-snapshots")


def build(root: Path) -> Workspace:
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    make_synthetic_run(ws, 3000, n_sample=600, seed=5)
    plant_topics(ws, 1, seed=2)
    conn = ws.connect()
    with transaction(conn):  # fixed times: screens show them
        conn.execute("UPDATE runs SET created_at = ?, finished_at = ?", (T0, T0 + 60))
        conn.execute("UPDATE corpora SET created_at = ?", (T0,))
        conn.execute("UPDATE benchmarks SET created_at = ?", (T0,))
    conn.close()
    return ws


async def open_clusters(pilot, app) -> ClustersTab:
    await wait_until(
        pilot, lambda: app.session.run_id == 1 and app.device == TEST_DEVICE, what="run"
    )
    await pilot.press("4")
    await wait_until(pilot, lambda: getattr(app.screen, "stats", None) is not None, what="4")
    await pilot.press("t", "t", "t")
    tab = app.screen.query_one(ClustersTab)
    await wait_until(pilot, lambda: tab.result is not None, timeout=90, what="the clusters")
    return tab


def table_cells(tab: ClustersTab) -> list[list[str]]:
    table = tab.query_one("#cl-table")
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_tab_clusters_follows_the_keep_and_opens_the_docs(tmp_path):
    ws = build(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        tab = await open_clusters(pilot, app)  # not cached: the tab ran the job
        shown = tab.result
        assert shown.clusters.k == 17  # round(sqrt(600 / 2))
        heading = str(tab.query_one("#cl-heading").content)
        assert "17 topic clusters on the 600-doc scored sample" in heading
        want = betr_json(ws, "clusters", "--run", "1")  # cached: what the tab computed
        assert [r["kept_share"] for r in want["clusters"]] == [r.kept_share for r in shown.rows]
        cells = table_cells(tab)
        for row, c, kept in zip(cells, shown.clusters.clusters, shown.rows, strict=True):
            assert row[1] == title_text(c.words)
            assert row[4].startswith(format_percent(kept.kept_share))
        bars = tab.query_one("#cl-plot").bars
        assert [b.value for b in bars] == [r.kept_share * 100 for r in shown.rows][: len(bars)]

        await pilot.press("plus")  # keep 11 %: the shares follow
        await wait_until(pilot, lambda: tab.result.keep == pytest.approx(0.11), what="11%")
        conn = ws.connect(readonly=True)
        try:
            index = app.session.load_index(conn, 1)
        finally:
            conn.close()
        again = api.kept_at(index, api.load_clusters(ws, 1), 0.11, "tokens")
        assert [r.kept_share for r in tab.result.rows] == [r.kept_share for r in again.rows]

        await pilot.press("n", "3")
        await pilot.press("enter")  # three topics: each cluster titled by its planted words
        await wait_until(
            pilot, lambda: tab.result and tab.result.clusters.k == 3, timeout=90, what="k = 3"
        )
        titles = [set(c.words[:4]) for c in tab.result.clusters.clusters]
        assert sorted(map(sorted, titles)) == sorted(map(sorted, map(set, TOPICS)))

        await pilot.press("down", "enter")  # cluster 1's docs on the Documents screen
        docs = app.screen
        await wait_until(
            pilot,
            lambda: docs.SCOPE == "documents" and docs.view and docs.view.query.cluster,
            what="the cluster's docs",
        )
        assert docs.view.query.cluster == (3, 0, 1)
        listed = sorted(int(docs.index.doc_id[r]) for r in docs.view.rows)
        assert listed == api.load_clusters(ws, 1, k=3).doc_ids_of(1).tolist()
        assert "cluster 1 of 3 (seed 0)" in str(docs.query_one("#docs-info").content)


async def test_a_k_that_does_not_fit_says_so_and_can_be_fixed(tmp_path):
    ws = build(tmp_path / "ws")
    betr_json(ws, "clusters", "--run", "1")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        tab = await open_clusters(pilot, app)
        await pilot.press("n", "1", "enter")
        empty = tab.query_one("#cl-empty")
        await wait_until(pilot, lambda: "--k must be at least 2" in str(empty.content), what="err")
        assert app.screen.focused is tab.query_one("#cl-k")  # fixed where it was typed
        await pilot.press("backspace", "enter")  # empty: the default k again (cached)
        await wait_until(pilot, lambda: not empty.display, what="the table again")
        assert tab.result.clusters.k == 17


@pytest.fixture()
def snapshot_ws():
    ws = build(SNAPSHOT_ROOT / "clusters")
    betr_json(ws, "clusters", "--run", "1")
    yield ws
    shutil.rmtree(ws.root, ignore_errors=True)


def clusters_steps(app):
    async def run_before(pilot):
        await open_clusters(pilot, app)
        await pilot.press("down", "down")
        await pilot.pause(0.5)

    return run_before


# both snapshots build the workspace at one fixed path (it is shown): never at the same time
@pytest.mark.xdist_group("clusters_snapshots")
def test_clusters_tab(snap_compare, snapshot_ws):
    app = make_app(snapshot_ws)
    assert snap_compare(app, terminal_size=SIZE, run_before=clusters_steps(app))


@pytest.mark.xdist_group("clusters_snapshots")
def test_clusters_tab_at_80x24(snap_compare, snapshot_ws):
    app = make_app(snapshot_ws)
    assert snap_compare(app, terminal_size=SMALL, run_before=clusters_steps(app))
