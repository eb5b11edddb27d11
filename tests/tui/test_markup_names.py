"""Data is text, never markup: names full of `[`, `]`, `[/]`, `[bold red]`, `[@click=app.quit]`
and `\\[` in every place a user's data can put them (corpus, target set, benchmarks, run,
source file, metadata, document text, a job's title and error, a proxy and its dataset, trace
benchmark, result runs, sizes and metrics), walked through every screen, tab and dialog at
80x24 and 160x48: the app keeps running and the names appear verbatim.

Before this, `betr results import .../dclm --format dclm`, then `6`, Tab, Enter exited with a
MarkupError, and a corpus `c[x=1-2]` imported from `d[open=1-2].jsonl` was listed as `c`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from bench.synth_run import make_synthetic_run
from engine.api import jobs as api_jobs
from engine.api.proxies import add_proxy
from engine.api.rbridge import plan_score
from engine.store import evals
from engine.store import traces as store_traces
from engine.store.db import transaction
from engine.workspace import Workspace
from tests.tui.conftest import fake_job, make_app, screen_lines, wait_until
from tests.tui.test_browse_tui import open_frequency
from tui.safe_text import plain
from tui.widgets.select import PlainSelect
from tui.widgets.tables import KeyedTable

CORPUS = "c[x=1-2]"
TARGETS = "[bold red]t"
BENCHMARKS = ("b[/]", "[@click=app.quit]q", "x\\[y", "[i]z")
RUN = "r[x=1-2] [bold]"
SOURCE = "d[open=1-2].jsonl"
META = "[bold]en"
DOC_TEXT = "[bold]Hello[/bold] world [@click=app.quit]quit[/] \\[x [link=http://x]y"
JOB_TITLE = f"import {SOURCE} -> {CORPUS}"
JOB_ERROR = "[red]boom[/] while reading [b]x"
TRACE_BENCH = "g[sm]8k"
PROXIES = ("p[1]", "[b]p2")
DATASET = "ds[/]"
RESULT_RUNS = ("run[a=1]", "[bold]run-b", "run-c[/]", "[@click=app.quit]d")
RESULT_BENCH = "[i]hellaswag"
SIZES = ((80, 24), (160, 48))


def build_markup_workspace(root: Path, tiny_lm_dir: Path) -> Workspace:
    ws = Workspace.init(root)
    run_id = make_synthetic_run(
        ws, 300, seed=4, corpus=CORPUS, targets=TARGETS, benchmarks=BENCHMARKS
    )
    conn = ws.connect()
    with transaction(conn):
        conn.execute("UPDATE runs SET name = ? WHERE id = ?", (RUN, run_id))
        conn.execute("UPDATE corpora SET sources = ?", (json.dumps([f"/data/{SOURCE}"]),))
        first = conn.execute(
            "SELECT doc_id FROM prob_order WHERE run_id = ? AND position = 1", (run_id,)
        ).fetchone()[0]
        conn.execute(
            "UPDATE docs SET source = ? || ':' || id, meta = ?",
            (SOURCE, json.dumps({"lang": META})),
        )
        conn.execute("UPDATE docs SET text = ? WHERE id = ?", (DOC_TEXT, first))
        bench = conn.execute(
            "INSERT INTO benchmarks (name, category, split, format, sources, n_examples, "
            "n_chars, created_at) VALUES (?, 'math', 'test', 'gsm8k', '[]', 2, 100, 0)",
            (TRACE_BENCH,),
        ).lastrowid
        import numpy as np

        store_traces.insert_traces(
            conn,
            bench,
            [
                {
                    "ext_id": f"t[{k}]",
                    "question": f"q[{k}]?",
                    "reasoning": text,
                    "gold": "7",
                    "final_answer": "7",
                    "letter_probs": np.linspace(0.2, 1.0, len(text), dtype=np.float32).tobytes(),
                    "prob_source": "frontier",
                    "spans": None,
                    "format": "plain",
                    "source": "constructed-in-test",
                }
                for k, text in enumerate(("[b]3 + 4 = 7[/b]", "seven \\[x] [@click=app.quit]"))
            ],
        )
        rows = []
        for k, run in enumerate(RESULT_RUNS):
            for size, params in (("150M[x]", 150_000_000), ("1B", 1_000_000_000)):
                for step, tokens in enumerate((1e9, 2e9, 4e9, 8e9)):
                    acc = 0.3 + 0.05 * k + 0.02 * step + (0.05 if params > 2e8 else 0)
                    rows.append(
                        {
                            "run": run,
                            "size": size,
                            "params": params,
                            "tokens": int(tokens),
                            "step": step + 1,
                            "stage": "PT",
                            "benchmark": RESULT_BENCH,
                            "category": "[c]common",
                            "metric": "acc",
                            "value": acc,
                            "source": "constructed-in-test",
                        }
                    )
        evals.insert_eval_results(conn, rows)
    conn.close()
    fake_job(ws, state="failed", title=JOB_TITLE, error=JOB_ERROR, live=False, done=10)
    for k, proxy in enumerate(PROXIES):
        add_proxy(
            ws,
            str(tiny_lm_dir),
            name=proxy,
            tokens=1_000_000 * (k + 1),
            dataset=DATASET,
            step=k + 1,
        )
    plan = plan_score(ws, PROXIES[0], TRACE_BENCH, device="cpu")
    api_jobs.run_here(ws, api_jobs.queue(ws, plan.spec, title=f"score {PROXIES[0]}"))
    return ws


@pytest.fixture(scope="module")
def markup_template(tmp_path_factory, tiny_lm_dir) -> Path:
    root = tmp_path_factory.mktemp("markup-ws") / "ws"
    build_markup_workspace(root, tiny_lm_dir)
    return root


def shown(app) -> str:
    return "\n".join(screen_lines(app))


def alive(app) -> None:
    assert app.is_running, "the app exited"
    assert app._exception is None, app._exception


async def visit(pilot, app, *keys: str, settle: float = 0.3) -> str:
    await pilot.press(*keys)
    await pilot.pause(settle)
    alive(app)
    return shown(app)


def expect(text: str, names: tuple[str, ...] | list[str], wide: bool) -> None:
    """At 160 columns every name is on screen as it is; at 80 a name may be cut by its column
    ("…"), but what is shown of it is its own first characters, never a mangled version."""
    for n in names:
        if wide:
            assert n in text, (n, text)
        else:
            assert n in text or n[: max(3, min(12, len(n) // 2))] in text, (n, text)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "160x48"])
async def test_every_screen_shows_markup_names_verbatim(markup_template, tmp_path, size):
    root = tmp_path / "ws"
    shutil.copytree(markup_template, root)
    app = make_app(Workspace.open(root))
    wide = size[0] >= 160
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.session.run_id is not None, what="the current run")
        # 1 Workspace: corpus, target set, benchmarks, run
        await pilot.pause(1.2)
        text = await visit(pilot, app, "1")
        expect(text, [CORPUS, TARGETS], wide)
        assert CORPUS in app.screen.details["corpora"]
        assert f"corpus: {CORPUS}" in str(app.sub_title)
        # 2 Jobs: the job's title and its error in the detail pane
        text = await visit(pilot, app, "2")
        expect(text, [JOB_TITLE], wide)
        # 3 Documents: the run name, the doc text, sources and benchmarks
        await pilot.press("3")
        await wait_until(
            pilot,
            lambda: app.screen.SCOPE == "documents" and app.screen.doclist.row_at(0) is not None,
            what="rows",
        )
        text = await visit(pilot, app, "g")
        expect(text, [RUN, "[bold]Hello[/bold]"], wide)
        for key in ("b", "b", "S", "S", "k", "k", "k"):
            await visit(pilot, app, key)
        # the column picker (s, F) and the frequency table of the metadata field
        text = await visit(pilot, app, "s")
        assert "meta.lang" in text
        await visit(pilot, app, "escape")
        await open_frequency(pilot, app, "meta.lang")
        expect(await visit(pilot, app), [META], wide)
        await visit(pilot, app, "escape", "c", "g")
        # the viewer: whole text, source, metadata, the benchmark example
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: app.screen.SCOPE == "viewer" and app.screen.detail, what="the viewer"
        )
        text = await visit(pilot, app, "right")
        assert DOC_TEXT[:40] in text or not wide
        assert app.screen.query_one("#viewer-text").text == DOC_TEXT
        fields = str(app.screen.query_one("#viewer-fields").render())
        assert SOURCE in app.screen.detail.source
        if wide:
            expect(text, [SOURCE, META], wide)
        del fields
        await visit(pilot, app, "escape")
        # the filter dialog and the search prompt
        await visit(pilot, app, "f")
        await visit(pilot, app, "escape")
        await visit(pilot, app, "slash")
        await visit(pilot, app, "escape")
        # 4 Threshold: target shares, per-source panel; Agreement, Compare runs
        await pilot.press("4")
        await wait_until(
            pilot,
            lambda: app.screen.SCOPE == "threshold" and app.screen.stats is not None,
            what="threshold",
        )
        text = await visit(pilot, app, "v", settle=0.6)
        if wide:
            expect(text, [BENCHMARKS[0]], wide)
        await visit(pilot, app, "t", settle=1.0)
        await visit(pilot, app, "t", settle=0.6)
        await visit(pilot, app, "t")
        # 5 rBridge: benchmark and proxy names, trace ids, the Proxies view
        await pilot.press("5")
        await wait_until(
            pilot,
            lambda: app.screen.SCOPE == "rbridge" and app.screen.tokens is not None,
            what="rbridge tokens",
        )
        text = await visit(pilot, app, "p", "p")
        expect(text, [PROXIES[0], TRACE_BENCH], wide)
        text = await visit(pilot, app, "v", settle=0.6)
        expect(text, [DATASET], wide)
        await visit(pilot, app, "v")
        # 6 Analysis: run names and sizes in the selectors, every tab, a dropdown opened
        await pilot.press("6")
        await wait_until(
            pilot,
            lambda: app.screen.SCOPE == "analysis" and app.screen.view is not None,
            what="analysis",
        )
        await pilot.pause(1.0)
        text = shown(app)
        alive(app)
        for _ in range(4):
            await visit(pilot, app, "t", settle=0.8)
        await visit(pilot, app, "tab", "enter", settle=0.5)  # the dropdown overlay opens
        await visit(pilot, app, "escape")
        assert any(r in shown(app) for r in RESULT_RUNS) or not wide
        # help and the palette
        await visit(pilot, app, "question_mark")
        await visit(pilot, app, "escape")
        await visit(pilot, app, "ctrl+p")
        await visit(pilot, app, "escape")
        alive(app)


@pytest.mark.realdata
async def test_analysis_on_imported_dclm_results_with_bracketed_run_names(shared_data, tmp_path):
    """The reported crash: DCLM results imported, then 6, Tab, Enter."""
    from engine.api.results import import_results

    ws = Workspace.init(tmp_path / "ws")
    import_results(ws, [str(shared_data / "eval_results" / "dclm")], fmt="dclm")
    app = make_app(ws)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("6")
        await wait_until(
            pilot,
            lambda: app.screen.SCOPE == "analysis" and app.screen.view is not None,
            timeout=30,
            what="analysis",
        )
        await pilot.pause(1.0)
        for keys in (("tab",), ("enter",), ("down", "down"), ("escape",)):
            await visit(pilot, app, *keys, settle=0.5)
        labels = [str(label) for label, _v in app.screen.query_one("#an-sel-x_side")._options]
        bracketed = [label for label in labels if "[" in label]
        assert bracketed, "the DCLM runs hold bracketed names"
        select = app.screen.query_one("#an-sel-x_side")
        select.focus()
        await visit(pilot, app, "enter", settle=0.5)
        from textual.widgets._select import SelectOverlay

        overlay = select.query_one(SelectOverlay)
        overlay.highlighted = labels.index(bracketed[0]) + 1  # the blank option comes first
        text = await visit(pilot, app, "down", "up", settle=0.5)
        # the dropdown lists the runs on one line each, brackets and all
        assert any(label in text for label in bracketed), text
        await visit(pilot, app, "escape")


# -- the helper on generated names ----------------------------------------------------------
MARKUP_ALPHABET = st.sampled_from(
    [
        "[",
        "]",
        "/",
        "\\",
        "@",
        "=",
        "bold",
        "red",
        "click",
        "app.quit",
        "link",
        " ",
        "x",
        "1",
        "-",
        "'",
        '"',
        "(",
        ")",
        "$",
        "#",
    ]
)
NAMES = st.lists(MARKUP_ALPHABET, min_size=1, max_size=12).map("".join)


class NameApp(App[None]):
    """One of each widget that shows a name: a table row and column, a select option, a
    static, a border title and a notification."""

    def __init__(self, name: str):
        super().__init__()
        self.shown_name = name

    def compose(self) -> ComposeResult:
        table = KeyedTable([("name", self.shown_name, None)], id="t")
        table.border_title = plain(self.shown_name)
        yield table
        yield PlainSelect[str]([(self.shown_name, "v")], prompt="p", value="v", id="s")
        yield Static(plain(self.shown_name), id="st")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).sync({"k": [self.shown_name]})


def render_name(name: str) -> tuple[str, str, str, str]:
    async def run() -> tuple[str, str, str, str]:
        app = NameApp(name)
        async with app.run_test(size=(100, 12)) as pilot:
            await pilot.pause()
            table = app.query_one(KeyedTable)
            cell = table.get_cell_at((0, 0))
            header = table.ordered_columns[0].label
            select = app.query_one(PlainSelect)
            label = select._options[-1][0]
            static = app.query_one("#st", Static).render()
            return (
                cell.plain,
                header.plain,
                label.plain if isinstance(label, Text) else str(label),
                str(static),
            )

    return asyncio.run(run())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES)
def test_generated_markup_names_reach_every_widget_verbatim(name):
    assert render_name(name) == (name, name, name, name)


@given(NAMES)
def test_plain_keeps_every_character(name):
    text = plain(name)
    assert text.plain == name
    assert text.spans == []
