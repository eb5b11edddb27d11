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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.betr.runs import require_corpus, require_state
from engine.errors import UsageError
from engine.exec.local import CorpusChunks, available_cores, embed_texts, run_batches
from engine.jobs.context import JobContext
from engine.jobs.kinds.checkpoints import BetrCheckpoint
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

    run = store_runs.get_run(ctx.conn, run_id)
    if run["state"] != "pending":
        return {"run_id": run_id, "stage": "score", "skipped": "already scored"}
    require_corpus(run, "score it")
    cfg = run["config"]
    t0 = time.monotonic()
    doc_ids = draw_sample(ctx, run_id, cfg)
    # every example of the targets, or (balanced targets) exactly the ones drawn at plan time
    examples = catalog.target_examples(
        ctx.conn, list(cfg["benchmarks"]), cfg.get("target_examples")
    )
    vecs, embedder, t_embed = embed_sample(ctx, cfg, device, examples, doc_ids)
    t_rank = time.monotonic()
    rs = score_docs(
        vecs[: len(examples)],
        vecs[len(examples) :],
        np.array([r["bench"] for r in examples], dtype=np.int64),
        required_positives(len(doc_ids), cfg["positive_frac"]),
        aggregate=cfg["aggregate"],
        k0=cfg["k0"],
    )
    timings = {"embed_s": round(t_embed, 3), "rank_s": round(time.monotonic() - t_rank, 3)}
    rows = sample_rows(rs, examples, doc_ids)
    ctx.commit_chunk(
        lambda c: write_scores(c, run_id, rows, rs, examples, embedder, timings, t0),
        advance=0,
        checkpoint=BetrCheckpoint("scored"),
    )
    ctx.log.info("scored run %d: k=%d, %d docs within k", run_id, rs.k_final, rs.n_within_k)
    return {
        "run_id": run_id,
        "stage": "score",
        "sample": len(doc_ids),
        "embedded": embedder.n_encoded,
        "k_final": rs.k_final,
    }


def embed_sample(
    ctx: JobContext, cfg: dict[str, Any], device: str, examples: list, doc_ids: np.ndarray
) -> tuple[np.ndarray, Any, float]:
    """(vectors of the examples then the docs, the embedder, seconds spent embedding): through
    the embedding cache, each chunk of new vectors committed with the job's progress."""
    texts = [r["text"] for r in examples] + docs.doc_texts(ctx.conn, doc_ids)
    ctx.log.info("embedding %d example and %d doc texts", len(examples), len(doc_ids))
    op = run_embedder(cfg, device)
    # a resumed score counts on from what it committed (not from 0 while the cache is read)
    resumed = ctx.restore(BetrCheckpoint).stage in ("embed", "rank")
    ctx.start_phase(len(texts), "texts", done=min(ctx.done if resumed else 0, len(texts)))
    cached: int | None = None

    def embed_progress(done: int, total_missing: int) -> None:
        nonlocal cached
        if cached is None:  # (0, missing) before the first chunk: the cache holds the rest
            cached = len(texts) - total_missing
            ctx.start_phase(len(texts), "texts", done=cached)  # the rate: this run's own
        if done:
            ctx.advance(cached + done - ctx.done, BetrCheckpoint("embed"))

    t_embed = time.monotonic()
    vecs = embed_texts(op, texts, SqliteEmbeddingCache(ctx.conn), progress=embed_progress)
    t_embed = time.monotonic() - t_embed
    ctx.advance(len(texts) - ctx.done, BetrCheckpoint("rank"))
    return vecs, op.embedder, t_embed


