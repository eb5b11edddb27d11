"""BETR rank scores vs the bare faiss searches that yield the same information.

Pipeline: `rank_scores` (adaptive k, exact candidate re-check, reverse search, best ranks).
Baseline: an IndexFlatIP over the docs searched with every example at the final k, plus an
IndexFlatIP over the examples searched with every doc at k=1 (index builds included in both).
Also checks exact agreement with the numpy brute force (real vectors, or --check).
Inputs with n_examples * n_docs <= DENSE_MAX_PAIRS take the dense float64 path (no faiss);
then the faiss path is timed as well, forced, and reported in the same line.

    python bench/similarity.py                      # ~2000 docs + 300 GSM8K/ARC examples, MiniLM
    python bench/similarity.py --synthetic --docs 100000 --examples 2000

Real vectors are embedded once and kept in .cache/bench/ (keyed by model id and texts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.betr import exact_search  # noqa: E402
from engine.betr.similarity import (  # noqa: E402
    brute_force_rank_scores,
    order_by_score,
    rank_scores,
    required_positives,
)

SHARED = Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))


def read_jsonl(path: Path, n: int) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in islice(fh, n)]


def real_vectors(n_docs: int, n_examples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(examples, benchmark codes, docs): MiniLM vectors of combined_docs and GSM8K + ARC."""
    from engine.embed import (
        Embedder,
        MemoryEmbeddingCache,
        embed_cached,
        model_fingerprint,
        resolve_embedder_path,
    )

    docs = [r["text"] for r in read_jsonl(SHARED / "web_docs/combined_docs.jsonl", n_docs)]
    half = n_examples // 2
    gsm8k = read_jsonl(SHARED / "benchmarks/gsm8k/test.jsonl", half)
    arc = read_jsonl(SHARED / "benchmarks/arc/arc_challenge_test.jsonl", n_examples - half)
    examples = [f"{r['question']}\n{r['answer']}" for r in gsm8k] + [
        "\n".join([r["query"], *r["choices"], r["choices"][r["gold"]]]) for r in arc
    ]
    benchmark = np.array([0] * len(gsm8k) + [1] * len(arc))
    name, path = resolve_embedder_path(None)
    digest = hashlib.sha256(f"{name}@{model_fingerprint(path)}".encode())
    for text in [*examples, "\0docs\0", *docs]:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    stored = REPO / ".cache" / "bench" / f"similarity-{digest.hexdigest()[:24]}.npz"
    if stored.is_file():
        with np.load(stored) as npz:
            return npz["examples"], benchmark, npz["docs"]
    print(f"embedding {len(docs)} docs + {len(examples)} examples once (cached afterwards)...")
    embedder = Embedder.load(None)
    cache = MemoryEmbeddingCache()
    ex_vecs, doc_vecs = embed_cached(embedder, examples, cache), embed_cached(embedder, docs, cache)
    stored.parent.mkdir(parents=True, exist_ok=True)
    np.savez(stored, examples=ex_vecs, docs=doc_vecs)
    return ex_vecs, benchmark, doc_vecs


def synthetic_vectors(n_docs: int, n_examples: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)

    def unit(n):
        x = rng.standard_normal((n, dim), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    return unit(n_examples), rng.integers(0, 2, n_examples), unit(n_docs)


def bare_faiss(examples: np.ndarray, docs: np.ndarray, k: int) -> None:
    import faiss

    forward = faiss.IndexFlatIP(docs.shape[1])
    forward.add(docs)
    forward.search(examples, k)
    reverse = faiss.IndexFlatIP(examples.shape[1])
    reverse.add(examples)
    reverse.search(docs, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", action="store_true", help="random unit vectors")
    ap.add_argument("--docs", type=int, default=None, help="docs (2000 real, 100000 synthetic)")
    ap.add_argument("--examples", type=int, default=None, help="examples (300 / 2000)")
    ap.add_argument("--dim", type=int, default=384, help="synthetic dimension")
    ap.add_argument("--k0", type=int, default=64)
    ap.add_argument("--positive-frac", type=float, default=0.10)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved runs; best of each")
    ap.add_argument("--check", action="store_true", help="brute-force check on synthetic too")
    args = ap.parse_args()

    if args.synthetic:
        n_docs, n_ex = args.docs or 100_000, args.examples or 2000
        examples, benchmark, docs = synthetic_vectors(n_docs, n_ex, args.dim)
    else:
        n_docs, n_ex = args.docs or 2000, args.examples or 300
        examples, benchmark, docs = real_vectors(n_docs, n_ex)
    n_required = required_positives(len(docs), args.positive_frac)

    import faiss

    dense = len(examples) * len(docs) <= exact_search.DENSE_MAX_PAIRS
    default_limit = exact_search.DENSE_MAX_PAIRS

    def run_faiss_path():
        exact_search.DENSE_MAX_PAIRS = 0
        try:
            return rank_scores(examples, docs, benchmark, n_required, k0=args.k0)
        finally:
            exact_search.DENSE_MAX_PAIRS = default_limit

    rank_scores(examples[:8], docs[:64], benchmark[:8], 4)  # warm numpy and the BLAS
    bare_faiss(examples[:8], docs[:64], 4)  # load faiss
    pipeline, bare, forced = [], [], []
    for _ in range(args.repeats):  # interleaved: the machine's load drifts
        start = time.perf_counter()
        rs = rank_scores(examples, docs, benchmark, n_required, k0=args.k0)
        pipeline.append(time.perf_counter() - start)
        start = time.perf_counter()
        bare_faiss(examples, docs, rs.k_final)
        bare.append(time.perf_counter() - start)
        if dense:
            start = time.perf_counter()
            faiss_rs = run_faiss_path()
            forced.append(time.perf_counter() - start)
    t_pipe, t_bare = min(pipeline), min(bare)

    check = "not run (synthetic; pass --check)"
    if not args.synthetic or args.check:
        ref = brute_force_rank_scores(examples, docs, benchmark, n_required, k0=args.k0)
        same_pos = set(order_by_score(rs)[:n_required]) == set(order_by_score(ref)[:n_required])
        same = all(
            np.array_equal(getattr(rs, f), getattr(ref, f))
            for f in ("score", "best_rank", "best_cosine", "best_example", "best_benchmark")
        ) and np.array_equal(order_by_score(rs), order_by_score(ref))
        if dense:
            same = same and all(
                np.array_equal(getattr(faiss_rs, f), getattr(ref, f))
                for f in ("score", "best_rank", "best_cosine", "best_example", "best_benchmark")
            )
        check = (
            f"positive set {'identical' if same_pos else 'DIFFERENT'}, "
            f"all per-doc fields and order {'identical' if same else 'DIFFERENT'}"
        )
    path = "dense float64 path" if dense else "faiss path"
    if dense:
        path += f"; faiss path forced: {min(forced):.3f} s -> {t_bare / min(forced):.2f}x"
    kind = "synthetic" if args.synthetic else "real MiniLM"
    print(
        f"similarity ({kind}, {len(docs)} docs x {len(examples)} examples, dim "
        f"{docs.shape[1]}, {faiss.omp_get_max_threads()} threads): rank_scores {t_pipe:.3f} s "
        f"vs bare faiss {t_bare:.3f} s (forward k={rs.k_final} + reverse k=1) -> "
        f"{t_bare / t_pipe:.2f}x (goal >= 0.8x; {path}); {rs.n_within_k} docs within k, "
        f"{n_required} required; vs numpy brute force: {check}"
    )


if __name__ == "__main__":
    main()
