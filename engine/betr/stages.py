"""The BETR run as resumable jobs: score (sample, embed, rank), train (labels, fastText) and
apply (p(positive) for every doc, then the probability order with cumulative tokens).

Each stage is a job function `(ctx) -> result`; `run_pipeline_job` chains all three in one
worker (what the demo queues). Every stage commits through `ctx.commit_chunk`, so a killed
worker resumes where it stopped: embeddings are cached per text, apply continues after the
last committed doc id, and a finished stage is never redone.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from engine.betr.runs import get_run, require_corpus, require_state, update_metrics
from engine.errors import UsageError
from engine.jobs.context import JobContext

APPLY_CHUNK = 5000
EMBED_BATCH = 64


# -- score ----------------------------------------------------------------------------------
def run_score_job(ctx: JobContext) -> dict[str, Any]:
    return score_stage(ctx, ctx.config["run_id"])


def score_stage(ctx: JobContext, run_id: int) -> dict[str, Any]:
    from engine.betr.similarity import required_positives, score_docs
    from engine.embed import Embedder, embed_cached
    from engine.store.embeddings import SqliteEmbeddingCache

    conn = ctx.conn
    run = get_run(conn, run_id)
    if run["state"] != "pending":
        return {"run_id": run_id, "stage": "score", "skipped": "already scored"}
    require_corpus(run, "score it")
    cfg = run["config"]
    t0 = time.monotonic()
    doc_ids = draw_sample(ctx, run_id, cfg)
    examples = conn.execute(
        "SELECT e.id, e.text, b.id AS bench FROM examples e JOIN benchmarks b "
        f"ON b.id = e.benchmark_id WHERE b.name IN ({','.join('?' * len(cfg['benchmarks']))}) "
        "ORDER BY b.name, e.idx",
        list(cfg["benchmarks"]),
    ).fetchall()
    texts = [r["text"] for r in examples] + doc_texts(conn, doc_ids)
    ctx.log.info("embedding %d example and %d doc texts", len(examples), len(doc_ids))
    embedder = Embedder.load(cfg["embedder_spec"], device=ctx.config.get("device", "auto"))
    if embedder.model_id != cfg["model_id"]:
        raise UsageError(
            f"the embedder at {cfg['embedder_path']} changed since the run was planned "
            f"({cfg['model_id']} then, {embedder.model_id} now)",
            fix="start a new run with betr score",
        )
    ctx.start_phase(len(texts), "texts")
    cache = SqliteEmbeddingCache(conn)
    base = {"done": None}

    def embed_progress(done: int, total_missing: int) -> None:
        if base["done"] is None:
            base["done"] = len(texts) - total_missing
        ctx.commit_chunk(
            lambda _c: None,
            advance=base["done"] + done - ctx.done,
            checkpoint={"stage": "embed"},
        )

    t_embed = time.monotonic()
    vecs = embed_cached(embedder, texts, cache, batch_size=EMBED_BATCH, progress=embed_progress)
    t_embed = time.monotonic() - t_embed
    ctx.commit_chunk(lambda _c: None, advance=len(texts) - ctx.done, checkpoint={"stage": "rank"})
    ex_vecs, doc_vecs = vecs[: len(examples)], vecs[len(examples) :]
    bench_of_example = np.array([r["bench"] for r in examples], dtype=np.int64)
    t_rank = time.monotonic()
    rs = score_docs(
        ex_vecs,
        doc_vecs,
        bench_of_example,
        required_positives(len(doc_ids), cfg["positive_frac"]),
        aggregate=cfg["aggregate"],
        k0=cfg["k0"],
    )
    t_rank = time.monotonic() - t_rank
    example_ids = np.array([r["id"] for r in examples], dtype=np.int64)

    def write(c) -> None:
        c.executemany(
            "UPDATE run_sample SET score = ?, best_rank = ?, best_cosine = ?, example_id = ?, "
            "benchmark_id = ? WHERE run_id = ? AND doc_id = ?",
            [
                (
                    float(rs.score[i]),
                    int(rs.best_rank[i]) or None,
                    float(rs.best_cosine[i]),
                    int(example_ids[rs.best_example[i]]) if rs.best_example[i] >= 0 else None,
                    int(rs.best_benchmark[i]),
                    run_id,
                    int(doc_ids[i]),
                )
                for i in range(len(doc_ids))
            ],
        )
        c.execute("UPDATE runs SET state = 'scored' WHERE id = ?", (run_id,))
        update_metrics(
            c,
            run_id,
            sample=len(doc_ids),
            examples=len(examples),
            k_final=rs.k_final,
            n_within_k=rs.n_within_k,
            embedder=embedder.model_id,
            device=embedder.device,
            dtype=embedder.dtype,
            max_seq_length=embedder.max_seq_length,
            embedded_now=embedder.n_encoded,
            timings={
                "embed_s": round(t_embed, 3),
                "rank_s": round(t_rank, 3),
                "score_s": round(time.monotonic() - t0, 3),
            },
        )

    ctx.commit_chunk(write, advance=0, checkpoint={"stage": "scored"})
    ctx.log.info("scored run %d: k=%d, %d docs within k", run_id, rs.k_final, rs.n_within_k)
    return {
        "run_id": run_id,
        "stage": "score",
        "sample": len(doc_ids),
        "embedded": embedder.n_encoded,
        "k_final": rs.k_final,
    }


def draw_sample(ctx: JobContext, run_id: int, cfg: dict[str, Any]) -> np.ndarray:
    """The seeded uniform sample S of the corpus, stored once (so the run is reproducible)."""
    conn = ctx.conn
    stored = [
        r[0]
        for r in conn.execute(
            "SELECT doc_id FROM run_sample WHERE run_id = ? ORDER BY doc_id", (run_id,)
        )
    ]
    if stored:
        return np.array(stored, dtype=np.int64)
    all_ids = np.array(
        [
            r[0]
            for r in conn.execute(
                "SELECT id FROM docs WHERE corpus_id = ? ORDER BY id", (cfg["corpus_id"],)
            )
        ],
        dtype=np.int64,
    )
    rng = np.random.default_rng(cfg["seed"])
    chosen = np.sort(rng.choice(all_ids, size=min(cfg["sample"], len(all_ids)), replace=False))
    ctx.commit_chunk(
        lambda c: c.executemany(
            "INSERT INTO run_sample (run_id, doc_id) VALUES (?, ?)",
            [(run_id, int(d)) for d in chosen],
        ),
        advance=0,
        checkpoint={"stage": "sampled"},
    )
    return chosen


def doc_texts(conn, doc_ids) -> list[str]:
    texts: dict[int, str] = {}
    ids = [int(d) for d in doc_ids]
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        for r in conn.execute(
            f"SELECT id, text FROM docs WHERE id IN ({','.join('?' * len(part))})", part
        ):
            texts[r[0]] = r[1]
    return [texts[i] for i in ids]


# -- train ----------------------------------------------------------------------------------
def run_train_job(ctx: JobContext) -> dict[str, Any]:
    return train_stage(
        ctx, ctx.config["run_id"], ctx.config.get("positive_frac"), ctx.config.get("fasttext")
    )


def train_stage(
    ctx: JobContext,
    run_id: int,
    positive_frac: float | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from engine.betr.classifier import FASTTEXT_DEFAULTS
    from engine.betr.labels import make_labels

    conn = ctx.conn
    run = get_run(conn, run_id)
    if run["state"] in ("trained", "applied") and ctx.job.kind == "betr-pipeline":
        return {"run_id": run_id, "stage": "train", "skipped": "already trained"}
    require_state(run, "scored", "trained", "applied", action="train a classifier")
    cfg = run["config"]
    frac = positive_frac if positive_frac is not None else cfg["positive_frac"]
    rows = conn.execute(
        "SELECT doc_id, score FROM run_sample WHERE run_id = ? "
        "ORDER BY score DESC, best_cosine DESC, doc_id",
        (run_id,),
    ).fetchall()
    ctx.start_phase(3, "steps")
    doc_ids = np.array([r["doc_id"] for r in rows], dtype=np.int64)
    scores = np.array([r["score"] for r in rows], dtype=np.float64)
    labels = make_labels(np.arange(len(rows)), len(rows), frac, cfg["valid_frac"], cfg["seed"])
    texts = doc_texts(conn, doc_ids)
    ctx.commit_chunk(lambda _c: None, advance=1, checkpoint={"stage": "labels"})
    merged = {**FASTTEXT_DEFAULTS, **(params or {})}
    previous = conn.execute(
        "SELECT path FROM artifacts WHERE run_id = ? AND kind = 'fasttext'", (run_id,)
    ).fetchone()
    out_path = ctx.workspace.models_dir / f"run-{run_id}-fasttext.bin"
    if previous is not None and ctx.workspace.root / previous["path"] == out_path:
        # retraining: the classifier in use stays on disk until the new one is committed
        out_path = out_path.with_name(f"run-{run_id}-fasttext-job{ctx.job_id}.bin")
    try:
        return _train_and_commit(
            ctx, run_id, rows, labels, texts, doc_ids, scores, frac, merged, cfg, out_path
        )
    finally:
        # whichever file the run does not reference (after a commit or a failure) goes
        in_use = conn.execute(
            "SELECT path FROM artifacts WHERE run_id = ? AND kind = 'fasttext'", (run_id,)
        ).fetchone()
        for path in {out_path, *([ctx.workspace.root / previous["path"]] if previous else [])}:
            if in_use is None or ctx.workspace.root / in_use["path"] != path:
                path.unlink(missing_ok=True)


def _train_and_commit(
    ctx, run_id, rows, labels, texts, doc_ids, scores, frac, merged, cfg, out_path
):
    from engine.betr.classifier import evaluate, load_classifier, predict_positive, train_classifier

    t0 = time.monotonic()
    info = train_classifier(
        [texts[i] for i in labels.train_idx],
        labels.label[labels.train_idx],
        out_path,
        merged,
        seed=cfg["seed"],
    )
    t_train = time.monotonic() - t0
    ctx.commit_chunk(lambda _c: None, advance=1, checkpoint={"stage": "trained"})
    model = load_classifier(out_path)
    valid = labels.valid_idx
    prob = predict_positive(model, [texts[i] for i in valid])
    metrics = evaluate(prob, labels.label[valid], scores[valid])
    metrics["train_docs"] = len(labels.train_idx)
    metrics["valid_docs"] = len(valid)
    metrics["positive_frac"] = frac
    metrics["train_s"] = round(t_train, 3)
    overlap = set(doc_ids[labels.train_idx].tolist()) & set(doc_ids[valid].tolist())
    assert not overlap, "validation docs leaked into training"

    def write(c) -> None:
        c.executemany(
            "UPDATE run_sample SET label = ?, split = ? WHERE run_id = ? AND doc_id = ?",
            [
                (int(labels.label[i]), str(labels.split[i]), run_id, int(doc_ids[i]))
                for i in range(len(doc_ids))
            ],
        )
        c.execute("DELETE FROM artifacts WHERE run_id = ? AND kind = 'fasttext'", (run_id,))
        c.execute(
            "INSERT INTO artifacts (run_id, kind, path, sha256, created_at) "
            "VALUES (?, 'fasttext', ?, ?, ?)",
            (run_id, str(out_path.relative_to(ctx.workspace.root)), info.sha256, time.time()),
        )
        # a retrained classifier invalidates earlier probabilities
        c.execute("DELETE FROM doc_probs WHERE run_id = ?", (run_id,))
        c.execute("DELETE FROM apply_staging WHERE run_id = ?", (run_id,))
        c.execute("DELETE FROM prob_order WHERE run_id = ?", (run_id,))
        c.execute("DELETE FROM run_columns WHERE run_id = ?", (run_id,))
        c.execute("UPDATE runs SET state = 'trained' WHERE id = ?", (run_id,))
        update_metrics(
            c,
            run_id,
            classifier=metrics,
            fasttext=info.params,
            classifier_sha256=info.sha256,
            label_counts=labels.counts(),
        )

    ctx.commit_chunk(write, advance=1, checkpoint={"stage": "validated"})
    return {
        "run_id": run_id,
        "stage": "train",
        **{k: metrics[k] for k in ("accuracy", "precision", "recall", "roc_auc", "spearman")},
    }


# -- apply ----------------------------------------------------------------------------------
def run_apply_job(ctx: JobContext) -> dict[str, Any]:
    return apply_stage(ctx, ctx.config["run_id"])


def apply_stage(ctx: JobContext, run_id: int) -> dict[str, Any]:
    from engine.betr.classifier import load_classifier, predict_positive

    conn = ctx.conn
    run = get_run(conn, run_id)
    if run["state"] == "applied" and ctx.job.kind == "betr-pipeline":
        return {"run_id": run_id, "stage": "apply", "skipped": "already applied"}
    require_state(run, "trained", "applied", action="apply its classifier")
    art = conn.execute(
        "SELECT path, sha256 FROM artifacts WHERE run_id = ? AND kind = 'fasttext'", (run_id,)
    ).fetchone()
    path = ctx.workspace.root / art["path"]
    from engine.betr.classifier import file_sha256

    if file_sha256(path) != art["sha256"]:
        raise UsageError(
            f"{path} does not match the sha256 recorded for run {run_id}",
            fix=f"retrain it: betr train --run {run_id}",
        )
    model = load_classifier(path)
    corpus_id = run["corpus_id"]
    checkpoint = ctx.checkpoint or {}
    staged = conn.execute(
        "SELECT COUNT(*) FROM apply_staging WHERE run_id = ? AND job_id = ?", (run_id, ctx.job_id)
    ).fetchone()[0]
    resuming = (
        checkpoint.get("stage") == "apply"
        and checkpoint.get("classifier") == art["sha256"]  # not retrained meanwhile
        and checkpoint.get("staged") == staged  # and its rows are all still there
    )
    last_id = int(checkpoint["last_doc_id"]) if resuming else 0
    if not resuming:
        staged = 0
    # what other (abandoned) applies of this run staged goes; the run's results, if it was
    # applied, stay in doc_probs until this apply swaps in its own
    from engine.store.deletes import delete_batched

    mine = (run_id, ctx.job_id if resuming else -1)
    delete_batched(conn, "apply_staging", "doc_id", "run_id = ? AND job_id != ?", mine)
    ctx.start_phase(run["corpus_docs"], "docs", done=staged)
    t0 = time.monotonic()
    while True:
        rows = conn.execute(
            "SELECT id, text FROM docs WHERE corpus_id = ? AND id > ? ORDER BY id LIMIT ?",
            (corpus_id, last_id, APPLY_CHUNK),
        ).fetchall()
        if not rows:
            break
        prob = predict_positive(model, [r[1] for r in rows])
        batch = [(run_id, r[0], float(p), ctx.job_id) for r, p in zip(rows, prob, strict=True)]
        last_id = rows[-1][0]
        staged += len(rows)
        ctx.commit_chunk(
            lambda c, b=batch: c.executemany(
                "INSERT INTO apply_staging (run_id, doc_id, prob, job_id) VALUES (?, ?, ?, ?)", b
            ),
            advance=len(rows),
            checkpoint={
                "stage": "apply",
                "last_doc_id": last_id,
                "classifier": art["sha256"],
                "staged": staged,
            },
        )
    t_apply = time.monotonic() - t0

    def swap_in(c) -> None:
        """The staged probabilities replace the run's (if any), with their order, at once."""
        c.execute("DELETE FROM doc_probs WHERE run_id = ?", (run_id,))
        c.execute(
            "INSERT INTO doc_probs (run_id, doc_id, prob) SELECT s.run_id, s.doc_id, s.prob "
            "FROM apply_staging s JOIN docs d ON d.id = s.doc_id WHERE s.run_id = ? "
            "AND s.job_id = ?",
            (run_id, ctx.job_id),
        )
        c.execute("DELETE FROM apply_staging WHERE run_id = ?", (run_id,))
        write_prob_order(c, run_id)
        c.execute(
            "UPDATE runs SET state = 'applied', finished_at = ? WHERE id = ?", (time.time(), run_id)
        )
        update_metrics(c, run_id, applied_docs=ctx.done, apply_s=round(t_apply, 3))

    ctx.commit_chunk(swap_in, advance=0, checkpoint={"stage": "applied"})
    return {"run_id": run_id, "stage": "apply", "docs": ctx.done}


