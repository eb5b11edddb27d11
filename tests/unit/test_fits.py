"""Proxy -> target fits (METHODS 3): parameter recovery, CV numbers against an independent
KFold + numpy/scipy/sklearn computation here, leave-one-out, skipped functions, bad input; the
polars frames (matching, missing values, duplicates); `betr fit --json` / `betr rank --json`."""

from __future__ import annotations

import itertools
import json
import math
from contextlib import closing
from dataclasses import asdict

import numpy as np
import pytest
from scipy.optimize import curve_fit
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import KFold, LeaveOneOut

from engine.analysis import fits
from engine.analysis.frames import Side, matched_points, ranking_table, results_frame
from engine.errors import InputError, NotFoundError, UsageError
from engine.store.db import transaction
from engine.store.evals import insert_eval_results

TRUE = {
    "linear": {"a": 0.25, "b": 0.5},
    "quadratic": {"a": 0.1, "b": -0.4, "c": 0.3},
    "exponential": {"a": 0.05, "b": 1.7, "c": 0.2},
    "logarithmic": {"a": 0.4, "b": 0.08},
}


@pytest.mark.parametrize("name", fits.FUNCTIONS)
def test_each_function_recovers_its_parameters(name):
    x = np.linspace(0.2, 2.5, 12)
    y = fits.predict(name, TRUE[name], x)
    res = fits.cross_validate(x, y, np.arange(12) * 1000, functions=[name])
    assert res.final.name == name and res.functions == [name] * 5
    assert res.final.params == pytest.approx(TRUE[name], rel=1e-6, abs=1e-9)
    assert res.final.r2 == pytest.approx(1.0)
    assert res.test_mae == pytest.approx(0.0, abs=1e-7)
    assert res.predictions == pytest.approx(y, abs=1e-9)


def _exp(x, a, b, c):
    return a * np.exp(b * x) + c


def independent_fit(name, x, y):
    """The same four functions fitted without engine code: np.polyfit and curve_fit."""
    if name == "linear":
        b, a = np.polyfit(x, y, 1)
        return lambda v: a + b * v
    if name == "quadratic":
        c, b, a = np.polyfit(x, y, 2)
        return lambda v: a + b * v + c * v**2
    if name == "logarithmic":
        b, a = np.polyfit(np.log(x), y, 1)
        return lambda v: a + b * np.log(v)
    p, _ = curve_fit(_exp, x, y, p0=[0.1, 1.0, 0.0], maxfev=100_000, ftol=1e-14, xtol=1e-14)
    return lambda v: _exp(v, *p)


def independent_cv(x, y, keys, names, splitter):
    order = np.argsort(keys, kind="stable")
    x, y = x[order], y[order]
    chosen, r2s, maes = [], [], []
    for tr, te in splitter.split(x):
        scored = {}
        for name in names:
            f = independent_fit(name, x[tr], y[tr])
            scored[name] = (r2_score(y[tr], f(x[tr])), f)
        best = max(names, key=lambda n: scored[n][0])
        chosen.append(best)
        r2s.append(scored[best][0])
        maes.append(mean_absolute_error(y[te], scored[best][1](x[te])))
    return chosen, float(np.mean(r2s)), float(np.mean(maes))


@pytest.mark.parametrize(
    "truth", ["exponential", "logarithmic", "linear"], ids=lambda t: f"from-{t}"
)
def test_cv_numbers_equal_an_independent_computation(truth):
    rng = np.random.default_rng(7)
    n = 23
    x = np.sort(rng.uniform(0.2, 2.0, n))
    y = fits.predict(truth, TRUE[truth], x) + rng.normal(0, 0.01, n)
    keys = np.arange(n) * 512
    perm = rng.permutation(n)  # handed over unordered: the fit orders by key
    res = fits.cross_validate(x[perm], y[perm], keys[perm])
    chosen, r2, mae = independent_cv(
        x, y, keys, fits.FUNCTIONS, KFold(n_splits=5, shuffle=True, random_state=0)
    )
    assert res.cv == "5-fold" and res.n == n and res.notes == []
    assert res.functions == chosen
    assert res.train_r2 == pytest.approx(r2, rel=1e-6)
    assert res.test_mae == pytest.approx(mae, rel=1e-4)
    assert list(res.keys) == list(keys) and list(res.x) == list(x)
    folds = list(KFold(n_splits=5, shuffle=True, random_state=0).split(x))
    assert [f.test for f in res.folds] == [tuple(te) for _, te in folds]


