"""Topic clusters of a run's scored sample: k-means on its embedding vectors, each cluster
titled by its most distinctive words, and what the threshold keeps of each.

Pure computation: vectors, texts and columns in, arrays out (the job reads them from the
workspace, engine.jobs.kinds.clusters).

- k-means: faiss `Kmeans`, spherical (the vectors are unit length and compared by cosine, so
  the centroids are kept unit length too), seeded, NITER iterations, faiss's own defaults
  otherwise: in particular it trains on at most 256 points per centroid (a seeded subsample
  of a larger sample), then every doc goes to its nearest centroid. Clusters are numbered
  by size, largest first (ties: the lower faiss label first), so cluster 0 is the largest.
- k: the user's, or `default_k(n)` = round(sqrt(n / 2)) clamped to [2, 50] (the usual rule
  of thumb for k-means; the cap keeps a table a curator can read) and never above n.
- titles: class-based TF-IDF (c-TF-IDF, BERTopic's formula): the word counts of each cluster's
  docs summed into one row per cluster, each row scaled to sum 1 (tf), times
  idf = log(1 + A / f_x), A the average number of words per cluster and f_x the word's count
  over all clusters. Words common to every cluster score low; words frequent in one score high.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from engine.errors import UsageError

NITER = 20  # k-means iterations (faiss's default is 25; 20 converges on sentence vectors)
MIN_K, MAX_DEFAULT_K = 2, 50
MAX_K = 1000
TITLE_WORDS = 8  # words kept per cluster (the faces show the first few)
NEAREST_EXAMPLES = 3  # target examples kept per cluster
# Only the opening of each doc is counted for its title: the embedder read about 256 tokens
# (~1,000 characters) of it, so the cluster is a cluster of openings; this is twice that, and
# keeps the word-count matrix of a 100k-doc sample in memory.
TITLE_CHARS = 2000
# words: two or more letters (no digits, no underscore), lowercased
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"


def default_k(n_docs: int) -> int:
    """round(sqrt(n / 2)) clamped to [MIN_K, MAX_DEFAULT_K], never above n."""
    k = min(MAX_DEFAULT_K, max(MIN_K, round(math.sqrt(n_docs / 2))))
    return max(1, min(k, n_docs))


def check_k(k: int, n_docs: int) -> None:
    """A UsageError (with the fix) when k clusters cannot be made of n_docs docs."""
    if k < MIN_K:
        raise UsageError(f"--k must be at least {MIN_K}, got {k}", fix="e.g. --k 20")
    if k > MAX_K:
        raise UsageError(f"--k must be at most {MAX_K}, got {k}", fix="e.g. --k 50")
    if k > n_docs:
        raise UsageError(
            f"--k {k} is more clusters than the {n_docs:,}-doc scored sample has docs",
            fix=f"use --k {default_k(n_docs)} (the default for this sample) or fewer than {n_docs}",
        )


@dataclass(frozen=True)
class KMeansResult:
    labels: np.ndarray  # (n,) int32 cluster of each doc, 0 = the largest cluster
    centroids: np.ndarray  # (k, dim) float32, unit length
    cosine: np.ndarray  # (n,) float32: each doc's cosine to its centroid


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """(n, dim) float32 rows scaled to unit length (zero rows stay zero), C-contiguous."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.where(norms > 0, norms, 1.0).astype(np.float32))


def faiss_kmeans(x: np.ndarray, k: int, seed: int, niter: int = NITER):
    """The trained faiss `Kmeans` on unit rows `x` (float32): what `kmeans` runs, and what the
    tests and bench/clusters.py compare with."""
    import faiss

    # min_points_per_centroid=1 only silences faiss's "please provide at least 39 points per
    # centroid" notice on small samples (it is a warning, never a change of the result)
    km = faiss.Kmeans(
        x.shape[1], k, niter=niter, seed=seed, spherical=True, min_points_per_centroid=1
    )
    km.train(x)
    return km


def kmeans(vectors: np.ndarray, k: int, seed: int, niter: int = NITER) -> KMeansResult:
    """Spherical k-means of (n, dim) vectors into k clusters (see the module docstring)."""
    x = unit_rows(vectors)
    check_k(k, len(x))
    km = faiss_kmeans(x, k, seed, niter)
    sim, raw = km.index.search(x, 1)
    raw = raw.ravel().astype(np.int64)
    sizes = np.bincount(raw, minlength=k)
    order = np.lexsort((np.arange(k), -sizes))  # by size desc, then faiss label
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    return KMeansResult(
        labels=relabel[raw].astype(np.int32),
        centroids=unit_rows(km.centroids[order]),
        cosine=sim.ravel().astype(np.float32),
    )


