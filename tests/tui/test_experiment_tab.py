"""Screen 6's Experiment tab: a finished demo experiment's verdict is the first thing the
Analysis screen shows, drawn from the verdict the job stored (a CONSTRUCTED one here, built by
engine.analysis.experiment_verdict from planted per-item values: top beats random on the
targets by far more than noise, not on the controls). The charts' rows, the table and the
sentences are compared with the verdict; without an experiment the tab is not offered."""

from __future__ import annotations

import json
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from engine.analysis.bootstrap import ItemValues
from engine.analysis.experiment_verdict import ExperimentVerdict, build_verdict
from engine.workspace import Workspace
from tests.tui.test_analysis_screen import SIZE, SMALL, SNAPSHOT_ROOT, build_analysis_workspace

SIZES_ = (120_000, 40_000)


def _items(values, weights=None) -> ItemValues:
    return ItemValues.of(values, [f"i{k}" for k in range(len(values))], weights)


def crafted_verdict() -> ExperimentVerdict:
    """bpb on two target benchmarks (top 0.4 bits per byte below random on every item, plus
    a little noise: resolved; bottom 0.2 above) and one control benchmark (top and random
    differ by noise of the items' own size: not resolved), at two sizes; acc on the control."""
    rng = np.random.default_rng(7)
    items: dict = {}
    for size in SIZES_:
        for bench, n in (("gsm8k", 30), ("arc-c[x=1-2]", 24)):
            bytes_ = rng.integers(20, 90, size=n).astype(float)
            base = rng.normal(5.0, 0.4, size=n)
            for sel, shift in (("top", -0.4), ("random", 0.0), ("bottom", 0.2)):
                per_byte = base + shift + rng.normal(0, 0.03, size=n)
                items.setdefault((sel, size, "target", "bpb"), {})[bench] = _items(
                    per_byte * bytes_, bytes_
                )
        base = rng.normal(4.4, 0.3, size=40)
        for sel in ("top", "random", "bottom"):
            per_byte = base + rng.normal(0, 0.3, size=40)
            items[(sel, size, "control", "bpb")] = {"piqa": _items(per_byte * 50, np.full(40, 50))}
            items[(sel, size, "control", "acc")] = {
                "piqa": _items(rng.integers(0, 2, size=40).astype(float))
            }
    return build_verdict(
        items,
        keep=0.1,
        sets={"target": ["gsm8k", "arc-c[x=1-2]"], "control": ["piqa"]},
        holdout={"fraction": 0.2, "seed": 0, "examples": {"gsm8k": 30, "arc-c[x=1-2]": 24}},
        n_resamples=999,
    )


def add_experiment(ws: Workspace, verdict: ExperimentVerdict) -> int:
    from engine.jobs.specs import DemoExperimentSpec
    from engine.jobs.table import create_job
    from tests.tui.conftest import update_job

    spec = DemoExperimentSpec(corpus_id=1, run_id=1, out_dir="/nonexistent/demo-experiment")
    with closing(ws.connect()) as conn:
        job = create_job(conn, spec.kind, "demo experiment", spec.to_config())
    update_job(
        ws,
        job,
        state="done",
        finished_at=time.time(),
        result=json.dumps({"verdict": verdict.to_json()}),
    )
    return job


def build_experiment_workspace(root: Path) -> Workspace:
    ws = build_analysis_workspace(root, demo=True)
    add_experiment(ws, crafted_verdict())
    return ws


@pytest.fixture(scope="module")
def verdict() -> ExperimentVerdict:
    return crafted_verdict()


async def open_experiment(pilot, app):
    from tests.tui.conftest import wait_until
    from tui.screens.analysis.screen import AnalysisScreen

    await pilot.press("6")
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, AnalysisScreen) and "experiment" in app.screen.results,
        what="the Experiment tab's verdict",
    )
    return app.screen


def chart_rows(screen, which: str):
    from tui.widgets.intervals import IntervalChart

    return screen.query_one(f"#an-exp-{which}", IntervalChart).rows