def test_leave_one_out_under_five_points():
    x = np.array([0.3, 0.5, 0.9, 1.4])
    y = np.array([0.31, 0.36, 0.45, 0.52])
    keys = np.array([4, 1, 3, 2])
    res = fits.cross_validate(x, y, keys, functions=["linear", "logarithmic"])
    assert res.cv == "leave-one-out" and len(res.folds) == 4
    assert "leave-one-out instead of 5-fold CV: only 4 points" in res.notes
    chosen, r2, mae = independent_cv(x, y, keys, ("linear", "logarithmic"), LeaveOneOut())
    assert res.functions == chosen
    assert res.train_r2 == pytest.approx(r2, rel=1e-9)
    assert res.test_mae == pytest.approx(mae, rel=1e-9)


def test_three_parameters_need_three_train_points():
    res = fits.cross_validate([0.1, 0.2, 0.4], [1.0, 2.0, 2.5])
    assert res.cv == "leave-one-out" and res.functions == ["linear"] * 3
    assert any(n.startswith("quadratic skipped in fold(s) 1, 2, 3") for n in res.notes)
    assert any(n.startswith("exponential skipped in fold(s) 1, 2, 3") for n in res.notes)


def test_log_is_skipped_and_said_when_an_x_is_not_positive():
    x = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    y = 0.3 + 0.2 * x
    res = fits.cross_validate(x, y)
    assert "logarithmic skipped: 1 point(s) have x <= 0" in res.notes
    assert "logarithmic" not in res.space
    with pytest.raises(UsageError, match="logarithmic needs every x > 0"):
        fits.cross_validate(x, y, functions=["logarithmic"])


def test_a_non_converging_exponential_is_skipped_not_fatal():
    x = np.linspace(0, 2, 10)
    y = _exp(x, 0.5, 1.3, -0.2) + np.random.default_rng(1).normal(0, 0.05, 10)
    with pytest.raises(fits.FitFailed, match="did not converge"):
        fits.fit_function("exponential", x, y, maxfev=5)
    res = fits.cross_validate(x, y, functions=["linear", "exponential"], maxfev=5)
    assert res.functions == ["linear"] * 5
    assert any(
        n.startswith("exponential skipped in fold(s) 1, 2, 3, 4, 5: did not converge")
        for n in res.notes
    )


def test_fewer_than_three_points_is_a_clear_error():
    with pytest.raises(UsageError, match="2 matched point\\(s\\): a fit needs at least 3"):
        fits.cross_validate([0.1, 0.2], [0.3, 0.4])
    with pytest.raises(UsageError, match="unknown function\\(s\\): cubic"):
        fits.cross_validate([0.1, 0.2, 0.3], [0.3, 0.4, 0.5], functions=["linear", "cubic"])


def test_final_fit_is_the_function_chosen_in_most_folds():
    x = np.linspace(0.2, 2.0, 15)
    y = fits.predict("quadratic", TRUE["quadratic"], x)
    res = fits.cross_validate(x, y, functions=["linear", "quadratic"])
    assert res.functions == ["quadratic"] * 5 and res.final.name == "quadratic"
    c, b, a = np.polyfit(x, y, 2)
    assert res.final.params == pytest.approx({"a": a, "b": b, "c": c}, rel=1e-8)


# -- frames -------------------------------------------------------------------------------------
IDS = itertools.count(1)


