"""Correlations on real data: the DCLM model database (416 models x ~60 tasks) imported into a
workspace, a cross-benchmark matrix checked against scipy computed here from the stored rows;
and `betr corr --json` / `betr calibration --json` keys."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from engine.store import evals
from engine.store.db import transaction

TASKS = (
    "hellaswag",
    "arc_easy",
    "arc_challenge",
    "piqa",
    "copa",
    "siqa",
    "commonsense_qa",
    "openbook_qa",
    "winogrande",
    "boolq",
    "mmlu_fewshot",
    "lambada_openai",
    "jeopardy",
    "squad",
    "bigbench_qa_wikidata",
    "coqa",
)


def parse_dclm(path: Path) -> list[dict]:
    """A small independent parser: one long row per (model, task), run = the model's JSON
    name (unique per row), size from params; empty cells stay missing (None)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            params = int(rec["params"])
            size = {411616256: "400M", 1439795200: "1B", 6889410560: "7B"}[params]
            for task in TASKS:
                cell = rec[task].strip()
                rows.append(
                    dict(
                        run=rec["Model JSON"].removesuffix(".json"),
                        size=size,
                        params=params,
                        tokens=int(rec["tokens"]),
                        benchmark=task,
                        metric="acc",
                        value=float(cell) if cell else None,
                        source="dclm-csv",
                    )
                )
    return rows


def import_dclm(ws, betr, path: Path) -> None:
    if importlib.util.find_spec("engine.api.results") is not None:
        code, _out, _err = betr("results", "import", str(path), "--format", "dclm")
        if code == 0:
            return
    with closing(ws.connect()) as conn, transaction(conn):
        evals.insert_eval_results(conn, parse_dclm(path))


def expected_matrix(rows: list[dict], scale_params: int, tasks: list[str], method: str):
    """runs x tasks from the stored rows with plain Python, then scipy pair by pair."""
    table: dict[str, dict[str, float]] = {}
    for r in rows:
        if r["params"] == scale_params and r["metric"] == "acc" and r["benchmark"] in tasks:
            v = r["value"]
            table.setdefault(r["run"], {})[r["benchmark"]] = math.nan if v is None else float(v)
    runs = sorted(table)
    x = np.array([[table[run].get(t, math.nan) for t in tasks] for run in runs])
    fn = stats.pearsonr if method == "pearson" else stats.spearmanr
    out = {}
    for i, a in enumerate(tasks):
        for j, b in enumerate(tasks):
            keep = np.isfinite(x[:, i]) & np.isfinite(x[:, j])
            xa, xb = x[keep, i], x[keep, j]
            if keep.sum() < 3 or np.ptp(xa) == 0 or np.ptp(xb) == 0:
                out[(a, b)] = (None, None, int(keep.sum()))
            else:
                res = fn(xa, xb)
                out[(a, b)] = (float(res.statistic), float(res.pvalue), int(keep.sum()))
    return out, len(runs)


