"""A BETR run as a user drives it: targets -> score -> train -> apply -> ranked/select, through
the `betr` CLI (in-process), checked against what the numbers must be.

One module workspace (400 real web docs, 40 GSM8K + 40 ARC-Challenge questions, a 300-doc
sample) runs score -> train -> apply once; most tests read it. MiniLM embeds ~9 docs/s on 2 CPU
cores, so that costs ~45 s; the rest of the module adds about a minute. The kill -9 test builds
its own 36 000-doc workspace so that apply takes several chunks.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate, islice
from pathlib import Path

import numpy as np
import pytest

from engine.api.select import parse_keep, select
from engine.betr.classifier import (
    FASTTEXT_MIN_THREADS,
    evaluate,
    load_classifier,
    predict_positive,
)
from engine.betr.similarity import brute_force_rank_scores, order_by_score, required_positives
from engine.device import detect_device
from engine.jobs import launch
from engine.jobs.kinds.betr import APPLY_CHUNK
from engine.jobs.specs import ApplySpec
from engine.jobs.table import get_job, process_alive
from engine.jobs.worker import execute_job
from engine.workspace import Workspace
from tests.helpers import betr, betr_json, cached_vectors, write_docs_jsonl, write_quiz

pytestmark = [pytest.mark.usefixtures("olmo_wheel"), pytest.mark.xdist_group("betr_pipeline")]

N_CORPUS = 400
N_SAMPLE = 300
N_PER_BENCH = 40
N_POSITIVE = 30  # ceil(0.10 * 300)
N_VALID = 30  # ceil(0.10 * 300)
# fastText settings that learn something from 56 training docs; the default 2M buckets would
# make a ~1 GB model
FASTTEXT_ARGS = ("--epoch", "30", "--lr", "0.5", "--min-count", "1", "--dim", "32")
FASTTEXT_ARGS += ("--bucket", "20000")
SIZE_FIX = "  fix: score a larger sample (--sample) or raise --positive-frac\n"


# -- helpers --------------------------------------------------------------------------------
def query(ws: Workspace, sql: str, *params) -> list[tuple]:
    conn = ws.connect(readonly=True)
    try:
        return [tuple(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def count(ws: Workspace, table: str) -> int:
    return query(ws, f"SELECT COUNT(*) FROM {table}")[0][0]


def execute(ws: Workspace, sql: str, *params) -> None:
    conn = ws.connect()
    try:
        conn.execute(sql, params)
    finally:
        conn.close()


def integrity(ws: Workspace) -> str:
    conn = ws.connect()
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def write_head(src: Path, dst: Path, n: int) -> Path:
    with open(src, encoding="utf-8") as fh:
        dst.write_text("".join(islice(fh, n)), encoding="utf-8")
    return dst


def sample_rows(ws: Workspace, run_id: int) -> list[tuple]:
    """(doc_id, score, best_rank, best_cosine, example_id, benchmark_id, label, split) in the
    run's stored BETR order (score desc, best cosine desc, doc id)."""
    return query(
        ws,
        "SELECT doc_id, score, best_rank, best_cosine, example_id, benchmark_id, label, split "
        "FROM run_sample WHERE run_id = ? ORDER BY score DESC, best_cosine DESC, doc_id",
        run_id,
    )


def stored_probs(ws: Workspace, run_id: int) -> list[tuple]:
    return query(ws, "SELECT doc_id, prob FROM doc_probs WHERE run_id = ? ORDER BY doc_id", run_id)


def staged_probs(ws: Workspace, run_id: int) -> list[tuple]:
    """What an apply in progress has committed so far (swapped into doc_probs at its end)."""
    sql = "SELECT doc_id, prob FROM apply_staging WHERE run_id = ? ORDER BY doc_id"
    return query(ws, sql, run_id)


def stored_order(ws: Workspace, run_id: int) -> list[tuple]:
    return query(
        ws,
        "SELECT position, doc_id, prob, n_tokens, cum_tokens FROM prob_order WHERE run_id = ? "
        "ORDER BY position",
        run_id,
    )


def classifier_path(ws: Workspace, run_id: int) -> Path:
    ((path,),) = query(
        ws, "SELECT path FROM artifacts WHERE run_id = ? AND kind = 'fasttext'", run_id
    )
    return ws.root / path


def score_inputs(ws: Workspace, run_id: int, model_id: str):
    """What the score stage embedded, in its order: (example ids, benchmark ids, example
    vectors, doc ids, doc vectors)."""
    examples = query(
        ws,
        "SELECT e.id, b.id, e.text FROM examples e JOIN benchmarks b ON b.id = e.benchmark_id "
        "WHERE b.name IN ('arc-challenge', 'gsm8k') ORDER BY b.name, e.idx",
    )
    docs = query(
        ws,
        "SELECT s.doc_id, d.text FROM run_sample s JOIN docs d ON d.id = s.doc_id "
        "WHERE s.run_id = ? ORDER BY s.doc_id",
        run_id,
    )
    return (
        np.array([e[0] for e in examples]),
        np.array([e[1] for e in examples]),
        cached_vectors(ws, model_id, [e[2] for e in examples]),
        np.array([d[0] for d in docs]),
        cached_vectors(ws, model_id, [d[1] for d in docs]),
    )


def smallest_prefix(cum_tokens: list[int], target: Fraction) -> int:
    """Position (1-based) of the first prefix holding at least `target` tokens."""
    return next(i + 1 for i, c in enumerate(cum_tokens) if c >= target)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the module's run -----------------------------------------------------------------------