def row(run, metric, value, *, tokens=None, step=None, size=None, benchmark="arc"):
    return {
        "id": next(IDS),
        "run": run,
        "size": size,
        "tokens": tokens,
        "step": step,
        "benchmark": benchmark,
        "metric": metric,
        "value": value,
        "source": "t",
    }


def test_matched_points_join_drop_missing_and_count():
    rows = [
        row("small", "acc", 0.30, tokens=300),
        row("small", "acc", 0.20, tokens=100),
        row("small", "acc", float("nan"), tokens=200),
        row("small", "acc", 0.25, tokens=None),
        row("small", "acc", 0.40, tokens=400),
        row("large", "acc", 0.5, tokens=100),
        row("large", "acc", 0.6, tokens=200),
        row("large", "acc", 0.7, tokens=300),
        row("large", "acc", None, tokens=500),
        row("large", "acc_norm", 0.9, tokens=400),
    ]
    m = matched_points(
        results_frame(rows), Side("arc", "acc", "small"), Side("arc", "acc", "large")
    )
    assert (m.keys, m.x, m.y) == ([100, 300], [0.2, 0.3], [0.5, 0.7])
    assert (m.dropped_missing, m.x_only, m.y_only) == (3, 1, 1)
    assert m.notes == [
        "3 row(s) with a missing tokens or value dropped",
        "unmatched tokens values left out: 1 with x only, 1 with y only",
    ]


def test_duplicate_rows_are_an_error_naming_them():
    rows = [
        row("small", "acc", 0.2, step=1, size="70m"),
        row("small", "acc", 0.3, step=1, size="160m"),
        row("large", "acc", 0.5, step=1),
    ]
    with pytest.raises(InputError) as err:
        matched_points(
            results_frame(rows), Side("arc", "acc", "small"), Side("arc", "acc", "large"), "step"
        )
    msg = str(err.value)
    assert "2 rows at step 1" in msg and "result ids" in msg and "choose a size (160m, 70m)" in msg


def test_ranking_table_takes_each_runs_last_key_or_the_chosen_one():
    rows = [
        row("d1", "acc", 0.2, tokens=10, size="s"),
        row("d1", "acc", 0.3, tokens=20, size="s"),
        row("d2", "acc", 0.4, tokens=10, size="s"),
        row("d1", "acc", 0.6, tokens=20, size="L"),
        row("d2", "acc", 0.5, tokens=20, size="L"),
        row("d3", "acc", 0.1, tokens=10, size="s"),
    ]
    f = results_frame(rows)
    x, y = Side("arc", "acc", size="s"), Side("arc", "acc", size="L")
    t = ranking_table(f, x, y)
    assert t.rows() == [
        ("d1", 20, 0.3, 20, 0.6),
        ("d2", 10, 0.4, 20, 0.5),
        ("d3", 10, 0.1, None, None),
    ]
    t = ranking_table(f, x, y, at=10, y_at=20)
    assert t["x"].to_list() == [0.2, 0.4, 0.1] and t["y"].to_list() == [0.6, 0.5, None]


# -- use case and CLI ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7, 11, 27, 40, 143])
def test_folds_are_sklearns(n):
    """fits.splits writes KFold(5, shuffle=True, random_state=0) and LeaveOneOut out with numpy
    (importing sklearn cost the first fit ~1.8 s): the same (train, test) indices."""
    from sklearn.model_selection import KFold, LeaveOneOut

    from engine.analysis.fits import splits

    name, got = splits(n)
    idx = np.arange(n)
    if n < 5:
        assert name == "leave-one-out"
        want = list(LeaveOneOut().split(idx))
    else:
        assert name == "5-fold"
        want = list(KFold(n_splits=5, shuffle=True, random_state=0).split(idx))
    assert len(got) == len(want)
    for (train, test), (w_train, w_test) in zip(got, want, strict=True):
        assert train.tolist() == w_train.tolist() and test.tolist() == w_test.tolist()