@pytest.mark.realdata
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_dclm_cross_benchmark_matrix(shared_data, workspace, betr, method):
    path = shared_data / "eval_results" / "dclm" / "DCLM_model_database.csv"
    import_dclm(workspace, betr, path)
    with closing(workspace.connect(readonly=True)) as conn:
        rows = evals.all_eval_results(conn)
    params = 1439795200
    scale = next(r["size"] for r in rows if r["params"] == params and r["size"])
    code, out, err = betr(
        "corr",
        "--protocol",
        "matrix",
        "--metric",
        "acc",
        "--scale",
        scale,
        "--method",
        method,
        "--checkpoint",
        "last",
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert len(res["matrices"]) >= 1
    m = next(m for m in res["matrices"] if m["scale"] == scale)
    assert m["kind"] == "within" and m["rows"] == m["cols"]
    tasks = [t for t in m["rows"] if t in TASKS]
    assert len(tasks) >= 10
    want, n_runs = expected_matrix(rows, params, m["rows"], method)
    assert n_runs >= 300
    for i, a in enumerate(m["rows"]):
        for j, b in enumerate(m["cols"]):
            r, p, n = want[(a, b)]
            assert m["n"][i][j] == n
            if r is None:
                assert m["r"][i][j] is None and m["p"][i][j] is None
            else:
                assert m["r"][i][j] == pytest.approx(r, rel=1e-9, abs=1e-12)
                assert m["p"][i][j] == pytest.approx(p, rel=1e-6, abs=1e-300)
    # the strongest planted-free fact of this data: hellaswag tracks piqa across 300+ runs
    hi, pi = m["rows"].index("hellaswag"), m["rows"].index("piqa")
    assert m["r"][hi][pi] > 0.8


def test_corr_and_calibration_json_keys(workspace, betr):
    rng = np.random.default_rng(0)
    rows, items = [], []
    for i in range(8):
        for stage in ("PT", "SFT"):
            for b in ("arc", "piqa", "sciq"):
                acc = 0.4 + 0.05 * i + 0.01 * rng.normal()
                for metric, v in (("acc", acc), ("confidence", 0.8 * acc)):
                    rows.append(
                        dict(
                            run=f"mix{i}",
                            size="tiny",
                            stage=stage,
                            benchmark=b,
                            metric=metric,
                            value=v,
                            attrs={"code_share": i / 10},
                            source="test",
                        )
                    )
    for k in range(40):
        ll = rng.normal(size=4).tolist()
        items.append(
            dict(
                run="mix0",
                stage="PT",
                benchmark="arc",
                item=str(k),
                gold=k % 4,
                logliks=ll,
                source="test",
            )
        )
    with closing(workspace.connect()) as conn, transaction(conn):
        evals.insert_eval_results(conn, rows)
        evals.insert_eval_items(conn, items)
        evals.set_categories(conn, {"arc": "science", "sciq": "science", "piqa": "commonsense"})
    common = {
        "protocol",
        "metric",
        "method",
        "axis",
        "pt",
        "sft",
        "contexts",
        "stages",
        "scales",
        "n_runs",
        "notes",
    }
    extra = {
        "cross-stage": {"rows", "means", "one_sided"},
        "matrix": {"matrices", "persistence", "one_sided"},
        "coherence": {"rows", "uncategorised"},
        "align": {"rows", "by_category", "by_attribute", "persistence", "attribute"},
        "attribute": {"rows", "attribute"},
        "tiers": {"rows", "scales", "one_sided"},
    }
    for protocol, keys in extra.items():
        code, out, err = betr("corr", "--protocol", protocol, "--attribute", "code_share", "--json")
        assert code == 0, err
        res = json.loads(out)
        assert common | keys <= set(res), (protocol, set(res))
        assert (res["pt"], res["sft"], res["axis"]) == ("PT", "SFT", "stage")
    m = json.loads(betr("corr", "--protocol", "matrix", "--json")[1])["matrices"][2]
    assert m["kind"] == "PT->SFT" and {"rows", "cols", "r", "p", "n"} <= set(m)
    assert m["rows"] == ["piqa", "arc", "sciq"]  # grouped by category
    code, out, err = betr("corr", "--protocol", "tiers")
    assert code == 0 and "tier" in out
    code, out, err = betr("calibration", "--run", "mix0", "--benchmark", "arc", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert {
        "ece",
        "ece_scaled",
        "temperature",
        "bins",
        "bins_scaled",
        "n_items",
        "n_fit",
        "n_eval",
        "ece_all",
        "bins_all",
    } <= set(res)
    assert (res["n_items"], res["n_fit"], res["n_eval"]) == (40, 20, 20)
    assert len(res["bins"]) == 15 and {"bin", "lo", "hi", "n", "acc", "conf"} == set(res["bins"][0])
    code, out, err = betr("calibration", "--run", "mix0", "--benchmark", "arc")
    assert code == 0 and "ECE" in out
    code, out, err = betr("calibration", "--run", "mix0", "--benchmark", "nope")
    assert code == 2 and "arc" in err
    code, out, err = betr("corr", "--protocol", "matrix", "--metric", "nope")
    assert code == 2 and "confidence" in err
