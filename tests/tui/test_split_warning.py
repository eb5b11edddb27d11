"""Targets from an evaluation split are flagged on the screens that show their run: the
Workspace screen's run row and detail, the Documents screen's info line and the Threshold
screen; a balanced run's detail says how many examples of each benchmark it used."""

from __future__ import annotations

import json

import pytest

from bench.synth_run import make_synthetic_run
from engine.betr.targets import SPLIT_WARNING
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.tui.conftest import make_app, wait_until
from tui.widgets.tables import KeyedTable

SIZE = (160, 48)
WARNING = f"gsm8k (test), hellaswag (validation): {SPLIT_WARNING}"


@pytest.fixture()
def ws(tmp_path):
    """An applied synthetic run over four benchmarks, two of them from evaluation splits."""
    workspace = Workspace.init(tmp_path / "ws")
    make_synthetic_run(workspace, 2000, seed=3)
    conn = workspace.connect()
    with transaction(conn):
        for name, split in (("gsm8k", "test"), ("hellaswag", "validation"), ("mmlu", "train")):
            conn.execute("UPDATE benchmarks SET split = ? WHERE name = ?", (split, name))
    conn.close()
    return workspace


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector).content)


async def test_the_workspace_screen_warns_on_a_run_with_targets_from_an_evaluation_split(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.data is not None, what="workspace data")
        runs = app.screen.query_one("#table-runs", KeyedTable)
        runs.focus()
        await wait_until(pilot, lambda: "⚠" in text_of(app, "#ws-detail"), what="run detail")
        detail = text_of(app, "#ws-detail")
        assert detail.startswith(f"⚠ {WARNING}\nrun 1 (betr, applied)")
        assert "targets arc-challenge 3 of 3 (question, answer) · gsm8k 3 of 3" in detail
        row = runs.get_row_at(0)
        assert "⚠ eval split" in str(row[5])


async def test_a_balanced_run_says_how_many_examples_of_each_benchmark_it_used(ws):
    conn = ws.connect()
    with transaction(conn):
        (config,) = conn.execute("SELECT config FROM runs WHERE id = 1").fetchone()
        config = json.loads(config)
        ids = {
            name: [
                r[0]
                for r in conn.execute(
                    "SELECT e.id FROM examples e JOIN benchmarks b ON b.id = e.benchmark_id "
                    "WHERE b.name = ? ORDER BY e.idx LIMIT 2",
                    (name,),
                )
            ]
            for name in config["benchmarks"]
        }
        config.update(
            per_benchmark=2,
            target_examples=ids,
            splits={name: "train" for name in ids},
            text_fields={name: ["question", "answer"] for name in ids},
        )
        conn.execute("UPDATE runs SET config = ? WHERE id = 1", (json.dumps(config),))
    conn.close()
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.screen.data is not None, what="workspace data")
        app.screen.query_one("#table-runs", KeyedTable).focus()
        await wait_until(pilot, lambda: "targets" in text_of(app, "#ws-detail"), what="detail")
        detail = text_of(app, "#ws-detail")
        # the split recorded with the run (train) wins over the benchmark's as it is now
        assert "⚠" not in detail
        assert (
            "targets 2 per benchmark: arc-challenge 2 of 3 (question, answer) · gsm8k 2 of 3 "
            "(question, answer) · hellaswag 2 of 3 (question, answer) · mmlu 2 of 3" in detail
        )


async def test_documents_and_threshold_screens_carry_the_warning(ws):
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.session.run_id == 1, what="current run")
        await pilot.press("3")
        await wait_until(
            pilot,
            lambda: app.screen.SCOPE == "documents" and app.screen.view is not None,
            what="documents view",
        )
        info = text_of(app, "#docs-info")
        assert info.endswith(f"\n⚠ {WARNING}")
        await pilot.press("4")
        await wait_until(
            pilot, lambda: getattr(app.screen, "stats", None) is not None, what="threshold"
        )
        warning = app.screen.query_one("#th-split-warning")
        assert warning.display and str(warning.content) == f"⚠ {WARNING}"
