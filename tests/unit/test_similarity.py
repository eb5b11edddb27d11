"""BETR rank scores: hand-checked cases per aggregation, then faiss path == numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from engine.betr import exact_search, similarity
from engine.betr.similarity import (
    AGGREGATIONS,
    brute_force_rank_scores,
    exact_cosines,
    order_by_score,
    rank_scores,
    score_docs,
)
from engine.errors import UsageError

# 2-D unit vectors whose cosines can be read off: examples e0 = x, e1 = y, e2 = -x.
EXAMPLES = np.array([[1, 0], [0, 1], [-1, 0]], dtype=np.float32)
BENCHMARK = np.array([0, 0, 1])
DOCS = np.array(
    [
        [0.8, 0.6],  # d0
        [0.6, 0.8],  # d1
        [0.8, 0.6],  # d2: a duplicate of d0
        [0.0, 1.0],  # d3
        [-0.6, 0.8],  # d4
        [-0.8, -0.6],  # d5
    ],
    dtype=np.float32,
)
# Ranks r_ij (rows: examples; ties in cosine go to the lower doc index):
#   e0: cos .8 .6 .8 0 -.6 -.8  -> d0 1, d2 2, d1 3, d3 4, d4 5, d5 6
#   e1: cos .6 .8 .6 1  .8 -.6  -> d3 1, d1 2, d4 3, d0 4, d2 5, d5 6
#   e2: cos -.8 -.6 -.8 0 .6 .8 -> d5 1, d4 2, d3 3, d1 4, d0 5, d2 6
RANKS = np.array([[1, 3, 2, 4, 5, 6], [4, 2, 5, 1, 3, 6], [5, 4, 6, 3, 2, 1]])
F08 = float(np.float32(0.8))


@pytest.fixture(params=["dense", "faiss"])
def path(request, monkeypatch):
    """Runs a test through the dense float64 path (small inputs) and through faiss."""
    if request.param == "faiss":
        monkeypatch.setattr(exact_search, "DENSE_MAX_PAIRS", 0)
    return request.param


@pytest.fixture()
def faiss_path(monkeypatch):
    monkeypatch.setattr(exact_search, "DENSE_MAX_PAIRS", 0)


def both(aggregate: str, n_required: int, k0: int):
    fast = score_docs(EXAMPLES, DOCS, BENCHMARK, n_required, aggregate=aggregate, k0=k0)
    ref = brute_force_rank_scores(EXAMPLES, DOCS, BENCHMARK, n_required, aggregate=aggregate, k0=k0)
    return fast, ref


def assert_same(a, b):
    for field in ("score", "best_rank", "best_cosine", "best_example", "best_benchmark"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype, field
        assert np.array_equal(x, y), (field, x, y)
    assert (a.k_final, a.n_within_k, a.aggregate) == (b.k_final, b.n_within_k, b.aggregate)
    assert np.array_equal(order_by_score(a), order_by_score(b))


def test_hand_ranks_match_the_reference_cosines():
    cos = exact_cosines(EXAMPLES, DOCS)
    for i in range(3):
        order = np.lexsort((np.arange(6), -cos[i]))
        assert np.array_equal(np.argsort(order) + 1, RANKS[i])


def test_max_rank_at_k2_every_doc_is_within_k(path):
    # n_required 6 with k0=2: the top-2 lists {d0,d2}, {d3,d1}, {d5,d4} cover all six docs.
    for rs in both("max-rank", n_required=6, k0=2):
        assert rs.k_final == 2 and rs.n_within_k == 6
        assert rs.best_rank.tolist() == [1, 2, 2, 1, 2, 1]
        assert rs.score.tolist() == [1.0, 0.5, 0.5, 1.0, 0.5, 1.0]
        # d4 has rank 3 under e1 (its best cosine) but rank 2 under e2: e2 pulled it in
        assert rs.best_example.tolist() == [0, 1, 0, 1, 2, 2]
        assert rs.best_benchmark.tolist() == [0, 0, 0, 0, 1, 1]
        assert rs.best_cosine.tolist() == pytest.approx([0.8, 0.8, 0.8, 1.0, 0.8, 0.8])
        # score ties broken by best cosine (d3: 1.0), then doc index
        assert order_by_score(rs).tolist() == [3, 0, 5, 1, 2, 4]
    assert_same(*both("max-rank", n_required=6, k0=2))


def test_max_rank_beyond_k_keeps_best_cosine_and_its_example(path):
    # n_required 3, k0=1: the top-1 lists d0, d3, d5 already hold 3 docs -> k stays 1.
    for rs in both("max-rank", n_required=3, k0=1):
        assert rs.k_final == 1 and rs.n_within_k == 3
        assert rs.best_rank.tolist() == [1, 0, 0, 1, 0, 1]
        assert rs.score.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
        # beyond k: the example of the best cosine (d1, d4: e1 at .8; d2: e0 at .8)
        assert rs.best_example.tolist() == [0, 1, 0, 1, 1, 2]
        assert rs.best_cosine.tolist() == [F08, F08, F08, 1.0, F08, F08]
        assert order_by_score(rs).tolist() == [3, 0, 5, 1, 2, 4]
    assert_same(*both("max-rank", n_required=3, k0=1))


def test_adaptive_k_doubles_until_enough_docs_are_within_k(path):
    # k=1 holds 3 docs < 4 required -> k=2 (6 docs)
    for rs in both("max-rank", n_required=4, k0=1):
        assert rs.k_final == 2 and rs.n_within_k == 6
    # more required than docs: k stops at n_docs
    for rs in both("max-rank", n_required=50, k0=4):
        assert rs.k_final == 6 and rs.n_within_k == 6


def test_mean_inv_rank_by_hand(path):
    # k0=4, n_required=1 -> k=4: ranks 5 and 6 contribute 0
    expected = [
        (1 + 1 / 4) / 3,
        (1 / 3 + 1 / 2 + 1 / 4) / 3,
        (1 / 2) / 3,
        (1 / 4 + 1 + 1 / 3) / 3,
        (1 / 3 + 1 / 2) / 3,
        1 / 3,
    ]
    fast, ref = both("mean-inv-rank", n_required=1, k0=4)
    for rs in (fast, ref):
        assert rs.k_final == 4
        assert rs.score.tolist() == pytest.approx(expected, rel=1e-15)
        assert rs.best_rank.tolist() == [1, 2, 2, 1, 2, 1]
        # 19/36 > 15/36 > 13/36 > 12/36 > 10/36 > 6/36
        assert order_by_score(rs).tolist() == [3, 0, 1, 5, 4, 2]
    assert_same(fast, ref)


def test_max_cosine_by_hand(path):
    fast, ref = both("max-cosine", n_required=1, k0=4)
    for rs in (fast, ref):
        assert rs.score.tolist() == [F08, F08, F08, 1.0, F08, F08]
        assert rs.best_example.tolist() == [0, 1, 0, 1, 1, 2]
        assert rs.best_benchmark.tolist() == [0, 0, 0, 0, 0, 1]
        assert rs.best_rank.tolist() == [0] * 6 and rs.k_final == 0
        assert order_by_score(rs).tolist() == [3, 0, 1, 2, 4, 5]
    assert_same(fast, ref)


def test_centroid_by_hand(path):
    # benchmark 0: mean(x, y) -> (1, 1)/sqrt(2); benchmark 1: -x
    r = 1.4 / np.sqrt(2)
    fast, ref = both("centroid", n_required=1, k0=4)
    for rs in (fast, ref):
        assert rs.score.tolist() == pytest.approx([r, r, r, 1 / np.sqrt(2), 0.6, 0.8], rel=1e-6)
        assert rs.best_benchmark.tolist() == [0, 0, 0, 0, 1, 1]
        assert rs.best_example.tolist() == [-1] * 6
        assert rs.best_cosine.tolist() == [F08, F08, F08, 1.0, F08, F08]
        assert order_by_score(rs).tolist() == [0, 1, 2, 5, 3, 4]
    assert_same(fast, ref)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_case(seed: int, n_docs=600, n_ex=40, dim=16):
    rng = np.random.default_rng(seed)
    docs = unit(rng.normal(size=(n_docs, dim)))
    docs[50:90] = docs[7]  # a block of duplicates larger than k0
    docs[200:205] = docs[300]
    examples = unit(rng.normal(size=(n_ex, dim)))
    examples[5] = docs[7]  # an example whose top list is all ties
    examples[6] = examples[5]  # and a duplicated example
    bench = rng.integers(0, 3, n_ex)
    return examples, docs, bench


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("aggregate", AGGREGATIONS)
@pytest.mark.parametrize(("k0", "n_required"), [(4, 60), (64, 60), (2, 400), (1, 600)])
def test_fast_paths_equal_brute_force(path, seed, aggregate, k0, n_required):
    examples, docs, bench = random_case(seed)
    fast = score_docs(examples, docs, bench, n_required, aggregate=aggregate, k0=k0)
    ref = brute_force_rank_scores(examples, docs, bench, n_required, aggregate=aggregate, k0=k0)
    assert_same(fast, ref)
    n_pos = min(n_required, len(docs))
    assert set(order_by_score(fast)[:n_pos]) == set(order_by_score(ref)[:n_pos])


def test_k_grows_past_k0_when_more_docs_are_required(path):
    examples, docs, bench = random_case(3)
    rs = rank_scores(examples, docs, bench, 400, k0=2)
    assert rs.k_final > 2 * 400 // len(examples) and rs.n_within_k >= 400
    assert_same(rs, brute_force_rank_scores(examples, docs, bench, 400, k0=2))


def test_best_cosine_is_the_max_over_all_examples_even_beyond_k(path):
    examples, docs, bench = random_case(4)
    rs = rank_scores(examples, docs, bench, 30, k0=2)
    assert (rs.best_rank == 0).sum() > 100  # many docs are in no top-k list
    cos = exact_cosines(examples, docs)
    assert np.array_equal(rs.best_cosine, cos.max(axis=0))
    beyond = rs.best_rank == 0
    assert np.array_equal(rs.best_example[beyond], np.argmax(cos, axis=0)[beyond])


def test_exact_even_when_the_search_scores_are_noisy(faiss_path, monkeypatch):
    """A GPU GEMM may compute in TF32: faiss scores off by ~1e-3. The result must not move."""
    examples, docs, bench = random_case(5)
    real_search = similarity.FlatSearcher.search
    rng = np.random.default_rng(0)

    def noisy_search(self, queries, k, **kw):
        scores, ids = real_search(self, queries, len(self.base), **kw)
        noisy = scores + rng.uniform(-5e-4, 5e-4, scores.shape).astype(np.float32)
        order = np.argsort(-noisy, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(noisy, order, 1), np.take_along_axis(ids, order, 1)

    monkeypatch.setattr(similarity.FlatSearcher, "search", noisy_search)
    for aggregate in ("max-rank", "mean-inv-rank", "max-cosine"):
        fast = score_docs(examples, docs, bench, 60, aggregate=aggregate, k0=4)
        assert_same(
            fast, brute_force_rank_scores(examples, docs, bench, 60, k0=4, aggregate=aggregate)
        )


def test_gpu_width_limit_falls_back_to_wider_cpu_lists(faiss_path, monkeypatch):
    """On a GPU, lists wider than faiss's k limit go to a CPU index (simulated here)."""
    monkeypatch.setattr(exact_search, "gpu_available", lambda: True)
    monkeypatch.setattr(exact_search, "GPU_MAX_K", 8)
    used = []
    real_index = similarity.FlatSearcher._index

    def index(self, k):
        used.append("gpu" if self.gpu and k <= exact_search.GPU_MAX_K else "cpu")
        gpu, self.gpu = self.gpu, False  # no GPU here: serve both from the CPU
        try:
            return real_index(self, k)
        finally:
            self.gpu = gpu

    monkeypatch.setattr(similarity.FlatSearcher, "_index", index)
    examples, docs, bench = random_case(6)
    fast = rank_scores(examples, docs, bench, 300, k0=2, use_gpu=True)
    assert {"gpu", "cpu"} <= set(used)
    assert_same(fast, brute_force_rank_scores(examples, docs, bench, 300, k0=2))


def test_progress_reports_every_phase(path):
    examples, docs, bench = random_case(7)
    seen = []
    rank_scores(examples, docs, bench, 60, progress=lambda phase, done, total: seen.append(phase))
    assert set(seen) == ({"dense"} if path == "dense" else {"forward", "reverse"})


def test_small_inputs_take_the_dense_path_and_large_ones_faiss(monkeypatch):
    examples, docs, bench = random_case(8)
    assert len(examples) * len(docs) <= similarity.DENSE_MAX_PAIRS
    built = []
    monkeypatch.setattr(similarity.FlatSearcher, "__init__", lambda *a, **k: built.append(1))
    rank_scores(examples, docs, bench, 60)
    assert built == []


def test_unknown_aggregation_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown aggregation 'sum'") as info:
        score_docs(EXAMPLES, DOCS, BENCHMARK, 3, aggregate="sum")
    assert "max-rank" in str(info.value)


def test_requesting_a_gpu_without_one_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(exact_search, "gpu_available", lambda: False)
    with pytest.raises(UsageError, match="GPU"):
        rank_scores(EXAMPLES, DOCS, BENCHMARK, 3, use_gpu=True)