def fit(workspace, **params):
    """engine.api.analysis_fit.fit in the shape `betr fit --json` shows."""
    from engine.api.analysis_fit import FitRequest
    from engine.api.analysis_fit import fit as fit_api

    return fit_api(workspace, FitRequest(**params)).to_json()


def rank(workspace, **params):
    """engine.api.analysis_fit.rank in the shape `betr rank --json` shows."""
    from engine.api.analysis_fit import RankRequest
    from engine.api.analysis_fit import rank as rank_api

    return rank_api(workspace, RankRequest(**params)).to_json()


def seed_results(workspace):
    """Three datasets at two sizes, five checkpoints each; 'big' accuracy = 0.2 + 1.5*small."""
    rows = []
    for d, (run, off) in enumerate((("web", 0.0), ("code", 0.05), ("books", -0.03))):
        for k in range(5):
            small = 0.25 + 0.02 * k + off + 0.001 * d * k
            rows.append(
                {
                    "run": run,
                    "size": "7M",
                    "tokens": (k + 1) * 1000,
                    "step": k + 1,
                    "benchmark": "arc",
                    "metric": "acc",
                    "value": small,
                    "source": "t",
                }
            )
            rows.append(
                {
                    "run": run,
                    "size": "7M",
                    "tokens": (k + 1) * 1000,
                    "step": k + 1,
                    "benchmark": "arc",
                    "metric": "rbridge_trace",
                    "value": 3.0 - 4 * small,
                    "source": "t",
                }
            )
            rows.append(
                {
                    "run": run,
                    "size": "70M",
                    "tokens": (k + 1) * 1000,
                    "step": k + 1,
                    "benchmark": "arc",
                    "metric": "acc",
                    "value": 0.2 + 1.5 * small,
                    "source": "t",
                }
            )
    with closing(workspace.connect()) as conn, transaction(conn):
        insert_eval_results(conn, rows)
    return rows


@pytest.fixture()
def cli_fit(monkeypatch):
    """`betr fit` / `betr rank` whether or not the lead has registered the module yet."""
    from engine.cli import cli
    from engine.cli.analysis_fit import COMMANDS

    for command in COMMANDS:
        monkeypatch.setitem(cli.commands, command.name, command)


def test_fit_use_case_and_errors_name_the_known(workspace):
    seed_results(workspace)
    r = fit(
        workspace,
        benchmark="arc",
        x_run="web",
        x_metric="acc",
        y_run="web",
        y_metric="acc",
        x_size="7M",
        y_size="70M",
        functions="linear",
    )
    assert r["n"] == 5 and r["cv"] == "5-fold" and r["final"]["name"] == "linear"
    assert r["final"]["params"] == pytest.approx({"a": 0.2, "b": 1.5})
    with pytest.raises(NotFoundError, match="known x runs: books, code, web$"):
        fit(workspace, benchmark="arc", x_run="nope", x_metric="acc", y_run="web", y_metric="acc")
    with pytest.raises(NotFoundError, match="did you mean 'code'\\?$"):
        fit(workspace, benchmark="arc", x_run="cdoe", x_metric="acc", y_run="web", y_metric="acc")
    with pytest.raises(NotFoundError, match="dataset\\(s\\) cdoe .*\n  fix: did you mean 'code'"):
        rank(
            workspace,
            benchmark="arc",
            x_metric="acc",
            y_metric="acc",
            x_size="7M",
            y_size="70M",
            runs=["web", "cdoe"],
        )
    with pytest.raises(NotFoundError, match="known y metrics: acc$"):
        fit(
            workspace,
            benchmark="arc",
            x_run="web",
            x_metric="acc",
            y_run="web",
            y_metric="f1",
            y_size="70M",
        )
    with pytest.raises(NotFoundError, match="known benchmarks: arc$"):
        fit(workspace, benchmark="mmlu", x_run="web", x_metric="acc", y_run="web", y_metric="acc")
    with closing(workspace.connect()) as conn, transaction(conn):
        insert_eval_results(
            conn,
            [
                {
                    "run": "web",
                    "size": "70M",
                    "tokens": t,
                    "benchmark": "arc",
                    "metric": "f1",
                    "value": 0.5,
                    "source": "t",
                }
                for t in (1500, 2500, 3000)
            ],
        )
    with pytest.raises(
        UsageError, match="1 matched point\\(s\\) between web / arc / acc / size 7M"
    ):
        fit(
            workspace,
            benchmark="arc",
            x_run="web",
            x_metric="acc",
            y_run="web",
            y_metric="f1",
            x_size="7M",
            y_size="70M",
        )
    with pytest.raises(InputError, match="choose a size \\(70M, 7M\\)"):
        fit(workspace, benchmark="arc", x_run="web", x_metric="acc", y_run="web", y_metric="acc")