def sample_rows(rs, examples: list, doc_ids: np.ndarray) -> list[tuple]:
    """The run_sample rows of the ranking: score, best rank, cosine, example, benchmark, doc."""
    example_ids = np.array([r["id"] for r in examples], dtype=np.int64)
    return [
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


def write_scores(
    conn, run_id: int, rows: list[tuple], rs, examples: list, embedder, timings, t0: float
) -> None:
    """(inside the stage's last transaction) The sample's scores, the run scored, and what
    the stage measured."""
    scores.write_sample_scores(conn, run_id, rows)
    store_runs.set_state(conn, run_id, "scored")
    store_runs.update_metrics(
        conn,
        run_id,
        sample=len(rows),
        examples=len(examples),
        examples_per_benchmark=dict(Counter(r["benchmark"] for r in examples)),
        k_final=rs.k_final,
        n_within_k=rs.n_within_k,
        embedder=embedder.model_id,
        device=embedder.device,
        dtype=embedder.dtype,
        max_seq_length=embedder.max_seq_length,
        embedded_now=embedder.n_encoded,
        timings={**timings, "score_s": round(time.monotonic() - t0, 3)},
    )


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
        checkpoint=BetrCheckpoint("sampled"),
    )
    return chosen


# -- train ----------------------------------------------------------------------------------
def run_train(ctx: JobContext, spec: TrainSpec) -> dict[str, Any]:
    return train_stage(ctx, spec.run_id, spec.positive_frac, spec.fasttext)


@dataclass(frozen=True)
class LabelledSample:
    """The scored sample by BETR score, best first: doc ids, scores, texts and labels."""

    doc_ids: np.ndarray
    scores: np.ndarray
    texts: list[str]
    labels: Any  # engine.betr.labels.Labels


