"""The Documents screen and the document viewer, driven by keys, checked against the engine."""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console
from textual.widgets import Input, TextArea

from bench.synth_run import make_synthetic_run
from engine.api.browse import IndexCache, Query, doc_detail, make_view, page
from engine.api.labels import label_agreement
from engine.store.db import transaction
from engine.store.docs import fts_doc_ids
from engine.units import format_number
from engine.workspace import Workspace
from tests.tui.conftest import fake_job, make_app, screen_lines, update_job, wait_until
from tui.reads import reading
from tui.screens.documents.doclist import DocList
from tui.screens.documents.screen import EMPTY
from tui.screens.documents.viewer import agreement_text

SIZE = (160, 48)
N_DOCS = 3000


@pytest.fixture()
def ws(tmp_path):
    workspace = Workspace.init(tmp_path / "ws")
    make_synthetic_run(workspace, N_DOCS, seed=11)
    return workspace


def engine_view(workspace, query: Query):
    """(index, view) as the engine computes them, on a fresh connection."""
    with reading(workspace) as conn:
        index = IndexCache().get(conn, 1)
        return index, make_view(conn, index, query)


def engine_page(workspace, query: Query, start: int = 0, count: int = 30, columns=()):
    with reading(workspace) as conn:
        index = IndexCache().get(conn, 1)
        return page(conn, index, make_view(conn, index, query), start, count, columns)


def doclist(app) -> DocList:
    return app.screen.query_one(DocList)


def shown_ids(app, count: int) -> list[int]:
    rows = [doclist(app).row_at(i) for i in range(count)]
    return [r.doc_id for r in rows if r is not None]