@dataclass
class Pipeline:
    ws: Workspace
    run_id: int
    targets: dict
    score: dict
    train: dict
    apply: dict
    score_err: str


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, shared_data, olmo_wheel):
    """One workspace scored, trained and applied through the CLI, as a user would."""
    tmp = tmp_path_factory.mktemp("betr-pipeline")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        ws = Workspace.init(tmp / "ws")
        web = write_head(shared_data / "web_docs/combined_docs.jsonl", tmp / "web.jsonl", N_CORPUS)
        gsm = write_head(shared_data / "benchmarks/gsm8k/test.jsonl", tmp / "gsm.jsonl", 40)
        arc = shared_data / "benchmarks/arc/arc_challenge_test.jsonl"
        arc = write_head(arc, tmp / "arc.jsonl", N_PER_BENCH)
        imported = betr_json(ws, "import", "docs", str(web), "--corpus", "web", "--meta", "source")
        assert imported["docs"] == N_CORPUS
        assert betr_json(ws, "import", "bench", str(gsm), "--name", "gsm8k")["examples"] == 40
        arc_import = betr_json(ws, "import", "bench", str(arc), "--name", "arc-challenge")
        assert arc_import["examples"] == N_PER_BENCH
        targets = betr_json(ws, "targets", "create", "core", "--bench", "gsm8k,arc-challenge")
        code, out, score_err = betr(
            ws, "score", "--corpus", "web", "--targets", "core", "--sample", str(N_SAMPLE), "--json"
        )
        assert code == 0, score_err
        score = json.loads(out)
        run = str(score["run_id"])
        train = betr_json(ws, "train", "--run", run, *FASTTEXT_ARGS)
        apply = betr_json(ws, "apply", "--run", run)
        yield Pipeline(ws, score["run_id"], targets, score, train, apply, score_err)


# -- 1. the CLI flow ------------------------------------------------------------------------
@pytest.mark.slow
def test_score_train_apply_through_the_cli(pipeline):
    ws, run_id = pipeline.ws, pipeline.run_id
    assert pipeline.targets == {
        "target_set": "core",
        "id": pipeline.targets["id"],
        "benchmarks": ["arc-challenge", "gsm8k"],
    }
    assert pipeline.score == {"run_id": run_id, "cached": False, "notes": []}
    assert pipeline.score_err == ""  # no progress bar, note or warning on a non-terminal
    metric_keys = ["accuracy", "precision", "recall", "roc_auc", "spearman"]
    health = ["p_spread", "fasttext", "fasttext_rule", "warnings"]
    assert list(pipeline.train) == ["run_id", "stage", *metric_keys, *health]
    assert (pipeline.train["run_id"], pipeline.train["stage"]) == (run_id, "train")
    assert pipeline.apply == {"run_id": run_id, "stage": "apply", "docs": N_CORPUS}

    run = betr_json(ws, "runs", "show", str(run_id))
    ((corpus_id, corpus_tokens),) = query(ws, "SELECT id, n_tokens FROM corpora WHERE name = 'web'")
    cfg = run["config"]
    assert cfg["model_id"].startswith("all-MiniLM-L6-v2@")
    assert Path(cfg["embedder_path"]).is_dir()
    assert cfg == {
        "kind": "betr",
        "corpus": "web",
        "corpus_id": corpus_id,
        "corpus_docs": N_CORPUS,
        "corpus_tokens": corpus_tokens,
        "targets": "core",
        "target_set_id": pipeline.targets["id"],
        "benchmarks": {"arc-challenge": N_PER_BENCH, "gsm8k": 40},
        "sample": N_SAMPLE,
        "seed": 0,
        "embedder": "all-MiniLM-L6-v2",
        "embedder_spec": None,
        "embedder_path": cfg["embedder_path"],
        "model_id": cfg["model_id"],
        "aggregate": "max-rank",
        "positive_frac": 0.1,
        "valid_frac": 0.1,
        "k0": 64,
        # imported without --split; the paper's example text (question and answer)
        "splits": {"arc-challenge": None, "gsm8k": None},
        "text_fields": {"arc-challenge": ["question", "answer"], "gsm8k": ["question", "answer"]},
        "fasttext": cfg["fasttext"],  # recorded by train: what it chose and why
    }
    chosen = cfg["fasttext"]
    assert chosen["given"] == ["bucket", "dim", "epoch", "lr", "minCount"]
    assert chosen["params"] == dict(
        wordNgrams=2, lr=0.5, dim=32, ws=10, minCount=1, epoch=30, bucket=20000
    )
    assert (chosen["rule"], chosen["train_docs"]) == ("small-set", 56)
    assert (
        "56 training docs: the paper's epoch 5 and lr 0.03 give only 8 lr-weighted"
        in (chosen["why"])
    )
    assert (run["state"], run["name"], run["corpus"]) == ("applied", "web vs core", "web")
    assert (run["sample_docs"], run["applied_docs"]) == (N_SAMPLE, N_CORPUS)
    m = run["metrics"]
    texts = [
        r[0]
        for r in query(
            ws,
            "SELECT text FROM examples WHERE benchmark_id IN "
            "(SELECT id FROM benchmarks WHERE name IN ('gsm8k', 'arc-challenge'))",
        )
    ] + [
        r[0]
        for r in query(
            ws,
            "SELECT d.text FROM run_sample s JOIN docs d ON d.id = s.doc_id WHERE s.run_id = ?",
            run_id,
        )
    ]
    assert m["embedded_now"] == len(set(texts))  # each distinct text embedded once
    assert (m["sample"], m["examples"], m["embedder"]) == (N_SAMPLE, 80, cfg["model_id"])
    device = detect_device("auto")  # fp16 weights on CUDA
    dtype = "float16" if device.startswith("cuda") else "float32"
    assert (m["device"], m["dtype"], m["max_seq_length"]) == (device, dtype, 256)
    assert m["n_within_k"] >= N_POSITIVE and m["k_final"] >= 64
    assert set(m["timings"]) == {"embed_s", "rank_s", "score_s"}
    assert m["applied_docs"] == N_CORPUS and m["apply_s"] >= 0
    # the split depends on positions in the BETR order and the seed only, so it is exact
    assert m["label_counts"] == {"train_pos": 28, "train_neg": 28, "valid_pos": 2, "valid_neg": 28}
    c = m["classifier"]
    assert (c["n"], c["n_pos"], c["valid_docs"], c["train_docs"]) == (N_VALID, 2, N_VALID, 56)
    assert c["positive_frac"] == 0.1 and c["train_s"] >= 0
    assert {k: c[k] for k in metric_keys} == {k: pipeline.train[k] for k in metric_keys}
    assert m["fasttext"] == dict(
        wordNgrams=2,
        lr=0.5,
        dim=32,
        ws=10,
        minCount=1,
        epoch=30,
        bucket=20000,
        seed=0,
        thread=max(FASTTEXT_MIN_THREADS, os.cpu_count()),
    )
    path = classifier_path(ws, run_id)
    assert path == ws.models_dir / f"run-{run_id}-fasttext.bin"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == m["classifier_sha256"]
    assert path.stat().st_mode & 0o777 == 0o600

    code, out, _ = betr(ws, "runs", "show", str(run_id))
    assert code == 0 and out.startswith(f"run {run_id} (betr): web vs core  [applied]\n")
    assert f"  sample  {N_SAMPLE} docs   applied {N_CORPUS} docs\n" in out
    listed = betr_json(ws, "runs", "list")
    assert run_id in [r["id"] for r in listed]


