"""`betr clusters` as a user runs it, on a run whose scored sample has three planted topics
(their words in the docs' texts, their vectors around three directions): the clusters equal a
reference k-means computed here on the same cached vectors (faiss with the same seed, and
scikit-learn), the titles are words of each cluster's docs, the kept share per cluster equals a
polars group-by of the Documents view at the same keep rate, the pull and nearest examples
equal what is counted here, the second call is a cache hit, and bad input exits 2 and writes
nothing."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from bench.synth_run import cache_sample_vectors, make_synthetic_run, rewrite_texts
from engine.api import clusters as api
from engine.api.browse import Query, load_run_index, make_view
from engine.workspace import Workspace
from tests.helpers import betr, betr_json

TOPICS = (
    ("galaxy", "orbit", "telescope", "nebula"),
    ("violin", "symphony", "orchestra", "melody"),
    ("tomato", "harvest", "irrigation", "fertilizer"),
)
FILLER = "the of and data system model river market history city".split()
DIM = 32
K, SEED = 3, 7


def sample_ids(ws: Workspace, run_id: int) -> list[int]:
    conn = ws.connect(readonly=True)
    try:
        rows = conn.execute(
            "SELECT doc_id FROM run_sample WHERE run_id = ? ORDER BY doc_id", (run_id,)
        ).fetchall()
        return [r[0] for r in rows]
    finally:
        conn.close()


def cached_vectors(ws: Workspace, run_id: int) -> np.ndarray:
    """The sample's vectors as the workspace caches them (float16), in doc id order."""
    from engine.embed import text_sha256

    conn = ws.connect(readonly=True)
    try:
        texts = conn.execute(
            "SELECT d.text FROM run_sample s JOIN docs d ON d.id = s.doc_id WHERE s.run_id = ? "
            "ORDER BY s.doc_id",
            (run_id,),
        ).fetchall()
        out = []
        for (text,) in texts:
            (vec,) = conn.execute(
                "SELECT vec FROM embeddings WHERE model_id = 'synthetic@0' AND text_sha256 = ?",
                (text_sha256(text),),
            ).fetchone()
            out.append(np.frombuffer(vec, dtype=np.float16))
        return np.stack(out).astype(np.float32)
    finally:
        conn.close()


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def plant_topics(ws: Workspace, run_id: int, seed: int = 1):
    """Each doc of the run's scored sample rewritten on one of TOPICS (six of its words among
    ten filler words) and embedded near that topic's direction; returns (sample doc ids, each
    one's topic, the texts by doc id)."""
    ids = sample_ids(ws, run_id)
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, len(TOPICS), size=len(ids))
    texts = {}
    for doc_id, t in zip(ids, topic, strict=True):
        words = list(rng.choice(TOPICS[t], size=6)) + list(rng.choice(FILLER, size=10))
        rng.shuffle(words)
        texts[doc_id] = " ".join(words)
    rewrite_texts(ws, texts)
    centers = unit(rng.normal(size=(len(TOPICS), DIM)))
    vectors = centers[topic] + 0.15 * rng.normal(size=(len(ids), DIM)) / np.sqrt(DIM)
    cache_sample_vectors(ws, run_id, unit(vectors))
    return np.array(ids), topic, texts


@pytest.fixture(scope="module")
def topical(tmp_path_factory):
    """A 600-doc applied run whose 300-doc scored sample has three planted topics."""
    ws = Workspace.init(tmp_path_factory.mktemp("clusters") / "ws")
    run_id = make_synthetic_run(ws, 600, n_sample=300, seed=5)
    ids, topic, texts = plant_topics(ws, run_id)
    unclustered = make_synthetic_run(ws, 200, seed=6, corpus="bare", targets="bare-targets")
    return ws, run_id, ids, topic, texts, unclustered


@pytest.fixture(scope="module")
def computed(topical):
    ws, run_id, *_ = topical
    out = betr_json(ws, "clusters", "--run", str(run_id), "--k", str(K), "--seed", str(SEED))
    return out, api.load_clusters(ws, run_id, k=K, seed=SEED)


def ari(a, b) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