def train_stage(
    ctx: JobContext,
    run_id: int,
    positive_frac: float | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from engine.betr.classifier_health import classifier_warnings
    from engine.betr.fasttext_settings import choose_settings
    from engine.betr.labels import make_labels

    run = store_runs.get_run(ctx.conn, run_id)
    if run["state"] in ("trained", "applied") and ctx.kind == "betr-pipeline":
        return {"run_id": run_id, "stage": "train", "skipped": "already trained"}
    require_state(run, "scored", "trained", "applied", action="train a classifier")
    cfg = run["config"]
    frac = positive_frac if positive_frac is not None else cfg["positive_frac"]
    rows = scores.sample_by_score(ctx.conn, run_id)
    ctx.start_phase(3, "steps")
    doc_ids = np.array([r["doc_id"] for r in rows], dtype=np.int64)
    sample = LabelledSample(
        doc_ids,
        np.array([r["score"] for r in rows], dtype=np.float64),
        docs.doc_texts(ctx.conn, doc_ids),
        make_labels(np.arange(len(rows)), len(rows), frac, cfg["valid_frac"], cfg["seed"]),
    )
    ctx.advance(1, BetrCheckpoint("labels"))
    train_words = (len(sample.texts[i].split()) for i in sample.labels.train_idx)
    choice = choose_settings(len(sample.labels.train_idx), train_words, params)
    ctx.log.info("fastText settings (%s): %s", choice.rule, choice.why)
    metrics = train_classifier(ctx, run_id, sample, choice, frac, cfg["seed"])
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


def train_classifier(
    ctx: JobContext, run_id: int, sample: LabelledSample, choice, frac: float, seed: int
) -> dict[str, Any]:
    """Train and validate the run's classifier into a new model file, then commit it as the
    run's classifier with the labels and metrics; returns the metrics. Whichever model file
    the run does not reference afterwards (after the commit or a failure) is deleted."""
    conn, root = ctx.conn, ctx.workspace.root
    previous = store_runs.artifact(conn, run_id, "fasttext")
    out_path = ctx.workspace.models_dir / f"run-{run_id}-fasttext.bin"
    if previous is not None and root / previous["path"] == out_path:
        # retraining: the classifier in use stays on disk until the new one is committed
        out_path = out_path.with_name(f"run-{run_id}-fasttext-job{ctx.job_id}.bin")
    try:
        labels = sample.labels
        trained = train_and_validate(
            sample.texts, labels, sample.scores, choice.params, seed, out_path
        )
        metrics = {**trained["metrics"], "positive_frac": frac, "train_s": trained["train_s"]}
        assert not set(sample.doc_ids[labels.train_idx]) & set(sample.doc_ids[labels.valid_idx]), (
            "validation docs leaked into training"
        )
        ctx.advance(1, BetrCheckpoint("trained"))
        artifact = str(out_path.relative_to(root))
        ctx.commit_chunk(
            lambda c: write_classifier(c, run_id, sample, artifact, trained, choice, metrics),
            advance=1,
            checkpoint=BetrCheckpoint("validated"),
        )
    finally:
        in_use = store_runs.artifact(conn, run_id, "fasttext")
        for path in {out_path, *([root / previous["path"]] if previous else [])}:
            if in_use is None or root / in_use["path"] != path:
                path.unlink(missing_ok=True)
    return metrics


def write_classifier(
    conn, run_id: int, sample: LabelledSample, artifact: str, trained, choice, metrics
) -> None:
    """(inside the stage's last transaction) The sample's labels, the classifier as the run's
    artifact with its settings and metrics, and the run trained (its results cleared)."""
    labels, doc_ids = sample.labels, sample.doc_ids
    scores.write_sample_labels(
        conn,
        run_id,
        [
            (int(labels.label[i]), str(labels.split[i]), int(doc_ids[i]))
            for i in range(len(doc_ids))
        ],
    )
    store_runs.replace_artifact(conn, run_id, "fasttext", artifact, trained["sha256"])
    store_runs.update_config(conn, run_id, fasttext=choice.as_config())
    scores.clear_results(conn, run_id)  # a retrained classifier invalidates them
    store_runs.set_state(conn, run_id, "trained")
    store_runs.update_metrics(
        conn,
        run_id,
        classifier=metrics,
        fasttext=trained["params"],
        classifier_sha256=trained["sha256"],
        label_counts=labels.counts(),
    )


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
    state = apply_resume_point(ctx, run_id, art["sha256"])
    ctx.start_phase(run["corpus_docs"], "docs", done=state.staged)

    def write(c, out) -> None:
        rows = [
            (run_id, d, float(p), ctx.job_id) for d, p in zip(out["id"], out["prob"], strict=True)
        ]
        scores.stage_probs(c, rows)

    def checkpoint_of(out) -> BetrCheckpoint:
        nonlocal state
        state = state.staged_chunk(out["id"][-1], len(out["id"]))
        return state

    t0 = time.monotonic()
    reader = CorpusChunks(ctx.workspace, run["corpus_id"])  # texts read where op runs
    chunks = reader.chunks(conn, after_id=state.last_doc_id or 0, size=APPLY_CHUNK)
    n_workers = apply_workers(workers, run["corpus_docs"] - state.staged)
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

    ctx.commit_chunk(swap_in, advance=0, checkpoint=BetrCheckpoint("applied"))
    return {"run_id": run_id, "stage": "apply", "docs": ctx.done}


def apply_resume_point(ctx: JobContext, run_id: int, classifier: str) -> BetrCheckpoint:
    """Where an apply of `classifier` starts: after the rows this job staged, when its
    checkpoint says so and they are all there; else from the start. What other (abandoned)
    applies of the run staged goes; the run's results, if it was applied, stay in doc_probs
    until this apply swaps in its own."""
    staged = scores.count_staged(ctx.conn, run_id, ctx.job_id)
    restored = ctx.restore(BetrCheckpoint)
    resuming = restored.applying(classifier, staged)
    mine = (run_id, ctx.job_id if resuming else -1)
    delete_batched(ctx.conn, "apply_staging", "doc_id", "run_id = ? AND job_id != ?", mine)
    if resuming:
        return restored
    return BetrCheckpoint("apply", last_doc_id=0, classifier=classifier, staged=0)


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
