"""DCLM: do datasets rank the same at 412M as at 1.4B parameters? The decision accuracy and
Kendall tau-b of `betr rank` between two scales, against scipy and a pair count written here
over the imported DCLM model database."""

from __future__ import annotations

import itertools
import json
from contextlib import closing

import pytest
from scipy import stats


@pytest.mark.parametrize("benchmark", ["hellaswag", "arc_easy"])
def test_dataset_ranking_between_two_scales_equals_scipy(shared_data, workspace, betr, benchmark):
    from engine.store import evals

    db = shared_data / "eval_results" / "dclm" / "DCLM_model_database.csv"
    code, _, err = betr("results", "import", str(db), "--format", "dclm")
    assert code == 0, err
    code, out, err = betr(
        "rank",
        "--benchmark",
        benchmark,
        "--x-metric",
        "acc",
        "--y-metric",
        "acc",
        "--x-size",
        "412M",
        "--y-size",
        "1.4B",
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)

    with closing(workspace.connect(readonly=True)) as conn:
        rows = evals.eval_results(conn, benchmark=benchmark, metric="acc")
    last: dict[tuple[str, str], tuple[int, float]] = {}
    for r in rows:  # each run's value at its last checkpoint (most tokens), per size
        key = (r["run"], r["size"])
        if key not in last or r["tokens"] > last[key][0]:
            last[key] = (r["tokens"], r["value"])
    datasets = sorted(run for run, size in last if size == "412M" and (run, "1.4B") in last)
    assert len(datasets) >= 8
    x = [last[(d, "412M")][1] for d in datasets]
    y = [last[(d, "1.4B")][1] for d in datasets]
    right = ties = pairs = 0
    for i, j in itertools.combinations(range(len(datasets)), 2):
        if y[i] == y[j]:
            ties += 1
            continue
        pairs += 1
        right += (x[i] - x[j]) * (y[i] - y[j]) > 0  # a tie in x counts wrong
    tau = stats.kendalltau(x, y)
    assert got["n"] == len(datasets)
    assert (got["pairs"], got["target_ties"]) == (pairs, ties)
    assert got["decision_accuracy"] == pytest.approx(right / pairs)
    assert got["kendall_tau"] == pytest.approx(tau.statistic)
    assert got["p_value"] == pytest.approx(tau.pvalue)
