"""Embedding pipeline vs bare SentenceTransformer.encode, and the cache's second-run speed-up.

Pipeline: `embed_cached` with a cold MemoryEmbeddingCache (hash, dedupe, encode, float16
round trip, store, renormalise). Baseline: `SentenceTransformer.encode` of the same texts with
the same batch size (normalised, numpy). Second run: `embed_cached` again on the warm cache.
The texts are the first N *distinct* docs of combined_docs.jsonl (it repeats some docs, which
the pipeline would embed once: a saving, but not the overhead measured here). With --repeats
the two are timed in alternating order and the best time of each is kept.

    python bench/embed.py [--texts 1000] [--repeats 2] [--batch-size 64] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.embed import Embedder, MemoryEmbeddingCache, embed_cached  # noqa: E402

SHARED = Path(os.environ.get("BETR_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2, help="alternating-order runs; best of each")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--model", default=None, help="local model directory (default: MiniLM)")
    args = ap.parse_args()

    with open(SHARED / "web_docs/combined_docs.jsonl", encoding="utf-8") as fh:
        distinct = dict.fromkeys(json.loads(line)["text"] for line in fh)
    texts = list(islice(distinct, args.texts))
    embedder = Embedder.load(args.model, device=args.device)
    embedder.encode(texts[:16], batch_size=args.batch_size)  # warm up kernels and allocator

    def run_bare() -> float:
        nonlocal bare
        start = time.perf_counter()
        bare = embedder.model.encode(
            texts,
            batch_size=args.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return time.perf_counter() - start

    def run_pipeline() -> float:
        nonlocal cache, cold
        cache = MemoryEmbeddingCache()
        start = time.perf_counter()
        cold = embed_cached(embedder, texts, cache, batch_size=args.batch_size)
        return time.perf_counter() - start

    bare = cold = cache = None
    t_bare = t_cold = float("inf")
    for i in range(args.repeats):
        if i % 2 == 0:
            t_bare = min(t_bare, run_bare())
            t_cold = min(t_cold, run_pipeline())
        else:
            t_cold = min(t_cold, run_pipeline())
            t_bare = min(t_bare, run_bare())

    encoded = embedder.n_encoded
    start = time.perf_counter()
    warm = embed_cached(embedder, texts, cache, batch_size=args.batch_size)
    t_warm = time.perf_counter() - start
    assert embedder.n_encoded == encoded and np.array_equal(cold, warm)
    agree = float(np.einsum("ij,ij->i", cold, bare.astype(np.float32)).min())

    print(
        f"embed ({embedder.model_id} on {embedder.device}, {len(texts)} texts, "
        f"max_seq_length {embedder.max_seq_length}, batch {args.batch_size}): pipeline "
        f"{t_cold:.2f} s vs bare encode {t_bare:.2f} s -> {t_bare / t_cold:.2f}x (goal >= 0.9x); "
        f"cached rerun {t_warm * 1000:.1f} ms -> {t_cold / t_warm:.0f}x faster (goal >= 50x); "
        f"min cosine cached vs bare {agree:.6f}"
    )


if __name__ == "__main__":
    main()
