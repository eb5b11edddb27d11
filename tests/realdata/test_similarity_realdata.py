"""Acceptance: BETR rank scores on real web docs and GSM8K/ARC examples, embedded with the
bundled MiniLM, agree exactly with the numpy brute force.

Size: MiniLM embeds about 7 docs/s at 256 tokens on 2 CPU cores, so the default is 200 docs
and 50 + 50 examples (~35 s cold). BETR_REALDATA_DOCS=1500 BETR_REALDATA_EXAMPLES=100 runs the
full-size check (~3.5 min cold). Embeddings are kept in pytest's cache folder
(.pytest_cache), keyed by model id and texts, so reruns skip the model.
"""

from __future__ import annotations

import hashlib
import json
import os
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from engine.betr import exact_search
from engine.betr.similarity import (
    brute_force_rank_scores,
    order_by_score,
    rank_scores,
    required_positives,
    score_docs,
)

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

N_DOCS = int(os.environ.get("BETR_REALDATA_DOCS", "200"))
N_PER_BENCHMARK = int(os.environ.get("BETR_REALDATA_EXAMPLES", "50"))


def read_jsonl(path: Path, n: int) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in islice(fh, n)]


def gsm8k_text(row: dict) -> str:
    return "\n".join([row["question"], row["answer"]])


def arc_text(row: dict) -> str:
    return "\n".join([row["query"], *row["choices"], row["choices"][row["gold"]]])


@pytest.fixture(scope="module")
def vectors(shared_data, request):
    """(example vecs, example benchmark codes, doc vecs), embedded once per module."""
    from engine.embed import (
        Embedder,
        MemoryEmbeddingCache,
        embed_cached,
        model_fingerprint,
        resolve_embedder_path,
    )

    docs = [r["text"] for r in read_jsonl(shared_data / "web_docs/combined_docs.jsonl", N_DOCS)]
    gsm8k = read_jsonl(shared_data / "benchmarks/gsm8k/test.jsonl", N_PER_BENCHMARK)
    arc = read_jsonl(shared_data / "benchmarks/arc/arc_challenge_test.jsonl", N_PER_BENCHMARK)
    examples = [gsm8k_text(r) for r in gsm8k] + [arc_text(r) for r in arc]
    benchmark = np.array([0] * len(gsm8k) + [1] * len(arc))

    name, path = resolve_embedder_path(None)
    digest = hashlib.sha256(f"{name}@{model_fingerprint(path)}".encode())
    for text in [*examples, "\0docs\0", *docs]:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    stored = None
    if getattr(request.config, "cache", None) is not None:
        folder = Path(request.config.cache.mkdir("betr-realdata-embeddings"))
        stored = folder / f"{digest.hexdigest()[:24]}.npz"
        if stored.is_file():
            with np.load(stored) as npz:
                return npz["examples"], benchmark, npz["docs"]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        embedder = Embedder.load(None, device="cpu")
    assert embedder.max_seq_length == 256
    cache = MemoryEmbeddingCache()
    example_vecs = embed_cached(embedder, examples, cache)
    doc_vecs = embed_cached(embedder, docs, cache)
    if stored is not None:
        np.savez(stored, examples=example_vecs, docs=doc_vecs)
    return example_vecs, benchmark, doc_vecs


@pytest.fixture(params=["dense", "faiss"])
def path(request, monkeypatch):
    """Both exact paths: one float64 GEMM (what inputs this small get) and faiss + re-check
    (what a 100k-doc sample gets)."""
    if request.param == "faiss":
        monkeypatch.setattr(exact_search, "DENSE_MAX_PAIRS", 0)
    return request.param


def assert_exact(fast, ref):
    for field in ("score", "best_rank", "best_cosine", "best_example", "best_benchmark"):
        assert np.array_equal(getattr(fast, field), getattr(ref, field)), field
    assert (fast.k_final, fast.n_within_k) == (ref.k_final, ref.n_within_k)
    assert np.array_equal(order_by_score(fast), order_by_score(ref))


def test_positive_set_and_best_ranks_equal_brute_force(vectors, path):
    examples, benchmark, docs = vectors
    assert examples.shape == (2 * N_PER_BENCHMARK, 384) and docs.shape == (N_DOCS, 384)
    n_pos = required_positives(N_DOCS, 0.10)
    fast = rank_scores(examples, docs, benchmark, n_pos)
    ref = brute_force_rank_scores(examples, docs, benchmark, n_pos)
    assert fast.n_within_k >= n_pos
    assert set(order_by_score(fast)[:n_pos]) == set(order_by_score(ref)[:n_pos])
    assert_exact(fast, ref)
    # both benchmarks pull in some of the top docs
    top = order_by_score(fast)[:n_pos]
    assert set(fast.best_benchmark[top]) == {0, 1}


def test_exact_when_k_must_grow(vectors, path):
    examples, benchmark, docs = vectors
    n_required = 3 * len(examples) // 2  # more than the top-1 lists can hold: k grows past 1
    fast = rank_scores(examples, docs, benchmark, n_required, k0=1)
    ref = brute_force_rank_scores(examples, docs, benchmark, n_required, k0=1)
    assert fast.k_final > 1 and fast.n_within_k >= n_required
    assert_exact(fast, ref)


@pytest.mark.parametrize("aggregate", ["mean-inv-rank", "max-cosine", "centroid"])
def test_other_aggregations_equal_their_reference(vectors, path, aggregate):
    examples, benchmark, docs = vectors
    n_pos = required_positives(N_DOCS, 0.10)
    fast = score_docs(examples, docs, benchmark, n_pos, aggregate=aggregate)
    ref = brute_force_rank_scores(examples, docs, benchmark, n_pos, aggregate=aggregate)
    assert_exact(fast, ref)
