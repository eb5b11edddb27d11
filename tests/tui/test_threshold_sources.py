"""The Threshold screen's per-source panel driven by keys: its table shows the engine's
`by_source` (the function behind `betr tradeoff --by-source --json`) at every keep rate."""

from __future__ import annotations

from bench.synth_run import make_synthetic_run
from engine.api.tradeoff import KeptBySource, by_source_of_run
from engine.store.db import transaction
from engine.units import abbreviate, format_percent
from tests.tui.conftest import make_app, wait_until
from tests.tui.test_threshold import SIZE, open_threshold

N_DOCS = 2000


def three_sources(workspace) -> int:
    run_id = make_synthetic_run(workspace, N_DOCS)
    conn = workspace.connect()
    with transaction(conn):
        conn.execute(
            "UPDATE docs SET source = CASE id % 3 WHEN 0 THEN 'web.jsonl:' || id "
            "WHEN 1 THEN 'books.csv row ' || id ELSE 'wiki.jsonl:' || id END"
        )
    conn.close()
    return run_id


def table_rows(screen) -> dict[str, list[str]]:
    table = screen.query_one("#th-src-table")
    return {key.value: [str(cell) for cell in table.get_row(key)] for key in table.rows}


def assert_table(screen, expected: KeptBySource) -> None:
    """The table holds the engine's rows, in its order, formatted the one way."""
    rows = table_rows(screen)
    assert list(rows) == [r.group for r in expected.rows]
    for r in expected.rows:
        cells = rows[r.group]
        assert cells[1] == f"{abbreviate(r.kept_docs)}/{abbreviate(r.docs)}"
        assert cells[2] == f"{abbreviate(r.kept_tokens)}/{abbreviate(r.tokens)}"
        assert cells[3].startswith(format_percent(r.survival))
        assert cells[4] == format_percent(r.kept_share)
        assert cells[5] == format_percent(r.pool_share)
    assert_chart(screen, rows)


def assert_chart(screen, rows: dict[str, list[str]]) -> None:
    """The bar chart is drawn from the table beside it: its bars are the table's first rows,
    in order, each with the row's name and the row's "survives" value; the reference line is
    the whole pool's share the heading names."""
    chart = screen.query_one("#th-src-plot")
    assert chart.bars, "the chart has bars"
    table = list(rows.values())
    assert len(chart.bars) <= len(table)
    drawn = str(chart.render())
    for bar, cells in zip(chart.bars, table, strict=False):
        assert bar.label == cells[0]
        assert chart.value_text(bar.value) == cells[3].split()[0]
        assert chart.value_text(bar.value) in drawn
    assert chart.reference == screen.by_source.kept_token_share * 100


async def wait_panel(pilot, screen, expected: KeptBySource) -> None:
    await wait_until(
        pilot,
        lambda: screen.by_source == expected,
        what=f"by {expected.field} at {expected.keep_percent}% of {expected.by}",
    )
    assert_table(screen, expected)


async def test_the_per_source_table_follows_the_keep_rate_and_the_field(workspace):
    run_id = three_sources(workspace)

    def engine(keep: float, by: str = "tokens", field: str = "source") -> dict:
        return by_source_of_run(workspace, run_id, keep, by, field)

    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        await wait_panel(pilot, screen, engine(0.10))
        before = table_rows(screen)
        assert set(before) == {"web.jsonl", "books.csv", "wiki.jsonl"}
        heading = str(screen.query_one("#th-src-heading").content)
        assert heading.startswith("kept share by source at 10% of tokens (3 values)")
        assert heading.endswith("v: by meta.lang")

        await pilot.press("plus", "plus")  # keep 12%: every source keeps more
        await wait_panel(pilot, screen, engine(0.12))
        after = table_rows(screen)
        assert all(after[g][2] != before[g][2] for g in before)

        await pilot.press("b")  # 12% of the docs
        await wait_panel(pilot, screen, engine(0.12, "docs"))
        assert screen.by_source.kept_docs == 240

        await pilot.press("v")  # group by the corpus's metadata field
        await wait_panel(pilot, screen, engine(0.12, "docs", "meta.lang"))
        assert set(table_rows(screen)) == {"en", "de", "fr"}
        await pilot.press("minus")
        await wait_panel(pilot, screen, engine(0.11, "docs", "meta.lang"))

        await pilot.press("v")  # back to source: grouped once, shown at once
        await wait_panel(pilot, screen, engine(0.11, "docs"))


async def test_a_corpus_without_metadata_groups_by_source_only(workspace):
    run_id = three_sources(workspace)
    conn = workspace.connect()
    with transaction(conn):
        conn.execute("UPDATE corpora SET meta_fields = '[]'")
    conn.close()
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_threshold(pilot, app)
        await wait_panel(pilot, screen, by_source_of_run(workspace, run_id, 0.10, "tokens"))
        assert "v: by" not in str(screen.query_one("#th-src-heading").content)
        await pilot.press("v")
        await pilot.pause()
        assert any("no metadata fields" in n.message for n in app._notifications)
        assert screen.by_source.field == "source"
