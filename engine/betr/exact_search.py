"""Exact top-k search of docs by cosine to examples, for the BETR rank scores.

Faiss or a dense GEMM proposes; float64 recomputation decides, so results are exact:

- **The cosine** of a pair is the inner product of the two float32 vectors accumulated in
  float64 and rounded once to float32 (`exact_cosines`, `candidate_cosines`). Faiss (float32
  BLAS, CPU or GPU) only proposes candidates: every value that decides an order is recomputed
  this way, so the faiss path and the numpy reference (`brute_force_rank_scores`) agree
  exactly on CPU and GPU, whatever order a float32 BLAS accumulates in. (The two float64 sums
  may differ in their last bit; that changes the float32 value only when the sum lies within
  ~1e-16 of a float32 rounding boundary: about one pair in 10**9.)
Two exact paths, same results:

- **dense** (n_examples * n_docs <= DENSE_MAX_PAIRS, 16.8M pairs): one float64 GEMM gives
  every cosine; top-k lists by partition, best cosines by column max. Faster than faiss there.
- **faiss**: forward top-k searches (IndexFlatIP over the docs, GPU when present) and a
  reverse top-2 search (each doc against the examples; a numpy GEMM on the CPU). With
  |search score - cosine| <= e for every pair (a float32 rounding-error bound, raised when the
  observed discrepancy is larger, e.g. TF32 on a GPU), the top-k by cosine all have search
  score >= t - 2e, t being the k-th search score. So the candidates are the returned docs with
  score >= t - 2e, valid when the last returned score is below that (else that query is
  searched again with a wider list); their cosines are recomputed and sorted by the tie rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import UsageError

GPU_MAX_K = 2048  # faiss GPU k-selection limit; wider lists are searched on the CPU
QUERY_CHUNK = 16384  # faiss queries per search call (bounds the result arrays)
PAIR_CHUNK_VALUES = 1 << 22  # float64 values per chunk of the pair-cosine recompute
GPU_ERROR_FLOOR = 2e-3  # covers TF32/fp16 GEMMs a GPU BLAS may use for float32 inputs
DENSE_MAX_PAIRS = 1 << 24  # n_examples * n_docs up to this: one exact dense pass, no faiss

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total) with phase "dense", "forward" or "reverse", called between
chunks (of examples for dense, of faiss queries otherwise); it may raise to cancel."""


# ----------------------------------------------------------------------------- cosines


def exact_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n_a, n_b) float32: the cosine of every pair, accumulated in float64, rounded once.

    (+ 0.0 turns a -0.0 into 0.0, so equal cosines are equal bit for bit.)"""
    return (a.astype(np.float64) @ b.astype(np.float64).T + 0.0).astype(np.float32)


def sort_keys(cos: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """uint64 keys whose ascending order is (-cos, id): the tie rule as one number.

    cos: float32 without NaN or -0.0; ids: non-negative ints below 2**32."""
    bits = cos.view(np.uint32).astype(np.uint64)
    # monotone float32 -> uint32: negatives get every bit flipped, positives the sign bit set
    mono = np.where(bits >= 0x80000000, bits ^ 0xFFFFFFFF, bits | 0x80000000)
    return ((np.uint64(0xFFFFFFFF) - mono) << np.uint64(32)) | ids.astype(np.uint64)


def candidate_cosines(queries: np.ndarray, base: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """(n_q, m) float32: cos(queries[r], base[cand[r, c]]) as `exact_cosines` computes it."""
    out = np.empty(cand.shape, dtype=np.float32)
    step = max(1, PAIR_CHUNK_VALUES // max(1, cand.shape[1] * base.shape[1]))
    for start in range(0, len(cand), step):
        stop = start + step
        part = cand[start:stop]
        gathered = np.take(base, part.ravel(), axis=0).reshape(*part.shape, base.shape[1])
        dots = np.einsum("rmd,rd->rm", gathered, queries[start:stop], dtype=np.float64)
        out[start:stop] = dots + 0.0
    return out


def _error_bound(dim: int, norm_product: float, gpu: bool) -> float:
    """A bound on |faiss float32 score - cosine| for vectors with |x|*|y| <= norm_product.

    Recursive float32 summation of d products errs by at most ~d*u*sum|x_k*y_k| <=
    d*u*|x|*|y| (u = 2**-24); blocked and FMA kernels err less. Doubled for safety.
    """
    bound = 2.0 * (dim + 3) * 2.0**-24 * norm_product
    if gpu:
        bound = max(bound, GPU_ERROR_FLOOR * norm_product)
    return bound


# ----------------------------------------------------------------------------- faiss


def gpu_available() -> bool:
    """True when the installed faiss was built with GPU support and sees a GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


