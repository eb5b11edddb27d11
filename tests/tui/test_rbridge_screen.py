"""Screen 5, rBridge, driven by keys on a workspace scored for real: a small benchmark, three
traces whose letter probabilities are constructed here (not from a frontier model), a tiny
random proxy (tests/tiny_lm.py) scored by the rBridge job run in this process, and a second
proxy left unscored. What the screen shows is compared with what `engine.api.rbridge` returns.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.api import jobs as api_jobs
from engine.api.proxies import add_proxy
from engine.api.rbridge import plan_score, scores_table, trace_list, trace_tokens
from engine.store import traces as store_traces
from engine.store.db import transaction
from engine.units import format_percent
from engine.workspace import Workspace
from tests.tui.conftest import TEST_DEVICE, make_app, screen_lines, wait_until
from tui.screens.rbridge.screen import RbridgeScreen
from tui.screens.rbridge.tokens import fmt_num, wrap_lines
from tui.screens.rbridge.trainform import TrainProxyDialog

SIZE = (160, 48)
SMALL = (80, 24)
SNAPSHOT_ROOT = Path("/tmp/betr-tui-snapshots")  # fixed: the status bar shows the path

# Reasoning texts R; the third holds an ESC sequence that must never reach the terminal.
REASONING = (
    "In May she sold 48 / 2 = 24 clips.\nAltogether 48 + 24 = 72 clips.",
    "She earns $12 an hour: 0.2 per minute, so 50 minutes give $10.",
    "Half of 100 is 50; 50 - 15 - 30 = 5.\x1b[31m Café naïve.",
)


def constructed_letter_probs(text: str, seed: int) -> np.ndarray:
    """Letter probabilities CONSTRUCTED for the test (a fixed pseudo-random pattern in [0.2,
    1.0]), standing in for a frontier model's: only their shape matters to the screen."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.2, 1.0, len(text)).astype(np.float32)


def build_scored_workspace(root: Path, tiny_lm_dir: Path, tiny_lm_dir_bos: Path) -> Workspace:
    ws = Workspace.init(root)
    conn = ws.connect()
    with transaction(conn):
        bench = conn.execute(
            "INSERT INTO benchmarks (name, category, split, format, sources, n_examples, "
            "n_chars, created_at) VALUES ('gsm8k', 'math', 'test', 'gsm8k', '[]', 3, 300, 0)"
        ).lastrowid
        store_traces.insert_traces(
            conn,
            bench,
            [
                {
                    "ext_id": f"t{k}",
                    "question": f"question {k}?",
                    "reasoning": text,
                    "gold": "72",
                    "final_answer": "72",
                    "letter_probs": constructed_letter_probs(text, k).tobytes(),
                    "prob_source": "frontier",
                    "spans": None,
                    "format": "plain",
                    "source": "constructed-in-test",
                }
                for k, text in enumerate(REASONING)
            ],
        )
    conn.close()
    add_proxy(ws, str(tiny_lm_dir), name="tiny-a", tokens=1_000_000, dataset="tiny", step=1)
    add_proxy(ws, str(tiny_lm_dir_bos), name="tiny-b", tokens=2_000_000, dataset="tiny", step=2)
    plan = plan_score(ws, "tiny-a", "gsm8k", device="cpu")
    job_id = api_jobs.queue(ws, plan.spec, title="rbridge score tiny-a on gsm8k")
    api_jobs.run_here(ws, job_id)
    return ws


@pytest.fixture(scope="module")
def scored_template(tmp_path_factory, tiny_lm_dir, tiny_lm_dir_bos) -> Path:
    root = tmp_path_factory.mktemp("rbridge-ws") / "ws"
    build_scored_workspace(root, tiny_lm_dir, tiny_lm_dir_bos)
    return root


def copy_workspace(template: Path, root: Path) -> Workspace:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root)
    return Workspace.open(root)


@pytest.fixture()
def scored_ws(scored_template, tmp_path) -> Workspace:
    return copy_workspace(scored_template, tmp_path / "ws")


async def open_rbridge(pilot, app) -> RbridgeScreen:
    await pilot.press("5")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, RbridgeScreen) and app.screen.tokens is not None,
        what="the first trace's tokens",
    )
    return app.screen


