"""Same name, same number: an lm-evaluation-harness run in miniature (a CONSTRUCTED results JSON
and samples file whose per-choice log-likelihoods this test writes, in the shape lm-eval 0.4
writes them) imported and re-scored by betr; acc, acc_norm and acc_bytes equal the file's and
the formulas of lm-eval's process_results written out here; `betr results show` prints what is
stored and, per item, the prediction under each metric."""

from __future__ import annotations

import json

import numpy as np
import pytest

STAMP = "2025-06-01T12-00-00.000001"
TASK = "arc_easy"
# (choices as doc_to_choice gives them, per-choice log-likelihoods, gold index)
ITEMS = [
    (["ééé", "a", "abcdefgh", "abcd"], [-3.4, -1.9, -7.0, -3.7], 2),  # only acc_norm right
    (["0123456789", "ab"], [-4.0, -1.0], 1),  # acc and acc_per_char right
    (["x", "yy"], [-1.0, -1.5], 0),  # acc right; acc_per_char ties, the first wins: right
    (["日本", "abcdef"], [-2.0, -5.5], 1),  # only acc_norm right (日本: 2 chars, 6 bytes)
    (["b", "ccc"], [-1.2, -3.0], 0),  # acc and acc_per_char right
    (["ééé", "abc"], [-2.0, -1.5], 0),  # only acc_bytes right
]


def lm_eval_process_results(lls, choices, gold) -> dict[str, float]:
    """lm-eval's multiple_choice process_results (lm_eval/api/task.py), written out."""
    lls = np.array(lls)
    completion_len = np.array([float(len(i)) for i in choices])
    byte_length = np.array([float(len(i.encode("utf-8"))) for i in choices])
    return {
        "acc": 1.0 if np.argmax(lls) == gold else 0.0,
        "acc_norm": 1.0 if np.argmax(lls / completion_len) == gold else 0.0,
        "acc_bytes": 1.0 if np.argmax(lls / byte_length) == gold else 0.0,
    }


def olmes_acc_per_char(lls, choices, gold) -> float:
    """OLMES's acc_per_char: over the continuation as scored, the leading space counted."""
    return float(np.argmax(np.array(lls) / [len(" " + c) for c in choices]) == gold)


def expected() -> dict[str, float]:
    per_item = [lm_eval_process_results(ll, ch, g) for ch, ll, g in ITEMS]
    out = {m: float(np.mean([r[m] for r in per_item])) for m in ("acc", "acc_norm", "acc_bytes")}
    out["acc_per_char"] = float(np.mean([olmes_acc_per_char(ll, ch, g) for ch, ll, g in ITEMS]))
    return out


