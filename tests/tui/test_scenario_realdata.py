"""The issue-4 scenario on a workspace built from real data (400 web docs scored against 40 GSM8K
and 40 ARC-Challenge questions, trained and applied through the CLI): open the Documents screen,
sort, filter by benchmark, search a word, open a document, label it, open the Threshold screen,
change the keep rate, and check that the numbers on screen equal `betr tradeoff --json`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.api.browse import IndexCache, Query, make_view
from engine.units import format_number
from engine.workspace import Workspace
from tests.helpers import betr_json
from tests.tui.conftest import make_app, wait_until
from tests.tui.test_documents import sort_by
from tui.reads import reading
from tui.screens.threshold.screen import ThresholdScreen

pytestmark = [pytest.mark.usefixtures("olmo_wheel"), pytest.mark.xdist_group("betr_pipeline")]
FASTTEXT = ("--epoch", "30", "--lr", "0.5", "--min-count", "1", "--dim", "32", "--bucket", "20000")


def head(src: Path, dst: Path, n: int) -> Path:
    with open(src, encoding="utf-8") as fh:
        dst.write_text("".join(line for _, line in zip(range(n), fh, strict=False)))
    return dst


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, shared_data, olmo_wheel):
    tmp = tmp_path_factory.mktemp("scenario")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        ws = Workspace.init(tmp / "ws")
        web = head(shared_data / "web_docs/combined_docs.jsonl", tmp / "web.jsonl", 400)
        gsm = head(shared_data / "benchmarks/gsm8k/test.jsonl", tmp / "gsm.jsonl", 40)
        arc = head(shared_data / "benchmarks/arc/arc_challenge_test.jsonl", tmp / "arc.jsonl", 40)
        betr_json(ws, "import", "docs", str(web), "--corpus", "web")
        betr_json(ws, "import", "bench", str(gsm), "--name", "gsm8k")
        betr_json(ws, "import", "bench", str(arc), "--name", "arc-challenge")
        betr_json(ws, "targets", "create", "core", "--bench", "gsm8k,arc-challenge")
        run = betr_json(ws, "score", "--corpus", "web", "--targets", "core", "--sample", "300")
        betr_json(ws, "train", "--run", str(run["run_id"]), *FASTTEXT)
        betr_json(ws, "apply", "--run", str(run["run_id"]))
    return ws, run["run_id"]


def engine_view(ws: Workspace, run_id: int, query: Query):
    with reading(ws) as conn:
        index = IndexCache().get(conn, run_id)
        return index, make_view(conn, index, query)


async def test_browse_label_and_threshold_scenario(real_run):
    ws, run_id = real_run
    app = make_app(ws)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.session.run_id == run_id, what="the run as current run")
        await pilot.press("3")
        docs = app.screen
        await wait_until(pilot, lambda: docs.SCOPE == "documents" and docs.view, what="list")
        assert len(docs.view) == 400  # every doc of the corpus, in probability order

        await sort_by(pilot, app, "score")  # s, then the BETR score in the column picker
        await wait_until(pilot, lambda: docs.view.query.sort == "score:desc", what="score sort")
        await pilot.press("b")  # filter: the first target benchmark
        await wait_until(pilot, lambda: docs.view.query.benchmark, what="benchmark filter")
        bench = docs.view.query.benchmark
        assert bench in ("arc-challenge", "gsm8k")
        _, want = engine_view(ws, run_id, Query(sort="score:desc", benchmark=bench))
        assert docs.view.rows.tolist() == want.rows.tolist() and len(want) > 0

        await wait_until(pilot, lambda: docs.doclist.row_at(0) is not None, what="first row")
        word = max(re.findall(r"[A-Za-z]{5,}", docs.doclist.row_at(0).snippet), key=len)
        await pilot.press("slash")
        await pilot.press(*word, "enter")
        await wait_until(pilot, lambda: docs.view.query.search == word, what="search")
        _, want = engine_view(ws, run_id, Query(sort="score:desc", benchmark=bench, search=word))
        assert docs.view.rows.tolist() == want.rows.tolist() and len(want) >= 1

        await wait_until(pilot, lambda: docs.doclist.row_at(0) is not None, what="hit row")
        doc_id = docs.doclist.row_at(0).doc_id
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.SCOPE == "viewer", what="the viewer")
        viewer = app.screen
        await wait_until(pilot, lambda: viewer.detail is not None, what="the doc")
        assert viewer.detail.doc_id == doc_id and word in viewer.detail.text
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: [r["label"] for r in betr_json(ws, "labels", "list")] == ["good"],
            what="the label in the workspace",
        )
        labels = betr_json(ws, "labels", "list", "--run", str(run_id))
        assert [(r["doc_id"], r["label"]) for r in labels] == [(doc_id, "good")]
        await pilot.press("escape")

        await pilot.press("4")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ThresholdScreen) and app.screen.stats is not None,
            what="threshold numbers",
        )
        th = app.screen
        for _ in range(3):
            await pilot.press("plus")  # 10 % -> 13 % of tokens
        await wait_until(pilot, lambda: th.stats.keep_percent == pytest.approx(13.0))
        cli = betr_json(ws, "tradeoff", "--run", str(run_id), "--keep", "13%")
        for key in ("threshold", "kept_docs", "kept_tokens", "total_tokens", "benchmark_shares"):
            assert th.stats.to_json()[key] == cli[key], key
        shown = {
            w: str(th.query_one(f"#{w}").content)
            for w in ("th-threshold", "th-kept-docs", "th-detail")
        }
        assert shown["th-threshold"] == f"p ≥ {format_number(cli['threshold'], 4)}"
        assert f"{cli['kept_docs']:,} docs of {cli['total_docs']:,}" in shown["th-detail"]
        assert f"{cli['kept_tokens']:,} tokens of {cli['total_tokens']:,}" in shown["th-detail"]


async def test_embedding_a_doc_outside_the_sample_from_the_viewer(real_run):
    """Why this doc, for a doc the scoring never embedded: the viewer says so, `e` embeds it in
    a background job, and the pane then shows what `betr why` computes."""
    from engine.api.browse import NEVER_EMBEDDED
    from engine.api.why import why_doc

    ws, run_id = real_run
    app = make_app(ws)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: app.session.run_id == run_id, what="the run as current run")
        await pilot.press("3")
        docs = app.screen
        await wait_until(pilot, lambda: docs.SCOPE == "documents" and docs.view, what="list")
        index = docs.index
        row = next(r for r in range(len(docs.view)) if not index.in_sample[docs.view.rows[r]])
        await wait_until(pilot, lambda: docs.doclist.row_at(0) is not None, what="first row")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.SCOPE == "viewer", what="the viewer")
        viewer = app.screen
        for _ in range(row):
            await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: viewer.row == row and viewer.nearest is not None)
        doc_id = viewer.doc_id_of(row)
        assert viewer.nearest.reason == NEVER_EMBEDDED
        pane = str(viewer.query_one("#viewer-nearest").content.renderables[1])
        assert "press e to embed it" in pane

        await pilot.press("e")
        await wait_until(pilot, lambda: doc_id in viewer.embedding, what="the embed job")
        await wait_until(
            pilot,
            lambda: viewer.nearest is not None and viewer.nearest.examples,
            timeout=120,
            what="the nearest examples after embedding",
        )
        want = why_doc(ws, run_id, doc_id)
        assert want.embedded_now is False  # the job cached it
        assert viewer.nearest.to_json()["examples"] == want.to_json()["examples"]
        await pilot.pause()
        note = str(viewer.query_one("#viewer-nearest").content.renderables[2])
        assert "would have had among the 300-doc scored sample" in note
