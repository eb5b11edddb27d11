"""One function, one entry: a toy BETR aggregation and a toy eval-results format, each
registered in its registry for one test only, run end to end through `betr` as a user would
(score a run and read its ranking; import a file and read the stored results)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import REPO, write_docs_jsonl

pytestmark = pytest.mark.usefixtures("olmo_wheel")


def test_a_toy_aggregation_scores_a_run_through_the_cli(betr, tmp_path, monkeypatch):
    """ "first-example": a doc's score is its cosine to the first benchmark example."""
    from engine.api.runs import AGGREGATIONS
    from engine.betr.similarity import Aggregation, RankScores, exact_cosines

    seen = {}

    def first_example(example_vecs, doc_vecs, example_benchmark, n_required, **_options):
        cos = exact_cosines(example_vecs, doc_vecs)
        seen["score"] = cos[0].astype(np.float64)
        n = len(doc_vecs)
        return RankScores(
            score=seen["score"],
            best_rank=np.zeros(n, dtype=np.int64),
            best_cosine=cos.max(axis=0),
            best_example=np.zeros(n, dtype=np.int64),
            best_benchmark=np.full(n, example_benchmark[0], dtype=np.int64),
            k_final=0,
            n_within_k=0,
            aggregate="first-example",
        )

    monkeypatch.setitem(
        AGGREGATIONS,
        "first-example",
        Aggregation("the cosine to the first example", first_example, first_example),
    )
    docs = write_docs_jsonl(tmp_path / "docs.jsonl", 40, seed=5)
    assert betr("import", "docs", str(docs), "--corpus", "web")[0] == 0
    bench = REPO / "sample_data" / "bench_gsm8k.jsonl"
    assert betr("import", "bench", str(bench), "--name", "gsm8k")[0] == 0
    code, out, err = betr(
        "score", "--corpus", "web", "--targets", "gsm8k", "--aggregate", "first-example", "--json"
    )
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    code, out, err = betr("runs", "show", str(run_id), "--json")
    assert code == 0, err
    assert json.loads(out)["config"]["aggregate"] == "first-example"
    code, out, err = betr("ranked", "--run", str(run_id), "--json")
    assert code == 0, err
    ranked = [json.loads(line) for line in out.splitlines()]
    assert len(ranked) == 40
    # best first, and each doc's score is what the toy function gave it
    assert [r["score"] for r in ranked] == pytest.approx(sorted(seen["score"], reverse=True))
    assert {r["benchmark"] for r in ranked} == {"gsm8k"}


def test_a_toy_results_format_imports_through_the_cli(betr, tmp_path, monkeypatch):
    """ "tsv": run, benchmark and accuracy per line, tab-separated."""
    from engine.api.results import RESULT_FORMATS
    from engine.ingest.results import ResultFormat

    def parse_tsv(paths, parsed, options):
        for path in paths:
            parsed.files += 1
            with open(path, encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, 1):
                    run, benchmark, value = line.rstrip("\n").split("\t")
                    where = f"{path}:{line_no}"
                    base = {"run": run, "stage": options.stage, "benchmark": benchmark}
                    parsed.add({**base, "attrs": {}, "source": where}, "acc", value, where)

    monkeypatch.setitem(RESULT_FORMATS, "tsv", ResultFormat("run, benchmark, acc", parse_tsv))
    path = tmp_path / "acc.tsv"
    path.write_text("small\tarc\t0.25\nsmall\tpiqa\t0.5\nlarge\tarc\tnan\n")
    code, out, err = betr("results", "import", str(path), "--format", "tsv", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["format"], result["rows"], result["dropped"]) == ("tsv", 2, 1)
    code, out, err = betr("results", "show", "--json")
    assert code == 0, err
    shown = {
        (r["run"], r["benchmark"], r["metric"], r["stage"]): r["value"] for r in json.loads(out)
    }
    assert shown == {("small", "arc", "acc", "PT"): 0.25, ("small", "piqa", "acc", "PT"): 0.5}
    code, _out, err = betr("results", "import", str(path), "--format", "tsv", "--columns", "x=y")
    assert code == 2 and "--columns is for --format csv only" in err
