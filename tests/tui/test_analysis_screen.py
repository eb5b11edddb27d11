"""Screen 6, Analysis, driven by keys on a workspace whose results are CONSTRUCTED here (labelled
synthetic rows, not a model's): 6 datasets x 8 benchmarks in 3 categories at two sizes, 4
checkpoints each, with planted correlations (a dataset quality drives the commonsense and
science accuracies, an independent factor the math ones, one benchmark constant so its cells
are n/a), and per-item log-likelihoods of one run for calibration. What the screen shows is
compared with what `engine.api` computes in the test.
"""

from __future__ import annotations

import csv
import shutil
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from engine.store import evals
from engine.store.db import transaction
from engine.workspace import Workspace

SIZE = (160, 48)
SMALL = (80, 24)
SNAPSHOT_ROOT = Path("/tmp/betr-tui-snapshots")  # fixed: the status bar shows the path

RUNS = ("data-a", "data-b", "data-c", "data-d", "data-e", "data-f")
BENCHMARKS = {  # benchmark -> (category, loading on quality, loading on the math factor)
    "hellaswag": ("commonsense", 1.0, 0.0),
    "piqa": ("commonsense", 0.8, 0.1),
    "winogrande": ("commonsense", 0.6, -0.2),
    "arc-easy": ("science", 0.9, 0.2),
    "arc-challenge": ("science", 0.5, 0.3),
    "sciq": ("science", -0.4, 0.5),
    "gsm8k": ("math", 0.1, 1.0),
    "mathqa": ("math", 0.0, 0.0),  # constant: every correlation with it is n/a
}
# the demo experiment's naming (engine.jobs.kinds.experiment) for the first three datasets
DEMO_NAMES = {
    "data-a": "demo-top-10pct",
    "data-b": "demo-random-10pct",
    "data-c": "demo-bottom-10pct",
}
SIZES = (("150M", 150_000_000), ("1B", 1_000_000_000))
TOKENS = (1_000_000_000, 2_000_000_000, 4_000_000_000, 8_000_000_000)


def constructed_rows(demo: bool = False) -> list[dict]:
    """Long rows CONSTRUCTED for the test: acc = base + planted factors + growth with tokens and
    size + seeded noise; confidence follows acc loosely; bpb falls with tokens."""
    rng = np.random.default_rng(7)
    quality = dict(zip(RUNS, (0.9, 0.6, 0.3, 0.0, -0.4, -0.8), strict=True))
    mathf = dict(zip(RUNS, (-0.5, 0.8, 0.1, -0.9, 0.6, 0.2), strict=True))
    rows = []
    for run in RUNS:
        name = DEMO_NAMES.get(run, run) if demo else run
        for size, params in SIZES:
            for k, tokens in enumerate(TOKENS):
                growth = 0.02 * (k + 1) + (0.05 if params > 200_000_000 else 0.0)
                for bench, (cat, lq, lm) in BENCHMARKS.items():
                    acc = (
                        0.25
                        if bench == "mathqa"
                        else (
                            0.4
                            + 0.08 * lq * quality[run]
                            + 0.08 * lm * mathf[run]
                            + growth
                            + rng.normal(0, 0.004)
                        )
                    )
                    conf = 0.5 * acc + 0.2 + rng.normal(0, 0.01)
                    bpb = 1.6 - 0.05 * k - 0.05 * quality[run] - (0.1 if params > 2e8 else 0)
                    base = {
                        "run": name,
                        "size": size,
                        "params": params,
                        "tokens": tokens,
                        "step": 1000 * (k + 1),
                        "stage": "PT",
                        "benchmark": bench,
                        "category": cat,
                        "source": "constructed-in-test",
                    }
                    rows += [
                        {**base, "metric": "acc", "value": float(acc)},
                        {**base, "metric": "confidence", "value": float(conf)},
                        {**base, "metric": "bpb", "value": float(bpb)},
                    ]
    return rows


