"""VisiData-grade browsing on the Documents screen (issue 23.3), driven like a user: `F` and the
frequency table (enter filters to a value), sorting by any column both ways (`s`, `S`, a title
click), the columns chosen with `C` and remembered, search hits in context, and metadata
values that look like markup or escape sequences shown as text; SVG snapshots of the table."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable, SelectionList

from bench.synth_run import make_synthetic_run
from engine.api.browse import IndexCache, Query, make_view
from engine.api.columns import Where
from engine.api.frequency import frequency_of_view
from engine.workspace import Workspace
from tests.tui.conftest import make_app, screen_lines, wait_until
from tests.tui.test_documents import doclist, open_documents, pick_option, sort_by, wait_for_query
from tests.tui.test_snapshots import SMALL, browse_workspace
from tests.tui.test_snapshots import open_documents as open_documents_settled
from tui.reads import reading
from tui.screens.documents.browsing import FrequencyPanel

SIZE = (160, 48)
HOSTILE = ("c[x=1-2]", "[bold]red[/bold]", "\x1b[31mred\x1b[0m")


@pytest.fixture()
def ws(tmp_path):
    workspace = Workspace.init(tmp_path / "ws")
    make_synthetic_run(workspace, 2000, seed=5)
    conn = workspace.connect()
    for i, value in enumerate(HOSTILE):
        conn.execute(
            "UPDATE docs SET meta = json_set(meta, '$.lang', ?) WHERE id % 5 = ?", (value, i)
        )
    conn.close()
    return workspace


def engine_freq(ws, query: Query, name: str):
    with reading(ws) as conn:
        index = IndexCache().get(conn, 1)
        return frequency_of_view(conn, index, make_view(conn, index, query), name)


async def open_frequency(pilot, app, name: str) -> FrequencyPanel:
    """F, then the column `name` in the table's list of columns (shift+tab, then enter)."""
    await pilot.press("F")
    panel = app.screen.query_one(FrequencyPanel)
    await wait_until(pilot, lambda: panel.is_open, what="F")
    if panel.column != name:
        await pilot.press("shift+tab")
        await pick_option(pilot, app, name)
        await pilot.press("tab")
    await wait_until(
        pilot,
        lambda: panel.table is not None and panel.table.column == name,
        what=f"the frequency table of {name}",
    )
    return panel


