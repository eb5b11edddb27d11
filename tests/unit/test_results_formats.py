"""Eval-results import: every format on small CONSTRUCTED fixtures (written into tmp_path by
these tests, not real results), bad input, the category map, and the `betr results` verbs."""

from __future__ import annotations

import json
import math

import pytest

from engine.analysis.categories import DEFAULT_MAP, category_of, normalise, seed_map
from engine.errors import InputError, UsageError
from engine.ingest.results import parse_count, parse_results, size_label


def write(path, data) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def by(rows, **kw):
    out = [r for r in rows if all(r[k] == v for k, v in kw.items())]
    assert len(out) == 1, (kw, out)
    return out[0]


V03 = {  # constructed: an lm-eval v0.3 results file
    "results": {
        "arc_easy": {"acc": 0.5, "acc_stderr": 0.01, "acc_norm": 0.45, "acc_norm_stderr": 0.02},
        "lambada_openai": {"ppl": 30.5, "ppl_stderr": 1.5, "acc": 0.3, "acc_stderr": 0.006},
    },
    "versions": {"arc_easy": 0, "lambada_openai": 0},
    "config": {
        "model": "hf-causal",
        "num_fewshot": 0,
        "model_args": "pretrained=EleutherAI/pythia-v1.1-160m,revision=step1000",
    },
}


# -- lm-eval v0.3 -----------------------------------------------------------------------------
def test_v03_results_file(tmp_path):
    p = parse_results([write(tmp_path / "r.json", V03)], "lm-eval")
    assert len(p.rows) == 4 and p.dropped == 0
    r = by(p.rows, benchmark="arc_easy", metric="acc")
    assert (r["run"], r["size"], r["params"], r["step"]) == (
        "pythia-160m",
        "160M",
        160_000_000,
        1000,
    )
    assert r["tokens"] == 1000 * 2_097_152 and r["stage"] == "PT" and r["value"] == 0.5
    assert r["attrs"] == {"shots": 0, "stderr": 0.01, "tokens_per_step": 2_097_152}
    assert by(p.rows, benchmark="lambada_openai", metric="ppl")["value"] == 30.5


def test_pythia_layout_from_the_path_shots_and_batch_variants(tmp_path):
    root = tmp_path / "pythia-v1"
    cfg5 = {"num_fewshot": 5, "model_args": ""}
    v5 = dict(V03, config=cfg5)
    write(root / "pythia-410m" / "five-shot" / "410m-5shot_step3000.json", v5)
    write(root / "pythia-410m" / "zero-shot" / "410m_step3000.json", dict(V03, config={}))
    write(root / "pythia-70m-0.25MtokBS" / "five-shot" / "70m-0.25MtokBS_step24000.json", v5)
    write(
        root / "pythia-1b-deduped" / "baseline" / "baseline-1b-deduped_step3000.json",
        dict(V03, config={}),
    )
    p = parse_results([str(root)], "lm-eval", stage="SFT")
    five = by(p.rows, run="pythia-410m", benchmark="arc_easy", metric="acc_5shot")
    zero = by(p.rows, run="pythia-410m", benchmark="arc_easy", metric="acc")
    assert five["attrs"]["shots"] == 5 and zero["attrs"]["shots"] == 0
    assert five["step"] == zero["step"] == 3000 and five["stage"] == "SFT"
    small = by(p.rows, run="pythia-70m-0.25MtokBS", benchmark="arc_easy", metric="acc_5shot")
    assert small["tokens"] == 24000 * 262_144 and small["size"] == "70M"
    base = by(p.rows, run="pythia-1b-deduped-baseline", benchmark="arc_easy", metric="acc")
    assert base["attrs"]["eval_set"] == "baseline" and base["size"] == "1B"