def rendered(app, selector: str) -> str:
    """What a Static shows, as plain text (its content may be Rich renderables)."""
    widget = app.screen.query_one(selector)
    console = Console(width=max(widget.size.width, 40), file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def has_notification(app, text: str, severity: str | None = None) -> bool:
    return any(
        text in n.message and (severity is None or n.severity == severity)
        for n in app._notifications
    )


async def open_documents(pilot, app) -> None:
    await wait_until(pilot, lambda: app.session.run_id is not None, what="current run")
    await pilot.press("3")
    await wait_until(pilot, lambda: app.screen.SCOPE == "documents", what="documents screen")
    await wait_until(pilot, lambda: doclist(app).row_at(0) is not None, what="first rows")


async def pick_option(pilot, app, option_id: str) -> None:
    """In the open column picker, highlight option `option_id` and press enter."""
    from textual.widgets import OptionList

    await wait_until(pilot, lambda: app.screen.query(OptionList), what="column picker")
    options = app.screen.query_one(OptionList)
    ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
    options.highlighted = ids.index(option_id)
    await pilot.press("enter")


async def sort_by(pilot, app, name: str) -> None:
    """`s`, then the column `name` in the picker."""
    await pilot.press("s")
    await pick_option(pilot, app, name)


async def wait_for_query(pilot, app, query: Query) -> None:
    def landed() -> bool:
        view = app.screen.view
        return view is not None and view.query == query and doclist(app).row_at(0) is not None

    await wait_until(pilot, landed, what=f"view {query.describe()}")


async def test_first_rows_and_sorts_match_the_engine(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        expected = engine_page(ws, Query())
        assert shown_ids(app, len(expected)) == [r.doc_id for r in expected]
        first = expected[0]
        line = doclist(app).line_text(0)
        assert line.split()[:2] == [str(first.rank), "●"]
        assert format_number(first.prob, 3) in line
        # one source file: no source column; the metadata field is one instead
        lang = engine_page(ws, Query(), 0, 1, ["meta.lang"])[0].values["meta.lang"]
        assert "synthetic.jsonl" not in line and f" {lang} " in line
        index, view = engine_view(ws, Query())
        info = str(app.screen.query_one("#docs-info").content)
        assert f"{len(view):,} of {len(index):,} docs" in info
        assert f"on the {int(index.in_sample.sum()):,}-doc scored sample" in info
        assert f"p ≥ {format_number(index.prob[view.cut - 1], 4)}" in info

        for name in ("score", "tokens", "prob"):
            await sort_by(pilot, app, name)
            sort = f"{name}:desc"
            await wait_for_query(pilot, app, Query(sort=sort))
            expected = engine_page(ws, Query(sort=sort))
            assert shown_ids(app, len(expected)) == [r.doc_id for r in expected], sort
            assert doclist(app).cursor == 0

        # far down: rows are fetched as they come into view
        await pilot.press("G")
        last = len(view) - 1
        await wait_until(pilot, lambda: doclist(app).row_at(last) is not None, what="last row")
        assert doclist(app).cursor == last
        assert doclist(app).row_at(last).doc_id == engine_page(ws, Query(), last, 1)[0].doc_id
        await pilot.press("g")
        assert doclist(app).cursor == 0


async def test_benchmark_and_kept_filters_count_what_make_view_counts(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        index, _ = engine_view(ws, Query())
        names = sorted(index.benchmarks.values())
        for name in names[:2]:
            await pilot.press("b")
            await wait_for_query(pilot, app, Query(benchmark=name))
            assert len(doclist(app)) == len(engine_view(ws, Query(benchmark=name))[1])
            assert doclist(app).row_at(0).benchmark == name

        await pilot.press("c")
        await wait_for_query(pilot, app, Query())
        for kept in ("kept", "dropped"):
            await pilot.press("k")
            await wait_for_query(pilot, app, Query(kept=kept))
            _, view = engine_view(ws, Query(kept=kept))
            assert len(doclist(app)) == len(view)
            assert doclist(app).row_at(0).kept is (kept == "kept")
            assert shown_ids(app, 20) == [r.doc_id for r in engine_page(ws, view.query, 0, 20)]
        await pilot.press("k")
        await wait_for_query(pilot, app, Query())
        assert len(doclist(app)) == N_DOCS


async def test_search_narrows_to_fts_hits_and_filter_dialog(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        await pilot.press("slash")
        await wait_until(pilot, lambda: app.screen.query("#prompt-input"), what="search input")
        await pilot.press(*"theorem", "enter")
        await wait_for_query(pilot, app, Query(search="theorem"))
        with reading(ws) as conn:
            hits = set(fts_doc_ids(conn, "theorem").tolist())
        _, view = engine_view(ws, Query(search="theorem"))
        assert 0 < len(doclist(app)) == len(view) < N_DOCS
        assert set(shown_ids(app, 50)) <= hits

        await pilot.press("f")
        await wait_until(pilot, lambda: app.screen.query("#filter-meta"), what="filter dialog")
        app.screen.query_one("#filter-meta", Input).value = "lang=de"
        await pilot.click("#filter-apply")
        wanted = Query(search="theorem", meta=("lang", "de"))
        await wait_for_query(pilot, app, wanted)
        assert len(doclist(app)) == len(engine_view(ws, wanted)[1])
        assert "meta.lang = de" in str(app.screen.query_one("#docs-info").content)


async def test_jump_to_rank_and_export(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        await pilot.press("colon")
        await wait_until(pilot, lambda: app.screen.query("#prompt-input"), what="rank input")
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: doclist(app).cursor == 1233, what="cursor at rank")
        await wait_until(pilot, lambda: doclist(app).row_at(1233) is not None, what="row")
        assert doclist(app).row_at(1233).rank == 1234

        # a rank the kept filter hides
        await pilot.press("k")
        await wait_for_query(pilot, app, Query(kept="kept"))
        app.screen.jump_to_rank(str(N_DOCS))
        await wait_until(
            pilot, lambda: has_notification(app, f"rank {N_DOCS:,} is filtered out of this view")
        )

        await pilot.press("e")
        await wait_until(pilot, lambda: list(ws.exports_dir.glob("docs-run1-*.jsonl")))
        out = next(ws.exports_dir.glob("docs-run1-*.jsonl"))
        await wait_until(pilot, lambda: has_notification(app, str(out)), what="export notice")
        records = [json.loads(line) for line in out.read_text().splitlines()]
        index, view = engine_view(ws, Query(kept="kept"))
        assert [r["doc_id"] for r in records] == index.doc_id[view.rows].tolist()
        first = engine_page(ws, Query(kept="kept"), 0, 1)[0]
        expected = {
            "doc_id": first.doc_id,
            "id": first.ext_id,
            "rank": first.rank,
            "kept": True,
            "prob": first.prob,
            "score": first.score,
            "tokens": first.n_tokens,
            "source": first.source,
            "benchmark": first.benchmark,
        }
        assert {k: records[0][k] for k in expected} == expected
        with reading(ws) as conn:
            text = conn.execute("SELECT text FROM docs WHERE id = ?", (first.doc_id,)).fetchone()
        assert records[0]["text"] == text[0] and records[0]["meta"]["lang"]


def labels(ws) -> dict[int, str]:
    with reading(ws) as conn:
        return dict(conn.execute("SELECT doc_id, label FROM doc_labels").fetchall())


async def test_viewer_shows_text_and_example_and_labels_show_in_the_list(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        # a doc of the scored sample, so that it has a best example
        await sort_by(pilot, app, "score")
        await wait_for_query(pilot, app, Query(sort="score:desc"))
        first = doclist(app).row_at(0)
        with reading(ws) as conn:
            index = IndexCache().get(conn, 1)
            detail = doc_detail(conn, index, first.doc_id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.SCOPE == "viewer", what="viewer")
        await wait_until(pilot, lambda: app.screen.detail is not None, what="detail")
        assert app.screen.query_one("#viewer-text", TextArea).text == detail.text
        example = detail.best_example
        assert example is not None
        why_text = rendered(app, "#viewer-why")
        assert example["benchmark"] in why_text and example["question"][:20] in why_text
        await wait_until(pilot, lambda: app.screen.nearest is not None, what="nearest")

        await pilot.press("y")  # labels the doc and moves on to the next, as labelling tools do
        await wait_until(pilot, lambda: labels(ws).get(first.doc_id) == "good", what="label")
        second = doclist_row = engine_page(ws, Query(sort="score"), 1, 1)[0]
        third = engine_page(ws, Query(sort="score"), 2, 1)[0]
        await wait_until(
            pilot,
            lambda: app.screen.detail and app.screen.detail.doc_id == second.doc_id,
            what="next doc",
        )
        await pilot.press("n")
        await wait_until(pilot, lambda: labels(ws).get(second.doc_id) == "bad", what="label 2")
        await wait_until(
            pilot,
            lambda: app.screen.detail and app.screen.detail.doc_id == third.doc_id,
            what="third doc",
        )
        await pilot.press("left_square_bracket")  # back to the second
        await wait_until(
            pilot,
            lambda: app.screen.detail and app.screen.detail.doc_id == second.doc_id,
            what="second doc again",
        )
        _, view = engine_view(ws, Query(sort="score"))
        with reading(ws) as conn:
            expected = agreement_text(label_agreement(conn, index, view.cut), view)
        assert "labels: 1 good, 1 bad, 0 skip" in expected
        await wait_until(
            pilot,
            lambda: str(app.screen.query_one("#viewer-agreement").content) == expected,
            what="agreement line",
        )
        await pilot.press("backspace")  # clearing a label stays on the doc
        await wait_until(pilot, lambda: second.doc_id not in labels(ws), what="cleared")
        await pilot.pause(0.2)
        assert app.screen.detail.doc_id == second.doc_id

        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.SCOPE == "documents", what="back")
        assert doclist(app).cursor == 1  # where the viewer ended
        await wait_until(
            pilot, lambda: doclist(app).row_at(0).label == "good", what="label in the list"
        )
        assert doclist(app).line_text(0).split()[1] == "●+"
        assert doclist(app).row_at(1).label is None
        assert doclist_row.doc_id == doclist(app).row_at(1).doc_id


async def test_label_advance_can_be_turned_off(ws, tmp_path, monkeypatch):
    """`label_advance = false` in the config: a label keeps the viewer on its document."""
    config = tmp_path / "config.toml"
    config.write_text("label_advance = false\n")
    monkeypatch.setenv("BETR_CONFIG", str(config))
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        first = doclist(app).row_at(0)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: app.screen.SCOPE == "viewer" and app.screen.detail, what="viewer"
        )
        await pilot.press("s")
        await wait_until(pilot, lambda: labels(ws).get(first.doc_id) == "skip", what="skip")
        await pilot.pause(0.3)
        assert app.screen.detail.doc_id == first.doc_id


ONE_MB_TEXTS = {
    "lines": ("A long line of words about the river and the theorem. " * 20 + "\n") * 960,
    "one line": "word " * 210_000,  # no newline at all: broken for display at spaces
}


@pytest.mark.parametrize("shape", list(ONE_MB_TEXTS))
async def test_a_one_megabyte_document_opens(ws, shape):
    big = ONE_MB_TEXTS[shape]
    assert len(big) >= 1_000_000
    first = engine_page(ws, Query(), 0, 1)[0]
    conn = ws.connect()
    conn.execute("UPDATE docs SET text = ? WHERE id = ?", (big, first.doc_id))
    conn.commit()
    conn.close()
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        started = time.monotonic()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.SCOPE == "viewer", what="viewer")
        await wait_until(pilot, lambda: app.screen.detail is not None, what="detail")
        area = app.screen.query_one("#viewer-text", TextArea)
        if shape == "lines":
            assert area.text == big
        else:
            assert area.text.replace("\n", " ") == big
            assert "broken for display" in str(app.screen.query_one("#viewer-heading").content)
        await pilot.press("pagedown", "pagedown", "ctrl+end")
        await pilot.pause(0.2)
        assert time.monotonic() - started < 10
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.SCOPE == "documents", what="back")


async def test_no_run_shows_the_empty_state(workspace):
    app = make_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await wait_until(pilot, lambda: app.screen.SCOPE == "documents", what="documents")
        empty = app.screen.query_one("#docs-empty")
        assert empty.display and str(empty.content) == EMPTY
        assert not doclist(app).display
        await pilot.press("s", "enter", "e")  # nothing to act on: the empty state stays
        assert app.screen.SCOPE == "documents" and app.last_error is None
        assert empty.display and str(empty.content) == EMPTY and not doclist(app).display


async def test_the_toast_of_a_finished_run_leads_to_its_documents_after_an_import(ws):
    """The demo's path: the scoring job runs while the user imports another corpus; when the
    job finishes, its toast says "press 3" and 3 shows the run's documents (it used to open
    on "no scored run yet": the newest corpus, just imported, had no run)."""
    conn = ws.connect()
    with transaction(conn):
        conn.execute("UPDATE runs SET state = 'pending', finished_at = NULL WHERE id = 1")
        conn.execute(
            "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, "
            "text_field, n_docs) VALUES ('imported', 'ready', ?, 'gpt-neox', 'x', 'text', 5)",
            (time.time() + 60,),
        )
    conn.close()
    job = fake_job(ws, title="score synthetic")
    update_job(ws, job, run_id=1)
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.corpus == "imported", what="the new corpus")
        await pilot.press("3")
        await wait_until(pilot, lambda: app.screen.SCOPE == "documents", what="documents")
        empty = str(app.screen.query_one("#docs-empty").content)
        assert empty == EMPTY  # nothing can be read anywhere yet: the generic hint
        conn = ws.connect()
        with transaction(conn):
            conn.execute(
                "UPDATE runs SET state = 'applied', finished_at = ? WHERE id = 1", (time.time(),)
            )
        conn.close()
        update_job(ws, job, state="done", finished_at=time.time())
        toast = await wait_until(
            pilot,
            lambda: next(
                (n.message for n in app._notifications if f"job {job} done" in n.message), None
            ),
            what="the job's toast",
        )
        assert "Press 3 to read run 1's documents" in toast
        assert app.session.run_id == 1 and app.session.corpus == "synthetic"
        await pilot.press("1", "3")
        await wait_until(pilot, lambda: doclist(app).row_at(0) is not None, what="its rows")
        assert not app.screen.query_one("#docs-empty").display