def test_clusters_equal_a_reference_kmeans_on_the_same_vectors(topical, computed):
    import faiss
    from sklearn.cluster import KMeans

    ws, run_id, ids, topic, _, _ = topical
    _, sc = computed
    assert sc.doc_ids.tolist() == ids.tolist() and sc.k == K and sc.seed == SEED
    x = unit(cached_vectors(ws, run_id))
    km = faiss.Kmeans(DIM, K, niter=20, seed=SEED, spherical=True)
    km.train(x)
    _, ref = km.index.search(x, 1)
    # the same assignment up to the numbering (ours: by size), as an explicit permutation
    perm = {int(r): int(o) for r, o in zip(ref.ravel(), sc.labels, strict=True)}
    assert len(set(perm.values())) == K
    assert [perm[int(r)] for r in ref.ravel()] == sc.labels.tolist()
    sk = KMeans(n_clusters=K, random_state=0, n_init=10).fit_predict(x)
    assert ari(sk, sc.labels) == 1.0 and ari(topic, sc.labels) == 1.0
    # numbered by size, largest first
    sizes = np.bincount(sc.labels, minlength=K)
    assert sizes.tolist() == sorted(sizes.tolist(), reverse=True)
    assert [c.docs for c in sc.clusters] == sizes.tolist()


def test_titles_are_words_of_the_clusters_docs(topical, computed):
    _, _, ids, topic, texts, _ = topical
    out, sc = computed
    for c in sc.clusters:
        members = ids[sc.labels == c.cluster]
        words = {w for d in members for w in re.findall(r"[a-z]+", texts[int(d)].lower())}
        assert c.words and set(c.words) <= words
        # the planted topic's words are its most distinctive ones, the filler is not
        planted = TOPICS[int(np.bincount(topic[sc.labels == c.cluster]).argmax())]
        assert set(c.words[:4]) == set(planted)
    assert [r["title"] for r in out["clusters"]] == [list(c.words) for c in sc.clusters]


@pytest.mark.parametrize(("keep", "by"), [(0.10, "tokens"), (0.35, "docs"), (0.6, "tokens")])
def test_kept_share_per_cluster_equals_a_group_by_of_the_documents_view(
    topical, computed, keep, by
):
    ws, run_id, _, _, _, _ = topical
    _, sc = computed
    out = betr_json(
        ws, "clusters", "--run", str(run_id), "--k", str(K), "--seed", str(SEED),
        "--keep", f"{keep * 100:g}%", "--by", by,
    )  # fmt: skip
    conn = ws.connect(readonly=True)
    try:
        index = load_run_index(conn, run_id)
        view = make_view(conn, index, Query(sample_only=True, keep=keep, by=by))
    finally:
        conn.close()
    frame = pl.DataFrame(
        {
            "doc_id": index.doc_id[view.rows],
            "tokens": index.n_tokens[view.rows],
            "kept": view.rows < view.cut,
            "one": np.ones(len(view.rows), dtype=np.int64),
        }
    ).join(pl.DataFrame({"doc_id": sc.doc_ids, "cluster": sc.labels}), on="doc_id")
    unit_col = pl.col("tokens") if by == "tokens" else pl.col("one")
    want = (
        frame.group_by("cluster")
        .agg(
            kept_docs=pl.col("kept").sum(),
            kept_tokens=(pl.col("tokens") * pl.col("kept")).sum(),
            share=(unit_col * pl.col("kept")).sum() / unit_col.sum(),
        )
        .sort("cluster")
    )
    got = out["clusters"]
    assert [r["kept_docs"] for r in got] == want["kept_docs"].to_list()
    assert [r["kept_tokens"] for r in got] == want["kept_tokens"].to_list()
    assert [r["kept_share"] for r in got] == pytest.approx(want["share"].to_list(), abs=1e-12)
    # the pool's share: what the whole pool keeps at this cut, in the same unit
    pool = (
        view.cut / len(index)
        if by == "docs"
        else index.cum_tokens[view.cut - 1] / index.total_tokens
    )
    assert out["pool_share"] == pytest.approx(pool)
    assert [r["lift"] for r in got] == pytest.approx([r["kept_share"] / pool for r in got])
    assert out["on"] == "the 300-doc scored sample" and (out["keep"], out["by"]) == (keep, by)