@pytest.mark.slow
def test_ranked_lists_the_sample_best_first_with_probabilities(pipeline):
    ws, run_id = pipeline.ws, pipeline.run_id
    code, out, err = betr(ws, "ranked", "--run", str(run_id), "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == N_SAMPLE
    keys = ["doc_id", "ext_id", "score", "best_rank", "best_cosine", "benchmark", "example_id"]
    assert all(list(r) == [*keys, "prob"] for r in rows)
    # ordered by score desc, then best cosine desc (then doc id)
    sort_key = [(-r["score"], -r["best_cosine"], r["doc_id"]) for r in rows]
    assert sort_key == sorted(sort_key)
    assert [r["doc_id"] for r in rows] == [s[0] for s in sample_rows(ws, run_id)]
    probs = dict(stored_probs(ws, run_id))
    ext = dict(query(ws, "SELECT id, ext_id FROM docs"))
    examples = set(
        query(
            ws, "SELECT b.name, e.ext_id FROM examples e JOIN benchmarks b ON b.id = e.benchmark_id"
        )
    )
    for r in rows:
        assert r["prob"] == probs[r["doc_id"]] and r["ext_id"] == ext[r["doc_id"]]
        assert (r["benchmark"], r["example_id"]) in examples
        assert r["score"] == (1.0 / r["best_rank"] if r["best_rank"] is not None else 0.0)
    assert rows[0]["best_rank"] == 1
    assert {r["benchmark"] for r in rows[:N_POSITIVE]} == {"gsm8k", "arc-challenge"}

    _, limited, _ = betr(ws, "ranked", "--run", str(run_id), "--limit", "25", "--json")
    assert [json.loads(line) for line in limited.splitlines()] == rows[:25]
    _, page, _ = betr(
        ws, "ranked", "--run", str(run_id), "--limit", "10", "--offset", "5", "--json"
    )
    assert [json.loads(line) for line in page.splitlines()] == rows[5:15]


# -- 2. rank scores vs the brute force ------------------------------------------------------
@pytest.mark.slow
def test_stored_rank_scores_equal_the_brute_force_on_cached_embeddings(pipeline):
    ws, run_id = pipeline.ws, pipeline.run_id
    run = betr_json(ws, "runs", "show", str(run_id))
    example_ids, bench_ids, ex_vecs, doc_ids, doc_vecs = score_inputs(
        ws, run_id, run["config"]["model_id"]
    )
    assert ex_vecs.shape == (80, 384) and doc_vecs.shape == (N_SAMPLE, 384)
    ref = brute_force_rank_scores(
        ex_vecs, doc_vecs, bench_ids, required_positives(N_SAMPLE, 0.1), k0=64
    )
    stored = {r[0]: r for r in sample_rows(ws, run_id)}
    got = [stored[int(d)] for d in doc_ids]  # in doc id order, like the reference
    assert [r[2] or 0 for r in got] == ref.best_rank.tolist()
    assert [r[1] for r in got] == ref.score.tolist()
    assert [r[3] for r in got] == ref.best_cosine.astype(np.float64).tolist()
    assert [r[4] for r in got] == example_ids[ref.best_example].tolist()
    assert [r[5] for r in got] == ref.best_benchmark.tolist()
    assert (run["metrics"]["k_final"], run["metrics"]["n_within_k"]) == (
        ref.k_final,
        ref.n_within_k,
    )
    # the whole stored order, hence the positive set (top positive_frac), is the reference's
    ref_order = doc_ids[order_by_score(ref)].tolist()
    stored_order_ids = [r[0] for r in sample_rows(ws, run_id)]
    assert stored_order_ids == ref_order
    positives = {r[0] for r in sample_rows(ws, run_id) if r[6] == 1}
    assert positives == set(ref_order[:N_POSITIVE])


@pytest.mark.slow
def test_viewer_nearest_examples_equal_the_brute_force(pipeline):
    """The document viewer's 5 nearest examples, with the doc's rank among the sample for each,
    against cosines and ranks recomputed from the cached vectors."""
    from engine.api.browse import doc_detail, load_run_index, nearest_examples

    ws, run_id = pipeline.ws, pipeline.run_id
    run = betr_json(ws, "runs", "show", str(run_id))
    example_ids, _, ex_vecs, doc_ids, doc_vecs = score_inputs(ws, run_id, run["config"]["model_id"])
    cos = ex_vecs.astype(np.float64) @ doc_vecs.astype(np.float64).T  # (examples, docs)
    conn = ws.connect(readonly=True)
    try:
        index = load_run_index(conn, run_id)
        stored = {r[0]: r for r in sample_rows(ws, run_id)}
        for j in (0, 7, 150, N_SAMPLE - 1):
            doc = int(doc_ids[j])
            got = nearest_examples(conn, index, doc, k=5)
            want = np.lexsort((np.arange(len(example_ids)), -cos[:, j]))[:5]
            assert [e.example_id for e in got.examples] == example_ids[want].tolist()
            for e, i in zip(got.examples, want, strict=True):
                assert e.cosine == pytest.approx(cos[i, j], abs=1e-9)
                assert e.rank == int(np.count_nonzero(cos[i] > cos[i, j] + 1e-9)) + 1
            detail = doc_detail(conn, index, doc)
            assert detail.best_rank == stored[doc][2]
            best = detail.best_example
            assert (best["id"] if best else None) == stored[doc][4]
        # a doc outside the scored sample has no cached embedding: the viewer says so
        outside = next(int(d) for d in index.doc_id if int(d) not in stored)
        assert nearest_examples(conn, index, outside).reason.startswith("not in the scored")
    finally:
        conn.close()


@pytest.mark.slow
def test_why_embeds_a_doc_outside_the_sample_once_and_equals_the_brute_force(pipeline):
    """`betr why --embed` on a doc the scoring never embedded: an embed-docs job caches its
    vector, and the nearest examples with the rank the doc would have had among the scored
    sample equal a brute force over the cached vectors; asked again, nothing is embedded."""
    from engine.api.browse import load_run_index

    ws, run_id = pipeline.ws, pipeline.run_id
    model_id = betr_json(ws, "runs", "show", str(run_id))["config"]["model_id"]
    example_ids, _, ex_vecs, sample_ids, sample_vecs = score_inputs(ws, run_id, model_id)
    conn = ws.connect(readonly=True)
    try:
        index = load_run_index(conn, run_id)
    finally:
        conn.close()
    sampled = set(sample_ids.tolist())
    # the last doc outside the sample (the viewer test above reads the first one unembedded)
    doc = [int(d) for d in index.doc_id if int(d) not in sampled][-1]
    why = ["why", "--run", str(run_id), "--doc", str(doc)]
    before = betr_json(ws, *why)
    assert before["examples"] == [] and before["reason"].startswith("not in the scored sample")
    code, out, _err = betr(ws, *why)
    assert code == 0 and "add --embed to embed it" in out

    got = betr_json(ws, *why, "--embed")
    assert got["embedded_now"] is True
    (text,) = query(ws, "SELECT text FROM docs WHERE id = ?", doc)[0]
    vec = cached_vectors(ws, model_id, [text])[0].astype(np.float64)
    cos = ex_vecs.astype(np.float64) @ vec
    want = np.lexsort((np.arange(len(example_ids)), -cos))[:5]
    assert [e["example_id"] for e in got["examples"]] == example_ids[want].tolist()
    sample_cos = ex_vecs.astype(np.float64) @ sample_vecs.astype(np.float64).T
    for e, i in zip(got["examples"], want, strict=True):
        assert e["cosine"] == pytest.approx(cos[i], abs=1e-9)
        assert e["rank"] == int(np.count_nonzero(sample_cos[i] > cos[i] + 1e-9)) + 1
    assert got["sample"] == N_SAMPLE
    job = query(ws, "SELECT kind, state FROM jobs WHERE id = ?", got["job_id"])
    assert job == [("embed-docs", "done")]

    again = betr_json(ws, *why, "--embed")  # cached now: no job, the same answer
    assert again["embedded_now"] is False and again["examples"] == got["examples"]


@pytest.mark.slow
def test_tradeoff_on_the_real_run_equals_select(pipeline):
    ws, run_id = pipeline.ws, pipeline.run_id
    out = betr_json(ws, "tradeoff", "--run", str(run_id), "--keep", "10%")
    conn = ws.connect(readonly=True)
    try:
        sel = select(conn, run_id, 0.1)
    finally:
        conn.close()
    assert (out["kept_docs"], out["kept_tokens"], out["threshold"]) == (
        sel.position,
        sel.kept_tokens,
        sel.threshold,
    )
    assert sum(s["docs"] for s in out["benchmark_shares"]) <= out["sample_kept_docs"]


# -- 3. re-scoring is cached ------------------------------------------------------------------
@pytest.mark.slow
def test_rescoring_reuses_the_run_and_a_new_config_embeds_nothing(pipeline, monkeypatch):
    from engine.embed import Embedder

    ws, run_id = pipeline.ws, pipeline.run_id
    encoded: list[int] = []
    original = Embedder.encode

    def counting_encode(self, texts, batch_size=64):
        encoded.append(len(texts))
        return original(self, texts, batch_size=batch_size)

    monkeypatch.setattr(Embedder, "encode", counting_encode)
    runs, jobs, vectors = count(ws, "runs"), count(ws, "jobs"), count(ws, "embeddings")
    args = ("score", "--corpus", "web", "--targets", "core", "--sample", str(N_SAMPLE))
    code, out, err = betr(ws, *args, "--json")
    assert code == 0, err
    assert json.loads(out) == {"run_id": run_id, "cached": True, "notes": []}
    assert err == f"run {run_id} already scored with this config: reusing it\n"
    assert (count(ws, "runs"), count(ws, "jobs")) == (runs, jobs)  # no new run, no job

    # another aggregation changes the config, not the texts: every vector comes from the cache
    new = betr_json(ws, *args, "--aggregate", "mean-inv-rank")
    assert new["cached"] is False and new["run_id"] != run_id
    assert encoded == []
    assert count(ws, "embeddings") == vectors
    run = betr_json(ws, "runs", "show", str(new["run_id"]))
    assert run["metrics"]["embedded_now"] == 0
    assert (run["state"], run["config"]["aggregate"]) == ("scored", "mean-inv-rank")
    _, top, _ = betr(ws, "ranked", "--run", str(new["run_id"]), "--limit", "3", "--json")
    keys = ["doc_id", "ext_id", "score", "best_rank", "best_cosine", "benchmark", "example_id"]
    assert [list(json.loads(line)) for line in top.splitlines()] == [keys] * 3  # no prob yet
    # same seed and size: the same sample, with the same best cosines
    same = "SELECT doc_id, best_cosine FROM run_sample WHERE run_id = ? ORDER BY doc_id"
    assert query(ws, same, new["run_id"]) == query(ws, same, run_id)
    _, bench_ids, ex_vecs, doc_ids, doc_vecs = score_inputs(
        ws, new["run_id"], run["config"]["model_id"]
    )
    ref = brute_force_rank_scores(
        ex_vecs, doc_vecs, bench_ids, N_POSITIVE, k0=64, aggregate="mean-inv-rank"
    )
    stored = dict(query(ws, "SELECT doc_id, score FROM run_sample WHERE run_id = ?", new["run_id"]))
    assert [stored[int(d)] for d in doc_ids] == ref.score.tolist()


# -- 5. held-out validation -----------------------------------------------------------------
@pytest.mark.slow
def test_validation_docs_are_held_out_and_the_metrics_are_theirs(pipeline):
    ws, run_id = pipeline.ws, pipeline.run_id
    rows = sample_rows(ws, run_id)
    split = {s: {r[0] for r in rows if r[7] == s} for s in ("train", "valid", "unused")}
    assert {r[7] for r in rows} == {"train", "valid", "unused"}
    assert not split["train"] & split["valid"]
    assert len(split["valid"]) == N_VALID == math.ceil(0.10 * N_SAMPLE)
    # balanced training set: every positive left after the hold-out, as many negatives
    train_labels = [r[6] for r in rows if r[7] == "train"]
    assert (sum(train_labels), len(train_labels)) == (28, 56)
    assert len(split["unused"]) == N_SAMPLE - N_VALID - 56
    assert {r[6] for r in rows if r[7] == "unused"} == {0}  # only surplus negatives are dropped
    # the stored metrics are exactly those of the stored probabilities on the valid docs
    valid = [r for r in rows if r[7] == "valid"]  # in BETR order, as the train stage had them
    probs = dict(stored_probs(ws, run_id))
    metrics = evaluate(
        np.array([probs[r[0]] for r in valid]),
        np.array([r[6] for r in valid]),
        np.array([r[1] for r in valid]),
    )
    stored = betr_json(ws, "runs", "show", str(run_id))["metrics"]["classifier"]
    assert {k: stored[k] for k in metrics} == metrics
    # and the classifier file scores the valid texts the same way
    texts = dict(query(ws, "SELECT id, text FROM docs"))
    model = load_classifier(classifier_path(ws, run_id))
    again = predict_positive(model, [texts[r[0]] for r in valid])
    assert again.tolist() == [probs[r[0]] for r in valid]


# -- 6. the probability order and the cut ---------------------------------------------------
@pytest.mark.slow
def test_prob_order_is_cumulative_and_the_cut_is_the_smallest_prefix(pipeline):
    ws, run_id = pipeline.ws, pipeline.run_id
    order = stored_order(ws, run_id)
    assert [o[0] for o in order] == list(range(1, N_CORPUS + 1))
    probs = stored_probs(ws, run_id)
    assert len(probs) == N_CORPUS
    assert [o[1] for o in order] == [d for d, _ in sorted(probs, key=lambda p: (-p[1], p[0]))]
    n_tokens = dict(query(ws, "SELECT id, n_tokens FROM docs"))
    assert [o[3] for o in order] == [n_tokens[o[1]] for o in order]
    cum = list(accumulate(o[3] for o in order))
    assert [o[4] for o in order] == cum
    ((total,),) = query(ws, "SELECT n_tokens FROM corpora WHERE name = 'web'")
    assert cum[-1] == total

    conn = ws.connect(readonly=True)
    try:
        for keep in ("0.5%", "1%", "10%", "33.3%", "50%", "99.9%", "100%"):
            share = Fraction(keep.rstrip("%")) / 100
            sel = select(conn, run_id, parse_keep(keep), "tokens")
            p = smallest_prefix(cum, share * total)
            assert (sel.position, sel.kept_tokens, sel.total_tokens) == (p, cum[p - 1], total)
            assert sel.threshold == order[p - 1][2]
            assert p == 1 or cum[p - 2] < share * total  # one doc fewer is not enough
            sel = select(conn, run_id, parse_keep(keep), "docs")
            assert sel.position == math.ceil(share * N_CORPUS)
            assert sel.kept_tokens == cum[sel.position - 1]
    finally:
        conn.close()


# -- 1 (cont.). select and export -----------------------------------------------------------
@pytest.mark.slow
def test_select_exports_the_top_docs_as_jsonl_and_parquet(pipeline, tmp_path):
    import pyarrow.parquet as pq

    ws, run_id = pipeline.ws, pipeline.run_id
    order = stored_order(ws, run_id)
    cum = [o[4] for o in order]
    total = cum[-1]
    p = smallest_prefix(cum, Fraction(1, 10) * total)
    out = tmp_path / "kept.jsonl"
    result = betr_json(ws, "select", "--run", str(run_id), "--keep", "10%", "--out", str(out))
    assert result == {
        "run_id": run_id,
        "keep": 0.1,
        "by": "tokens",
        "position": p,
        "kept_tokens": cum[p - 1],
        "total_tokens": total,
        "total_docs": N_CORPUS,
        "threshold": order[p - 1][2],
        "kept_docs": p,
        "kept_token_share": cum[p - 1] / total,
        "out": str(out),
        "format": "jsonl",
        "replay_docs": 0,
        "rows": p,
        # this module's fastText (30 epochs at lr 0.5 on 56 docs: 840 lr-weighted updates)
        # learns next to nothing, and select says so (engine/betr/classifier_health.py)
        "warnings": betr_json(ws, "runs", "show", str(run_id))["classifier_warnings"],
    }
    rows = read_jsonl(out)
    docs = {r[0]: r[1:] for r in query(ws, "SELECT id, ext_id, text, source, meta FROM docs")}
    ((config_hash, model_id),) = query(
        ws, "SELECT config_hash, json_extract(config, '$.model_id') FROM runs WHERE id = ?", run_id
    )
    provenance = {
        "run_id": run_id,
        "config_hash": config_hash,
        "corpus": "web",
        "targets": "core",
        "embedder": model_id,
        "keep": 0.1,
        "by": "tokens",
        "threshold": order[p - 1][2],
    }
    expected = [
        {
            "doc_id": o[1],
            "id": docs[o[1]][0],
            "text": docs[o[1]][1],
            "prob": o[2],
            "rank": o[0],
            "n_tokens": o[3],
            "source": docs[o[1]][2],
            "meta": json.loads(docs[o[1]][3]),
            "replay": False,
            "provenance": provenance,
        }
        for o in order[:p]
    ]
    assert rows == expected

    code, text, _ = betr(ws, "select", "--run", str(run_id), "--keep", "10%", "--out", str(out))
    assert code == 0
    assert text == (
        f"kept {p} of {N_CORPUS} docs, {cum[p - 1]} of {total} tokens "
        f"(p >= {order[p - 1][2]:.4f}) -> {out}\n"
    )

    by_docs = tmp_path / "by-docs.jsonl"
    result = betr_json(
        ws, "select", "--run", str(run_id), "--keep", "10%", "--by", "docs", "--out", str(by_docs)
    )
    assert result["kept_docs"] == result["rows"] == 40  # ceil(10% of 400)
    assert [r["doc_id"] for r in read_jsonl(by_docs)] == [o[1] for o in order[:40]]
    assert read_jsonl(by_docs)[0]["provenance"]["by"] == "docs"

    parquet = tmp_path / "kept.parquet"
    result = betr_json(ws, "select", "--run", str(run_id), "--keep", "10%", "--out", str(parquet))
    assert (result["format"], result["rows"]) == ("parquet", p)
    assert pq.read_table(parquet).to_pylist() == expected


@pytest.mark.slow
def test_replay_rows_are_marked_and_never_among_the_kept_docs(pipeline, tmp_path):
    ws, run_id = pipeline.ws, pipeline.run_id
    plain = tmp_path / "plain.jsonl"
    replayed = tmp_path / "replay.jsonl"
    base = ("select", "--run", str(run_id), "--keep", "10%")
    kept = betr_json(ws, *base, "--out", str(plain))["kept_docs"]
    result = betr_json(ws, *base, "--replay", "0.5", "--seed", "3", "--out", str(replayed))
    n_replay = min(round(0.5 * kept), N_CORPUS - kept)
    assert (result["replay_docs"], result["rows"], result["kept_docs"]) == (
        n_replay,
        kept + n_replay,
        kept,
    )
    rows = read_jsonl(replayed)
    assert [r for r in rows if not r["replay"]] == read_jsonl(plain)
    replay = [r for r in rows if r["replay"]]
    assert len(replay) == n_replay > 0
    assert all(r["rank"] > kept for r in replay)
    assert not {r["doc_id"] for r in replay} & {r["doc_id"] for r in read_jsonl(plain)}
    assert len({r["doc_id"] for r in replay}) == n_replay
    assert [r["rank"] for r in replay] == sorted(r["rank"] for r in replay)
    assert all(r["prob"] <= result["threshold"] for r in replay)
    # seeded: the same seed draws the same replay docs, another seed others
    again = tmp_path / "again.jsonl"
    betr_json(ws, *base, "--replay", "0.5", "--seed", "3", "--out", str(again))
    assert read_jsonl(again) == rows
    other = tmp_path / "other.jsonl"
    betr_json(ws, *base, "--replay", "0.5", "--seed", "4", "--out", str(other))
    assert [r["doc_id"] for r in read_jsonl(other) if r["replay"]] != [r["doc_id"] for r in replay]


# -- 7. bad input ---------------------------------------------------------------------------
@pytest.fixture()
def small_ws(workspace, tmp_path, monkeypatch):
    """A workspace with 5 short docs (corpus 'web') and an 8-question benchmark 'quiz'."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = write_docs_jsonl(tmp_path / "d.jsonl", 5, words=6)
    assert betr(workspace, "import", "docs", str(src), "--corpus", "web")[0] == 0
    quiz = write_quiz(tmp_path / "q.jsonl")
    assert betr(workspace, "import", "bench", str(quiz), "--name", "quiz")[0] == 0
    return workspace


def score_errors(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    missing = tmp_path / "no-such-model"
    return {
        "empty target set": (
            ["--corpus", "web", "--targets", ","],
            "error: empty target set\n  fix: pass --targets SET or --targets bench1,bench2\n",
        ),
        "unknown target set": (
            ["--corpus", "web", "--targets", "noncore"],
            "error: no target set or benchmark named 'noncore'\n  fix: there are no target sets "
            "yet; known benchmarks: empty, quiz; create a set with betr targets create noncore "
            "--bench b1,b2\n",
        ),
        "unknown benchmark in a list": (
            ["--corpus", "web", "--targets", "quiz,nope"],
            "error: unknown benchmark 'nope'\n  fix: known benchmarks: empty, quiz\n",
        ),
        "mistyped benchmark in a list": (
            ["--corpus", "web", "--targets", "quiz,qiuz"],
            "error: unknown benchmark 'qiuz'\n  fix: did you mean 'quiz'?\n",
        ),
        "benchmark with zero examples": (
            ["--corpus", "web", "--targets", "quiz,empty"],
            "error: benchmark 'empty' has zero examples\n"
            "  fix: re-import it, or leave it out of the targets\n",
        ),
        "embedder path missing": (
            ["--corpus", "web", "--targets", "quiz", "--embedder", str(missing)],
            f"error: embedding model '{missing}': path does not exist. Models load only from "
            "local paths or the bundled default all-MiniLM-L6-v2 (no hub downloads)\n  fix: "
            "omit the model to use all-MiniLM-L6-v2, or pass a local model directory.",
        ),
        "zero sample": (
            ["--corpus", "web", "--targets", "quiz", "--sample", "0"],
            "error: --sample must be positive, got 0\n",
        ),
        "unknown corpus": (
            ["--corpus", "nope", "--targets", "quiz"],
            "error: no corpus 'nope'\n  fix: known corpora: web\n",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty target set",
        "unknown target set",
        "unknown benchmark in a list",
        "mistyped benchmark in a list",
        "benchmark with zero examples",
        "embedder path missing",
        "zero sample",
        "unknown corpus",
    ],
)
def test_score_refuses_bad_input_with_a_precise_message(small_ws, tmp_path, case):
    execute(
        small_ws,
        "INSERT INTO benchmarks (name, format, n_examples, created_at) "
        "VALUES ('empty', 'gsm8k', 0, 0)",
    )
    args, message = score_errors(tmp_path)[case]
    jobs = count(small_ws, "jobs")  # the imports
    code, out, err = betr(small_ws, "score", *args)
    assert code == 2 and out == ""
    if case == "embedder path missing":  # its fix goes on to name the recommended GPU model
        assert err.startswith(message)
    else:
        assert err == message
    assert "Traceback" not in err
    assert (count(small_ws, "runs"), count(small_ws, "jobs")) == (0, jobs)


def test_keep_out_of_range_and_an_unknown_run_are_refused(small_ws, tmp_path):
    out = tmp_path / "x.jsonl"
    for keep, shown in (("0", "0"), ("120%", "120%"), ("-5%", "-5%")):
        code, _, err = betr(small_ws, "select", "--run", "1", "--keep", keep, "--out", str(out))
        assert code == 2
        assert err == (
            f"error: --keep must be above 0% and at most 100%, got {shown}\n  fix: e.g. --keep 10%\n"
        )
    code, _, err = betr(small_ws, "select", "--run", "1", "--keep", "ten", "--out", str(out))
    assert (code, err) == (2, "error: --keep 'ten' is not a percentage\n  fix: e.g. --keep 10%\n")
    assert not out.exists()
    no_run = "error: no run 999\n  fix: `betr list runs` shows the runs\n"
    for args in (
        ("runs", "show", "999"),
        ("train", "--run", "999"),
        ("apply", "--run", "999"),
        ("ranked", "--run", "999"),
        ("select", "--run", "999", "--keep", "10%", "--out", str(out)),
    ):
        code, _, err = betr(small_ws, *args)
        assert (code, err) == (2, no_run), args
    assert count(small_ws, "jobs") == 1  # the import


def test_stages_out_of_order_name_the_step_to_run_first(small_ws, tmp_path):
    from engine.api.runs import ScoreRequest, create_run, plan_score_run

    conn = small_ws.connect()
    try:
        config = plan_score_run(conn, ScoreRequest("web", "quiz")).config
        run_id = create_run(conn, config)  # pending: its score job never ran
    finally:
        conn.close()
    pending = f"run {run_id} is pending; cannot {{}}\n  fix: score it first (its score job); "
    pending += "betr jobs list\n"
    out = str(tmp_path / "x.jsonl")
    for args, action in (
        (("train", "--run", str(run_id)), "train"),
        (("apply", "--run", str(run_id)), "apply"),
        (("ranked", "--run", str(run_id)), "list its ranked docs"),
        (("select", "--run", str(run_id), "--keep", "10%", "--out", out), "select documents"),
    ):
        code, _, err = betr(small_ws, *args)
        assert (code, err) == (2, "error: " + pending.format(action)), args
    assert count(small_ws, "jobs") == 1  # the import: refused before any job was queued


@pytest.mark.slow
def test_a_sample_larger_than_the_pool_is_clamped_and_too_small_to_train(pipeline, tmp_path):
    ws = pipeline.ws
    src = write_docs_jsonl(tmp_path / "tiny.jsonl", 10, seed=21, words=8)
    assert betr(ws, "import", "docs", str(src), "--corpus", "tiny")[0] == 0
    code, out, err = betr(
        ws, "score", "--corpus", "tiny", "--targets", "core", "--sample", "50", "--json"
    )
    note = "--sample 50 is larger than the corpus (10 docs): using all 10"
    assert code == 0 and err == f"note: {note}\n"
    result = json.loads(out)
    assert result["notes"] == [note] and result["cached"] is False
    run_id = str(result["run_id"])
    run = betr_json(ws, "runs", "show", run_id)
    assert (run["config"]["sample"], run["sample_docs"], run["state"]) == (10, 10, "scored")

    code, _, err = betr(ws, "train", "--run", run_id, *FASTTEXT_ARGS)
    assert code == 2
    assert err == (
        "error: the scored sample has 10 docs; training a classifier needs at least 20\n" + SIZE_FIX
    )
    ((state, error),) = query(ws, "SELECT state, error FROM jobs ORDER BY id DESC LIMIT 1")
    assert state == "failed" and error.startswith("the scored sample has 10 docs")
    assert betr_json(ws, "runs", "show", run_id)["state"] == "scored"  # unchanged
    # apply / select before a classifier exists
    code, _, err = betr(ws, "apply", "--run", run_id)
    assert (code, err) == (
        2,
        f"error: run {run_id} is scored; cannot apply\n  fix: train it first: betr train "
        f"--run {run_id}\n",
    )
    out = str(tmp_path / "x.jsonl")
    code, _, err = betr(ws, "select", "--run", run_id, "--keep", "10%", "--out", out)
    assert (code, err) == (
        2,
        f"error: run {run_id} is scored; cannot select documents\n  fix: train it first: "
        f"betr train --run {run_id}\n",
    )


@pytest.mark.slow
def test_a_validation_split_without_positives_is_refused(pipeline, tmp_path):
    ws = pipeline.ws
    src = write_docs_jsonl(tmp_path / "twenty.jsonl", 20, seed=22, words=8)
    assert betr(ws, "import", "docs", str(src), "--corpus", "twenty")[0] == 0
    run_id = str(betr_json(ws, "score", "--corpus", "twenty", "--targets", "core")["run_id"])
    # 2 positives (BETR positions 1, 2); seed 0 holds out positions 5 and 20
    code, _, err = betr(ws, "train", "--run", run_id, *FASTTEXT_ARGS)
    assert code == 2
    assert err == (
        "error: the validation split (2 of 20 docs) holds no positive doc (2 positive in all)\n"
        + SIZE_FIX
    )


@pytest.mark.slow
def test_a_failed_retrain_leaves_the_applied_run_as_it_was(pipeline):
    ws, run_id = pipeline.ws, pipeline.run_id
    before = (
        betr_json(ws, "runs", "show", str(run_id)),
        stored_probs(ws, run_id),
        stored_order(ws, run_id),
        sample_rows(ws, run_id),
        classifier_path(ws, run_id).read_bytes(),
    )
    # 1 positive (position 1) and seed 0 holds it out for validation: none left to train on
    code, _, err = betr(ws, "train", "--run", str(run_id), "--positive-frac", "0.001")
    assert code == 2
    assert err == (
        "error: no positive docs are left for training: 300 docs, 1 positive (positive "
        "fraction 0.001), 30 held out for validation\n" + SIZE_FIX
    )
    # a learning rate that makes fastText diverge is the user's to fix, not a crash
    ft = ("--lr", "1000000", "--epoch", "5", "--min-count", "1", "--dim", "8", "--bucket", "1000")
    code, _, err = betr(ws, "train", "--run", str(run_id), *ft)
    assert code == 2
    assert err == (
        "error: fastText training diverged (the loss became NaN) with lr=1000000.0, epoch=5 "
        "on 56 training docs\n  fix: train again with a lower --lr (default 0.03) or fewer "
        "--epoch\n"
    )
    after = (
        betr_json(ws, "runs", "show", str(run_id)),
        stored_probs(ws, run_id),
        stored_order(ws, run_id),
        sample_rows(ws, run_id),
        classifier_path(ws, run_id).read_bytes(),
    )
    assert after == before
    code, _, err = betr(ws, "train", "--run", str(run_id), "--positive-frac", "1.5")
    assert (code, err) == (
        2,
        "error: --positive-frac must be between 0 and 1 (exclusive), got 1.5\n",
    )


# -- 4. kill -9 during apply ----------------------------------------------------------------
N_BIG = 36_000  # 8 apply chunks of APPLY_CHUNK docs


def kill_between_chunks(ws: Workspace, job_id: int, timeout: float = 120) -> int:
    """SIGKILL the apply worker's group once it has committed some, not all, of its chunks.

    The check and the kill happen inside this connection's write transaction, so the worker
    cannot commit a chunk in between (it is killed while waiting for the lock or predicting).
    Returns the docs the job had committed.
    """
    conn = ws.connect()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            conn.execute("BEGIN IMMEDIATE")
            try:
                job = get_job(conn, job_id)
                if job.state not in ("queued", "running"):
                    raise AssertionError(f"apply ended ({job.state}) before it could be killed")
                stage = (job.checkpoint or {}).get("stage")
                if stage == "apply" and job.total and 0 < job.done < job.total:
                    os.killpg(job.pgid, signal.SIGKILL)
                    stop = time.monotonic() + 10
                    while process_alive(job.pid) and time.monotonic() < stop:
                        time.sleep(0.01)
                    assert not process_alive(job.pid)
                    return job.done
            finally:
                conn.execute("ROLLBACK")
            time.sleep(0.002)
    finally:
        conn.close()
    raise AssertionError(f"timed out after {timeout} s waiting for apply progress")


def wait_for_progress(ws: Workspace, job_id: int, timeout: float = 120) -> None:
    """Until the apply job has committed at least one chunk."""
    deadline = time.monotonic() + timeout
    conn = ws.connect(readonly=True)
    try:
        while time.monotonic() < deadline:
            job = get_job(conn, job_id)
            assert job.state in ("queued", "running"), job.state
            if (job.checkpoint or {}).get("stage") == "apply" and job.done > 0:
                return
            time.sleep(0.01)
    finally:
        conn.close()
    raise AssertionError(f"timed out after {timeout} s waiting for apply progress")


@pytest.mark.slow
def test_kill_9_mid_apply_then_resume_stores_the_uninterrupted_probabilities(
    workspace, tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ws = workspace
    src = write_docs_jsonl(tmp_path / "big.jsonl", N_BIG, seed=11, words=20)
    assert betr_json(ws, "import", "docs", str(src), "--corpus", "big")["docs"] == N_BIG
    quiz = write_quiz(tmp_path / "q.jsonl")
    assert betr(ws, "import", "bench", str(quiz), "--name", "quiz")[0] == 0
    score = betr_json(ws, "score", "--corpus", "big", "--targets", "quiz", "--sample", "300")
    run_id = score["run_id"]
    betr_json(ws, "train", "--run", str(run_id), *FASTTEXT_ARGS)

    job_id = launch.submit(ws, ApplySpec(run_id=run_id))
    killed_at = kill_between_chunks(ws, job_id)
    launch.reap_children()
    conn = ws.connect(readonly=True)
    job = get_job(conn, job_id)
    conn.close()
    assert job.state == "interrupted" and job.total == N_BIG
    assert killed_at == job.done and killed_at % APPLY_CHUNK == 0 and 0 < killed_at < N_BIG
    # exactly the committed chunks are staged, nothing is in the run's results, and the run is
    # not applied
    assert len(staged_probs(ws, run_id)) == killed_at
    assert max(d for d, _ in staged_probs(ws, run_id)) == job.checkpoint["last_doc_id"]
    assert stored_probs(ws, run_id) == []
    assert stored_order(ws, run_id) == []
    assert query(ws, "SELECT state FROM runs WHERE id = ?", run_id) == [("trained",)]
    assert integrity(ws) == "ok"

    launch.resume(ws, job_id, detach=False)
    assert execute_job(ws, job_id) == {"run_id": run_id, "stage": "apply", "docs": N_BIG}
    conn = ws.connect(readonly=True)
    job = get_job(conn, job_id)
    conn.close()
    assert (job.state, job.attempts, job.done) == ("done", 2, N_BIG)
    resumed, resumed_order = stored_probs(ws, run_id), stored_order(ws, run_id)

    # the classifier on every text, in one uninterrupted pass
    ids_texts = query(ws, "SELECT id, text FROM docs ORDER BY id")
    model = load_classifier(classifier_path(ws, run_id))
    expected = predict_positive(model, [t for _, t in ids_texts])
    assert resumed == list(zip([i for i, _ in ids_texts], expected.tolist(), strict=True))
    # (36k docs: those applies ran in one process per core.) An uninterrupted apply job of
    # the same run in one process stores the same rows and order
    again = launch.submit(
        ws, ApplySpec(run_id=run_id, workers=1), title="apply again", detach=False
    )
    assert execute_job(ws, again)["docs"] == N_BIG
    assert stored_probs(ws, run_id) == resumed
    assert stored_order(ws, run_id) == resumed_order
    # ties in p(positive) are common here, and broken by doc id
    probs = [o[2] for o in resumed_order]
    assert len(set(probs)) < N_BIG
    assert [o[1] for o in resumed_order] == [
        d for d, _ in sorted(resumed, key=lambda r: (-r[1], r[0]))
    ]
    assert integrity(ws) == "ok"

    # a re-apply that is killed, then one that is cancelled, leave the applied results as they
    # were: `select` keeps working, and the state still says applied (issue #8)
    selected = betr_json(ws, "tradeoff", "--run", str(run_id), "--keep", "10%")
    out = tmp_path / "kept.jsonl"
    kept = betr_json(ws, "select", "--run", str(run_id), "--keep", "10%", "--out", str(out))

    def unchanged() -> None:
        assert query(ws, "SELECT state FROM runs WHERE id = ?", run_id) == [("applied",)]
        assert stored_probs(ws, run_id) == resumed
        assert stored_order(ws, run_id) == resumed_order
        assert betr_json(ws, "tradeoff", "--run", str(run_id), "--keep", "10%") == selected
        again = betr_json(ws, "select", "--run", str(run_id), "--keep", "10%", "--out", str(out))
        assert again == kept
        assert integrity(ws) == "ok"

    killed = launch.submit(ws, ApplySpec(run_id=run_id), title="re-apply, killed")
    assert 0 < kill_between_chunks(ws, killed) < N_BIG
    launch.reap_children()
    assert 0 < len(staged_probs(ws, run_id)) < N_BIG
    unchanged()

    cancelled = launch.submit(ws, ApplySpec(run_id=run_id), title="re-apply, cancelled")
    wait_for_progress(ws, cancelled)
    assert launch.cancel(ws, cancelled).state == "cancelled"
    unchanged()

    # resuming the killed one finishes it: the same probabilities, swapped in at the end
    launch.resume(ws, killed, detach=False)
    assert execute_job(ws, killed)["docs"] == N_BIG
    assert staged_probs(ws, run_id) == []
    unchanged()