def status(screen) -> str:
    return str(screen.query_one("#rb-token-status").content)


def expected_status_parts(data: dict, i: int) -> list[str]:
    """The cursor token's numbers as the user reads them, from the API's arrays."""
    a, text = data.arrays, data.trace["reasoning"]
    s, e = int(a["starts"][i]), int(a["ends"][i])
    w, u, nll = (float(a[k][i]) for k in ("weight", "weight_minmax", "nll"))
    return [
        f"token {i + 1}/{len(a['starts'])} ",
        repr(text[s:e])[:30],
        f"chars {s}–{e}",
        f"letter w {fmt_num(w)}",
        f"MinMax u {fmt_num(u)}",
        f"NLL {fmt_num(nll)} nats",
        f"NLL×u {fmt_num(nll * u)}",
    ]


def assert_status(screen, data: dict, i: int) -> None:
    shown = status(screen)
    for part in expected_status_parts(data, i):
        assert part in shown, (part, shown)


async def test_per_token_view_cursor_colourings_and_top_tokens(scored_ws):
    app = make_app(scored_ws)
    score = next(r for r in scores_table(scored_ws, "gsm8k") if r.proxy == "tiny-a")
    rows = trace_list(scored_ws, score.score_id)
    first = trace_tokens(scored_ws, score.score_id, rows[0].trace_id)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rbridge(pilot, app)
        summary = str(screen.query_one("#rb-summary").content)
        assert f"rBridge {fmt_num(score.rbridge)}" in summary
        assert f"R-phi {fmt_num(score.nll_rphi)}" in summary
        assert f"gold {fmt_num(score.nll_gold)}" in summary
        assert "3 traces (3 scored)" in summary and "MinMax per trace" in summary
        assert screen.trace_list.row_count == 3
        assert screen.tokens.ext_id == "t0"
        assert_status(screen, first, 0)

        await pilot.press("enter")  # into the token view
        assert app.focused.id == "rb-tokens"
        await pilot.press("right", "right")
        assert_status(screen, first, 2)
        await pilot.press("h")
        assert_status(screen, first, 1)
        await pilot.press("end")
        assert_status(screen, first, len(first.arrays["starts"]) - 1)

        panel = screen.panel
        assert "MinMax weight u" in panel.border_subtitle
        nll = first.arrays["nll"]
        await pilot.press("c")
        assert "proxy NLL" in panel.border_subtitle
        legend = str(screen.query_one("#rb-legend").content)
        assert fmt_num(nll.min()) in legend and fmt_num(nll.max()) in legend
        await pilot.press("c")
        assert "weighted NLL" in panel.border_subtitle
        await pilot.press("c")
        assert "MinMax weight u" in panel.border_subtitle

        weighted = nll * first.arrays["weight_minmax"]
        order = np.argsort(-np.where(np.isfinite(weighted), weighted, -np.inf), kind="stable")
        await pilot.press("t")
        assert screen.panel.view.cursor == order[0]
        assert_status(screen, first, int(order[0]))
        assert "top 1/10 by NLL×u" in status(screen)
        share = weighted[order[0]] / np.nansum(weighted) * 100
        assert f"{format_percent(share / 100)} of the trace's NLL×u" in status(screen)
        await pilot.press("t")
        assert screen.panel.view.cursor == order[1]
        await pilot.press("T")
        assert screen.panel.view.cursor == order[0]


