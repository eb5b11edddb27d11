"""BETR rank scores (METHODS 1.3): how strongly each sampled doc is pulled in by the examples.

For example i and doc j, r_ij is the position of j in i's list of all docs ordered by cosine,
best first (rank 1 = most similar). The default aggregation scores a doc by its best rank,
`s_j = max_i 1/r_ij`, computed exactly and at scale with faiss top-k searches.

Definitions that make the result exact and reproducible:

- **Ties in cosine** within an example's list are broken by the lower doc index (ordinal
  ranking): ranks are 1..n_docs with no gaps and no shared ranks, so a group of duplicated
  docs gets consecutive ranks and "the top-k list" always holds exactly k docs. (Shared ranks
  would let a tie group straddling position k put more than k docs "within k", and the union
  rule below would no longer be exact.)
- **Ties in best rank** between docs are broken by the best cosine (max over *all* examples,
  from the reverse search), then by the lower doc index: that is `order_by_score`.
- **The example that gave the best rank** (several can, at equal rank): the one with the
  highest cosine to the doc, then the lower example index. For a doc beyond k: the example of
  its best cosine (ties: lower example index).
- **Adaptive k**: the docs with best rank <= k are exactly the union of the examples' top-k
  lists. k runs through min(k0 * 2**m, n_docs), m = 0, 1, ...; the final k is the first whose
  union holds at least `n_required` docs (or k = n_docs). Levels that cannot reach n_required
  (n_examples * k < n_required) are skipped without searching; the result is the same.

The search itself (dense or faiss, both exact) is `engine.betr.exact_search`.

The aggregations are one registry, AGGREGATIONS (name -> Aggregation: the function that scores,
its numpy reference beside it, a one-line summary); `score_docs` and `brute_force_rank_scores`
dispatch through it, and engine.api.runs re-exports it for the faces. Every aggregation takes
the same arguments, `(example_vecs, doc_vecs, example_benchmark, n_required, *, k0, use_gpu,
progress)` (its reference: `(..., n_required, *, k0)`); one that computes no ranks ignores
n_required and k0. A new aggregation is one function (and its reference), one entry, one test.

Every function takes L2-normalised vectors: `example_vecs (n_examples, dim) float32`,
`doc_vecs (n_docs, dim) float32`, and `example_benchmark (n_examples,) int` (a benchmark code
per example, passed through to `best_benchmark`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.betr.exact_search import (
    DENSE_MAX_PAIRS,
    GPU_MAX_K,
    PAIR_CHUNK_VALUES,
    FlatSearcher,
    Progress,
    best_cosines_any,
    candidate_cosines,
    exact_cosines,
    gpu_available,
    search_top_k,
    sort_keys,
    want_gpu,
)
from engine.errors import UsageError

__all__ = [
    "AGGREGATIONS",
    "DENSE_MAX_PAIRS",
    "GPU_MAX_K",
    "Aggregation",
    "FlatSearcher",
    "RankScores",
    "aggregation",
    "benchmark_centroids",
    "brute_force_rank_scores",
    "candidate_cosines",
    "centroid_scores",
    "exact_cosines",
    "gpu_available",
    "max_cosine_scores",
    "mean_inv_rank_scores",
    "order_by_score",
    "rank_scores",
    "required_positives",
    "score_docs",
]

DEFAULT_K0 = 64


@dataclass(frozen=True)
class RankScores:
    """Per-doc scores of one aggregation; every array has shape (n_docs,).

    score: float64, higher = pulled in more strongly. max-rank: 1/best_rank (0.0 beyond k);
        mean-inv-rank: mean over examples of 1/r_ij (r_ij > k contributes 0);
        max-cosine: best_cosine; centroid: max over benchmarks of cos(centroid, doc).
    best_rank: int64, the doc's best rank over all examples, 0 = beyond k (and always 0 for
        max-cosine and centroid, which compute no ranks).
    best_cosine: float32, the max over all examples of cos(example, doc) (every aggregation).
    best_example: int64, the example that gave the best rank; beyond k (and for max-cosine) the
        example of the best cosine; -1 for centroid (a centroid is not an example).
    best_benchmark: int64, example_benchmark[best_example]; for centroid the benchmark code of
        the best centroid.
    k_final: the final k of the adaptive search (0 for max-cosine and centroid).
    n_within_k: docs with best rank <= k_final (0 for max-cosine and centroid).
    """

    score: np.ndarray
    best_rank: np.ndarray
    best_cosine: np.ndarray
    best_example: np.ndarray
    best_benchmark: np.ndarray
    k_final: int
    n_within_k: int
    aggregate: str = "max-rank"

    @property
    def n_docs(self) -> int:
        return len(self.score)


def order_by_score(rs: RankScores) -> np.ndarray:
    """(n_docs,) int64 doc indices, best first: score desc, best_cosine desc, doc index asc."""
    n = len(rs.score)
    return np.lexsort((np.arange(n), -rs.best_cosine.astype(np.float64), -rs.score)).astype(
        np.int64
    )


def _best_ranks(ids: np.ndarray, cos: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """From the top-k lists (n_ex, k): per doc the best rank (0 beyond k) and the example
    that gave it (-1 beyond k; among equal ranks the higher cosine, then lower example)."""
    n_ex, k = ids.shape
    ex = np.repeat(np.arange(n_ex, dtype=np.int64), k)
    rank = np.tile(np.arange(1, k + 1, dtype=np.int64), n_ex)
    doc = ids.ravel()
    # one key per entry ordering (rank asc, cosine desc); entries are example-major and
    # lexsort is stable, so equal keys keep the lower example first
    by_cos = sort_keys(cos.ravel(), np.zeros(len(doc), dtype=np.uint64)) >> np.uint64(32)
    order = np.lexsort(((rank.astype(np.uint64) << np.uint64(32)) | by_cos, doc))
    doc_sorted = doc[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = doc_sorted[1:] != doc_sorted[:-1]
    pick = order[first]
    best_rank = np.zeros(n_docs, dtype=np.int64)
    best_example = np.full(n_docs, -1, dtype=np.int64)
    best_rank[doc[pick]] = rank[pick]
    best_example[doc[pick]] = ex[pick]
    return best_rank, best_example


# ----------------------------------------------------------------------------- inputs


def _check_inputs(
    example_vecs: np.ndarray, doc_vecs: np.ndarray, example_benchmark: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ex = np.ascontiguousarray(example_vecs, dtype=np.float32)
    docs = np.ascontiguousarray(doc_vecs, dtype=np.float32)
    bench = np.asarray(example_benchmark, dtype=np.int64)
    if ex.ndim != 2 or docs.ndim != 2 or ex.shape[1] != docs.shape[1]:
        raise ValueError(
            f"example_vecs {ex.shape} and doc_vecs {docs.shape} must be (n, dim) with equal dim"
        )
    if bench.shape != (len(ex),):
        raise ValueError(f"example_benchmark {bench.shape} must be ({len(ex)},)")
    if len(ex) == 0:
        raise UsageError("no benchmark examples to score against", fix="add a target benchmark")
    if len(docs) == 0:
        raise UsageError("no docs to score", fix="sample a non-empty corpus")
    return ex, docs, bench


# ----------------------------------------------------------------------------- aggregations


def _ranked(
    example_vecs, doc_vecs, example_benchmark, n_required, k0, use_gpu, progress, mean: bool
) -> RankScores:
    ex, docs, bench = _check_inputs(example_vecs, doc_vecs, example_benchmark)
    if k0 < 1:
        raise UsageError(f"k0 must be >= 1 (got {k0})", fix="pass a positive k0")
    gpu = want_gpu(use_gpu)
    n_docs = len(docs)
    k, ids, cos, best_cos, cos_example = search_top_k(ex, docs, n_required, k0, gpu, progress)
    best_rank, best_example = _best_ranks(ids, cos, n_docs)
    within = best_rank > 0
    best_example = np.where(within, best_example, cos_example)
    if mean:
        # bincount adds each doc's terms in example order (ids is example-major), as the
        # reference does, so the float64 sums agree bit for bit.
        inv_rank = np.tile(1.0 / np.arange(1, k + 1, dtype=np.float64), len(ex))
        score = np.bincount(ids.ravel(), weights=inv_rank, minlength=n_docs)
        score = score / len(ex)
    else:
        score = np.zeros(n_docs, dtype=np.float64)
        score[within] = 1.0 / best_rank[within]
    return RankScores(
        score=score,
        best_rank=best_rank,
        best_cosine=best_cos,
        best_example=best_example,
        best_benchmark=bench[best_example],
        k_final=int(k),
        n_within_k=int(within.sum()),
        aggregate="mean-inv-rank" if mean else "max-rank",
    )


def rank_scores(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int,
    *,
    k0: int = DEFAULT_K0,
    use_gpu: bool | None = None,
    progress: Progress | None = None,
) -> RankScores:
    """The paper's max-rank aggregation, s_j = max_i 1/r_ij (0.0 beyond the final k).

    n_required: how many docs must be ranked within k (the number that will be labelled
    positive); k doubles from k0 until that many docs are within k. use_gpu=None: a faiss GPU
    index when faiss sees a GPU.
    """
    return _ranked(
        example_vecs, doc_vecs, example_benchmark, n_required, k0, use_gpu, progress, False
    )


def mean_inv_rank_scores(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int,
    *,
    k0: int = DEFAULT_K0,
    use_gpu: bool | None = None,
    progress: Progress | None = None,
) -> RankScores:
    """Mean over examples of 1/r_ij, terms with r_ij > k_final counting 0 (k as max-rank)."""
    return _ranked(
        example_vecs, doc_vecs, example_benchmark, n_required, k0, use_gpu, progress, True
    )


def max_cosine_scores(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int = 0,
    *,
    k0: int = DEFAULT_K0,
    use_gpu: bool | None = None,
    progress: Progress | None = None,
) -> RankScores:
    """Score = the best cosine over all examples (no ranks: best_rank 0, k_final 0; n_required
    and k0 do not apply)."""
    ex, docs, bench = _check_inputs(example_vecs, doc_vecs, example_benchmark)
    gpu = want_gpu(use_gpu)
    best_cos, best_example = best_cosines_any(ex, docs, gpu, progress)
    return RankScores(
        score=best_cos.astype(np.float64),
        best_rank=np.zeros(len(docs), dtype=np.int64),
        best_cosine=best_cos,
        best_example=best_example,
        best_benchmark=bench[best_example],
        k_final=0,
        n_within_k=0,
        aggregate="max-cosine",
    )


def benchmark_centroids(
    example_vecs: np.ndarray, example_benchmark: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(codes (n_b,) int64 ascending, centroids (n_b, dim) float32 L2-normalised).

    Means are taken in float64; a benchmark whose mean is the zero vector keeps it (cos 0).
    """
    ex = np.asarray(example_vecs, dtype=np.float64)
    codes, inverse = np.unique(np.asarray(example_benchmark, dtype=np.int64), return_inverse=True)
    sums = np.zeros((len(codes), ex.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, ex)
    means = sums / np.bincount(inverse, minlength=len(codes))[:, None]
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return codes, (means / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def centroid_scores(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int = 0,
    *,
    k0: int = DEFAULT_K0,
    use_gpu: bool | None = None,
    progress: Progress | None = None,
) -> RankScores:
    """Score = max over benchmarks of cos(benchmark centroid, doc); best_benchmark = argmax
    (ties: lower code); best_example -1; best_cosine still the max over all examples
    (n_required and k0 do not apply)."""
    ex, docs, _ = _check_inputs(example_vecs, doc_vecs, example_benchmark)
    gpu = want_gpu(use_gpu)
    codes, centroids = benchmark_centroids(ex, example_benchmark)
    cos = _centroid_cosines(centroids, docs)
    best_cos, _ = best_cosines_any(ex, docs, gpu, progress)
    return RankScores(
        score=cos.max(axis=0).astype(np.float64),
        best_rank=np.zeros(len(docs), dtype=np.int64),
        best_cosine=best_cos,
        best_example=np.full(len(docs), -1, dtype=np.int64),
        best_benchmark=codes[np.argmax(cos, axis=0)],
        k_final=0,
        n_within_k=0,
        aggregate="centroid",
    )


def _centroid_cosines(centroids: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """(n_b, n_docs) float32, computed in doc chunks to bound the float64 temporaries."""
    out = np.empty((len(centroids), len(docs)), dtype=np.float32)
    step = max(1, PAIR_CHUNK_VALUES // max(1, docs.shape[1]))
    for start in range(0, len(docs), step):
        out[:, start : start + step] = exact_cosines(centroids, docs[start : start + step])
    return out


def score_docs(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int,
    *,
    aggregate: str = "max-rank",
    k0: int = DEFAULT_K0,
    use_gpu: bool | None = None,
    progress: Progress | None = None,
) -> RankScores:
    """Scores every doc with the named aggregation (one of AGGREGATIONS)."""
    return aggregation(aggregate).score(
        example_vecs,
        doc_vecs,
        example_benchmark,
        n_required,
        k0=k0,
        use_gpu=use_gpu,
        progress=progress,
    )


# ----------------------------------------------------------------------------- reference


def brute_force_rank_scores(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int,
    *,
    k0: int = DEFAULT_K0,
    aggregate: str = "max-rank",
) -> RankScores:
    """The numpy reference of the named aggregation: the full (n_ex, n_docs) cosine matrix,
    every example's full ordinal ranking, then the aggregation. O(n_ex * n_docs) memory: tests
    and bench only."""
    return aggregation(aggregate).reference(
        example_vecs, doc_vecs, example_benchmark, n_required, k0=k0
    )


def reference_max_cosine(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int = 0,
    *,
    k0: int = DEFAULT_K0,
) -> RankScores:
    """max-cosine from the full cosine matrix."""
    ex, docs, bench = _check_inputs(example_vecs, doc_vecs, example_benchmark)
    cos = exact_cosines(ex, docs)
    best_cos = cos.max(axis=0)
    cos_example = np.argmax(cos, axis=0).astype(np.int64)  # first max = lower example index
    zeros = np.zeros(len(docs), dtype=np.int64)
    return RankScores(
        best_cos.astype(np.float64),
        zeros,
        best_cos,
        cos_example,
        bench[cos_example],
        0,
        0,
        "max-cosine",
    )


def reference_centroid(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int = 0,
    *,
    k0: int = DEFAULT_K0,
) -> RankScores:
    """centroid from the full cosine matrices (examples, and centroids, against every doc)."""
    ex, docs, bench = _check_inputs(example_vecs, doc_vecs, example_benchmark)
    best_cos = exact_cosines(ex, docs).max(axis=0)
    zeros = np.zeros(len(docs), dtype=np.int64)
    codes, centroids = benchmark_centroids(ex, bench)
    ccos = exact_cosines(centroids, docs)
    return RankScores(
        ccos.max(axis=0).astype(np.float64),
        zeros,
        best_cos,
        np.full(len(docs), -1, dtype=np.int64),
        codes[np.argmax(ccos, axis=0)],
        0,
        0,
        "centroid",
    )


def reference_max_rank(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int,
    *,
    k0: int = DEFAULT_K0,
) -> RankScores:
    """max-rank from every example's full ordinal ranking."""
    return _reference_ranked(example_vecs, doc_vecs, example_benchmark, n_required, k0, False)


def reference_mean_inv_rank(
    example_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    example_benchmark: np.ndarray,
    n_required: int,
    *,
    k0: int = DEFAULT_K0,
) -> RankScores:
    """mean-inv-rank from every example's full ordinal ranking."""
    return _reference_ranked(example_vecs, doc_vecs, example_benchmark, n_required, k0, True)


def _reference_ranked(
    example_vecs, doc_vecs, example_benchmark, n_required: int, k0: int, mean: bool
) -> RankScores:
    ex, docs, bench = _check_inputs(example_vecs, doc_vecs, example_benchmark)
    n_ex, n_docs = len(ex), len(docs)
    cos = exact_cosines(ex, docs)
    best_cos = cos.max(axis=0)
    cos_example = np.argmax(cos, axis=0).astype(np.int64)  # first max = lower example index
    doc_index = np.arange(n_docs)
    ranks = np.empty((n_ex, n_docs), dtype=np.int64)
    for i in range(n_ex):
        ranks[i, np.lexsort((doc_index, -cos[i]))] = np.arange(1, n_docs + 1)
    min_rank = ranks.min(axis=0)
    k = min(k0, n_docs)
    while k < n_docs and int((min_rank <= k).sum()) < n_required:
        k = min(2 * k, n_docs)
    within = min_rank <= k
    at_best = np.where(ranks == min_rank[None, :], cos, -np.inf)
    best_example = np.where(within, np.argmax(at_best, axis=0), cos_example).astype(np.int64)
    best_rank = np.where(within, min_rank, 0).astype(np.int64)
    if mean:
        score = np.zeros(n_docs, dtype=np.float64)
        for i in range(n_ex):  # sequential in example order, like the faiss path
            score += np.where(ranks[i] <= k, 1.0 / ranks[i], 0.0)
        score = score / n_ex
    else:
        score = np.where(within, 1.0 / np.maximum(min_rank, 1), 0.0)
    return RankScores(
        score,
        best_rank,
        best_cos,
        best_example,
        bench[best_example],
        int(k),
        int(within.sum()),
        "mean-inv-rank" if mean else "max-rank",
    )


# ----------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Aggregation:
    """One way to score a doc from its cosines to the benchmark examples.

    score(example_vecs, doc_vecs, example_benchmark, n_required, *, k0, use_gpu, progress) ->
    RankScores; reference(example_vecs, doc_vecs, example_benchmark, n_required, *, k0) -> the
    same RankScores from a plain numpy computation (tests and bench check one against the
    other)."""

    summary: str
    score: Callable[..., RankScores]
    reference: Callable[..., RankScores]


AGGREGATIONS: dict[str, Aggregation] = {
    "max-rank": Aggregation(
        "the paper's: 1 / the doc's best rank in any example's list",
        rank_scores,
        reference_max_rank,
    ),
    "mean-inv-rank": Aggregation(
        "the mean over examples of 1 / rank (0 beyond the final k)",
        mean_inv_rank_scores,
        reference_mean_inv_rank,
    ),
    "max-cosine": Aggregation(
        "the best cosine to any example", max_cosine_scores, reference_max_cosine
    ),
    "centroid": Aggregation(
        "the best cosine to a benchmark's centroid", centroid_scores, reference_centroid
    ),
}


def aggregation(name: str) -> Aggregation:
    """The registered aggregation `name` (a UsageError naming the known ones otherwise)."""
    try:
        return AGGREGATIONS[name]
    except KeyError:
        raise UsageError(
            f"unknown aggregation '{name}'", fix=f"use one of: {', '.join(AGGREGATIONS)}"
        ) from None


def required_positives(n_docs: int, positive_frac: float) -> int:
    """ceil(positive_frac * n_docs), robust to float noise (0.1 * 30 -> 3, not 4)."""
    return min(n_docs, math.ceil(positive_frac * n_docs - 1e-9))
