"""Real eval results (../shared/data/eval_results; skipped when absent): all of Pythia's
lm-eval v0.3 results and the DCLM model database, with counts and values read straight from
the files here, and a second import of the same files refused without changing anything."""

from __future__ import annotations

import csv
import json
import math
from contextlib import closing
from pathlib import Path

import pytest

from engine.errors import UsageError


def _rows(workspace, **where):
    sql = "SELECT run, size, params, tokens, step, stage, metric, value, attrs FROM eval_results"
    cond = " AND ".join(f"{k} = ?" for k in where)
    with closing(workspace.connect(readonly=True)) as conn:
        return [
            dict(r)
            for r in conn.execute(sql + (f" WHERE {cond}" if cond else ""), list(where.values()))
        ]


def _count(workspace) -> tuple[int, ...]:
    with closing(workspace.connect(readonly=True)) as conn:
        return tuple(
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("eval_results", "result_imports")
        )


def _finite(v) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def test_import_all_of_pythia_v03(shared_data, workspace):
    from engine.api.results import import_results

    root = shared_data / "eval_results" / "pythia" / "evals" / "pythia-v1"
    files = sorted(root.rglob("*.json"))
    assert len(files) == 876
    expected = 0
    for f in files:  # one row per finite metric that is not a stderr
        for metrics in json.loads(f.read_text())["results"].values():
            expected += sum(
                1 for k, v in metrics.items() if not k.endswith("_stderr") and _finite(v)
            )
    res = import_results(workspace, [str(root)], "lm-eval")
    assert res.files == 876 and res.rows == expected and res.dropped == 0
    assert _count(workspace) == (expected, 1)

    zero = json.loads((root / "pythia-160m" / "zero-shot" / "160m_step1000.json").read_text())
    (r,) = _rows(workspace, run="pythia-160m", benchmark="arc_easy", metric="acc", step=1000)
    assert r["value"] == zero["results"]["arc_easy"]["acc"]
    assert (r["size"], r["params"], r["tokens"], r["stage"]) == (
        "160M",
        160_000_000,
        1000 * 2_097_152,
        "PT",
    )
    assert json.loads(r["attrs"])["stderr"] == zero["results"]["arc_easy"]["acc_stderr"]

    five = json.loads((root / "pythia-12b" / "five-shot" / "12b-5shot_step143000.json").read_text())
    (r,) = _rows(
        workspace, run="pythia-12b", benchmark="piqa", metric="acc_norm_5shot", step=143000
    )
    assert (
        r["value"] == five["results"]["piqa"]["acc_norm"] and json.loads(r["attrs"])["shots"] == 5
    )

    small = root / "pythia-160m-0.5MtokBS" / "160m-0.5MtokBS_step572000.json"
    data = json.loads(small.read_text())
    (r,) = _rows(
        workspace, run="pythia-160m-0.5MtokBS", benchmark="sciq", step=572000, metric="acc_5shot"
    )
    assert r["value"] == data["results"]["sciq"]["acc"]
    assert r["tokens"] == 572000 * 524_288  # ~300B tokens, like 143000 steps x 2,097,152

    runs = {r["run"] for r in _rows(workspace, benchmark="lambada_openai", metric="acc")}
    assert {"pythia-70m", "pythia-12b-deduped", "pythia-1.4b-deduped-baseline"} <= runs
    with closing(workspace.connect(readonly=True)) as conn:
        steps = conn.execute(
            "SELECT COUNT(DISTINCT step) FROM eval_results WHERE run = 'pythia-410m' "
            "AND metric = 'acc' AND benchmark = 'arc_easy'"
        ).fetchone()[0]
    assert steps == 27

    with pytest.raises(UsageError, match="already in the workspace"):
        import_results(workspace, [str(root / "pythia-160m")], "lm-eval")
    assert _count(workspace) == (expected, 1)


def _dclm_expected(path: Path) -> tuple[int, int, list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    tasks = header[
        header.index("mmlu_zeroshot") : header.index(
            "aggregated_task_categories_centered.commonsense reasoning"
        )
    ]
    tasks += ["svamp"]
    value_cols = tasks + [c for c in header if c.startswith("perplexity.")] + ["Core", "Extended"]
    kept = dropped = 0
    for r in rows:
        for c in value_cols:
            v = r[c].strip()
            try:
                ok = math.isfinite(float(v))
            except ValueError:
                ok = False
            kept += ok
            dropped += not ok
    return kept, dropped, rows


def test_import_the_dclm_database(shared_data, workspace):
    from engine.api.results import import_results, list_imports

    path = shared_data / "eval_results" / "dclm" / "DCLM_model_database.csv"
    kept, dropped, rows = _dclm_expected(path)
    res = import_results(workspace, [str(path)], "dclm")
    assert (res.rows, res.dropped) == (kept, dropped)
    assert _count(workspace) == (kept, 1)

    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault((r["Dataset"], r["params"], r["tokens"]), []).append(r)
    (one,) = groups[("c4_original", "1439795200", "143979520000")]
    (r,) = _rows(
        workspace, run="c4_original", benchmark="arc_easy", metric="acc", tokens=143979520000
    )
    assert r["value"] == pytest.approx(float(one["arc_easy"]), abs=0) and r["size"] == "1.4B"
    assert json.loads(r["attrs"])["model"] == one["model"]
    sweeps = [k for k, v in groups.items() if len(v) > 1]
    assert sweeps  # several models share a (dataset, params, tokens): told apart by suffix
    dataset = sweeps[0][0]
    with closing(workspace.connect(readonly=True)) as conn:
        n = conn.execute(
            "SELECT COUNT(DISTINCT run) FROM eval_results WHERE run LIKE ? AND params = ? AND tokens = ?",
            (dataset + " [%", int(sweeps[0][1]), int(sweeps[0][2])),
        ).fetchone()[0]
    assert n == len(groups[sweeps[0]])

    with pytest.raises(UsageError, match="already in the workspace"):
        import_results(workspace, [str(path)], "dclm")
    assert _count(workspace) == (kept, 1)
    listed = list_imports(workspace)
    assert listed.imports[0].n_dropped == dropped


def test_dclm_eval_jsons_with_the_database(shared_data, workspace):
    from engine.api.results import import_results

    d = shared_data / "eval_results" / "dclm"
    res = import_results(workspace, [str(d)], "dclm")
    assert res.files == 158 and any("eval_meta_data.csv" in n for n in res.notes)
    name = "evaluation_c4_original-open_lm_1b-5.0_heavy.json"
    js = json.loads((d / "exp_data" / "evals" / name).read_text())
    (r,) = _rows(workspace, run="c4_original", benchmark="piqa", metric="acc", tokens=143979520000)
    assert r["value"] == js["eval_metrics"]["icl"]["piqa"]
    (core,) = _rows(workspace, run="c4_original", benchmark="dclm_core", tokens=143979520000)
    assert core["value"] == js["Core"] and core["metric"] == "centered_acc"
