"""The clusters job: topic clusters of a run's scored sample (engine.betr.clusters).

It reads the sample's vectors from the embedding cache (scoring cached every one of them:
nothing is embedded here), runs k-means, titles each cluster by c-TF-IDF over its docs' texts,
counts each target benchmark's pull and finds the target examples nearest each centroid; then
writes the whole set in one transaction (engine.store.clusters). Progress: the sample's docs
while their vectors are read, then the three steps. A killed or cancelled job has written
nothing, and a resumed one starts over.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.betr import clusters as bc
from engine.betr.runs import require_state
from engine.errors import UsageError
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import ClustersCheckpoint
from engine.jobs.specs import ClustersSpec
from engine.store import catalog
from engine.store import clusters as store_cl
from engine.store import runs as store_runs
from engine.store.embeddings import SqliteEmbeddingCache

CHUNK_DOCS = 2000


def run_clusters(ctx: JobContext, spec: ClustersSpec) -> dict[str, Any]:
    conn = ctx.conn
    run = store_runs.get_run(conn, spec.run_id)
    require_state(run, "scored", "trained", "applied", action="cluster its scored sample")
    found = store_cl.find_set(conn, spec.run_id, spec.k, spec.seed)
    if found is not None:
        return {**_summary(found), "skipped": "cached"}
    cfg = run["config"]
    sample = store_cl.sample_members(conn, spec.run_id)
    n = len(sample["doc_id"])
    bc.check_k(spec.k, n)
    t0 = time.monotonic()
    vectors = sample_vectors(ctx, cfg["model_id"], sample["doc_id"])
    t_read = time.monotonic()
    ctx.start_phase(3, "steps")
    km = bc.kmeans(vectors, spec.k, spec.seed)
    ctx.advance(1, ClustersCheckpoint("kmeans"))
    t_kmeans = time.monotonic()
    texts = store_cl.texts_in_chunks(conn, sample["doc_id"], chars=bc.TITLE_CHARS)
    titles = bc.cluster_titles(texts, km.labels, spec.k)
    ctx.advance(1, ClustersCheckpoint("titles"))
    t_titles = time.monotonic()
    clusters = describe_clusters(conn, cfg, sample, km, titles, spec.k)
    arrays = {"doc_ids": sample["doc_id"], "labels": km.labels, "cosine": km.cosine}

    def write(c) -> int | None:
        return store_cl.insert_set(
            c,
            spec.run_id,
            spec.k,
            spec.seed,
            niter=bc.NITER,
            dim=vectors.shape[1],
            model_id=cfg["model_id"],
            arrays=arrays,
            clusters=clusters,
            job_id=ctx.job_id,
        )

    set_id = ctx.commit_chunk(write, advance=1, checkpoint=ClustersCheckpoint("written"))
    seconds = {
        "read_s": round(t_read - t0, 3),
        "kmeans_s": round(t_kmeans - t_read, 3),
        "titles_s": round(t_titles - t_kmeans, 3),
        "total_s": round(time.monotonic() - t0, 3),
    }
    ctx.log.info(
        "clustered %d docs of run %d into %d clusters: %s", n, spec.run_id, spec.k, seconds
    )
    stored = store_cl.find_set(conn, spec.run_id, spec.k, spec.seed)
    assert stored is not None
    out = {**_summary(stored), "seconds": seconds}
    if set_id is None:
        out["skipped"] = "another job cached it first"
    return out


def sample_vectors(ctx: JobContext, model_id: str, doc_ids: np.ndarray) -> np.ndarray:
    """(n, dim) float32 cached vectors of the docs, in order; a UsageError when one is not
    cached (the sample of a run scored elsewhere, or a cache cleared since)."""
    from engine.embed import text_sha256

    cache = SqliteEmbeddingCache(ctx.conn)
    ctx.start_phase(len(doc_ids), "docs")
    out: np.ndarray | None = None
    texts = store_cl.texts_in_chunks(ctx.conn, doc_ids, chars=None, chunk=CHUNK_DOCS)
    done = 0
    while done < len(doc_ids):
        keys = [text_sha256(next(texts)) for _ in range(min(CHUNK_DOCS, len(doc_ids) - done))]
        got = cache.get_many(model_id, keys)
        missing = [i for i, key in enumerate(keys) if key not in got]
        if missing:
            raise UsageError(
                f"doc {int(doc_ids[done + missing[0]])} of the scored sample has no cached "
                f"vector for embedder {model_id} (and {len(missing) - 1} more in its chunk)",
                fix="the sample must be embedded in this workspace: score the corpus here "
                "with betr score, then cluster that run",
            )
        chunk = np.stack([got[key] for key in keys])
        if out is None:
            out = np.empty((len(doc_ids), chunk.shape[1]), dtype=np.float32)
        out[done : done + len(keys)] = chunk
        done += len(keys)
        ctx.advance(len(keys), ClustersCheckpoint("vectors"))
    assert out is not None  # a run's sample is never empty (check_k)
    return out


def describe_clusters(
    conn, cfg: dict[str, Any], sample: dict[str, np.ndarray], km, titles, k: int
) -> list[dict[str, Any]]:
    """Each cluster's row: docs, tokens, title, pull per target benchmark, nearest examples."""
    names = list(cfg.get("benchmarks", {}))
    bench_ids = [int(r["id"]) for r in catalog.benchmarks_named(conn, names)]
    pull = bc.benchmark_pull(km.labels, sample["bench"], k, bench_ids)
    rows, vecs = target_example_vectors(conn, cfg)
    near, cos = bc.nearest_examples(km.centroids, vecs)
    docs = np.bincount(km.labels, minlength=k)
    tokens = bc.cluster_sums(km.labels, sample["n_tokens"], k)
    return [
        {
            "cluster": c,
            "docs": int(docs[c]),
            "tokens": int(tokens[c]),
            "title": [[w, round(x, 6)] for w, x in titles[c]],
            "pull": {str(b): int(pull[c, j]) for j, b in enumerate(bench_ids) if pull[c, j]},
            "nearest": [
                [int(rows[j]), round(float(x), 6)] for j, x in zip(near[c], cos[c], strict=True)
            ],
        }
        for c in range(k)
    ]


def target_example_vectors(conn, cfg: dict[str, Any]) -> tuple[list[int], np.ndarray]:
    """(example ids, their cached vectors) of the run's targets: every example of its
    benchmarks, or the ones it drew (balanced targets); examples not cached are left out."""
    from engine.embed import text_sha256

    rows = catalog.benchmark_examples(conn, list(cfg.get("benchmarks", {})))
    drawn = cfg.get("target_examples")
    if drawn is not None:
        wanted = {int(i) for ids in drawn.values() for i in ids}
        rows = [r for r in rows if r["id"] in wanted]
    keys = [text_sha256(r["text"]) for r in rows]
    got = SqliteEmbeddingCache(conn).get_many(cfg["model_id"], keys)
    have = [i for i, key in enumerate(keys) if key in got]
    if not have:
        return [], np.zeros((0, 1), dtype=np.float32)
    return [int(rows[i]["id"]) for i in have], np.stack([got[keys[i]] for i in have])


def _summary(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": found["run_id"],
        "set_id": found["id"],
        "k": found["k"],
        "seed": found["seed"],
        "docs": found["n_docs"],
        "dim": found["dim"],
    }