# -- titles -----------------------------------------------------------------------------------
def word_counter():
    """The CountVectorizer the titles count words with.

    scikit-learn's CountVectorizer (a dependency already) rather than a polars explode and
    group-by: it streams the texts, tokenizes and counts them in one pass into a sparse
    (docs, words) matrix, which the cluster sums and the c-TF-IDF need as it is (two sparse
    products); a polars version would build one row per word occurrence first. Settings:
    lowercased words of two or more letters (TOKEN_PATTERN), scikit-learn's English stop
    words left out, and a word must occur in at least two docs (one doc repeating a token
    cannot title a cluster)."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        token_pattern=TOKEN_PATTERN, stop_words="english", min_df=2, dtype=np.int32
    )


def class_tfidf(counts) -> np.ndarray:
    """c-TF-IDF weights (k, words) of per-cluster word counts (k, words) (BERTopic's formula,
    module docstring); a cluster without words gets a zero row."""
    c = np.asarray(counts.toarray() if hasattr(counts, "toarray") else counts, dtype=np.float64)
    per_class = c.sum(axis=1, keepdims=True)
    tf = c / np.where(per_class > 0, per_class, 1.0)
    f = c.sum(axis=0)
    avg = c.sum() / max(1, len(c))
    idf = np.log1p(avg / np.where(f > 0, f, 1.0))
    return tf * idf


def cluster_titles(
    texts: Iterable[str], labels: np.ndarray, k: int, top: int = TITLE_WORDS
) -> list[list[tuple[str, float]]]:
    """Per cluster, its `top` words by c-TF-IDF weight (word, weight), best first (ties by
    word). `texts` in the order of `labels`, read once as they come; only the first
    TITLE_CHARS characters of each are counted."""
    import scipy.sparse as sp

    labels = np.asarray(labels, dtype=np.int64)
    vectorizer = word_counter()
    try:
        docs_words = vectorizer.fit_transform(t[:TITLE_CHARS] for t in texts)
    except ValueError:  # no word occurs in two docs (or every doc is stop words)
        return [[] for _ in range(k)]
    if docs_words.shape[0] != len(labels):
        raise ValueError(f"{docs_words.shape[0]} texts for {len(labels)} labels")
    member = sp.csr_matrix(
        (np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels))
    )
    weights = class_tfidf(member @ docs_words)
    words = vectorizer.get_feature_names_out()
    out: list[list[tuple[str, float]]] = []
    for row in weights:
        nz = np.flatnonzero(row > 0)
        best = nz[np.lexsort((words[nz], -row[nz]))][:top]
        out.append([(str(words[j]), float(row[j])) for j in best])
    return out


# -- what each cluster is made of -------------------------------------------------------------
def cluster_sums(labels: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """(k,) int64 sums of `values` per cluster."""
    return np.bincount(labels, weights=values, minlength=k).round().astype(np.int64)


def benchmark_pull(labels: np.ndarray, bench: np.ndarray, k: int, bench_ids: list[int]):
    """(k, len(bench_ids)) int64: per cluster, how many of its docs have each target benchmark
    as their best match (`bench`: each doc's benchmark id, -1 for none)."""
    out = np.zeros((k, len(bench_ids)), dtype=np.int64)
    for j, b in enumerate(bench_ids):
        out[:, j] = np.bincount(labels[bench == b], minlength=k)[:k]
    return out


def nearest_examples(
    centroids: np.ndarray, example_vectors: np.ndarray, top: int = NEAREST_EXAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """(rows (k, t), cosines (k, t)) of the `top` examples nearest each centroid by cosine,
    nearest first (ties: the lower row); t = min(top, examples)."""
    if len(example_vectors) == 0:
        empty = np.zeros((len(centroids), 0))
        return empty.astype(np.int64), empty
    cos = unit_rows(centroids).astype(np.float64) @ unit_rows(example_vectors).T.astype(np.float64)
    t = min(top, cos.shape[1])
    rows = np.stack([np.lexsort((np.arange(len(c)), -c))[:t] for c in cos]).astype(np.int64)
    return rows, np.take_along_axis(cos, rows, axis=1)


@dataclass(frozen=True)
class KeptByCluster:
    """What a keep rate keeps of each cluster of the scored sample."""

    kept_docs: np.ndarray  # (k,) int64
    kept_tokens: np.ndarray  # (k,) int64
    kept_share: np.ndarray  # (k,) float64: kept tokens / tokens (by tokens) or docs / docs
    sample_share: float  # the same share over the whole scored sample


def kept_by_cluster(
    labels: np.ndarray, kept: np.ndarray, n_tokens: np.ndarray, k: int, by: str
) -> KeptByCluster:
    """Per cluster, the docs and tokens `kept` (a bool per sample doc) and the kept share in
    the keep rate's unit (`by`: tokens or docs)."""
    kept_docs = np.bincount(labels[kept], minlength=k)[:k].astype(np.int64)
    kept_tokens = cluster_sums(labels[kept], n_tokens[kept], k)
    if by == "docs":
        total, part = np.bincount(labels, minlength=k)[:k], kept_docs
        sample = float(kept.sum()) / max(1, len(kept))
    else:
        total, part = cluster_sums(labels, n_tokens, k), kept_tokens
        sample = float(n_tokens[kept].sum()) / max(1, int(n_tokens.sum()))
    share = part / np.where(total > 0, total, 1)
    return KeptByCluster(kept_docs, kept_tokens, share.astype(np.float64), sample)