async def test_frequency_table_counts_and_enter_filters_to_the_value(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        freq = await open_frequency(pilot, app, "meta.lang")
        expected = engine_freq(ws, Query(), "meta.lang")
        assert [(r.value, r.docs) for r in freq.table.rows] == [
            (r.value, r.docs) for r in expected.rows
        ]
        grid = freq.query_one(DataTable)
        assert grid.row_count == len(expected.rows)
        # data that looks like markup or an escape sequence shows as written
        text = "\n".join(screen_lines(app))
        assert "c[x=1-2]" in text and "[bold]red[/bold]" in text and "\x1b" not in text
        # sort by value (s cycles docs -> tokens -> kept -> value), then reverse with S
        await pilot.press("s", "s", "s")
        await wait_until(pilot, lambda: freq.sort == "value", what="sort by value")
        values = [r.value for r in freq.table.rows]
        assert values == sorted(values)
        await pilot.press("S")
        await wait_until(pilot, lambda: freq.descending, what="reversed")
        assert [r.value for r in freq.table.rows] == sorted(values, reverse=True)
        # enter on the row of "de": the list shows exactly those docs
        grid.move_cursor(row=[r.value for r in freq.table.rows].index("de"))
        await pilot.press("enter")
        want = Query(where=(Where("meta.lang", value="de"),))
        await wait_until(pilot, lambda: not freq.is_open and doclist(app).display, what="back")
        await wait_for_query(pilot, app, want)
        de = next(r for r in expected.rows if r.value == "de")
        assert len(doclist(app)) == de.docs
        assert "meta.lang = de" in str(app.screen.query_one("#docs-info").content)
        # a numeric column is binned; escape closes without filtering
        freq = await open_frequency(pilot, app, "tokens")
        assert sum(r.docs for r in freq.table.rows) == de.docs
        await pilot.press("escape")
        await wait_until(pilot, lambda: not freq.is_open, what="closed")
        assert app.screen.wanted == want and doclist(app).has_focus


async def test_sort_by_any_column_both_ways_and_by_a_title_click(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        await sort_by(pilot, app, "tokens")
        await wait_for_query(pilot, app, Query(sort="tokens:desc"))
        await sort_by(pilot, app, "tokens")  # the current sort column again: flipped
        await wait_for_query(pilot, app, Query(sort="tokens:asc"))
        rows = [doclist(app).row_at(i) for i in range(30)]
        assert [r.n_tokens for r in rows] == sorted(r.n_tokens for r in rows)
        await pilot.press("S")
        await wait_for_query(pilot, app, Query(sort="tokens:desc"))
        # a text column: lexical, then reversed by a click on its title
        header = doclist(app)._header_strip(doclist(app).scrollable_content_region.width).text
        x = header.index("lang")
        await pilot.click(doclist(app), offset=(x, 0))
        await wait_for_query(pilot, app, Query(sort="meta.lang:asc"))
        assert "lang ↑" in doclist(app)._header_strip(160).text
        await pilot.click(doclist(app), offset=(x, 0))
        await wait_for_query(pilot, app, Query(sort="meta.lang:desc"))
        with reading(ws) as conn:
            index = IndexCache().get(conn, 1)
            view = make_view(conn, index, Query(sort="meta.lang:desc"))
        assert [doclist(app).row_at(i).doc_id for i in range(20)] == [
            int(index.doc_id[r]) for r in view.rows[:20]
        ]


async def test_columns_are_chosen_and_remembered_for_the_corpus(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        assert doclist(app).columns == ["prob", "score", "tokens", "benchmark", "meta.lang"]
        await pilot.press("C")
        await wait_until(pilot, lambda: app.screen.query(SelectionList), what="columns dialog")
        checklist = app.screen.query_one(SelectionList)
        checklist.deselect("score")
        checklist.select("cosine")
        checklist.select("source")
        await pilot.press("enter")
        wanted = ["prob", "tokens", "benchmark", "meta.lang", "cosine", "source"]
        await wait_until(pilot, lambda: doclist(app).columns == wanted, what="columns")
        await wait_until(
            pilot, lambda: doclist(app).row_at(0) is not None and doclist(app).row_at(0).values
        )
        header = doclist(app)._header_strip(160).text
        assert "cosine" in header and "source" in header and "score" not in header
        assert "synthetic.jsonl" in doclist(app).line_text(0)
    again = make_app(ws)  # a new session: the same columns
    async with again.run_test(size=SIZE) as pilot:
        await open_documents(pilot, again)
        assert doclist(again).columns == wanted


async def test_search_hits_show_in_context_highlighted(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        app.screen.request(Query(search="theorem"))
        await wait_for_query(pilot, app, Query(search="theorem"))
        dl = doclist(app)
        width = dl.scrollable_content_region.width
        for i in range(min(10, len(dl))):
            row = dl.row_at(i)
            assert row.hits and row.snippet[slice(*row.hits[0])].lower() == "theorem"
            strip = dl._row_strip(i, width)
            hit = [s for s in strip if s.style and s.style.reverse]
            assert hit and hit[0].text.lower() == "theorem", strip.text
            assert "theorem" in strip.text.lower()


async def test_export_parquet_of_the_view(ws):
    import pyarrow.parquet as pq

    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        app.screen.request(Query(where=(Where("meta.lang", value="de"),)))
        await wait_for_query(pilot, app, Query(where=(Where("meta.lang", value="de"),)))
        await pilot.press("E")
        await wait_until(pilot, lambda: list(ws.exports_dir.glob("docs-run1-*.parquet")))
        out = next(ws.exports_dir.glob("docs-run1-*.parquet"))
        await pilot.pause(0.5)
        rows = pq.read_table(out).to_pylist()
        assert len(rows) == len(doclist(app))
        assert {json.dumps(r["meta"]["lang"]) for r in rows} == {'"de"'}
        assert all(r["text"] for r in rows)


# -- snapshots ---------------------------------------------------------------------------------
def hostile_workspace(name: str) -> Workspace:
    ws = browse_workspace(name)
    conn = ws.connect()
    for i, value in enumerate(HOSTILE):
        conn.execute(
            "UPDATE docs SET meta = json_set(meta, '$.lang', ?) WHERE id % 7 = ?", (value, i)
        )
    conn.close()
    return ws


def frequency_steps(app):
    async def run_before(pilot):
        await open_documents_settled(pilot, app)
        await open_frequency(pilot, app, "meta.lang")
        await pilot.pause(0.3)

    return run_before


@pytest.fixture()
def freq_app():
    import shutil

    apps = []

    def make(name: str):
        app = make_app(hostile_workspace(name))
        apps.append(app)
        return app

    yield make
    for app in apps:
        shutil.rmtree(app.workspace.root, ignore_errors=True)


def test_frequency_table(snap_compare, freq_app):
    app = freq_app("frequency")
    assert snap_compare(app, terminal_size=SIZE, run_before=frequency_steps(app))


def test_frequency_table_at_80x24(snap_compare, freq_app):
    app = freq_app("frequency-small")
    assert snap_compare(app, terminal_size=SMALL, run_before=frequency_steps(app))