# -- lm-eval v0.4 -----------------------------------------------------------------------------
def test_v04_results_with_na_stderr_and_filters(tmp_path):
    data = {  # constructed: an lm-eval v0.4 results file
        "results": {
            "hellaswag": {
                "alias": "hellaswag",
                "acc,none": 0.4,
                "acc_stderr,none": "N/A",
                "acc_norm,none": 0.5,
                "acc_norm_stderr,none": 0.005,
            },
            "gsm8k": {
                "alias": "gsm8k",
                "exact_match,strict-match": 0.1,
                "exact_match_stderr,strict-match": 0.008,
                "exact_match,none": "N/A",
            },
        },
        "n-shot": {"hellaswag": 0, "gsm8k": 5},
        "config": {
            "model": "hf",
            "model_args": {"pretrained": "org/my-model-1b", "revision": "step20"},
        },
    }
    p = parse_results(
        [write(tmp_path / "out" / "results_2024-05-01T10-00-00.json", data)], "lm-eval"
    )
    acc = by(p.rows, benchmark="hellaswag", metric="acc")
    assert acc["attrs"]["stderr"] is None and acc["value"] == 0.4
    assert acc["run"] == "my-model-1b" and acc["step"] == 20 and acc["tokens"] is None
    assert by(p.rows, benchmark="hellaswag", metric="acc_norm")["attrs"]["stderr"] == 0.005
    em = by(p.rows, benchmark="gsm8k", metric="exact_match:strict-match_5shot")
    assert em["value"] == 0.1 and em["attrs"]["shots"] == 5
    assert len(p.rows) == 3 and p.dropped == 1  # exact_match,none = "N/A" dropped and counted


def test_samples_jsonl_items_accuracy_and_confidence(tmp_path):
    out = tmp_path / "out" / "EleutherAI__pythia-160m"
    lines = [  # constructed samples: three ways lm-eval writes the per-choice responses
        {
            "doc_id": 0,
            "target": 0,
            "doc": {},
            "filtered_resps": ["['-1.0', 'False']", "['-2.0', 'False']", "['-3.0', 'False']"],
        },
        {"doc_id": 1, "target": "1", "doc": {}, "resps": [[[-0.5, False]], [[-0.5, True]]]},
        {
            "doc_id": 2,
            "target": "b",
            "doc": {"choices": ["a", "b"]},
            "filtered_resps": ["(-2.0, False)", "(-1.0, True)"],
        },
    ]
    path = write(out / "samples_piqa_2024-05-01T10-00-00.jsonl", "\n".join(map(json.dumps, lines)))
    p = parse_results([path], "lm-eval")
    assert [i["gold"] for i in p.items] == [0, 1, 1]
    assert p.items[0]["logliks"] == [-1.0, -2.0, -3.0] and p.items[2]["logliks"] == [-2.0, -1.0]
    assert {i["run"] for i in p.items} == {"pythia-160m"} and p.items[1]["item"] == "1"
    # by hand: item 0 picks choice 0 (right), item 1 ties -> first choice (wrong), item 2 right
    conf0 = 1 / (1 + math.exp(-1) + math.exp(-2))
    conf2 = 1 / (1 + math.exp(-1))
    assert by(p.rows, metric="acc")["value"] == pytest.approx(2 / 3, abs=1e-12)
    assert by(p.rows, metric="confidence")["value"] == pytest.approx(
        (conf0 + 0.5 + conf2) / 3, abs=1e-12
    )
    assert by(p.rows, metric="acc")["benchmark"] == "piqa"


def test_samples_bad_line_names_file_and_line(tmp_path):
    path = write(
        tmp_path / "samples_piqa.jsonl",
        json.dumps({"doc_id": 0, "target": 0, "filtered_resps": ["['-1', 'False']"]})
        + "\n"
        + json.dumps({"doc_id": 1, "target": 0, "resps": ["a free answer"]}),
    )
    with pytest.raises(InputError) as exc:
        parse_results([path], "lm-eval")
    assert exc.value.file == path and exc.value.line == 2


# -- DCLM ---------------------------------------------------------------------------------------
DCLM_CSV = (  # constructed: a DCLM_model_database.csv in miniature
    "Model JSON,Dataset,model,params,tokens,Core,Extended,tokenizer,arc_easy,hellaswag,"
    "perplexity.arc_easy,aggregated_task_categories_centered.safety\n"
    "evaluation_poolA-open_lm_1b-warm=5000-lr=0p003-seed=1_heavy.json,poolA,open_lm_1b,"
    "1439795200,28795904000,0.30,0.20,tok,0.61,0.55,3.1,0.1\n"
    "evaluation_poolA-open_lm_1b-warm=5000-lr=0p01-seed=1_heavy.json,poolA,open_lm_1b,"
    "1439795200,28795904000,0.31,0.21,tok,0.62,,3.0,0.1\n"
    "evaluation_poolB-open_lm_7b-warm=5000-lr=0p003-seed=1_heavy.json,poolB,open_lm_7b,"
    "6889410560,137788211200,0.40,0.30,tok,0.75,0.70,2.5,0.2\n"
)


