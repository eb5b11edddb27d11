"""Balanced targets (`betr score --per-benchmark N|min`) and the evaluation-split warning,
through the `betr` CLI (in-process) on a small workspace: 60 generated docs, a 12-question
benchmark from a train split and an 8-question one from a test split.

The balanced run's rank scores are checked against max-rank scores computed here with numpy
from the embeddings the workspace cache holds for the drawn examples and the sampled docs.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from engine.api.runs import ScoreRequest, plan_score_run
from engine.betr.runs import config_hash
from engine.betr.similarity import brute_force_rank_scores, required_positives
from engine.betr.targets import SPLIT_WARNING
from engine.workspace import Workspace
from tests.helpers import betr, betr_json, cached_vectors, write_docs_jsonl

pytestmark = [pytest.mark.usefixtures("olmo_wheel"), pytest.mark.xdist_group("balanced")]

N_DOCS = 60
PER_BENCH = 5
THINGS = "rivers planets proteins villages engines markets theorems signals gardens".split()


def query(ws: Workspace, sql: str, *params) -> list[tuple]:
    conn = ws.connect(readonly=True)
    try:
        return [tuple(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def write_quiz(path, n: int, offset: int):
    path.write_text(
        "".join(
            json.dumps(
                {
                    "question": f"How many {THINGS[(i + offset) % 9]} are in the "
                    f"{THINGS[(i + 2 * offset + 3) % 9]} of question {i}?",
                    "answer": f"Count them: {i + offset}.\n#### {i + offset}",
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    return path


def plan_config(ws: Workspace, **kwargs) -> dict[str, Any]:
    conn = ws.connect()
    try:
        return plan_score_run(conn, ScoreRequest("web", "both", **kwargs)).config
    finally:
        conn.close()


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("balanced")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        ws = Workspace.init(tmp / "ws")
        docs = write_docs_jsonl(tmp / "docs.jsonl", N_DOCS, seed=5, words=20)
        assert betr_json(ws, "import", "docs", str(docs), "--corpus", "web")["docs"] == N_DOCS
        big = write_quiz(tmp / "big.jsonl", 12, 0)
        small = write_quiz(tmp / "small.jsonl", 8, 4)
        imported = betr_json(ws, "import", "bench", str(big), "--name", "big", "--split", "train")
        assert imported["text_fields"] == ["question", "answer"]
        betr_json(ws, "import", "bench", str(small), "--name", "small", "--split", "test")
        betr_json(ws, "targets", "create", "both", "--bench", "big,small")
        yield ws


@pytest.fixture(scope="module")
def balanced(ws):
    """A balanced run: 5 examples of each benchmark, seed 1, scored."""
    code, out, err = betr(
        ws,
        "score",
        "--corpus",
        "web",
        "--targets",
        "both",
        "--per-benchmark",
        str(PER_BENCH),
        "--seed",
        "1",
        "--json",
    )
    assert code == 0, err
    assert f"warning: small (test split): {SPLIT_WARNING}" in err
    assert (
        "note: balanced targets: 5 examples from each benchmark (big 5 of 12, small 5 of 8)" in err
    )
    return json.loads(out)["run_id"]


def test_per_benchmark_draws_exactly_n_of_each_benchmark(ws, balanced):
    run = betr_json(ws, "runs", "show", str(balanced))
    cfg = run["config"]
    assert cfg["per_benchmark"] == PER_BENCH
    ids_of = {
        name: {
            r[0]
            for r in query(
                ws,
                "SELECT e.id FROM examples e JOIN benchmarks b ON "
                "b.id = e.benchmark_id WHERE b.name = ?",
                name,
            )
        }
        for name in ("big", "small")
    }
    assert sorted(cfg["target_examples"]) == ["big", "small"]
    for name, ids in cfg["target_examples"].items():
        assert len(ids) == len(set(ids)) == PER_BENCH and set(ids) <= ids_of[name]
    # what the score job embedded and ranked: exactly the drawn examples
    assert run["metrics"]["examples"] == 2 * PER_BENCH
    assert run["metrics"]["examples_per_benchmark"] == {"big": PER_BENCH, "small": PER_BENCH}
    drawn = {i for ids in cfg["target_examples"].values() for i in ids}
    best = {r[0] for r in query(ws, "SELECT example_id FROM run_sample WHERE run_id = ?", balanced)}
    assert best <= drawn
    assert run["targets"] == {
        "big": {"examples": 5, "of": 12, "split": "train", "text_fields": ["question", "answer"]},
        "small": {"examples": 5, "of": 8, "split": "test", "text_fields": ["question", "answer"]},
    }


def test_the_draw_is_reproducible_and_seeded(ws, balanced):
    first = betr_json(ws, "runs", "show", str(balanced))["config"]
    assert plan_config(ws, seed=1, per_benchmark=PER_BENCH) == first
    again = betr_json(
        ws, "score", "--corpus", "web", "--targets", "both", "--per-benchmark", "5", "--seed", "1"
    )
    assert again["run_id"] == balanced and again["cached"] is True
    other = plan_config(ws, seed=2, per_benchmark=PER_BENCH)
    assert other["target_examples"] != first["target_examples"]
    assert config_hash(other) != config_hash(first)
    # balanced or not, and N, are part of the cache key
    unbalanced = plan_config(ws, seed=1)
    assert "target_examples" not in unbalanced and "per_benchmark" not in unbalanced
    assert config_hash(unbalanced) != config_hash(first)
    assert config_hash(plan_config(ws, seed=1, per_benchmark=4)) != config_hash(first)
    # min: the smallest benchmark's size, i.e. every example of `small`
    smallest = plan_config(ws, seed=1, per_benchmark="min")
    assert smallest["per_benchmark"] == 8 and len(smallest["target_examples"]["small"]) == 8


def test_rank_scores_equal_a_brute_force_over_the_balanced_set(ws, balanced):
    run = betr_json(ws, "runs", "show", str(balanced))
    cfg, model_id = run["config"], run["config"]["model_id"]
    drawn = [i for name in sorted(cfg["target_examples"]) for i in cfg["target_examples"][name]]
    rows = {r[0]: r for r in query(ws, "SELECT e.id, e.benchmark_id, e.text FROM examples e")}
    ex_vecs = cached_vectors(ws, model_id, [rows[i][2] for i in drawn])
    ex_bench = np.array([rows[i][1] for i in drawn])
    docs = query(
        ws,
        "SELECT s.doc_id, d.text, s.score, s.best_rank, s.example_id FROM run_sample s "
        "JOIN docs d ON d.id = s.doc_id WHERE s.run_id = ? ORDER BY s.doc_id",
        balanced,
    )
    doc_vecs = cached_vectors(ws, model_id, [d[1] for d in docs])
    # max-rank by brute force: each example ranks every doc by cosine (ties: lower doc first)
    cos = ex_vecs.astype(np.float64) @ doc_vecs.astype(np.float64).T
    ranks = np.empty(cos.shape, dtype=np.int64)
    for i in range(len(drawn)):
        ranks[i, np.lexsort((np.arange(len(docs)), -cos[i]))] = np.arange(1, len(docs) + 1)
    best = ranks.min(axis=0)
    k = run["metrics"]["k_final"]
    within = best <= k
    assert [d[3] or 0 for d in docs] == np.where(within, best, 0).tolist()
    assert [d[2] for d in docs] == np.where(within, 1.0 / best, 0.0).tolist()
    # and the engine's reference over the same balanced set agrees field for field
    ref = brute_force_rank_scores(
        ex_vecs, doc_vecs, ex_bench, required_positives(len(docs), 0.1), k0=cfg["k0"]
    )
    assert (ref.k_final, ref.n_within_k) == (k, run["metrics"]["n_within_k"])
    assert [d[2] for d in docs] == ref.score.tolist()
    assert [d[4] for d in docs] == np.array(drawn)[ref.best_example].tolist()
    assert len(drawn) == 10 < len(rows)  # 10 of the 20 examples were drawn and scored


def test_per_benchmark_larger_than_a_benchmark_is_refused(ws):
    code, _, err = betr(ws, "score", "--corpus", "web", "--targets", "both", "--per-benchmark", "9")
    assert code == 2
    assert "--per-benchmark 9 is more than benchmark 'small' has (8 examples)" in err
    assert "use --per-benchmark 8 or less, or --per-benchmark min" in err


def test_runs_show_and_list_say_the_examples_used_and_warn_about_the_test_split(ws, balanced):
    warning = f"small (test split): {SPLIT_WARNING}"
    code, out, _ = betr(ws, "runs", "show", str(balanced))
    assert code == 0
    assert "  targets 5 per benchmark: big 5 of 12 (question, answer) · small 5 of 8 " in out
    assert '"target_examples": {"big": "5 ids", "small": "5 ids"}' in out
    assert f"warning: {warning}\n" in out
    assert betr_json(ws, "runs", "show", str(balanced))["warnings"] == [warning]
    code, out, _ = betr(ws, "runs", "list")
    assert code == 0 and f"warning: run {balanced}: {warning}\n" in out
    listed = {r["id"]: r for r in betr_json(ws, "runs", "list")}
    assert listed[balanced]["warnings"] == [warning]
    assert listed[balanced]["targets"]["small"]["examples"] == PER_BENCH


def test_benchmark_listing_shows_the_text_fields(ws, sample_data):
    mc = str(sample_data / "bench_mc.jsonl")
    args = ("import", "bench", mc, "--name", "mc", "--text-fields", "question,choices,answer")
    code, out, err = betr(ws, *args)
    assert code == 0, err
    assert out.startswith("imported 3 examples into benchmark 'mc' (format mc; text: question, ")
    listed = {b["name"]: b for b in betr_json(ws, "list", "benchmarks")}
    assert listed["big"]["text_fields"] == ["question", "answer"]
    assert listed["mc"]["text_fields"] == ["question", "choices", "answer"]
    code, out, _ = betr(ws, "list", "benchmarks")
    assert code == 0 and "text from" in out and "question, choices, answer" in out
    # deleted and imported again with the default: the paper's text, recorded anew
    assert betr(ws, "delete", "benchmark", "mc")[0] == 0
    assert query(ws, "SELECT COUNT(*) FROM meta WHERE key = 'text_fields:mc'") == [(0,)]
    again = betr_json(ws, "import", "bench", mc, "--name", "mc")
    assert again["text_fields"] == ["question", "answer"]
    code, _, err = betr(ws, "import", "bench", mc, "--name", "mc2", "--text-fields", "choices")
    assert code == 2 and "--text-fields 'choices' has neither question nor answer" in err


def test_no_warning_for_train_splits_only(ws):
    from engine.api.runs import plan_score

    betr_json(ws, "targets", "create", "trainonly", "--bench", "big")
    plan = plan_score(ws, ScoreRequest("web", "trainonly"))  # a pending run, not scored
    assert plan.warnings == []
    run = betr_json(ws, "runs", "show", str(plan.run_id))
    assert run["config"]["splits"] == {"big": "train"} and run["warnings"] == []
    assert run["targets"]["big"]["examples"] == 12  # every example


def test_held_out_examples_are_never_embedded(ws, monkeypatch):
    """`betr score --holdout 0.25`: a seeded quarter of each benchmark held out, recorded in
    the config; the score job embeds exactly the rest (by id); the same seed draws the same
    split, another seed another; without --holdout the config has no trace of it."""
    from engine.jobs.kinds import betr as betr_kind

    embedded: list[int] = []
    real = betr_kind.embed_sample

    def spy(ctx, cfg, device, examples, doc_ids):
        embedded.extend(int(r["id"]) for r in examples)
        return real(ctx, cfg, device, examples, doc_ids)

    monkeypatch.setattr(betr_kind, "embed_sample", spy)
    args = ("score", "--corpus", "web", "--targets", "both", "--seed", "3")
    code, out, err = betr(ws, *args, "--holdout", "0.25", "--json")
    assert code == 0, err
    assert "note: held-out targets (never embedded by this run): big 3 of 12, small 2 of 8" in err
    run = betr_json(ws, "runs", "show", str(json.loads(out)["run_id"]))
    cfg = run["config"]
    held = cfg["holdout"]["held_out"]
    assert cfg["holdout"]["fraction"] == 0.25 and cfg["holdout"]["seed"] == 3
    assert {name: len(ids) for name, ids in held.items()} == {"big": 3, "small": 2}
    every = {name: [r[0] for r in query(ws, SQL_IDS, name)] for name in ("big", "small")}
    for name, ids in held.items():
        assert set(ids) <= set(every[name])
        assert sorted(ids + cfg["target_examples"][name]) == sorted(every[name])
    held_ids = {i for ids in held.values() for i in ids}
    assert embedded and not held_ids & set(embedded)  # no held-out example was embedded
    assert sorted(embedded) == sorted(i for ids in every.values() for i in ids if i not in held_ids)
    assert run["targets"]["big"]["examples"] == 9 and run["targets"]["small"]["examples"] == 6
    # reproducible by seed; another seed, another split; the split is part of the cache key
    assert plan_config(ws, seed=3, holdout=0.25) == cfg
    assert plan_config(ws, seed=4, holdout=0.25)["holdout"]["held_out"] != held
    plain = plan_config(ws, seed=3)
    assert "holdout" not in plain and "target_examples" not in plain
    assert config_hash(plain) != config_hash(cfg)
    # balanced targets draw from the examples not held out
    both = plan_config(ws, seed=3, holdout=0.25, per_benchmark="min")
    assert both["per_benchmark"] == 6 and both["holdout"] == cfg["holdout"]
    for name, ids in both["target_examples"].items():
        assert len(ids) == 6 and not set(ids) & set(held[name])
    code, _, err = betr(ws, *args, "--holdout", "1")
    assert code == 2 and "--holdout must be a share in [0, 1), got 1.0" in err


SQL_IDS = "SELECT e.id FROM examples e JOIN benchmarks b ON b.id = e.benchmark_id WHERE b.name = ?"