async def test_trace_list_sorts_and_other_traces_load(scored_ws):
    app = make_app(scored_ws)
    score = next(r for r in scores_table(scored_ws, "gsm8k") if r.proxy == "tiny-a")
    rows = trace_list(scored_ws, score.score_id)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rbridge(pilot, app)
        await pilot.press("s")  # by score, largest first
        by_score = sorted(rows, key=lambda r: -r.score)
        assert screen.trace_list.sorted_ids() == [r.trace_id for r in by_score]
        await pilot.press("s")  # by R-phi
        by_rphi = sorted(rows, key=lambda r: -r.nll_rphi)
        assert screen.trace_list.sorted_ids() == [r.trace_id for r in by_rphi]
        screen.trace_list.sort_by("nll_rphi")  # a header click on the same column: reversed
        assert screen.trace_list.sorted_ids() == [r.trace_id for r in by_rphi[::-1]]

        # the trace with the ESC sequence: shown as a symbol, never sent to the terminal
        t2 = next(r for r in rows if r.ext_id == "t2")
        screen.trace_list.move_cursor(row=screen.trace_list.get_row_index(str(t2.trace_id)))
        await wait_until(
            pilot, lambda: screen.tokens is not None and screen.tokens.ext_id == "t2", what="t2"
        )
        await wait_until(  # the frame can lag the data under load
            pilot,
            lambda: any("␛[31m Café naïve." in line for line in screen_lines(app)),
            what="t2 text",
        )
        lines = screen_lines(app)
        assert not any("\x1b" in line for line in lines)
        assert any("␛[31m Café naïve." in line for line in lines)
        data = trace_tokens(scored_ws, score.score_id, t2.trace_id)
        assert_status(screen, data, 0)


async def test_score_job_from_the_screen(scored_ws, monkeypatch):
    # queue instead of starting a detached worker: the test asserts on the queued job
    monkeypatch.setattr(api_jobs, "start", api_jobs.queue)
    app = make_app(scored_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rbridge(pilot, app)
        await pilot.press("S")  # tiny-a is scored already: the cached score is reused
        await wait_until(
            pilot,
            lambda: any("already scored" in n.message for n in app._notifications),
            what="the cached-score notice",
        )
        assert not any(j.kind == "rbridge-score" and j.active for j in app.jobs)

        await pilot.press("p")  # tiny-b: not scored yet
        await wait_until(pilot, lambda: screen.proxy == "tiny-b", what="tiny-b")
        await wait_until(
            pilot,
            lambda: "not scored yet" in str(screen.query_one("#rb-summary").content),
            what="the unscored summary",
        )
        assert screen.tokens is None and screen.trace_list.row_count == 0
        await pilot.press("S")
        job = await wait_until(
            pilot,
            lambda: next(
                (j for j in app.jobs if j.kind == "rbridge-score" and j.state == "queued"), None
            ),
            what="the queued score job",
        )
        assert job.title == "rbridge score tiny-b on gsm8k"
        await wait_until(
            pilot,
            lambda: f"#{job.id} rbridge-score" in str(screen.query_one("#rb-jobs").content),
            what="the job line",
        )
        await pilot.press("v")  # the proxy table: tiny-b's score is pending
        table = screen.query_one("#rb-proxies")
        await wait_until(
            pilot,
            lambda: "scoring…" in str(table.get_row("tiny-b")[-1]),
            what="tiny-b pending in the proxy table",
        )


async def test_opens_on_a_scored_pair_not_on_the_first_proxy(scored_ws, tiny_lm_dir, tmp_path):
    # listed first (as the demo's frontier proxy is) and never scored: opening on it would show
    # no traces until the user pressed p through the list
    frontier = shutil.copytree(tiny_lm_dir, tmp_path / "frontier")
    add_proxy(scored_ws, str(frontier), name="frontier", tokens=1_000, dataset="a-frontier")
    app = make_app(scored_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rbridge(pilot, app)
        assert screen.options["#rb-proxy"][0][1] == "frontier"
        assert (screen.benchmark, screen.proxy) == ("gsm8k", "tiny-a")
        await wait_until(pilot, lambda: screen.trace_list.row_count == len(REASONING))
        assert "not scored yet" not in str(screen.query_one("#rb-summary").content)


async def test_empty_workspace_says_what_to_do(tmp_path):
    app = make_app(Workspace.init(tmp_path / "empty"))
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("5")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, RbridgeScreen) and app.screen.overview is not None,
            what="the overview",
        )
        text = str(app.screen.query_one("#rb-empty").content)
        assert "betr rbridge import PATH" in text and "betr proxy add PATH" in text
        await pilot.press("t")  # nothing to jump to: a notice, not a crash
        assert app.screen.tokens is None

        await pilot.press("n")  # the training form: a bad count is shown in the form
        dialog = await wait_until(
            pilot, lambda: app.screen if isinstance(app.screen, TrainProxyDialog) else None
        )
        dialog.query_one("#train-params").value = "two million"
        await pilot.press("enter")
        error = str(dialog.query_one("#train-error").content)
        assert "params 'two million' is not a number" in error
        dialog.query_one("#train-params").value = "2M"
        await pilot.press("enter")  # no corpus in this workspace: the engine says so
        await wait_until(
            pilot,
            lambda: "no corpus" in str(dialog.query_one("#train-error").content),
            what="the unknown-corpus error",
        )
        assert app.screen is dialog and not app.jobs