def test_dclm_csv_runs_sizes_and_sweep_suffixes(tmp_path):
    p = parse_results([write(tmp_path / "db.csv", DCLM_CSV)], "dclm")
    runs = {r["run"] for r in p.rows}
    assert runs == {"poolA [lr=0p003]", "poolA [lr=0p01]", "poolB"}
    b = by(p.rows, run="poolB", benchmark="arc_easy", metric="acc")
    assert (b["size"], b["params"], b["tokens"], b["value"]) == (
        "6.9B",
        6889410560,
        137788211200,
        0.75,
    )
    assert (
        b["attrs"]["dataset"] == "poolB"
        and b["attrs"]["lr"] == 0.003
        and b["attrs"]["model"] == "open_lm_7b"
    )
    assert by(p.rows, run="poolB", benchmark="arc_easy", metric="perplexity")["value"] == 2.5
    assert by(p.rows, run="poolB", benchmark="dclm_core")["metric"] == "centered_acc"
    assert not [r for r in p.rows if "safety" in r["benchmark"]]
    assert p.dropped == 1  # poolA lr=0p01 hellaswag is empty
    assert len(p.rows) == 3 * 5 - 1


def test_dclm_json_wins_over_its_csv_row_and_alone(tmp_path):
    js = {
        "model": "open_lm_7b",
        "eval_metrics": {"icl": {"arc_easy": 0.77}, "downstream_perpexity": {"arc_easy": 2.4}},
        "Core": 0.41,
        "Extended": "N/A due to x",
    }
    name = "evaluation_poolB-open_lm_7b-warm=5000-lr=0p003-seed=1_heavy.json"
    jpath = write(tmp_path / "evals" / name, js)
    p = parse_results([write(tmp_path / "db.csv", DCLM_CSV), jpath], "dclm")
    assert by(p.rows, run="poolB", benchmark="arc_easy", metric="acc")["value"] == 0.77
    assert not [r for r in p.rows if r["run"] == "poolB" and r["benchmark"] == "hellaswag"]
    alone = parse_results([jpath], "dclm")
    r = by(alone.rows, benchmark="arc_easy", metric="acc")
    assert (r["run"], r["params"], r["size"]) == ("poolB", 6_889_410_560, "6.9B")
    assert alone.dropped == 1  # Extended "N/A due to ..." is missing


# -- DataDecide ---------------------------------------------------------------------------------
def test_datadecide_single_quoted_metrics_and_seeds(tmp_path):
    csv_text = (  # constructed DataDecide rows
        "params,data,task,step,seed,tokens,compute,metrics\n"
        "150M,Dolma1.7,arc_easy,1000,default,2000000,1e15,"
        "\"{'primary_score': 0.5, 'acc_raw': 0.48, 'correct_prob': nan, 'label': 'x'}\"\n"
        "150M,Dolma1.7,arc_easy,1000,small aux 2,2000000,1e15,\"{'primary_score': 0.52}\"\n"
    )
    p = parse_results([write(tmp_path / "dd.csv", csv_text)], "datadecide")
    r = by(p.rows, run="Dolma1.7", metric="primary_score")
    assert (r["size"], r["params"], r["step"], r["tokens"], r["value"]) == (
        "150M",
        150_000_000,
        1000,
        2_000_000,
        0.5,
    )
    assert r["attrs"] == {"data": "Dolma1.7", "seed": "default", "compute": 1e15}
    s = by(p.rows, run="Dolma1.7 [seed small aux 2]", metric="primary_score")
    assert s["value"] == 0.52 and s["attrs"]["seed"] == "small aux 2"
    assert p.dropped == 1 and len(p.rows) == 3  # nan dropped, the string 'label' ignored


def test_datadecide_rejects_code_in_metrics(tmp_path):
    csv_text = "params,data,task,step,metrics\n1B,d,t,1,\"__import__('os').system('true')\"\n"
    with pytest.raises(InputError) as exc:
        parse_results([write(tmp_path / "dd.csv", csv_text)], "datadecide")
    assert exc.value.line == 2