_GPU_RESOURCES = None


def _gpu_resources():
    global _GPU_RESOURCES
    if _GPU_RESOURCES is None:
        import faiss

        _GPU_RESOURCES = faiss.StandardGpuResources()
    return _GPU_RESOURCES


class FlatSearcher:
    """Exact inner-product top-k over `base` rows: a faiss IndexFlatIP, on the GPU when asked.

    GPU indexes select at most GPU_MAX_K; a wider search runs on a CPU index built on demand.
    On the CPU a top-1 or top-2 search (the reverse search) is a numpy float32 GEMM per query
    chunk plus two argmax passes: as fast as faiss's k=1 path, where faiss's k=2 heap was ~20%
    slower (100k docs x 2000 examples). Its scores obey the same float32 error bound.
    """

    def __init__(self, base: np.ndarray, *, gpu: bool):
        self.base = base
        self.gpu = gpu
        self._cpu = None
        self._gpu = None

    def _index(self, k: int):
        import faiss

        if self.gpu and k <= GPU_MAX_K:
            if self._gpu is None:
                cpu = faiss.IndexFlatIP(self.base.shape[1])
                cpu.add(self.base)
                self._gpu = faiss.index_cpu_to_gpu(_gpu_resources(), 0, cpu)
            return self._gpu
        if self._cpu is None:
            self._cpu = faiss.IndexFlatIP(self.base.shape[1])
            self._cpu.add(self.base)
        return self._cpu

    def fit_width(self, width: int, k: int) -> int:
        """`width` lowered to GPU_MAX_K on a GPU when k still fits under it (the GPU index
        then serves the search; any list of k + 1 or more can prove a top-k)."""
        if self.gpu and k < GPU_MAX_K < width:
            return GPU_MAX_K
        return width

    def search(
        self, queries: np.ndarray, k: int, *, phase: str = "", progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores (n_q, k) float32 desc, ids (n_q, k) int64); k <= len(base)."""
        if not self.gpu and k <= 2:
            return self._search_top2(queries, k, phase, progress)
        import faiss

        index = self._index(k)
        n = len(queries)
        scores = np.empty((n, k), dtype=np.float32)
        ids = np.empty((n, k), dtype=np.int64)
        # faiss CPU keeps results with a reservoir from k = 100 on; for the lists searched
        # here (queries << base) its heap was ~2x faster on this workload, so ask for it.
        knob = getattr(faiss.cvar, "distance_compute_min_k_reservoir", None)
        if knob is not None:
            faiss.cvar.distance_compute_min_k_reservoir = max(knob, k + 1)
        try:
            for start in range(0, n, QUERY_CHUNK):
                stop = min(n, start + QUERY_CHUNK)
                scores[start:stop], ids[start:stop] = index.search(queries[start:stop], k)
                if progress is not None:
                    progress(phase, stop, n)
        finally:
            if knob is not None:
                faiss.cvar.distance_compute_min_k_reservoir = knob
        return scores, ids

    def _search_top2(
        self, queries: np.ndarray, k: int, phase: str, progress: Progress | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(queries)
        scores = np.empty((n, k), dtype=np.float32)
        ids = np.empty((n, k), dtype=np.int64)
        # at most 4096 queries (cache-friendly argmax passes) and 64 MB of scores per chunk
        step = max(1, min(4096, (1 << 24) // len(self.base)))
        for start in range(0, n, step):
            stop = min(n, start + step)
            sims = queries[start:stop] @ self.base.T
            rows = np.arange(stop - start)
            for col in range(k):
                best = np.argmax(sims, axis=1)
                ids[start:stop, col] = best
                scores[start:stop, col] = sims[rows, best]
                sims[rows, best] = -np.inf
            if progress is not None:
                progress(phase, stop, n)
        return scores, ids


def want_gpu(use_gpu: bool | None) -> bool:
    if use_gpu is None:
        return gpu_available()
    if use_gpu and not gpu_available():
        raise UsageError(
            "a GPU faiss search was requested but faiss sees no GPU",
            fix="install faiss-gpu-cu12 (pip install 'betr-tui[gpu]') on a CUDA machine, "
            "or leave the device on auto",
        )
    return use_gpu


# ----------------------------------------------------------------------------- candidates


@dataclass
class _Lists:
    """Faiss results per query row, padded: row i is valid in columns < width[i]."""

    scores: np.ndarray  # (n_q, w) float32, desc; -inf padding
    ids: np.ndarray  # (n_q, w) int64; -1 padding
    width: np.ndarray  # (n_q,) int64


def _search_rows(
    searcher: FlatSearcher,
    queries: np.ndarray,
    lists: _Lists | None,
    rows: np.ndarray | None,
    width: int,
    phase: str,
    progress: Progress | None,
) -> _Lists:
    """Searches `rows` of `queries` (None: all) with lists of `width`, into `lists`."""
    subset = queries if rows is None else queries[rows]
    scores, ids = searcher.search(subset, width, phase=phase, progress=progress)
    if lists is None:
        return _Lists(scores, ids, np.full(len(queries), width, dtype=np.int64))
    if width > lists.scores.shape[1]:
        pad = width - lists.scores.shape[1]
        lists.scores = np.pad(lists.scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        lists.ids = np.pad(lists.ids, ((0, 0), (0, pad)), constant_values=-1)
    lists.scores[rows, :width] = scores
    lists.ids[rows, :width] = ids
    lists.scores[rows, width:] = -np.inf
    lists.ids[rows, width:] = -1
    lists.width[rows] = width
    return lists


def _exact_top(
    searcher: FlatSearcher,
    queries: np.ndarray,
    base: np.ndarray,
    lists: _Lists,
    k: int,
    error: float,
    phase: str,
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray, _Lists, float]:
    """The exact top-k of every query by (-cosine, base index): (ids, cosines) (n_q, k).

    Rows whose faiss list is too short to prove the top-k are searched again, wider.
    Returns the (possibly widened) lists and the error bound actually used.
    """
    n_base = len(base)
    n_q = len(queries)
    while True:
        complete = lists.width >= n_base
        proven = complete | (lists.width > k)  # first: every list must reach past k
        if proven.all():
            # float64 thresholds: t - 2e must not round up to float32
            threshold = lists.scores[:, k - 1].astype(np.float64) - 2 * error
            last = lists.scores[np.arange(n_q), lists.width - 1]
            proven = complete | (last < threshold)
        if not proven.all():
            rows = np.flatnonzero(~proven)
            current = int(lists.width[rows].max())
            wider = int(min(n_base, 2 * max(current, k)))
            if searcher.fit_width(wider, k) > current:  # stay on the GPU while it widens
                wider = searcher.fit_width(wider, k)
            lists = _search_rows(searcher, queries, lists, rows, wider, phase, progress)
            continue
        # faiss lists are sorted, so each row's candidates are a prefix of length n_cand
        n_cand = (lists.scores >= threshold[:, None]).sum(axis=1)
        top_ids = np.empty((n_q, k), dtype=np.int64)
        top_cos = np.empty((n_q, k), dtype=np.float32)
        observed = 0.0
        by_count = np.argsort(n_cand, kind="stable")  # similar widths share a chunk
        for rows in _chunks_by_count(by_count, n_cand[by_count], base.shape[1]):
            m = int(n_cand[rows[-1]])
            valid = np.arange(m)[None, :] < n_cand[rows, None]
            cand = np.where(valid, lists.ids[rows, :m], 0)  # 0: any real row, masked below
            cos = candidate_cosines(queries[rows], base, cand)
            gap = np.abs(cos.astype(np.float64) - lists.scores[rows, :m])
            observed = max(observed, float(gap[valid].max()))
            keys = np.where(valid, sort_keys(cos, cand), np.iinfo(np.uint64).max)
            order = np.argsort(keys, axis=1)[:, :k]
            top_ids[rows] = np.take_along_axis(cand, order, axis=1)
            top_cos[rows] = np.take_along_axis(cos, order, axis=1)
        if observed > error:
            # The BLAS errs more than the float32 bound (TF32 or fp16 math): widen and redo.
            error = 2.0 * observed
            continue
        return top_ids, top_cos, lists, error


def _chunks_by_count(rows: np.ndarray, counts: np.ndarray, dim: int) -> list[np.ndarray]:
    """Splits `rows` (sorted by ascending `counts`) so each chunk's rows * max count * dim
    stays within PAIR_CHUNK_VALUES (at least one row per chunk)."""
    chunks = []
    start = 0
    while start < len(rows):
        end = min(len(rows), start + max(1, PAIR_CHUNK_VALUES // (int(counts[start]) * dim)))
        while end - start > 1 and (end - start) * int(counts[end - 1]) * dim > PAIR_CHUNK_VALUES:
            end = start + (end - start) // 2
        chunks.append(rows[start:end])
        start = end
    return chunks


def _forward_lists(
    examples: np.ndarray,
    docs: np.ndarray,
    n_required: int,
    k0: int,
    gpu: bool,
    error: float,
    progress: Progress | None,
) -> tuple[int, np.ndarray, np.ndarray, float]:
    """Adaptive k: (k_final, top-k doc ids (n_ex, k), their cosines (n_ex, k), error)."""
    n_ex, n_docs = len(examples), len(docs)
    k = _first_level(n_ex, n_docs, n_required, k0)
    searcher = FlatSearcher(docs, gpu=gpu)
    # A list must reach past k to prove its top-k. Wider lists cost heap time; when the union
    # may fall short (n_ex * k < 4 * n_required), fetch 2k so one doubling needs no search.
    width = k + max(16, k // 8) if n_ex * k >= 4 * n_required else 2 * k + 32
    width = searcher.fit_width(min(n_docs, width), k)
    lists = _search_rows(searcher, examples, None, None, width, "forward", progress)
    while True:
        ids, cos, lists, error = _exact_top(
            searcher, examples, docs, lists, k, error, "forward", progress
        )
        if k >= n_docs or np.unique(ids).size >= n_required:
            return k, ids, cos, error
        k = min(2 * k, n_docs)


def _best_cosines(
    examples: np.ndarray, docs: np.ndarray, gpu: bool, error: float, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    """Reverse search: per doc the max cosine over all examples and that example's index."""
    searcher = FlatSearcher(examples, gpu=gpu)
    width = min(len(examples), 2)
    lists = _search_rows(searcher, docs, None, None, width, "reverse", progress)
    ids, cos, _, _ = _exact_top(searcher, docs, examples, lists, 1, error, "reverse", progress)
    return cos[:, 0], ids[:, 0]


