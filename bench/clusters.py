"""Topic clusters of a scored sample: our clustering against bare faiss `Kmeans` on the same
vectors, measured in the same run (goal: >= 0.8x of the baseline's docs/s), then the whole
`clusters` job end to end.

Vectors: a sample of `--docs` (default 100k) unit vectors in `--dim` (default 384, the bundled
embedder's) dimensions around 200 seeded directions, stored as float16 as the embedding cache
stores them, read back as float32.
Ours: `engine.betr.clusters.kmeans` (rows made unit length, spherical faiss k-means trained with
the seed, every doc assigned to its nearest centroid, clusters renumbered by size, centroids
normalised, each doc's cosine kept).
Baseline: `faiss.Kmeans(d, k, niter, seed, spherical=True)` trained on the same unit rows, then
`index.search(x, 1)`: the same algorithm with nothing around it. Both must give the same
clusters (adjusted Rand index 1).
Job: the real `clusters` job (engine.api.jobs.run_here) on a synthetic applied run whose
scored sample is `--job-docs` docs with cached vectors: read every vector from SQLite, k-means,
c-TF-IDF titles over the docs' texts, pull and nearest examples, one transaction; its steps'
seconds from the job's result. `--job-docs 0` skips it.

    python bench/clusters.py [--docs 100000] [--dim 384] [--k 50] [--job-docs 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.betr import clusters as bc  # noqa: E402


def sample_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """(n, dim) float32 unit rows around 200 directions, through float16 as cached."""
    rng = np.random.default_rng(seed)
    centers = bc.unit_rows(rng.normal(size=(200, dim)))
    x = centers[rng.integers(0, 200, size=n)] + 0.6 * rng.normal(size=(n, dim)) / np.sqrt(dim)
    return bc.unit_rows(x).astype(np.float16).astype(np.float32)


def bare_faiss(x: np.ndarray, k: int, seed: int, niter: int) -> np.ndarray:
    import faiss

    km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=seed, spherical=True)
    km.train(x)
    return km.index.search(x, 1)[1].ravel()


def timed(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def measure_kmeans(n: int, dim: int, k: int, seed: int, niter: int, repeat: int) -> dict:
    from sklearn.metrics import adjusted_rand_score

    x = sample_vectors(n, dim, seed)
    bare_faiss(x[:2000], min(k, 20), seed, 2)  # load faiss and its threads before timing
    t_base, base = timed(lambda: bare_faiss(x, k, seed, niter), repeat)
    t_ours, ours = timed(lambda: bc.kmeans(x, k, seed, niter), repeat)
    return {
        "step": "kmeans",
        "docs": n,
        "dim": dim,
        "k": k,
        "niter": niter,
        "ours_s": round(t_ours, 4),
        "baseline_s": round(t_base, 4),
        "ours_docs_per_s": round(n / t_ours),
        "baseline_docs_per_s": round(n / t_base),
        "ratio": round(t_base / t_ours, 3),
        "same_clusters_ari": float(adjusted_rand_score(base, ours.labels)),
    }


def measure_job(n: int, dim: int, k: int, seed: int, niter_base: int) -> dict:
    from bench.synth_run import cache_sample_vectors, make_synthetic_run
    from engine.api.clusters import plan_clusters
    from engine.api.jobs import queue, run_here
    from engine.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ws = Workspace.init(Path(tmp) / "ws")
        run_id = make_synthetic_run(ws, n, n_sample=n, seed=seed, words=60)
        x = sample_vectors(n, dim, seed)
        cache_sample_vectors(ws, run_id, x)
        t_build = time.perf_counter() - t0
        plan = plan_clusters(ws, run_id, k=k, seed=seed)
        assert plan.spec is not None
        job_id = queue(ws, plan.spec, title=plan.title)
        t0 = time.perf_counter()
        result = run_here(ws, job_id)
        t_job = time.perf_counter() - t0
        t_base, _ = timed(lambda: bare_faiss(x, k, seed, niter_base), 1)
    return {
        "step": "job",
        "docs": n,
        "dim": dim,
        "k": k,
        "build_workspace_s": round(t_build, 2),
        "job_s": round(t_job, 3),
        "job_steps_s": result["seconds"],
        "baseline_s": round(t_base, 4),
        "ratio": round(t_base / t_job, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=None, help="default: bc.default_k(docs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--job-docs", type=int, default=100_000, help="0: no job row")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    k = args.k or bc.default_k(args.docs)
    rows = [measure_kmeans(args.docs, args.dim, k, args.seed, bc.NITER, args.repeat)]
    if args.job_docs:
        job_k = args.k or bc.default_k(args.job_docs)
        rows.append(measure_job(args.job_docs, args.dim, job_k, args.seed, bc.NITER))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    r = rows[0]
    print(
        f"k-means of {r['docs']:,} docs x {r['dim']} dims into k = {r['k']} ({r['niter']} "
        f"iterations, best of {args.repeat}):"
    )
    print(f"  ours            {r['ours_s']:.3f} s  {r['ours_docs_per_s']:>10,} docs/s")
    print(f"  bare faiss      {r['baseline_s']:.3f} s  {r['baseline_docs_per_s']:>10,} docs/s")
    print(
        f"  ratio {r['ratio']:.2f}x (goal >= 0.8x); same clusters: ARI = {r['same_clusters_ari']}"
    )
    if len(rows) > 1:
        j = rows[1]
        steps = ", ".join(f"{name} {s:.2f} s" for name, s in j["job_steps_s"].items())
        print(
            f"the clusters job on a {j['docs']:,}-doc scored sample (k = {j['k']}): "
            f"{j['job_s']:.2f} s ({steps}); bare faiss k-means alone {j['baseline_s']:.2f} s: "
            f"{j['ratio']:.2f}x end to end (the workspace took {j['build_workspace_s']:.0f} s "
            "to build)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