async def test_the_verdict_is_the_first_thing_shown_and_draws_the_stored_numbers(tmp_path):
    from tests.tui.conftest import make_app, screen_lines

    ws = build_experiment_workspace(tmp_path / "ws")
    expected = crafted_verdict()
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_experiment(pilot, app)
        assert screen.active_tab == "an-tab-experiment"
        assert not screen.query_one("#an-selectors").display  # they serve the other tabs
        # bpb at the largest size first: the paired differences, then each selection
        paired = [p for p in expected.paired if p.metric == "bpb" and p.size == SIZES_[0]]
        diffs = chart_rows(screen, "diffs")
        assert [(r.label, r.value, r.ci_low, r.ci_high) for r in diffs] == [
            (f"{p.a} − {p.b}", p.diff, p.ci_low, p.ci_high)
            for s in ("target", "control")
            for p in paired
            if p.set == s
        ]
        target_top_random = diffs[0]
        assert target_top_random.excludes and target_top_random.value < -0.3  # planted -0.4
        values = [v for v in expected.values if v.metric == "bpb" and v.size == SIZES_[0]]
        assert sorted(r.value for r in chart_rows(screen, "values")) == sorted(
            v.value for v in values
        )
        text = "\n".join(screen_lines(app))
        assert "Does the BETR selection train better proxies? bpb at 120,000 params" in text
        assert "BETR top 10% beats random 10%" in text
        # the table holds every number drawn (what e exports)
        _stem, header, rows = screen.current_tab.export_rows(None)
        assert header[:5] == ["set", "selection", "value", "ci_low", "ci_high"]
        assert [r[2] for r in rows] == [v.value for v in values] + [p.diff for p in paired]
        # v: the next metric (acc, on the controls only); z: the next size
        await pilot.press("v")
        await pilot.pause()
        assert screen.experiment_tab.metric == "acc"
        assert {r.group.split(" ·")[0] for r in chart_rows(screen, "values")} == {
            "the control benchmarks"
        }
        await pilot.press("v", "z")
        await pilot.pause()
        assert screen.experiment_tab.shown_size() == SIZES_[1]
        paired_small = [p for p in expected.paired if p.metric == "bpb" and p.size == SIZES_[1]]
        assert sorted(r.value for r in chart_rows(screen, "diffs")) == sorted(
            p.diff for p in paired_small
        )
        # t goes on to the other tabs, and the selectors come back for them
        await pilot.press("t")
        await pilot.pause()
        assert screen.active_tab == "an-tab-fit"
        assert screen.query_one("#an-selectors").display
        assert app.last_error is None


async def test_without_an_experiment_the_tab_is_not_offered(tmp_path):
    from tests.tui.conftest import make_app, wait_until
    from tui.screens.analysis.screen import AnalysisScreen

    ws = build_analysis_workspace(tmp_path / "ws")
    app = make_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, AnalysisScreen) and "fit" in app.screen.results,
            what="the Fit tab",
        )
        screen = app.screen
        assert screen.active_tab == "an-tab-fit"
        assert "an-tab-experiment" not in screen.shown_tabs
        seen = []
        for _ in range(4):  # Fit, Ranking, Calibration, Correlations
            await pilot.press("t")
            await pilot.pause()
            seen.append(screen.active_tab)
        assert "an-tab-experiment" not in seen and seen[-1] == "an-tab-fit"
        await pilot.press("v")
        await pilot.pause()
        assert screen.active_tab == "an-tab-fit"  # said, not switched to an empty tab


SNAPSHOT_GROUP = pytest.mark.xdist_group("analysis_snapshots")


def steps(app):
    from tests.tui.conftest import wait_until

    async def run_before(pilot):
        await open_experiment(pilot, app)
        await wait_until(
            pilot, lambda: not any(w.is_running for w in app.workers), 30, "workers idle"
        )
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.3)

    return run_before


@SNAPSHOT_GROUP
@pytest.mark.parametrize("size", [SIZE, SMALL], ids=["160x48", "80x24"])
def test_experiment_tab(snap_compare, size):
    from tests.tui.conftest import make_app

    ws = build_experiment_workspace(SNAPSHOT_ROOT / "experiment")
    app = make_app(ws)
    assert snap_compare(app, terminal_size=size, run_before=steps(app))