def test_pull_and_nearest_examples(topical, computed):
    from engine.embed import text_sha256

    ws, run_id, *_ = topical
    out, sc = computed
    conn = ws.connect(readonly=True)
    try:
        best = pl.DataFrame(
            conn.execute(
                "SELECT s.doc_id, b.name AS benchmark FROM run_sample s "
                "JOIN benchmarks b ON b.id = s.benchmark_id WHERE s.run_id = ?",
                (run_id,),
            ).fetchall(),
            schema=["doc_id", "benchmark"],
            orient="row",
        )
        examples = conn.execute(
            "SELECT e.id, e.ext_id, e.text, b.name FROM examples e "
            "JOIN benchmarks b ON b.id = e.benchmark_id ORDER BY b.name, e.idx"
        ).fetchall()
        ex_vecs = np.stack(
            [
                np.frombuffer(
                    conn.execute(
                        "SELECT vec FROM embeddings WHERE text_sha256 = ?", (text_sha256(r[2]),)
                    ).fetchone()[0],
                    dtype=np.float16,
                )
                for r in examples
            ]
        ).astype(np.float64)
    finally:
        conn.close()
    frame = best.join(pl.DataFrame({"doc_id": sc.doc_ids, "cluster": sc.labels}), on="doc_id")
    counts = frame.group_by("cluster", "benchmark").len()
    x = unit(cached_vectors(ws, run_id)).astype(np.float64)
    for row, c in zip(out["clusters"], sc.clusters, strict=True):
        want = {
            r["benchmark"]: r["len"]
            for r in counts.filter(pl.col("cluster") == c.cluster).iter_rows(named=True)
        }
        assert row["pull"] == want == c.pull
        assert list(row["pull"].values()) == sorted(want.values(), reverse=True)
        centroid = x[sc.labels == c.cluster].mean(axis=0)
        cos = unit(ex_vecs).astype(np.float64) @ (centroid / np.linalg.norm(centroid))
        top = np.argsort(-cos, kind="stable")[:3]
        assert [e.example for e in c.nearest] == [examples[j][1] for j in top]
        assert [e.cosine for e in c.nearest] == pytest.approx(cos[top].tolist(), abs=2e-3)


def test_the_second_call_is_a_cache_hit(topical, computed):
    ws, run_id, *_ = topical
    code, out, err = betr(ws, "clusters", "--run", str(run_id), "--k", str(K), "--seed", str(SEED))
    assert code == 0, err
    assert "clustering" not in err
    assert "3 clusters on the 300-doc scored sample" in out
    jobs = [j for j in betr_json(ws, "jobs", "list") if j["kind"] == "clusters"]
    assert len([j for j in jobs if j["config"]["k"] == K and j["config"]["seed"] == SEED]) == 1
    plan = api.plan_clusters(ws, run_id, k=K, seed=SEED)
    assert plan.cached and plan.spec is None


def test_the_default_k_and_the_documents_filter(topical):
    ws, run_id, *_ = topical
    out = betr_json(ws, "clusters", "--run", str(run_id))
    assert out["k"] == 12 and out["k_rule"] == api.K_RULE  # round(sqrt(300 / 2))
    sc = api.load_clusters(ws, run_id)
    assert sc.k == 12 and sum(c.docs for c in sc.clusters) == 300
    conn = ws.connect(readonly=True)
    try:
        index = load_run_index(conn, run_id)
        view = make_view(conn, index, Query(cluster=(12, 0, 2)))
    finally:
        conn.close()
    assert sorted(index.doc_id[view.rows].tolist()) == sc.doc_ids_of(2).tolist()
    assert "cluster 2 of 12 (seed 0)" in view.query.describe()


def cluster_sets(ws: Workspace) -> int:
    conn = ws.connect(readonly=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM cluster_sets").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--k", "1"), "--k must be at least 2"),
        (("--k", "301"), "--k 301 is more clusters than the 300-doc scored sample has docs"),
        (("--keep", "150%"), "--keep must be above 0% and at most 100%"),
        (("--seed", "-1"), "--seed must be between 0 and"),
        (("--by", "words"), "Invalid value for '--by'"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(topical, args, message):
    ws, run_id, *_ = topical
    before = cluster_sets(ws)
    code, _, err = betr(ws, "clusters", "--run", str(run_id), *args)
    assert code == 2 and message in err
    assert cluster_sets(ws) == before


def test_a_run_without_cached_vectors_fails_clearly_and_writes_nothing(topical):
    ws, _, _, _, _, bare = topical
    before = cluster_sets(ws)
    code, _, err = betr(ws, "clusters", "--run", str(bare), "--k", "4")
    assert code == 2
    assert "has no cached vector for embedder synthetic@0" in err and "betr score" in err
    assert cluster_sets(ws) == before
    code, _, err = betr(ws, "clusters", "--run", "999")
    assert code == 2 and "no run 999" in err