def write_run(folder, *, results_values=None, with_arguments=True):
    """results_<stamp>.json and samples_<task>_<stamp>.jsonl as lm-eval 0.4 writes them."""
    folder.mkdir(parents=True)
    values = results_values or expected()
    results = {
        "results": {
            TASK: {
                "alias": TASK,
                **{f"{m},none": values[m] for m in ("acc", "acc_norm", "acc_bytes")},
                "acc_stderr,none": 0.1,
                "acc_norm_stderr,none": 0.1,
            }
        },
        "configs": {TASK: {"task": TASK, "target_delimiter": " ", "num_fewshot": 0}},
        "n-shot": {TASK: 0},
        "config": {"model": "hf", "model_args": "pretrained=EleutherAI/pythia-160m"},
        "model_name": "EleutherAI/pythia-160m",
    }
    (folder / f"results_{STAMP}.json").write_text(json.dumps(results), encoding="utf-8")
    lines = []
    for i, (choices, lls, gold) in enumerate(ITEMS):
        ctx = f"Question: item {i}?\nAnswer:"
        rec = {
            "doc_id": i,
            "doc": {"id": f"doc{i}"},
            "target": str(gold),
            "resps": [[[str(v), "False"]] for v in lls],
            "filtered_resps": [[str(v), "False"] for v in lls],
            "filter": "none",
            "metrics": ["acc", "acc_norm", "acc_bytes"],
            **lm_eval_process_results(lls, choices, gold),
        }
        if with_arguments:
            rec["arguments"] = {
                f"gen_args_{j}": {"arg_0": ctx, "arg_1": " " + c} for j, c in enumerate(choices)
            }
        lines.append(json.dumps(rec, ensure_ascii=False))
    (folder / f"samples_{TASK}_{STAMP}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    return folder


def test_the_formulas_pick_differently_on_these_items():
    exp = expected()
    assert exp == {"acc": 3 / 6, "acc_norm": 2 / 6, "acc_bytes": 1 / 6, "acc_per_char": 3 / 6}


def test_samples_rescored_by_betr_equal_the_results_json_and_lm_evals_formulas(tmp_path):
    from engine.ingest.results import parse_results

    run = write_run(tmp_path / "out" / "EleutherAI__pythia-160m")
    parsed = parse_results([str(run)], "lm-eval")
    checks = {c["metric"]: c for c in parsed.checks}
    assert set(checks) == {"acc", "acc_norm", "acc_bytes"}
    for metric, c in checks.items():
        assert c["agree"] and c["samples"] == pytest.approx(expected()[metric], abs=1e-12)
        assert c["results_json"] == expected()[metric]
    assert not [n for n in parsed.notes if "differs" in n or "but" in n]
    rows = {r["metric"]: r["value"] for r in parsed.rows}
    assert rows["acc_per_char"] == pytest.approx(expected()["acc_per_char"], abs=1e-12)
    assert [i["choices"] for i in parsed.items] == [ch for ch, _, _ in ITEMS]
    assert {i["delimiter"] for i in parsed.items} == {" "}


def test_a_results_json_that_disagrees_is_said(tmp_path):
    from engine.ingest.results import parse_results

    wrong = dict(expected(), acc_norm=expected()["acc_per_char"])  # betr's old acc_norm
    run = write_run(tmp_path / "out" / "EleutherAI__pythia-160m", results_values=wrong)
    parsed = parse_results([str(run)], "lm-eval")
    bad = [c for c in parsed.checks if not c["agree"]]
    assert [c["metric"] for c in bad] == ["acc_norm"]
    assert any(
        "acc_norm (pythia-160m): 0.333333 from the samples but 0.5" in n for n in parsed.notes
    )


def test_import_and_show_through_the_cli(workspace, tmp_path, betr, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the tables fit the terminal
    run = write_run(tmp_path / "out" / "EleutherAI__pythia-160m")
    code, out, err = betr("results", "import", str(run), "--format", "lm-eval")
    assert code == 0, err
    assert "recomputed from the samples: 3 of 3 value(s) equal the results JSON's" in out
    code, out, _ = betr("results", "show", "--run", "pythia-160m", "--json")
    shown = {r["metric"]: r for r in json.loads(out)}
    assert set(shown) == {"acc", "acc_norm", "acc_bytes", "acc_per_char", "confidence"}
    for metric in ("acc", "acc_norm", "acc_bytes", "acc_per_char"):
        assert shown[metric]["value"] == pytest.approx(expected()[metric], abs=1e-12)
    assert shown["acc_norm"]["origin"] == "import 1"
    assert shown["acc_norm"]["source"].endswith(f"results_{STAMP}.json")  # the file's value
    assert shown["acc_per_char"]["source"].endswith(".jsonl")  # betr's, from the samples

    code, out, _ = betr("results", "show", "--items", "--benchmark", TASK, "--json")
    items = json.loads(out)
    assert [it["item"] for it in items] == [str(i) for i in range(len(ITEMS))]
    for it, (choices, lls, gold) in zip(items, ITEMS, strict=True):
        lm = lm_eval_process_results(lls, choices, gold)
        assert it["logliks"] == lls and it["gold"] == gold and it["choices"] == choices
        assert {m: float(it["correct"][m]) for m in lm} == lm
        assert it["correct"]["acc_per_char"] == bool(olmes_acc_per_char(lls, choices, gold))
    assert items[0]["pred"] == {"acc": 1, "acc_norm": 2, "acc_bytes": 0, "acc_per_char": 3}

    code, out, _ = betr("results", "show", "--metric", "acc_norm")
    assert code == 0 and "pythia-160m" in out and "0.333333" in out and "import 1" in out
    code, out, _ = betr("results", "show", "--items")
    assert code == 0 and "-3.4000 -1.9000 -7.0000 -3.7000" in out and "2*" in out
    code, _, err = betr("results", "show", "--items", "--metric", "acc")
    assert code == 2


def test_samples_without_arguments_give_acc_and_confidence_only(tmp_path, workspace):
    from engine.api.results import import_results, show_items

    run = write_run(tmp_path / "out" / "EleutherAI__pythia-160m", with_arguments=False)
    (run / f"results_{STAMP}.json").unlink()
    res = import_results(workspace, [str(run)], "lm-eval")
    assert res.checks == [] and res.rows == 2  # acc, confidence
    items = show_items(workspace, run="pythia-160m")
    assert items[0].choices is None and set(items[0].pred) == {"acc"}
