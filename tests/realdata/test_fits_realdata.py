"""Fits and rankings on Pythia's lm-eval v0.3 results (../shared/data/eval_results/pythia):
all of them imported into a workspace (the engine's importer, or a small parser here), then a small model's metric at each step fitted to a large model's accuracy at the same
step, and the CV numbers checked against an independent sklearn/scipy computation on the JSON
files themselves."""

from __future__ import annotations

import json
import re
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import curve_fit
from scipy.stats import kendalltau
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import KFold

TOKENS_PER_STEP = 2_097_152  # Pythia: 1024 sequences x 2048 tokens
STEP = re.compile(r"_step(\d+)\.json$")


def pythia_dir(shared_data: Path) -> Path:
    d = shared_data / "eval_results" / "pythia" / "evals" / "pythia-v1"
    if not d.is_dir():
        pytest.skip(f"{d} is absent")
    return d


def read_zero_shot(root: Path) -> list[dict]:
    """Long rows from <model>/zero-shot/<size>_step<N>.json (lm-eval v0.3)."""
    rows = []
    for path in sorted(root.glob("*/zero-shot/*.json")):
        model = path.parent.parent.name
        step = int(STEP.search(path.name).group(1))
        results = json.loads(path.read_text(encoding="utf-8"))["results"]
        for task, metrics in results.items():
            for metric, value in metrics.items():
                if metric.endswith("_stderr"):
                    continue
                rows.append(
                    {
                        "run": model,
                        "size": model.split("-")[1],
                        "tokens": step * TOKENS_PER_STEP,
                        "step": step,
                        "stage": "PT",
                        "benchmark": task,
                        "metric": metric,
                        "value": value,
                        "source": str(path),
                    }
                )
    return rows


@pytest.fixture(scope="module")
def pythia_ws(shared_data, tmp_path_factory):
    """A workspace with all of Pythia's v0.3 results: through `betr results import` (the
    engine's lm-eval importer) when it is there, else the zero-shot files through the parser
    above."""
    from engine.workspace import Workspace

    root = pythia_dir(shared_data)
    ws = Workspace.init(tmp_path_factory.mktemp("pythia") / "ws")
    try:
        from engine.api.results import import_results
    except ImportError:
        import_results = None
    if import_results is not None:
        result = import_results(ws, [str(root)], "lm-eval")
        assert result.files == 876 and result.rows > 100_000
    else:
        from engine.store.db import transaction
        from engine.store.evals import insert_eval_results

        rows = read_zero_shot(root)
        assert len(rows) > 50_000
        with closing(ws.connect()) as conn, transaction(conn):
            insert_eval_results(conn, rows)
    return ws, root


def models(root: Path) -> list[str]:
    """The Pythia models with zero-shot results (their folder names are their runs)."""
    return sorted(p.name for p in root.iterdir() if (p / "zero-shot").is_dir())


def curve(root: Path, model: str, task: str, metric: str) -> dict[int, float]:
    """step -> value straight from the JSON files."""
    out = {}
    for path in (root / model / "zero-shot").glob("*.json"):
        res = json.loads(path.read_text(encoding="utf-8"))["results"]
        out[int(STEP.search(path.name).group(1))] = res[task][metric]
    return out


def _exp(x, a, b, c):
    return a * np.exp(b * x) + c


def independent_fit(name, x, y):
    if name == "linear":
        b, a = np.polyfit(x, y, 1)
        return lambda v: a + b * v
    if name == "quadratic":
        c, b, a = np.polyfit(x, y, 2)
        return lambda v: a + b * v + c * v**2
    if name == "logarithmic":
        b, a = np.polyfit(np.log(x), y, 1)
        return lambda v: a + b * np.log(v)
    p, _ = curve_fit(_exp, x, y, p0=[1e-3, 10.0, np.min(y)], maxfev=200_000)
    return lambda v: _exp(v, *p)


def independent_cv(x, y, names):
    chosen, r2s, maes = [], [], []
    for tr, te in KFold(n_splits=5, shuffle=True, random_state=0).split(x):
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
    ("x_task", "x_model", "y_task", "y_model", "functions"),
    [
        ("piqa", "pythia-160m", "piqa", "pythia-12b", ("linear", "quadratic", "logarithmic")),
        ("lambada_openai", "pythia-160m", "arc_easy", "pythia-1.4b", None),
    ],
)
def test_fit_small_to_large_by_step_equals_independent_cv(
    pythia_ws, x_task, x_model, y_task, y_model, functions
):
    from engine.api.analysis_fit import FitRequest, fit

    ws, root = pythia_ws
    r = fit(
        ws,
        FitRequest(
            benchmark=x_task,
            x_run=x_model,
            x_metric="acc",
            y_run=y_model,
            y_metric="acc",
            y_benchmark=y_task,
            match="step",
            functions=functions,
        ),
    ).to_json()
    xs, ys = curve(root, x_model, x_task, "acc"), curve(root, y_model, y_task, "acc")
    steps = sorted(set(xs) & set(ys))
    x = np.array([xs[s] for s in steps])
    y = np.array([ys[s] for s in steps])
    names = functions or ("linear", "quadratic", "exponential", "logarithmic")
    if np.any(x <= 0):
        names = tuple(n for n in names if n != "logarithmic")
        assert any(n.startswith("logarithmic skipped") for n in r["notes"])
    chosen, r2, mae = independent_cv(x, y, names)
    assert r["n"] == len(steps) == 27 and r["cv"] == "5-fold"
    assert [p["key"] for p in r["points"]] == steps
    assert [p["x"] for p in r["points"]] == list(x)
    assert r["functions"] == chosen
    assert r["train_r2"] == pytest.approx(r2, rel=1e-6)
    assert r["test_mae"] == pytest.approx(mae, rel=1e-4)


def test_rank_models_equals_scipy(pythia_ws):
    """The Pythia models as 'datasets': piqa acc at step 13000 ranks arc_easy acc at the last
    step; decision accuracy and tau-b as computed from the files."""
    from engine.api.analysis_fit import RankRequest, rank

    ws, root = pythia_ws
    names = models(root)
    r = rank(
        ws,
        RankRequest(
            benchmark="piqa",
            x_metric="acc",
            y_metric="acc",
            y_benchmark="arc_easy",
            match="step",
            at=13000,
            y_at=143000,
            runs=names,
        ),
    ).to_json()
    pred = np.array([curve(root, m, "piqa", "acc")[13000] for m in names])
    tgt = np.array([curve(root, m, "arc_easy", "acc")[143000] for m in names])
    i, j = np.triu_indices(len(names), k=1)
    kept = tgt[i] != tgt[j]
    right = np.sign(pred[i] - pred[j]) == np.sign(tgt[i] - tgt[j])
    assert sorted(d["dataset"] for d in r["datasets"]) == names
    assert r["pairs"] == int(kept.sum()) and r["target_ties"] == int((~kept).sum())
    assert r["decision_accuracy"] == pytest.approx(float((right & kept).sum() / kept.sum()))
    ref = kendalltau(pred, tgt)
    assert r["kendall_tau"] == pytest.approx(ref.statistic)
    assert r["p_value"] == pytest.approx(ref.pvalue)