# -- long CSV -----------------------------------------------------------------------------------
def test_long_csv_with_column_mapping(tmp_path):
    text = (  # constructed long CSV
        "model,sz,tok,task,score,code_share,src\n"
        "mixA,1B,2e9,ARC-Easy,0.6,0.1,web\n"
        "mixA,1B,2e9,piqa,NaN,0.1,web\n"
        "mixB,,4000000000,piqa,0.7,0.3,books\n"
    )
    cols = {"run": "model", "size": "sz", "tokens": "tok", "benchmark": "task", "value": "score"}
    p = parse_results([write(tmp_path / "long.csv", text)], "csv", columns=cols)
    a = by(p.rows, run="mixA")
    assert (a["size"], a["params"], a["tokens"], a["metric"], a["stage"]) == (
        "1B",
        10**9,
        2 * 10**9,
        "acc",
        "PT",
    )
    assert a["attrs"] == {"code_share": 0.1, "src": "web"} and a["source"].endswith("long.csv:2")
    assert by(p.rows, run="mixB")["size"] is None and p.dropped == 1


def test_long_csv_needs_run_benchmark_value(tmp_path):
    path = write(tmp_path / "x.csv", "a,b\n1,2\n")
    with pytest.raises(InputError, match="expected a long CSV"):
        parse_results([path], "csv")
    with pytest.raises(UsageError, match="must name value"):
        parse_results([path], "csv", columns={"run": "a", "benchmark": "b"})
    with pytest.raises(InputError) as exc:
        parse_results(
            [write(tmp_path / "y.csv", "run,benchmark,value,step\nr,b,0.1,soon\n")], "csv"
        )
    assert exc.value.line == 2 and exc.value.field == "step"


# -- bad input shared by every format -----------------------------------------------------------
def test_duplicates_are_named(tmp_path):
    a = write(tmp_path / "a" / "r.json", V03)
    b = write(tmp_path / "b" / "r.json", V03)
    with pytest.raises(InputError, match=r"duplicate rows for \(run=pythia-160m.*step=1000") as exc:
        parse_results([a, b], "lm-eval")
    assert str(tmp_path / "a" / "r.json") in exc.value.message
    text = "run,benchmark,value\nr,arc,0.1\nr,arc,0.2\n"
    with pytest.raises(InputError, match="benchmark=arc"):
        parse_results([write(tmp_path / "d.csv", text)], "csv")


def test_unknown_shape_is_named_and_skip_bad_reports_it(tmp_path):
    bad = write(tmp_path / "d" / "weird.json", {"scores": [1, 2]})
    good = write(tmp_path / "d" / "r.json", V03)
    with pytest.raises(InputError, match="expected an lm-evaluation-harness results JSON") as exc:
        parse_results([bad], "lm-eval")
    assert exc.value.file == bad
    p = parse_results([str(tmp_path / "d")], "lm-eval", skip_bad=True)
    assert len(p.rows) == 4 and len(p.skipped) == 1 and "weird.json" in p.skipped[0]
    with pytest.raises(InputError, match="DCLM eval JSON"):
        parse_results([good], "dclm")
    with pytest.raises(InputError, match="expected DataDecide rows"):
        parse_results([write(tmp_path / "x.csv", "a,b\n1,2\n")], "datadecide")


def test_counts_and_sizes():
    assert [parse_count(x) for x in ("160m", "1.4B", "2.9e10", 7, "", None)] == [
        160_000_000,
        1_400_000_000,
        29_000_000_000,
        7,
        None,
        None,
    ]
    assert [size_label(x) for x in (1439795200, 411616256, 12e9, 70e6, None)] == [
        "1.4B",
        "412M",
        "12B",
        "70M",
        None,
    ]
    with pytest.raises(ValueError):
        parse_count("soon")


