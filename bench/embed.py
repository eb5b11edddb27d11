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


def distinct_texts(n: int) -> list[str]:
    """The first `n` distinct doc texts of combined_docs.jsonl (generated sentences when the
    shared data is absent, so the bench runs anywhere)."""
    path = SHARED / "web_docs/combined_docs.jsonl"
    if not path.exists():
        words = "data model token filter score benchmark document corpus proxy curve".split()
        return [
            " ".join(words[(i + j) % len(words)] for j in range(40 + i % 200)) for i in range(n)
        ]
    with open(path, encoding="utf-8") as fh:
        distinct = dict.fromkeys(json.loads(line)["text"] for line in fh)
    return list(islice(distinct, n))


def bench_embed(
    texts: list[str],
    *,
    batch_size: int = 64,
    device: str = "auto",
    repeats: int = 2,
    model: str | None = None,
) -> dict:
    """Pipeline (embed_cached, cold cache) vs bare encode, alternating; the best of each; then
    the cached rerun. Seconds, texts/s and the ratio (see the module doc)."""
    embedder = Embedder.load(model, device=device)
    embedder.encode(texts[:16], batch_size=batch_size)  # warm up kernels and allocator
    sync = _sync(embedder.device)

    def run_bare() -> float:
        nonlocal bare
        start = time.perf_counter()
        bare = embedder.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        sync()
        return time.perf_counter() - start

    def run_pipeline() -> float:
        nonlocal cache, cold
        cache = MemoryEmbeddingCache()
        start = time.perf_counter()
        cold = embed_cached(embedder, texts, cache, batch_size=batch_size)
        sync()
        return time.perf_counter() - start

    bare = cold = cache = None
    t_bare = t_cold = float("inf")
    for i in range(repeats):
        if i % 2 == 0:
            t_bare = min(t_bare, run_bare())
            t_cold = min(t_cold, run_pipeline())
        else:
            t_cold = min(t_cold, run_pipeline())
            t_bare = min(t_bare, run_bare())

    encoded = embedder.n_encoded
    start = time.perf_counter()
    warm = embed_cached(embedder, texts, cache, batch_size=batch_size)
    t_warm = time.perf_counter() - start
    assert embedder.n_encoded == encoded and np.array_equal(cold, warm)
    return {
        "model_id": embedder.model_id,
        "device": embedder.device,
        "dtype": embedder.dtype,
        "texts": len(texts),
        "max_seq_length": embedder.max_seq_length,
        "batch_size": batch_size,
        "pipeline_s": t_cold,
        "bare_s": t_bare,
        "cached_s": t_warm,
        "pipeline_texts_per_s": len(texts) / t_cold,
        "bare_texts_per_s": len(texts) / t_bare,
        "ratio": t_bare / t_cold,
        "min_cosine": float(np.einsum("ij,ij->i", cold, bare.astype(np.float32)).min()),
    }


def _sync(device: str):
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2, help="alternating-order runs; best of each")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--model", default=None, help="local model directory (default: MiniLM)")
    args = ap.parse_args()
    r = bench_embed(
        distinct_texts(args.texts),
        batch_size=args.batch_size,
        device=args.device,
        repeats=args.repeats,
        model=args.model,
    )
    print(
        f"embed ({r['model_id']} on {r['device']}, {r['texts']} texts, "
        f"max_seq_length {r['max_seq_length']}, batch {r['batch_size']}): pipeline "
        f"{r['pipeline_s']:.2f} s vs bare encode {r['bare_s']:.2f} s -> {r['ratio']:.2f}x "
        f"(goal >= 0.9x); cached rerun {r['cached_s'] * 1000:.1f} ms -> "
        f"{r['pipeline_s'] / r['cached_s']:.0f}x faster (goal >= 50x); "
        f"min cosine cached vs bare {r['min_cosine']:.6f}"
    )


if __name__ == "__main__":
    main()