def constructed_items(run: str = "data-a") -> list[dict]:
    """60 four-choice items of one run on arc-easy whose log-likelihoods are CONSTRUCTED
    (seeded): over-confident on purpose, so temperature scaling has something to fix."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(60):
        gold = int(rng.integers(0, 4))
        logits = rng.normal(0, 2.5, 4)
        if rng.random() < 0.55:
            logits[gold] += 3.0
        out.append(
            {
                "run": run,
                "size": "1B",
                "params": 1_000_000_000,
                "tokens": TOKENS[-1],
                "step": 4000,
                "stage": "PT",
                "benchmark": "arc-easy",
                "item": f"q{i:03d}",
                "gold": gold,
                "logliks": [float(v) for v in logits],
                "source": "constructed-in-test",
            }
        )
    return out


def build_analysis_workspace(root: Path, demo: bool = False) -> Workspace:
    shutil.rmtree(root, ignore_errors=True)
    ws = Workspace.init(root)
    conn = ws.connect()
    with transaction(conn):
        evals.insert_eval_results(conn, constructed_rows(demo))
        evals.insert_eval_items(conn, constructed_items(DEMO_NAMES["data-a"] if demo else "data-a"))
        evals.set_categories(conn, {b: c for b, (c, _q, _m) in BENCHMARKS.items()})
    conn.close()
    return ws


# -- fixtures and helpers -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def analysis_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("analysis-ws") / "ws"
    build_analysis_workspace(root)
    return root


@pytest.fixture()
def analysis_ws(analysis_template, tmp_path) -> Workspace:
    shutil.copytree(analysis_template, tmp_path / "ws")
    return Workspace.open(tmp_path / "ws")


async def open_analysis(pilot, app):
    from tests.tui.conftest import wait_until
    from tui.screens.analysis.screen import AnalysisScreen

    await pilot.press("6")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, AnalysisScreen) and "fit" in app.screen.results,
        what="the Fit tab's result",
    )
    return app.screen


async def open_tab(pilot, screen, tab: str, what: str):
    from tests.tui.conftest import wait_until

    while screen.active_tab != tab:
        await pilot.press("t")
    await wait_until(pilot, lambda: what in screen.results, what=f"the {what} result")
    await pilot.pause()


def corr_status(screen) -> str:
    return str(screen.query_one("#an-corr-status").content)


# -- Pilot tests ----------------------------------------------------------------------------------
async def test_heatmap_cursor_spells_out_r_p_n_and_sorts(analysis_ws):
    from engine.api.analysis_corr import CorrRequest, corr
    from tests.tui.conftest import make_app, wait_until
    from tui.screens.analysis.format import fmt_p, fmt_r

    req = CorrRequest("matrix", metric="acc", checkpoint="last")
    expected = corr(analysis_ws, req).parts["matrices"][0]
    # one stage (PT) at two sizes: the matrices pair the sizes and say so (no "SFT" here)
    assert expected["kind"] == "150M-150M"
    app = make_app(analysis_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_analysis(pilot, app)
        await open_tab(pilot, screen, "an-tab-corr", "corr")
        heatmap = screen.query_one("#an-heatmap")
        assert app.focused is heatmap
        rows = expected["rows"]
        assert corr_status(screen).startswith(f"{rows[0]} (commonsense) × {rows[0]} (commonsense)")
        # right twice, down three times: hellaswag row -> gsm8k (math), winogrande column
        for key in ("right", "right", "down", "down", "down"):
            await pilot.press(key)
        i, j = rows.index("gsm8k"), expected["cols"].index("winogrande")
        r, p, n = expected["r"][i][j], expected["p"][i][j], expected["n"][i][j]
        assert corr_status(screen) == (
            f"gsm8k (math) × winogrande (commonsense) · r = {fmt_r(r)} · p = {fmt_p(p)} · n = {n}"
        )
        await pilot.press("down")  # mathqa: constant, so n/a
        assert corr_status(screen) == (
            "mathqa (math) × winogrande (commonsense) · r n/a · p n/a · n = 6 (a constant vector)"
        )
        # sort alphabetically: the cursor stays on the same pair, now at other positions
        await pilot.press("s")
        assert heatmap.sort == "alphabetical"
        assert corr_status(screen).startswith("mathqa (math) × winogrande (commonsense) · r n/a")
        names = [expected["rows"][k] for k in heatmap.row_order]
        assert names == sorted(rows)
        await pilot.press("s")
        assert heatmap.sort == "mean r"
        rs = [[v for v in expected["r"][k] if v is not None] for k in heatmap.row_order]
        means = [np.mean(v) if v else -np.inf for v in rs]
        assert means == sorted(means, reverse=True) and means[-1] == -np.inf  # mathqa last
        await pilot.press("s")
        assert heatmap.sort == "category"
        # the next matrix: the larger size with itself
        await pilot.press("n")
        assert screen.corr_tab.matrices[screen.corr_tab.matrix_index]["kind"] == "1B-1B"
        # the protocol switch: cross-stage transfer with tiers
        await pilot.press("o")
        await wait_until(pilot, lambda: screen.results["corr"].result.protocol == "cross-stage")
        await pilot.pause()
        table = screen.query_one("#an-corr-table")
        assert table.header[-1] == "tier" and table.row_count == len(BENCHMARKS)


@pytest.mark.parametrize("size", [SMALL, SIZE], ids=["80x24", "160x48"])
async def test_heatmap_column_headers_are_whole_names_or_row_numbers(analysis_ws, size):
    """Never a name cut to its first letter ("h h h"): a column header is the whole benchmark
    name, or, where names do not fit a cell, the number its row carries."""
    from tests.tui.conftest import make_app

    app = make_app(analysis_ws)
    async with app.run_test(size=size) as pilot:
        screen = await open_analysis(pilot, app)
        await open_tab(pilot, screen, "an-tab-corr", "corr")
        heatmap = screen.query_one("#an-heatmap")
        grid = heatmap.grid
        header = heatmap._header_line(1).text.replace("│", " ").split()
        cols = [grid.cols[j] for j in heatmap.col_order]
        if heatmap.numbered:
            rows = [grid.rows[i] for i in heatmap.row_order]
            assert [rows[int(n) - 1] for n in header] == cols
            labels = [heatmap._body_line(li).text for li in range(len(heatmap._lines))]
            for k, row in enumerate(rows, start=1):
                assert any(line.lstrip().startswith(f"{k} {row[:6]}") for line in labels), row
        else:
            assert header == cols
        # at 160 columns the 8 names (up to 13 characters) fit whole; at 80 they are numbered
        assert heatmap.numbered == (size == SMALL)


async def test_tabs_show_the_engine_numbers_and_export_csv(analysis_ws):
    from engine.api.analysis_corr import calibration
    from engine.api.analysis_fit import FitRequest, RankRequest, fit, rank
    from tests.tui.conftest import make_app, wait_until
    from tui.screens.analysis.format import fmt_num

    app = make_app(analysis_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_analysis(pilot, app)
        args = screen.sel.fit_args()
        assert (args["x_run"], args["x_size"], args["y_size"]) == ("data-a", "150M", "1B")
        want = fit(analysis_ws, FitRequest(**args))
        got = screen.results["fit"]
        assert got.fit.final == want.fit.final and got.fit.test_mae == want.fit.test_mae
        assert "leave-one-out" in str(screen.query_one("#an-fit-notes").content)
        assert screen.query_one("#an-fit-cv").row_count == len(want.fit.folds)
        # the plot is drawn from the points table beside it: the same (x, y), in its order
        points = screen.query_one("#an-fit-points")
        from_table = [(r[1], r[2]) for r in points.raw if r[1] is not None and r[2] is not None]
        assert screen.query_one("FitTab").plotted == from_table and from_table
        # export the CV table (the first table of the tab)
        await pilot.press("e")
        files = list(analysis_ws.exports_dir.glob("analysis-fit-cv-*.csv"))
        assert len(files) == 1
        with open(files[0], newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["fold", "function", "train_r2", "test_mae", "n_train", "n_test"]
        assert len(rows) == 1 + len(want.fit.folds)
        await pilot.press("p")
        assert len(list(analysis_ws.exports_dir.glob("analysis-fit-plot-*.svg"))) == 1

        await open_tab(pilot, screen, "an-tab-rank", "rank")
        want = rank(analysis_ws, RankRequest(**screen.sel.rank_args()))
        summary = str(screen.query_one("#an-rank-summary").content)
        assert f"({want.correct}/{want.pairs} pairs)" in summary
        assert screen.query_one("#an-rank-table").row_count == len(RUNS)

        await open_tab(pilot, screen, "an-tab-cal", "cal")
        want = calibration(analysis_ws, "data-a", "arc-easy", stage="PT")
        assert screen.results["cal"].ece == want.ece
        text = str(screen.query_one("#an-cal-summary").content)
        assert f"at T = {fmt_num(want.temperature)}" in text
        # the reliability bars are the bins table's accuracies, before and after scaling
        bins = screen.query_one("#an-cal-bins").raw
        drawn = screen.query_one("CalibrationTab").plotted
        assert drawn["bins"] == [(r[0], r[4]) for r in bins if r[3] and r[4] is not None]
        assert drawn["bins_scaled"] == [(r[0], r[7]) for r in bins if r[6] and r[7] is not None]
        assert drawn["bins"] and drawn["bins_scaled"]

        await open_tab(pilot, screen, "an-tab-corr", "corr")
        await pilot.press("e")  # the heatmap's cells, long form
        files = list(analysis_ws.exports_dir.glob("analysis-corr-150M-150M-*.csv"))
        assert len(files) == 1
        with open(files[0], newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["row", "col", "row_category", "col_category", "r", "p", "n"]
        assert len(rows) == 1 + len(BENCHMARKS) ** 2
        # another target benchmark recomputes the shown tab
        await pilot.press("b")
        await wait_until(pilot, lambda: screen.results["corr"] is not None)
        assert screen.sel.benchmark != "hellaswag"
        assert app.last_error is None


async def test_empty_workspace_says_what_to_do(tmp_path):
    from tests.tui.conftest import make_app, wait_until

    ws = Workspace.init(tmp_path / "empty")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await wait_until(pilot, lambda: getattr(app.screen, "view", None) is not None)
        await pilot.pause()
        text = str(app.screen.query_one("#an-empty").content)
        assert "betr results import" in text and "betr demo experiment" in text
        await pilot.press("e")  # nothing to export: a warning, never a crash
        assert app.screen.query_one("#an-tabs").display is False


def test_demo_defaults_pick_the_small_proxy_and_the_large_target(tmp_path):
    from engine.api.analysis_views import overview

    ws = build_analysis_workspace(tmp_path / "demo", demo=True)
    d = overview(ws).defaults
    assert d.x_run == d.y_run == "demo-top-10pct"
    assert (d.x_size, d.y_size, d.y_metric) == ("150M", "1B", "acc")
    assert d.benchmark == "arc-easy"
    assert d.x_metric == "bpb"  # the demo's rbridge_trace when present, else bpb


# -- defaults that mean something on the user's data (issue 18) ----------------------------------
async def open_analysis_on(pilot, app):
    """The Analysis screen once its Fit tab shows a fit or an empty state (never "fitting…")."""
    from tests.tui.conftest import wait_until
    from tui.screens.analysis.screen import AnalysisScreen

    await pilot.press("6")

    def settled() -> bool:
        if not isinstance(app.screen, AnalysisScreen) or app.screen.view is None:
            return False
        text = str(app.screen.query_one("#an-fit-empty").content)
        return "fit" in app.screen.results or (text != "" and "fitting" not in text)

    await wait_until(pilot, settled, timeout=30, what="the Fit tab's content")
    await pilot.pause()
    return app.screen


def fit_empty_text(screen) -> str:
    return str(screen.query_one("#an-fit-empty").content)


def one_checkpoint_rows() -> list[dict]:
    """DCLM's shape, CONSTRUCTED: 10 data pools at 1B, 6 of them also at 7B, one checkpoint
    each (so no fit), the 7B accuracy following the 1B one."""
    rows = []
    for k in range(10):
        acc = 0.3 + 0.02 * k
        sizes = [("1B", 10**9, 2.8e10, acc)] + (
            [("7B", 7 * 10**9, 1.4e11, acc + 0.1)] if k < 6 else []
        )
        for size, params, tokens, value in sizes:
            rows.append(
                {
                    "run": f"pool-{k}",
                    "size": size,
                    "params": params,
                    "tokens": int(tokens),
                    "stage": "PT",
                    "benchmark": "hellaswag",
                    "metric": "acc",
                    "value": value,
                    "source": "constructed-in-test",
                }
            )
    return rows


async def test_one_checkpoint_per_run_opens_on_what_to_pick_not_on_an_error(tmp_path):
    from engine.api.analysis_fit import RankRequest, rank
    from tests.tui.conftest import make_app, wait_until

    ws = Workspace.init(tmp_path / "ws")
    with closing(ws.connect()) as conn, transaction(conn):
        evals.insert_eval_results(conn, one_checkpoint_rows())
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_analysis_on(pilot, app)
        text = fit_empty_text(screen)
        assert text.startswith("Nothing to fit by default: every run has fewer than 3")
        assert "press t for Ranking: 1B ranks the datasets of 7B (6 evaluated at both)" in text
        assert "fit" not in screen.results and app.last_error is None
        assert (screen.sel.side("x")[1], screen.sel.side("y")[1]) == ("1B", "7B")
        await open_tab(pilot, screen, "an-tab-rank", "rank")
        want = rank(ws, RankRequest(**screen.sel.rank_args()))
        assert screen.results["rank"].decision_accuracy == want.decision_accuracy == 1.0
        assert want.n == 6
        # picking an x run by hand leaves the default: its fit runs (and says what is missing)
        await pilot.press("t", "t", "t")  # back to Fit
        screen.choose(x_side="pool-1\t1B")
        await wait_until(pilot, lambda: "matched point" in fit_empty_text(screen))
        assert app.is_running


async def test_x_equal_to_y_says_so_instead_of_a_fit_of_r2_1(analysis_ws):
    from tests.tui.conftest import make_app, wait_until

    app = make_app(analysis_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_analysis(pilot, app)
        screen.choose(x_side=screen.sel.y_side, x_metric=f"{screen.sel.benchmark}\tacc")
        await wait_until(pilot, lambda: "fit" not in screen.results)
        assert fit_empty_text(screen).startswith("x and y are the same numbers")
        assert app.last_error is None


async def test_x_x_after_the_demo_experiment_finished_points_to_its_results(
    analysis_ws, monkeypatch
):
    import time

    import engine.api.demo as demo
    from engine.jobs.specs import DemoExperimentSpec
    from engine.jobs.table import create_job
    from tests.tui.conftest import make_app, update_job, wait_until

    spec = DemoExperimentSpec(corpus_id=1, run_id=1, out_dir="/nonexistent/demo-experiment")
    monkeypatch.setattr(demo, "experiment_spec", lambda ws, **kw: spec)
    with closing(analysis_ws.connect()) as conn:
        job = create_job(conn, spec.kind, "demo experiment", spec.to_config())
    update_job(analysis_ws, job, state="done", finished_at=time.time())
    app = make_app(analysis_ws)
    async with app.run_test(size=SIZE) as pilot:
        await open_analysis(pilot, app)
        await pilot.press("x", "x")
        await wait_until(
            pilot,
            lambda: any(f"already ran (job {job}, done)" in n.message for n in app._notifications),
            what="the pointer to the results",
        )
        assert not any(j.kind == spec.kind and j.id != job for j in app.jobs)


async def test_imported_dclm_results_open_on_a_ranking_pair_not_an_error(shared_data, tmp_path):
    from engine.api.results import import_results
    from tests.tui.conftest import make_app

    ws = Workspace.init(tmp_path / "dclm")
    import_results(ws, [str(shared_data / "eval_results" / "dclm")], "dclm")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_analysis_on(pilot, app)
        text = fit_empty_text(screen)
        assert text.startswith("Nothing to fit by default") and "matched point" not in text
        assert app.last_error is None and "fit" not in screen.results
        (x_run, x_size), (y_run, y_size) = screen.sel.side("x"), screen.sel.side("y")
        sizes = {s.size: s.params for s in screen.view.sides}
        assert x_run == y_run and sizes[x_size] < sizes[y_size]
        await open_tab(pilot, screen, "an-tab-rank", "rank")
        assert screen.results["rank"].n >= 10  # datasets evaluated at both sizes
        assert app.last_error is None and app.is_running


async def test_pythia_results_open_on_a_smaller_model_predicting_a_larger_one(
    shared_data, tmp_path
):
    from engine.api.results import import_results
    from tests.tui.conftest import make_app

    ws = Workspace.init(tmp_path / "pythia")
    import_results(ws, [str(shared_data / "eval_results" / "pythia")], "lm-eval")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_analysis_on(pilot, app)
        assert "fit" in screen.results and app.last_error is None
        res = screen.results["fit"]
        params = {(s.run, s.size): s.params for s in screen.view.sides}
        x, y = screen.sel.side("x"), screen.sel.side("y")
        assert x != y and params[x] < params[y]
        assert res.fit.n >= 20 and res.x.run != res.y.run  # two Pythia models


# -- snapshots ------------------------------------------------------------------------------------
# the snapshot workspace sits at one fixed path (the status bar shows it) and is rebuilt per
# test: the snapshot tests run on one xdist worker, or one would delete another's workspace
SNAPSHOT_GROUP = pytest.mark.xdist_group("analysis_snapshots")


@pytest.fixture()
def snapshot_ws() -> Workspace:
    return build_analysis_workspace(SNAPSHOT_ROOT / "analysis")


def steps(app, tab: str, keys: tuple[str, ...] = ()):
    from tests.tui.conftest import wait_until

    what = {"an-tab-fit": "fit", "an-tab-rank": "rank", "an-tab-corr": "corr"}[tab]

    async def run_before(pilot):
        screen = await open_analysis(pilot, app)
        while screen.active_tab != tab:
            await pilot.press("t")
        await wait_until(pilot, lambda: what in screen.results, what=what)
        if keys and tab == "an-tab-corr":  # the keys move the heatmap's cursor: it has the focus
            await wait_until(
                pilot,
                lambda: app.focused is not None and app.focused.id == "an-heatmap",
                what="the heatmap's focus",
            )
        for key in keys:
            await pilot.press(key)
        # what the keys started (reads, repaints) has finished before the picture is taken:
        # under a loaded machine a fixed pause was not always enough
        await wait_until(
            pilot, lambda: not any(w.is_running for w in app.workers), 30, "workers idle"
        )
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)

    return run_before


@SNAPSHOT_GROUP
def test_fit_tab(snap_compare, snapshot_ws):
    from tests.tui.conftest import make_app

    app = make_app(snapshot_ws)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(app, "an-tab-fit"))


@SNAPSHOT_GROUP
def test_ranking_tab(snap_compare, snapshot_ws):
    from tests.tui.conftest import make_app

    app = make_app(snapshot_ws)
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(app, "an-tab-rank"))


@SNAPSHOT_GROUP
def test_correlations_tab(snap_compare, snapshot_ws):
    from tests.tui.conftest import make_app

    app = make_app(snapshot_ws)
    keys = ("right", "right", "down", "down", "down")
    assert snap_compare(app, terminal_size=SIZE, run_before=steps(app, "an-tab-corr", keys))


@SNAPSHOT_GROUP
def test_correlations_tab_at_80x24(snap_compare, snapshot_ws):
    from tests.tui.conftest import make_app

    app = make_app(snapshot_ws)
    keys = ("right", "down", "down", "down", "down")
    assert snap_compare(app, terminal_size=SMALL, run_before=steps(app, "an-tab-corr", keys))


@SNAPSHOT_GROUP
def test_fit_tab_at_80x24(snap_compare, snapshot_ws):
    """On the SSH default the plot keeps 12 rows (the tab scrolls for the tables)."""
    from tests.tui.conftest import make_app

    app = make_app(snapshot_ws)
    assert snap_compare(app, terminal_size=SMALL, run_before=steps(app, "an-tab-fit"))


@SNAPSHOT_GROUP
def test_ranking_tab_at_80x24(snap_compare, snapshot_ws):
    from tests.tui.conftest import make_app

    app = make_app(snapshot_ws)
    assert snap_compare(app, terminal_size=SMALL, run_before=steps(app, "an-tab-rank"))