def test_wrap_lines_breaks_at_spaces_and_newlines():
    text = "aaa bbb ccc\ndd"
    assert wrap_lines(text, 8) == [(0, 8), (8, 12), (12, 14)]
    word = "abcdefghij"
    assert [word[s:e] for s, e in wrap_lines(word, 4)] == ["abcd", "efgh", "ij"]
    assert wrap_lines("", 10) == [(0, 0)]


# -- SVG snapshots (pytest --snapshot-update to accept) ----------------------------------------
def snapshot_steps(app):
    async def run_before(pilot):
        await wait_until(pilot, lambda: app.device == TEST_DEVICE, what="device")
        screen = await open_rbridge(pilot, app)
        await pilot.press("enter", "right", "right", "c")
        await wait_until(pilot, lambda: screen.panel.view.cursor == 2, what="the cursor")
        await pilot.pause(0.3)

    return run_before


@pytest.fixture()
def snapshot_ws(scored_template):
    made = []

    def make(name: str) -> Workspace:
        ws = copy_workspace(scored_template, SNAPSHOT_ROOT / name)
        made.append(ws.root)
        return ws

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)


def test_rbridge_screen(snap_compare, snapshot_ws):
    app = make_app(snapshot_ws("rbridge"))
    assert snap_compare(app, terminal_size=SIZE, run_before=snapshot_steps(app))


def test_rbridge_screen_at_80x24(snap_compare, snapshot_ws):
    app = make_app(snapshot_ws("rbridge-small"))
    assert snap_compare(app, terminal_size=SMALL, run_before=snapshot_steps(app))


def proxies_steps(app):
    async def run_before(pilot):
        await wait_until(pilot, lambda: app.device == TEST_DEVICE, what="device")
        await open_rbridge(pilot, app)
        await pilot.press("v")
        await pilot.pause(0.5)

    return run_before


def test_proxies_view_at_80x24(snap_compare, snapshot_ws):
    app = make_app(snapshot_ws("rbridge-proxies-small"))
    assert snap_compare(app, terminal_size=SMALL, run_before=proxies_steps(app))


async def test_opens_on_the_trace_list_and_the_proxy_plot_draws_the_tables_numbers(scored_ws):
    """Focus starts on the trace list (enter and arrows never open a Select); the Proxies view
    plots one metric at a time (m cycles), a curve per (dataset, size), from the table's rows."""
    from tui.screens.rbridge.proxytable import SERIES, ProxyPlot, ProxyTable

    app = make_app(scored_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rbridge(pilot, app)
        assert app.focused is not None and app.focused.id == "rb-traces"
        await pilot.press("v")
        await pilot.pause()
        table, plot = screen.query_one(ProxyTable), screen.query_one(ProxyPlot)
        scored = [r for r in table.rows_data if r.score_id is not None and r.tokens]
        assert scored, "one proxy is scored"
        for metric, _label, _colour in SERIES:
            assert plot.metric == metric
            drawn = {(c.dataset, c.params): c for c in plot.curves}
            having = [r for r in scored if r.metric(metric) is not None]  # bpb: mask traces only
            assert set(drawn) == {(r.dataset, r.params) for r in having}
            for key, c in drawn.items():
                members = sorted(
                    (r for r in having if (r.dataset, r.params) == key),
                    key=lambda r: r.tokens,
                )
                assert c.tokens == [float(r.tokens) for r in members]
                assert c.values == [float(r.metric(metric)) for r in members]
                for r in members:  # the table beside it shows those values
                    assert table.get_cell(str(r.proxy), metric).plain == fmt_num(r.metric(metric))
            assert metric_label(metric) in str(plot.border_title)
            await pilot.press("m")


def metric_label(metric: str) -> str:
    from tui.screens.rbridge.proxytable import SERIES

    return next(label for key, label, _c in SERIES if key == metric)