def _is_dense(examples: np.ndarray, docs: np.ndarray) -> bool:
    """Small problems skip faiss: one float64 GEMM gives every cosine at once, which is
    faster than two float32 searches plus the candidate re-check, and exact by definition."""
    return len(examples) * len(docs) <= DENSE_MAX_PAIRS


def _dense_cosines(
    examples: np.ndarray, docs: np.ndarray, progress: Progress | None = None
) -> np.ndarray:
    """(n_ex, n_docs) float32 `exact_cosines`, in example chunks (bounded float64 memory)."""
    out = np.empty((len(examples), len(docs)), dtype=np.float32)
    step = max(1, PAIR_CHUNK_VALUES // len(docs))
    for start in range(0, len(examples), step):
        out[start : start + step] = exact_cosines(examples[start : start + step], docs)
        if progress is not None:
            progress("dense", min(len(examples), start + step), len(examples))
    return out


def _dense_top(cos: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k per row of a full cosine matrix by (-cosine, doc index): (ids, cos)."""
    n_ex, n_docs = cos.shape
    if k < n_docs:
        # docs at or above each row's k-th largest cosine; ties there may add a few
        kth = np.partition(cos, n_docs - k, axis=1)[:, n_docs - k]
        row, col = np.nonzero(cos >= kth[:, None])
    else:
        row, col = np.divmod(np.arange(n_ex * n_docs), n_docs)
    order = np.lexsort((sort_keys(cos[row, col], col), row))
    row, col = row[order], col[order]
    first = np.searchsorted(row, np.arange(n_ex))
    keep = np.arange(len(row)) - first[row] < k
    top_ids = col[keep].reshape(n_ex, k).astype(np.int64)
    return top_ids, np.take_along_axis(cos, top_ids, axis=1)


def _dense_forward(cos: np.ndarray, n_required: int, k0: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Adaptive k over a full cosine matrix: (k_final, top-k ids, their cosines)."""
    n_ex, n_docs = cos.shape
    k = _first_level(n_ex, n_docs, n_required, k0)
    while True:
        ids, top = _dense_top(cos, k)
        if k >= n_docs or np.unique(ids).size >= n_required:
            return k, ids, top
        k = min(2 * k, n_docs)


def _first_level(n_ex: int, n_docs: int, n_required: int, k0: int) -> int:
    """min(k0 * 2**m, n_docs) for the first m that could reach n_required (union <= n_ex*k)."""
    k = min(k0, n_docs)
    while k < n_docs and n_ex * k < n_required:
        k = min(2 * k, n_docs)
    return k


def search_top_k(
    examples: np.ndarray,
    docs: np.ndarray,
    n_required: int,
    k0: int,
    gpu: bool,
    progress: Progress | None,
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(k_final, top-k ids, their cosines, best cosine per doc, its example): dense or faiss."""
    if _is_dense(examples, docs):
        cos = _dense_cosines(examples, docs, progress)
        k, ids, top = _dense_forward(cos, n_required, k0)
        return k, ids, top, cos.max(axis=0), np.argmax(cos, axis=0).astype(np.int64)
    error = _default_error(examples, docs, gpu)
    k, ids, top, error = _forward_lists(examples, docs, n_required, k0, gpu, error, progress)
    best_cos, cos_example = _best_cosines(examples, docs, gpu, error, progress)
    return k, ids, top, best_cos, cos_example


def best_cosines_any(
    examples: np.ndarray, docs: np.ndarray, gpu: bool, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per doc the max cosine over all examples and its example: dense or faiss."""
    if _is_dense(examples, docs):
        cos = _dense_cosines(examples, docs, progress)
        return cos.max(axis=0), np.argmax(cos, axis=0).astype(np.int64)
    return _best_cosines(examples, docs, gpu, _default_error(examples, docs, gpu), progress)


def _norm_product(ex: np.ndarray, docs: np.ndarray) -> float:
    """max |example| * max |doc| (about 1 for unit vectors); rejects NaN and inf."""
    norm_ex = float(np.max(np.einsum("ij,ij->i", ex, ex)))
    norm_docs = float(np.max(np.einsum("ij,ij->i", docs, docs)))
    if not (math.isfinite(norm_ex) and math.isfinite(norm_docs)):
        raise ValueError("embeddings contain NaN or inf")
    return 1.01 * math.sqrt(norm_ex * norm_docs)


def _default_error(ex: np.ndarray, docs: np.ndarray, gpu: bool) -> float:
    return _error_bound(ex.shape[1], _norm_product(ex, docs), gpu)