# -- categories -----------------------------------------------------------------------------------
def test_category_lookup_normalises_and_knows_families():
    assert normalise("ARC-Easy") == normalise("arc-easy") == normalise("arc_easy") == "arc_easy"
    assert category_of("ARC-Easy") == category_of("arc_easy") == "science"
    for name, cat in (
        ("BoolQ", "commonsense"),
        ("CSQA", "commonsense"),
        ("HellaSwag", "commonsense"),
        ("PIQA", "commonsense"),
        ("SIQA", "commonsense"),
        ("WinoGrande", "commonsense"),
        ("OpenBookQA", "science"),
        ("SciQ", "science"),
        ("MMLU", "knowledge"),
        ("hendrycksTest-anatomy", "knowledge"),
        ("mmlu_college_physics", "knowledge"),
        ("GSM8K", "math"),
        ("MATH", "math"),
        ("HumanEval", "code"),
        ("MBPP", "code"),
        ("LAMBADA", "language"),
        ("lambada_openai", "language"),
        ("RTE", "NLI"),
        ("anli_r2", "NLI"),
        ("COPA", "commonsense"),
        ("WSC", "semantic"),
        ("TriviaQA", "knowledge"),
        ("SQuAD", "reading"),
        ("DROP", "reading"),
        ("Jeopardy", "knowledge"),
        ("bigbench_dyck_languages", "symbolic"),
        ("crows_pairs_french_age", "bias"),
        ("logiqa", "reading"),
    ):
        assert category_of(name) == cat, name
    assert category_of("my_new_bench") is None
    assert category_of("arc_easy", {"arc_easy": "mine"}) == "mine"
    assert seed_map(["arc_easy", "mmlu_x", "zzz"], {"arc_easy": "edited"}) == {
        "mmlu_x": "knowledge"
    }
    assert DEFAULT_MAP["piqa"] == "commonsense"


# -- the use cases and the verbs ------------------------------------------------------------------
@pytest.fixture()
def cli_betr(betr):
    from engine.cli import cli
    from engine.cli.results import results_group

    if "results" not in cli.commands:
        cli.add_command(results_group)
    return betr


def _count(workspace) -> tuple[int, int, int]:
    from contextlib import closing

    with closing(workspace.connect(readonly=True)) as conn:
        return tuple(
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("eval_results", "eval_items", "result_imports")
        )


def test_import_list_categories_delete(cli_betr, workspace, tmp_path):
    path = write(tmp_path / "r.json", V03)
    code, out, err = cli_betr("results", "import", path, "--format", "lm-eval", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert (res["rows"], res["runs"], res["benchmarks"], res["import_id"]) == (4, 1, 2, 1)
    assert _count(workspace) == (4, 0, 1)
    # a second import of the same file: refused, nothing changes
    code, out, err = cli_betr("results", "import", path, "--format", "lm-eval")
    assert code == 2 and "already in the workspace" in err and "import 1" in err
    assert _count(workspace) == (4, 0, 1)
    code, out, _ = cli_betr("results", "list", "--json")
    listed = json.loads(out)
    assert listed["imports"][0]["n_rows"] == 4 and listed["totals"]["runs"] == 1
    code, out, _ = cli_betr("results", "categories", "--json")
    cats = json.loads(out)
    assert cats["source"] == "workspace" and cats["categories"]["arc_easy"] == "science"
    code, out, _ = cli_betr("results", "categories", "--set", "arc_easy=easy-science", "--json")
    assert json.loads(out)["rows_updated"] == 2
    from contextlib import closing

    from engine.store import evals

    with closing(workspace.connect(readonly=True)) as conn:
        cats = {r["category"] for r in evals.eval_results(conn, benchmark="arc_easy")}
    assert cats == {"easy-science"}
    code, out, _ = cli_betr("results", "delete", "1", "--json")
    assert code == 0 and json.loads(out)["rows"] == 4
    assert _count(workspace) == (0, 0, 0)
    code, _, err = cli_betr("results", "delete", "1")
    assert code == 2 and "no results import 1" in err


def test_a_bad_file_imports_nothing(workspace, tmp_path):
    from engine.api.results import import_results

    write(tmp_path / "d" / "a.json", V03)
    write(tmp_path / "d" / "z.json", {"results": {"arc": {"acc": 0.1}, "piqa": {"acc": "lots"}}})
    with pytest.raises(InputError, match="not a number"):
        import_results(workspace, [str(tmp_path / "d")], "lm-eval")
    assert _count(workspace) == (0, 0, 0)
    res = import_results(workspace, [str(tmp_path / "d")], "lm-eval", skip_bad=True)
    assert res.rows == 4 and res.skipped == 1
    samples = write(
        tmp_path / "s" / "samples_piqa.jsonl",
        json.dumps({"doc_id": 0, "target": 0, "filtered_resps": ["[-1, 0]", "[-2, 0]"]}),
    )
    res = import_results(workspace, [samples], "lm-eval", stage="SFT")
    assert res.items == 1 and _count(workspace) == (4 + 2, 1, 2)  # acc and confidence