def write_prob_order(conn, run_id: int) -> None:
    """prob_order (positions and cumulative tokens) from doc_probs, and the packed run columns
    (call inside a transaction). Ties in probability are broken by doc id, so the order, and
    every threshold, is stable."""
    from engine.betr.browse import pack_run_columns

    conn.execute("DELETE FROM prob_order WHERE run_id = ?", (run_id,))
    conn.execute(
        "INSERT INTO prob_order (run_id, position, doc_id, prob, n_tokens, cum_tokens) "
        "SELECT p.run_id, ROW_NUMBER() OVER w, p.doc_id, p.prob, d.n_tokens, "
        "SUM(d.n_tokens) OVER w FROM doc_probs p JOIN docs d ON d.id = p.doc_id "
        "WHERE p.run_id = ? WINDOW w AS (ORDER BY p.prob DESC, p.doc_id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
        (run_id,),
    )
    pack_run_columns(conn, run_id)


# -- all three ------------------------------------------------------------------------------
def run_pipeline_job(ctx: JobContext) -> dict[str, Any]:
    """score -> train -> apply in one worker; a finished stage is skipped on resume."""
    run_id = ctx.config["run_id"]
    cfg = ctx.config
    stages = (
        ("score", lambda: score_stage(ctx, run_id)),
        ("train", lambda: train_stage(ctx, run_id, cfg.get("positive_frac"), cfg.get("fasttext"))),
        ("apply", lambda: apply_stage(ctx, run_id)),
    )
    out: dict[str, Any] = {"run_id": run_id}
    for name, stage in stages:
        ctx.log.info("stage %s", name)
        out[name] = stage()
    return out