async def test_no_current_run_names_a_run_that_can_be_read(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        conn = ws.connect()
        with transaction(conn):
            conn.execute(
                "INSERT INTO corpora (name, state, created_at, tokenizer, tokenizer_sha256, "
                "text_field) VALUES ('web', 'ready', ?, 'gpt-neox', 'x', 'text')",
                (time.time() + 60,),
            )
        conn.close()
        app.session.choose_corpus("web")  # as `u` on the Workspace screen does
        await wait_until(pilot, lambda: app.session.run_id is None, what="no current run")
        text = str(app.screen.query_one("#docs-empty").content)
        assert text.startswith("corpus 'web' has no scored run yet")
        assert "press 1, then r on run 1" in text and "corpus 'synthetic'" in text
        assert app.run_hint(1).startswith("To read it (no run is current): press 1, then r")


async def test_a_scored_run_shows_its_sample_in_betr_order(ws):
    conn = ws.connect()
    conn.execute("UPDATE runs SET state = 'scored' WHERE id = 1")
    conn.commit()
    conn.close()
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        expected = engine_page(ws, Query())
        assert shown_ids(app, len(expected)) == [r.doc_id for r in expected]
        assert doclist(app).line_text(0).split()[1] == "-"  # no marker, prob "-"
        assert "not applied yet" in str(app.screen.query_one("#docs-info").content)


async def test_engine_errors_are_notifications_and_the_view_stays(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        await pilot.press("slash")
        await wait_until(pilot, lambda: app.screen.query("#prompt-input"), what="search input")
        app.screen.query_one("#prompt-input", Input).value = "\x00"
        await pilot.press("enter")
        await wait_until(pilot, lambda: has_notification(app, "cannot search for", "error"))
        assert app.is_running and app.screen.SCOPE == "documents"
        assert app.screen.view.query == Query() and len(doclist(app)) == N_DOCS

        app.screen.request(Query(benchmark="no-such-bench"))
        await wait_until(pilot, lambda: has_notification(app, "'no-such-bench' is not a target"))
        await sort_by(pilot, app, "score")  # the failed query is forgotten: from the shown one
        await wait_for_query(pilot, app, Query(sort="score:desc"))
        assert app.screen.SCOPE == "documents" and len(doclist(app)) == N_DOCS


async def test_the_list_follows_the_app_keep_rate(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_documents(pilot, app)
        await pilot.press("k")
        await wait_for_query(pilot, app, Query(kept="kept"))
        app.session.keep = 0.25
        await wait_for_query(pilot, app, Query(kept="kept", keep=0.25))
        app.session.keep_by = "docs"
        wanted = Query(kept="kept", keep=0.25, by="docs")
        await wait_for_query(pilot, app, wanted)
        _, view = engine_view(ws, wanted)
        assert len(doclist(app)) == len(view) == app.screen.view.cut
        assert "keep 25% of docs" in str(app.screen.query_one("#docs-info").content)


async def test_at_80x24_the_text_column_keeps_a_third_of_the_width(ws):
    """On the default SSH terminal the columns drop out by priority (source first, then the
    benchmark) so the text keeps at least a third of the line, and the line under the list
    spells out the cursor row's source, benchmark and exact numbers; back at 160 columns the
    source is a column again."""
    app = make_app(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_documents(pilot, app)
        first = engine_page(ws, Query(), 0, 1)[0]

        def first_row_shown() -> bool:  # the frame can lag the data under load
            lines = screen_lines(app)
            at = [i for i, ln in enumerate(lines) if "rank" in ln and "text" in ln]
            return bool(at) and lines[at[0] + 1].split()[:1] == [str(first.rank)]

        await wait_until(pilot, first_row_shown, what="the header and the first row")
        lines = screen_lines(app)
        at = next(i for i, line in enumerate(lines) if "rank" in line and "text" in line)
        header, row = lines[at], lines[at + 1]
        region = doclist(app).scrollable_content_region
        text_width = region.right - header.index("text")
        assert text_width >= region.width / 3, (text_width, header)
        assert "source" not in header and "benchmark" not in header
        snippet = row[header.index("text") : region.right].rstrip().rstrip("…")
        assert len(snippet) >= region.width / 3 - 2 and first.snippet.startswith(snippet)
        assert row.split()[:3] == [str(first.rank), "●", format_number(first.prob, 3)]
        detail = str(app.screen.query_one("#docs-row").content)
        assert f"source {first.source}" in detail and f"p {format_number(first.prob, 6)}" in detail
        assert detail in "\n".join(lines).replace("\n ", " ") or detail[:60] in "\n".join(lines)

        await pilot.resize_terminal(160, 48)

        def wide_header() -> bool:
            return any(
                "rank" in ln and "text" in ln and "lang" in ln and "benchmark" in ln
                for ln in screen_lines(app)
            )

        await wait_until(pilot, wide_header, what="the 160-column header")