def test_one_benchmark_spelled_two_ways_is_matched_as_one(workspace):
    """The small model's rows as lm-eval names the task (`arc_easy`), the large one's as a
    benchmark imported into the workspace (`arc-easy`, a proxy's own evaluation): one fit."""
    rows = []
    for k in range(5):
        small = 0.25 + 0.02 * k
        rows.append(
            {
                "run": "web",
                "size": "7M",
                "tokens": (k + 1) * 1000,
                "value": small,
                "benchmark": "arc_easy",
                "metric": "acc",
                "source": "lm-eval",
            }
        )
        rows.append(
            {
                "run": "web",
                "size": "70M",
                "tokens": (k + 1) * 1000,
                "value": 0.2 + 1.5 * small,
                "benchmark": "arc-easy",
                "metric": "acc",
                "source": "proxy",
            }
        )
    with closing(workspace.connect()) as conn, transaction(conn):
        insert_eval_results(conn, rows)
    for name in ("arc_easy", "arc-easy", "ARC-Easy"):
        r = fit(
            workspace,
            benchmark=name,
            x_run="web",
            x_metric="acc",
            y_run="web",
            y_metric="acc",
            x_size="7M",
            y_size="70M",
            functions="linear",
        )
        assert r["n"] == 5 and r["final"]["params"] == pytest.approx({"a": 0.2, "b": 1.5})
    r = fit(
        workspace,
        benchmark="arc_easy",
        y_benchmark="arc-easy",
        x_run="web",
        x_metric="acc",
        y_run="web",
        y_metric="acc",
        x_size="7M",
        y_size="70M",
        functions="linear",
    )
    assert r["n"] == 5
    r = rank(
        workspace, benchmark="arc-easy", x_metric="acc", y_metric="acc", x_size="7M", y_size="70M"
    )
    assert [d["dataset"] for d in r["datasets"]] == ["web"] and r["datasets"][0]["target"]
    with pytest.raises(NotFoundError, match="did you mean 'arc-easy' or 'arc_easy'\\?"):
        fit(
            workspace,
            benchmark="arc_esay",
            x_run="web",
            x_metric="acc",
            y_run="web",
            y_metric="acc",
        )


def test_betr_fit_json_keys(workspace, betr, cli_fit):
    seed_results(workspace)
    code, out, err = betr(
        "fit",
        "--benchmark",
        "arc",
        "--x-run",
        "code",
        "--x-metric",
        "acc",
        "--x-size",
        "7M",
        "--y-run",
        "code",
        "--y-metric",
        "acc",
        "--y-size",
        "70M",
        "--match",
        "step",
        "--functions",
        "linear,quadratic",
        "--json",
    )
    assert code == 0, err
    r = json.loads(out)
    assert {"functions", "train_r2", "test_mae", "final", "points", "n", "notes", "cv"} <= set(r)
    assert set(r["final"]) >= {"name", "params"} and len(r["functions"]) == 5
    assert set(r["points"][0]) == {"x", "y", "key", "prediction"}
    assert [p["key"] for p in r["points"]] == [1, 2, 3, 4, 5]
    code, out, err = betr(
        "fit",
        "--benchmark",
        "arc",
        "--x-run",
        "code",
        "--x-metric",
        "acc",
        "--x-size",
        "7M",
        "--y-run",
        "code",
        "--y-metric",
        "acc",
        "--y-size",
        "70M",
    )
    assert code == 0, err
    assert "mean train R^2" in out and "final:" in out


