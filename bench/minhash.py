"""Near-duplicate detection throughput vs datatrove's MinHash dedup, same docs, same parameters,
same run; and whether the clusters agree.

Docs: bench/growth.py's pool (the real web docs cycled; copy c of a doc gets one word `c<c>`
inserted, so each real text and its copies form a near-duplicate cluster), else (absent, or
--synthetic) random texts with 10 near copies of each.

Pipeline (ours, one process): engine.betr.minhash band keys chunk by chunk (2,000 docs, as the
near-dups job signs them) then the LSH clusters, with datatrove's MinhashConfig defaults: word
5-grams, 14 bands x 8 rows = 112 permutations, seed 1. Timed with the shingle hash `poly64`
(our default, vectorised) and `sha1` (datatrove's sha1 HashConfig: the same signatures bit for
bit).
Baseline (datatrove, one process): MinhashDedupSignature -> MinhashDedupBuckets (each of the
14 bucket tasks in turn) -> MinhashDedupCluster, on a temporary folder, with
HashConfig(precision=64, hash_fc="sha1") (its default xxhash needs the xxhash package, and
would give other shingles than either of ours) and a word tokenizer that splits on spaces (its
English default needs NLTK's data; on text without punctuation, which is what its
normalisation leaves, the split is the same). The job's extra steps (reading the docs from
SQLite, committing band keys, writing members) are not in either number.

Agreement: the clusters as sets of doc indexes. With sha1 they must be identical (same
signatures, same LSH); with poly64 a borderline pair may differ (another hash), so the bench
prints how many clusters are identical and the pairs that differ.

    python bench/minhash.py [--docs 100000] [--hashes poly64,sha1] [--no-baseline] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.betr.minhash import MinHashParams, cluster_labels, text_band_keys  # noqa: E402

CHUNK = 2000


def pool_texts(n_docs: int, synthetic: bool = False) -> tuple[list[str], str]:
    """n_docs texts and where they came from."""
    from bench import growth

    if growth.DOCS.exists() and not synthetic:
        return [r["text"] for r in growth.pool_records(n_docs)], f"growth pool of {growth.DOCS}"
    rng = random.Random(0)
    base = [
        " ".join("".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(300))
        for _ in range(max(1, n_docs // 10))
    ]
    texts = []
    for i in range(n_docs):
        words = base[i % len(base)].split()
        words.insert(i % len(words), f"copy{i // len(base)}")
        texts.append(" ".join(words))
    return texts, "synthetic texts, 10 near copies of each"


def partition(labels: np.ndarray) -> set[frozenset[int]]:
    """Clusters (of two or more) as frozensets of doc indexes."""
    out: dict[int, set[int]] = {}
    for i, c in enumerate(labels.tolist()):
        if c >= 0:
            out.setdefault(c, set()).add(i)
    return {frozenset(s) for s in out.values() if len(s) > 1}


def ours(texts: list[str], params: MinHashParams) -> tuple[float, set[frozenset[int]]]:
    """(seconds, clusters): band keys by chunk, then the clusters."""
    t0 = time.perf_counter()
    keys, signed = [], []
    for start in range(0, len(texts), CHUNK):
        k, s = text_band_keys(texts[start : start + CHUNK], params)
        keys.append(k)
        signed.append(s + start)
    labels = cluster_labels(np.concatenate(keys))
    seconds = time.perf_counter() - t0
    rows = np.concatenate(signed)
    full = np.full(len(texts), -1, dtype=np.int64)
    full[rows] = labels
    return seconds, partition(full)


def datatrove_available() -> str | None:
    """None when datatrove can run here, else why not."""
    try:
        import datatrove  # noqa: F401
    except ImportError:
        return "datatrove is not installed (pip install datatrove): comparison skipped"
    return None


def datatrove(texts: list[str], params: MinHashParams) -> tuple[float, set[frozenset[int]]]:
    """(seconds, clusters) of datatrove's three MinHash stages in this process."""
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SpaceSplit(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    config = MinhashConfig(
        n_grams=params.n_grams,
        num_buckets=params.buckets,
        hashes_per_bucket=params.rows,
        seed=params.seed,
        hash_config=HashConfig(precision=64, hash_fc="sha1"),
    )
    from datatrove.utils.logging import logger

    logger.disable("datatrove")  # its per-bucket lines would bury the numbers
    tmp = Path(tempfile.mkdtemp(prefix="bench-minhash-"))
    try:
        docs = (Document(text=t, id=str(i)) for i, t in enumerate(texts))
        t0 = time.perf_counter()
        MinhashDedupSignature(str(tmp / "sigs"), config=config, language=SpaceSplit()).run(
            docs, 0, 1
        )
        for bucket in range(params.buckets):
            MinhashDedupBuckets(str(tmp / "sigs"), str(tmp / "buckets"), config=config).run(
                None, bucket, params.buckets
            )
        MinhashDedupCluster(
            str(tmp / "buckets"), str(tmp / "out"), config=config, save_cluster_id=True
        ).run(None, 0, 1)
        seconds = time.perf_counter() - t0
        out = tmp / "out" / "000000.clusters"  # absent when there is no duplicate
        pairs = np.fromfile(out, dtype="<u4") if out.exists() else np.zeros(0, np.uint32)
        pairs = pairs.reshape(-1, 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    labels = np.full(len(texts), -1, dtype=np.int64)
    labels[pairs[:, 0]] = pairs[:, 1]
    return seconds, partition(labels)


def agreement(a: set[frozenset[int]], b: set[frozenset[int]]) -> dict[str, Any]:
    def pairs(clusters: set[frozenset[int]]) -> set[tuple[int, int]]:
        out = set()
        for c in clusters:
            members = sorted(c)
            out.update(itertools.pairwise(members))  # a chain spans the cluster
        return out

    return {
        "identical": a == b,
        "clusters": [len(a), len(b)],
        "shared_clusters": len(a & b),
        "members": [sum(map(len, a)), sum(map(len, b))],
        "chain_links_only_in_one": len(pairs(a) ^ pairs(b)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--no-baseline", action="store_true", help="skip datatrove")
    parser.add_argument("--synthetic", action="store_true", help="synthetic texts, not the pool")
    parser.add_argument(
        "--hashes",
        default="poly64,sha1",
        help="our shingle hashes to time (comma-separated; sha1 alone gives datatrove's exact "
        "clusters and halves a million-doc run)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    hashes = [h for h in args.hashes.split(",") if h]
    if not hashes or set(hashes) - {"poly64", "sha1"}:
        parser.error(f"--hashes takes poly64 and/or sha1, got {args.hashes!r}")
    texts, origin = pool_texts(args.docs, args.synthetic)
    words = sum(len(t.split()) for t in texts) / max(1, len(texts))
    say = (lambda *a: None) if args.json else print
    say(f"{len(texts):,} docs ({words:.0f} words each on average) from {origin}")
    params = MinHashParams()
    say(f"parameters: {params.describe()}")
    rows: dict[str, Any] = {"docs": len(texts), "params": params.as_dict()}
    found = {}
    for hash_name in hashes:
        p = MinHashParams(shingle_hash=hash_name)
        seconds, clusters = ours(texts, p)
        found[hash_name] = clusters
        rows[f"clusters_{hash_name}"] = len(clusters)
        rows[f"ours_{hash_name}_s"] = round(seconds, 3)
        rows[f"ours_{hash_name}_docs_per_s"] = round(len(texts) / seconds, 1)
        say(
            f"ours ({hash_name}): {seconds:8.2f} s  {len(texts) / seconds:10,.0f} docs/s  "
            f"{len(clusters):,} clusters, {sum(map(len, clusters)):,} docs in them"
        )
    why_not = None if not args.no_baseline else "--no-baseline"
    why_not = why_not or datatrove_available()
    if why_not:
        rows["baseline"] = f"skipped: {why_not}"
        say(f"datatrove: {why_not}")
    else:
        seconds, clusters = datatrove(texts, params)
        rows["datatrove_s"] = round(seconds, 3)
        rows["datatrove_docs_per_s"] = round(len(texts) / seconds, 1)
        say(
            f"datatrove (sha1): {seconds:8.2f} s  {len(texts) / seconds:10,.0f} docs/s  "
            f"{len(clusters):,} clusters"
        )
        for hash_name in hashes:
            ratio = rows[f"ours_{hash_name}_docs_per_s"] / rows["datatrove_docs_per_s"]
            agree = agreement(found[hash_name], clusters)
            rows[f"ratio_{hash_name}"] = round(ratio, 2)
            rows[f"agreement_{hash_name}"] = agree
            same = (
                "the same clusters"
                if agree["identical"]
                else (
                    f"{agree['shared_clusters']:,} of {agree['clusters'][1]:,} clusters identical, "
                    f"{agree['chain_links_only_in_one']} links differ"
                )
            )
            say(f"ours ({hash_name}) / datatrove: {ratio:.2f}x throughput, {same}")
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
