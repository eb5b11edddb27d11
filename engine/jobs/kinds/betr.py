"""The BETR run as resumable jobs: score (sample, embed, rank), train (labels, fastText) and
apply (p(positive) for every doc, then the probability order with cumulative tokens).

Each stage reads what it needs from the store, computes with pure code (engine.betr) or an
operator (engine.ops, through engine.exec.local), and writes through `ctx.commit_chunk`, so a
killed worker resumes where it stopped: embeddings are cached per text, apply continues after
the last committed doc id, and a finished stage is never redone. `run_pipeline` chains all three
in one worker (what the demo queues).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from engine.betr.runs import require_corpus, require_state
from engine.errors import UsageError
from engine.exec.local import CorpusChunks, available_cores, embed_texts, run_batches
from engine.jobs.context import JobContext
from engine.jobs.specs import ApplySpec, PipelineSpec, ScoreSpec, TrainSpec
from engine.ops.embed import EmbedTexts
from engine.ops.fasttext_apply import FastTextApply
from engine.store import catalog, docs, scores
from engine.store import runs as store_runs
from engine.store.deletes import delete_batched
from engine.store.embeddings import SqliteEmbeddingCache

APPLY_CHUNK = 5000
PARALLEL_MIN_DOCS = 20_000  # an apply of fewer docs runs in the job's process
EMBED_BATCH = 64


def run_embedder(cfg: dict[str, Any], device: str) -> EmbedTexts:
    """The embedder a run was planned with, loaded; a UsageError when the model files changed
    since (its vectors would not compare with the run's)."""
    op = EmbedTexts(cfg["embedder_spec"], device=device, batch_size=EMBED_BATCH)
    op.setup()
    if op.model_id != cfg["model_id"]:
        raise UsageError(
            f"the embedder at {cfg.get('embedder_path')} changed since the run was planned "
            f"({cfg['model_id']} then, {op.model_id} now)",
            fix="start a new run with betr score",
        )
    return op


# -- score ----------------------------------------------------------------------------------
def run_score(ctx: JobContext, spec: ScoreSpec) -> dict[str, Any]:
    return score_stage(ctx, spec.run_id, spec.device)


def score_stage(ctx: JobContext, run_id: int, device: str = "auto") -> dict[str, Any]:
    from engine.betr.similarity import required_positives, score_docs

    conn = ctx.conn
    run = store_runs.get_run(conn, run_id)
    if run["state"] != "pending":
        return {"run_id": run_id, "stage": "score", "skipped": "already scored"}
    require_corpus(run, "score it")
    cfg = run["config"]
    t0 = time.monotonic()
    doc_ids = draw_sample(ctx, run_id, cfg)
    # every example of the targets, or (balanced targets) exactly the ones drawn at plan time
    examples = catalog.target_examples(conn, list(cfg["benchmarks"]), cfg.get("target_examples"))
    texts = [r["text"] for r in examples] + docs.doc_texts(conn, doc_ids)
    ctx.log.info("embedding %d example and %d doc texts", len(examples), len(doc_ids))
    op = run_embedder(cfg, device)
    # a resumed score counts on from what it committed (not from 0 while the cache is read)
    committed = ctx.done if (ctx.checkpoint or {}).get("stage") in ("embed", "rank") else 0
    ctx.start_phase(len(texts), "texts", done=min(committed, len(texts)))
    base = {"done": None}

    def embed_progress(done: int, total_missing: int) -> None:
        if base["done"] is None:  # (0, missing) before the first chunk: the cache holds the rest
            base["done"] = len(texts) - total_missing
            ctx.start_phase(len(texts), "texts", done=base["done"])  # the rate: this run's own
        if done == 0:
            return
        ctx.commit_chunk(
            lambda _c: None,
            advance=base["done"] + done - ctx.done,
            checkpoint={"stage": "embed"},
        )

    t_embed = time.monotonic()
    vecs = embed_texts(op, texts, SqliteEmbeddingCache(conn), progress=embed_progress)
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
    rows = [
        (
            float(rs.score[i]),
            int(rs.best_rank[i]) or None,
            float(rs.best_cosine[i]),
            int(example_ids[rs.best_example[i]]) if rs.best_example[i] >= 0 else None,
            int(rs.best_benchmark[i]),
            int(doc_ids[i]),
        )
        for i in range(len(doc_ids))
    ]
    embedder = op.embedder

    def write(c) -> None:
        scores.write_sample_scores(c, run_id, rows)
        store_runs.set_state(c, run_id, "scored")
        store_runs.update_metrics(
            c,
            run_id,
            sample=len(doc_ids),
            examples=len(examples),
            examples_per_benchmark=dict(Counter(r["benchmark"] for r in examples)),
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
    stored = scores.sample_doc_ids(ctx.conn, run_id)
    if len(stored):
        return stored
    all_ids = docs.corpus_doc_ids(ctx.conn, cfg["corpus_id"])
    rng = np.random.default_rng(cfg["seed"])
    chosen = np.sort(rng.choice(all_ids, size=min(cfg["sample"], len(all_ids)), replace=False))
    ctx.commit_chunk(
        lambda c: scores.insert_sample(c, run_id, chosen),
        advance=0,
        checkpoint={"stage": "sampled"},
    )
    return chosen


# -- train ----------------------------------------------------------------------------------
def run_train(ctx: JobContext, spec: TrainSpec) -> dict[str, Any]:
    return train_stage(ctx, spec.run_id, spec.positive_frac, spec.fasttext)


def train_stage(
    ctx: JobContext,
    run_id: int,
    positive_frac: float | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from engine.betr.classifier_health import classifier_warnings
    from engine.betr.fasttext_settings import choose_settings
    from engine.betr.labels import make_labels

    conn = ctx.conn
    run = store_runs.get_run(conn, run_id)
    if run["state"] in ("trained", "applied") and ctx.kind == "betr-pipeline":
        return {"run_id": run_id, "stage": "train", "skipped": "already trained"}
    require_state(run, "scored", "trained", "applied", action="train a classifier")
    cfg = run["config"]
    frac = positive_frac if positive_frac is not None else cfg["positive_frac"]
    rows = scores.sample_by_score(conn, run_id)
    ctx.start_phase(3, "steps")
    doc_ids = np.array([r["doc_id"] for r in rows], dtype=np.int64)
    betr_scores = np.array([r["score"] for r in rows], dtype=np.float64)
    labels = make_labels(np.arange(len(rows)), len(rows), frac, cfg["valid_frac"], cfg["seed"])
    texts = docs.doc_texts(conn, doc_ids)
    ctx.commit_chunk(lambda _c: None, advance=1, checkpoint={"stage": "labels"})
    train_words = (len(texts[i].split()) for i in labels.train_idx)
    choice = choose_settings(len(labels.train_idx), train_words, params)
    ctx.log.info("fastText settings (%s): %s", choice.rule, choice.why)
    previous = store_runs.artifact(conn, run_id, "fasttext")
    root = ctx.workspace.root
    out_path = ctx.workspace.models_dir / f"run-{run_id}-fasttext.bin"
    if previous is not None and root / previous["path"] == out_path:
        # retraining: the classifier in use stays on disk until the new one is committed
        out_path = out_path.with_name(f"run-{run_id}-fasttext-job{ctx.job_id}.bin")
    try:
        trained = train_and_validate(
            texts, labels, betr_scores, choice.params, cfg["seed"], out_path
        )
        metrics = {**trained["metrics"], "positive_frac": frac, "train_s": trained["train_s"]}
        assert not set(doc_ids[labels.train_idx]) & set(doc_ids[labels.valid_idx]), (
            "validation docs leaked into training"
        )
        ctx.commit_chunk(lambda _c: None, advance=1, checkpoint={"stage": "trained"})

        def write(c) -> None:
            scores.write_sample_labels(
                c,
                run_id,
                [
                    (int(labels.label[i]), str(labels.split[i]), int(doc_ids[i]))
                    for i in range(len(doc_ids))
                ],
            )
            store_runs.replace_artifact(
                c, run_id, "fasttext", str(out_path.relative_to(root)), trained["sha256"]
            )
            store_runs.update_config(c, run_id, fasttext=choice.as_config())
            scores.clear_results(c, run_id)  # a retrained classifier invalidates them
            store_runs.set_state(c, run_id, "trained")
            store_runs.update_metrics(
                c,
                run_id,
                classifier=metrics,
                fasttext=trained["params"],
                classifier_sha256=trained["sha256"],
                label_counts=labels.counts(),
            )

        ctx.commit_chunk(write, advance=1, checkpoint={"stage": "validated"})
    finally:
        # whichever file the run does not reference (after a commit or a failure) goes
        in_use = store_runs.artifact(conn, run_id, "fasttext")
        for path in {out_path, *([root / previous["path"]] if previous else [])}:
            if in_use is None or root / in_use["path"] != path:
                path.unlink(missing_ok=True)
    warnings = classifier_warnings(metrics, run_id)
    for warning in warnings:
        ctx.log.warning("%s", warning)
    return {
        "run_id": run_id,
        "stage": "train",
        **{k: metrics[k] for k in ("accuracy", "precision", "recall", "roc_auc", "spearman")},
        "p_spread": metrics["p_spread"],
        "fasttext": {k: choice.params[k] for k in ("epoch", "lr", "minCount", "bucket")},
        "fasttext_rule": choice.rule,
        "warnings": warnings,
    }


def train_and_validate(
    texts: list[str], labels, betr_scores: np.ndarray, params: dict, seed: int, out_path: Path
) -> dict[str, Any]:
    """Train on the balanced training docs, then the held-out metrics (pure computation and
    the model file; nothing is written to the workspace)."""
    from engine.betr.classifier import evaluate, predict_positive, train_classifier
    from engine.betr.classifier_health import p_spread

    t0 = time.monotonic()
    info = train_classifier(
        [texts[i] for i in labels.train_idx],
        labels.label[labels.train_idx],
        out_path,
        params,
        seed=seed,
    )
    t_train = time.monotonic() - t0
    op = FastTextApply(out_path)
    op.setup()
    valid = labels.valid_idx
    prob = predict_positive(op.model, [texts[i] for i in valid])
    metrics = evaluate(prob, labels.label[valid], betr_scores[valid])
    metrics.update(p_spread=p_spread(prob), train_docs=len(labels.train_idx), valid_docs=len(valid))
    return {
        "metrics": metrics,
        "sha256": info.sha256,
        "params": info.params,
        "train_s": round(t_train, 3),
    }


# -- apply ----------------------------------------------------------------------------------
def run_apply(ctx: JobContext, spec: ApplySpec) -> dict[str, Any]:
    return apply_stage(ctx, spec.run_id, spec.workers)


def apply_workers(asked: int | None, remaining: int) -> int:
    """Processes for an apply: as asked, or every core when at least PARALLEL_MIN_DOCS docs
    remain (below that, starting processes and loading the model in each costs more than it
    saves); never more than one per chunk left."""
    chunks = max(1, -(-remaining // APPLY_CHUNK))
    if asked is None:
        asked = available_cores() if remaining >= PARALLEL_MIN_DOCS else 1
    return max(1, min(asked, chunks))


def apply_stage(ctx: JobContext, run_id: int, workers: int | None = None) -> dict[str, Any]:
    """p(positive) of every doc, staged chunk by chunk (by `apply_workers` processes); swapped
    in (with the probability order) in one transaction at the end, so an applied run's results
    stay whole until then."""
    conn = ctx.conn
    run = store_runs.get_run(conn, run_id)
    if run["state"] == "applied" and ctx.kind == "betr-pipeline":
        return {"run_id": run_id, "stage": "apply", "skipped": "already applied"}
    require_state(run, "trained", "applied", action="apply its classifier")
    art = store_runs.artifact(conn, run_id, "fasttext")
    op = FastTextApply(ctx.workspace.root / art["path"], art["sha256"], run_id)
    op.setup()  # a tampered or missing model fails here, before anything is written
    checkpoint = ctx.checkpoint or {}
    staged = scores.count_staged(conn, run_id, ctx.job_id)
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
    mine = (run_id, ctx.job_id if resuming else -1)
    delete_batched(conn, "apply_staging", "doc_id", "run_id = ? AND job_id != ?", mine)
    ctx.start_phase(run["corpus_docs"], "docs", done=staged)
    progress = {"staged": staged}

    def write(c, out) -> None:
        scores.stage_probs(
            c,
            [
                (run_id, d, float(p), ctx.job_id)
                for d, p in zip(out["id"], out["prob"], strict=True)
            ],
        )

    def checkpoint_of(out) -> dict[str, Any]:
        progress["staged"] += len(out["id"])
        return {
            "stage": "apply",
            "last_doc_id": out["id"][-1],
            "classifier": art["sha256"],
            "staged": progress["staged"],
        }

    t0 = time.monotonic()
    reader = CorpusChunks(ctx.workspace, run["corpus_id"])  # texts read where op runs
    chunks = reader.chunks(conn, after_id=last_id, size=APPLY_CHUNK)
    n_workers = apply_workers(workers, run["corpus_docs"] - staged)
    ctx.log.info("apply: %d process(es)", n_workers)
    try:
        run_batches(
            ctx, op, chunks, write=write, checkpoint=checkpoint_of, workers=n_workers, load=reader
        )
    finally:
        reader.close()
    t_apply = time.monotonic() - t0

    def swap_in(c) -> None:
        scores.swap_in_staged(c, run_id, ctx.job_id)
        store_runs.set_state(c, run_id, "applied", finished=True)
        store_runs.update_metrics(c, run_id, applied_docs=ctx.done, apply_s=round(t_apply, 3))

    ctx.commit_chunk(swap_in, advance=0, checkpoint={"stage": "applied"})
    return {"run_id": run_id, "stage": "apply", "docs": ctx.done}


# -- all three ------------------------------------------------------------------------------
def run_pipeline(ctx: JobContext, spec: PipelineSpec) -> dict[str, Any]:
    """score -> train -> apply in one worker; a finished stage is skipped on resume."""
    run_id = spec.run_id
    stages = (
        ("score", lambda: score_stage(ctx, run_id, spec.device)),
        ("train", lambda: train_stage(ctx, run_id, spec.positive_frac, spec.fasttext)),
        ("apply", lambda: apply_stage(ctx, run_id)),
    )
    out: dict[str, Any] = {"run_id": run_id}
    for name, stage in stages:
        ctx.log.info("stage %s", name)
        out[name] = stage()
    return out