def test_betr_rank_json_keys_and_transfer(workspace, betr, cli_fit):
    seed_results(workspace)
    base = ("rank", "--benchmark", "arc", "--x-size", "7M", "--y-size", "70M", "--y-metric", "acc")
    code, out, err = betr(*base, "--x-metric", "rbridge_trace", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert {
        "decision_accuracy",
        "kendall_tau",
        "p_value",
        "pairs",
        "target_ties",
        "datasets",
    } <= set(r)
    # rbridge is a loss: lower proxy = better, so the order is right with a perfect score
    assert r["decision_accuracy"] == 1.0 and r["pairs"] == 3 and r["target_ties"] == 0
    assert r["kendall_tau"] == pytest.approx(1.0)
    assert [d["dataset"] for d in r["datasets"]] == ["code", "web", "books"]
    assert [d["rank_target"] for d in r["datasets"]] == [1, 2, 3]
    code, out, err = betr(
        *base, "--x-metric", "acc", "--fit-from", "web", "--functions", "linear", "--json"
    )
    assert code == 0, err
    r = json.loads(out)
    assert r["fit"]["dataset"] == "web" and r["fit"]["final"]["name"] == "linear"
    assert r["mae"] == pytest.approx(0.0, abs=1e-9) and r["mae_n"] == 2
    for d in r["datasets"]:
        assert d["prediction"] == pytest.approx(d["target"])
    assert not math.isnan(r["kendall_tau"])
    code, out, err = betr(*base, "--x-metric", "acc")
    assert code == 0, err
    assert "decision accuracy 1.0000 over 3 pair(s)" in out
    code, out, err = betr(*base, "--x-metric", "acc", "--fit-from", "nope")
    assert code == 2 and "known datasets: books, code, web" in err


def test_fitted_curve_for_drawing():
    from engine.api.analysis_fit import FittedFunction, fitted_curve

    final = FittedFunction("logarithmic", {"a": 1.0, "b": 2.0}, r2=None, formula="")
    pts = [asdict(p) for p in fitted_curve(final, 0.0, 1.0, n=3)]
    assert pts == [
        {"x": 0.0, "y": None},
        {"x": 0.5, "y": pytest.approx(1 + 2 * math.log(0.5))},
        {"x": 1.0, "y": 1.0},
    ]


@pytest.mark.parametrize(
    ("x", "y", "r2", "says"),
    [
        ([1.0] * 6, [0.5] * 6, 1.0, ("target (y) is 0.5", "proxy (x) is 1")),
        ([1, 2, 3, 4, 5, 6], [0.1] * 6, 1.0, ("target (y) is 0.1",)),
        ([2.0] * 6, [1, 2, 3, 4, 5, 6], 0.0, ("proxy (x) is 2",)),
    ],
)
def test_constant_data_get_a_consistent_r2_a_note_and_no_numpy_warning(x, y, r2, says, capfd):
    """Constant x and y used to give train R^2 1.0 per fold and 0.0 overall with no note, and
    numpy's RankWarning on stderr (issue 19.11)."""
    import warnings

    from engine.analysis.fits import cross_validate

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that reached the caller would raise
        r = cross_validate(x, y)
    assert r.train_r2 == pytest.approx(r2, abs=1e-9)
    assert r.final.r2 == pytest.approx(r2, abs=1e-9)
    for text in says:
        assert any(text in n for n in r.notes), r.notes
    assert capfd.readouterr().err == ""
