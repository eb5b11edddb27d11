"""BETR runs: the full config of one scoring, its cache key, and what it produced.

A run's config names its inputs by content (corpus size, benchmark example counts, the
embedder's fingerprint), so the same config over the same inputs hashes the same and a second
`betr score` reuses the finished run instead of recomputing it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError, NotFoundError, UsageError
from engine.store.db import transaction

AGGREGATIONS = ("max-rank", "mean-inv-rank", "max-cosine", "centroid")
DEFAULT_SAMPLE = 100_000
RUN_STATES = ("pending", "scored", "trained", "applied")


@dataclass
class ScoreRequest:
    corpus: str
    targets: str
    sample: int | None = None
    embedder: str | None = None
    aggregate: str = "max-rank"
    seed: int = 0
    positive_frac: float = 0.10
    valid_frac: float = 0.10
    k0: int = 64


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def check_fraction(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise UsageError(f"{name} must be between 0 and 1 (exclusive), got {value}")


def plan_score_run(conn: sqlite3.Connection, req: ScoreRequest) -> tuple[dict[str, Any], list[str]]:
    """Validate a score request and build the run config. Returns (config, notes)."""
    from engine.betr.targets import resolve_targets
    from engine.embed import model_fingerprint, resolve_embedder_path

    notes: list[str] = []
    if req.aggregate not in AGGREGATIONS:
        raise UsageError(
            f"unknown aggregation '{req.aggregate}'", fix=f"use one of: {', '.join(AGGREGATIONS)}"
        )
    check_fraction("--positive-frac", req.positive_frac)
    corpus = conn.execute(
        "SELECT id, name, state, n_docs, n_tokens, deleting_at FROM corpora WHERE name = ?",
        (req.corpus,),
    ).fetchone()
    if corpus is None:
        known = ", ".join(r[0] for r in conn.execute("SELECT name FROM corpora")) or "none yet"
        raise NotFoundError(f"no corpus '{req.corpus}'", fix=f"known corpora: {known}")
    if corpus["deleting_at"] is not None:
        raise UsageError(
            f"corpus '{req.corpus}' is being deleted",
            fix=f"finish the delete (betr delete corpus {req.corpus}) and import it again",
        )
    if corpus["state"] != "ready":
        raise UsageError(
            f"corpus '{req.corpus}' is still importing", fix="wait for its import job to finish"
        )
    set_id, names = resolve_targets(conn, req.targets)
    benches = conn.execute(
        f"SELECT id, name, n_examples FROM benchmarks WHERE name IN ({','.join('?' * len(names))}) "
        "ORDER BY name",
        names,
    ).fetchall()
    for b in benches:
        if b["n_examples"] == 0:
            raise InputError(
                f"benchmark '{b['name']}' has zero examples",
                fix="re-import it, or leave it out of the targets",
            )
    n_docs = corpus["n_docs"]
    sample = min(n_docs, DEFAULT_SAMPLE) if req.sample is None else req.sample
    if sample <= 0:
        raise UsageError(f"--sample must be positive, got {sample}")
    if sample > n_docs:
        notes.append(
            f"--sample {sample} is larger than the corpus ({n_docs} docs): using all {n_docs}"
        )
        sample = n_docs
    name, path = resolve_embedder_path(req.embedder)
    config = {
        "kind": "betr",
        "corpus": corpus["name"],
        "corpus_id": corpus["id"],
        "corpus_docs": n_docs,
        "corpus_tokens": corpus["n_tokens"],
        "targets": req.targets,
        "target_set_id": set_id,
        "benchmarks": {b["name"]: b["n_examples"] for b in benches},
        "sample": sample,
        "seed": req.seed,
        "embedder": name,
        "embedder_spec": req.embedder,
        "embedder_path": str(path),
        "model_id": f"{name}@{model_fingerprint(path)}",
        "aggregate": req.aggregate,
        "positive_frac": req.positive_frac,
        "valid_frac": req.valid_frac,
        "k0": req.k0,
    }
    return config, notes


def find_cached_run(conn: sqlite3.Connection, config: dict[str, Any]) -> int | None:
    row = conn.execute(
        "SELECT id FROM runs WHERE config_hash = ? AND state != 'pending' ORDER BY id DESC LIMIT 1",
        (config_hash(config),),
    ).fetchone()
    return row["id"] if row else None


def create_run(conn: sqlite3.Connection, config: dict[str, Any]) -> int:
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO runs (kind, name, config, config_hash, state, corpus_id, target_set_id, "
            "created_at) VALUES ('betr', ?, ?, ?, 'pending', ?, ?, ?)",
            (
                f"{config['corpus']} vs {config['targets']}",
                json.dumps(config, sort_keys=True),
                config_hash(config),
                config["corpus_id"],
                config["target_set_id"],
                time.time(),
            ),
        )
    return int(cur.lastrowid)


def get_run(conn: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT r.*, c.name AS corpus, c.n_docs AS corpus_docs, c.n_tokens AS corpus_tokens, "
        "c.deleting_at IS NOT NULL AS corpus_deleting FROM runs r LEFT JOIN corpora c ON c.id = r.corpus_id WHERE r.id = ?",
        (run_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no run {run_id}", fix="`betr list runs` shows the runs")
    run = dict(row)
    run["config"] = json.loads(run["config"])
    run["metrics"] = json.loads(run["metrics"] or "{}")
    return run


def require_state(run: dict[str, Any], *states: str, action: str) -> None:
    """The run is in one of `states` and its corpus is not being deleted."""
    require_corpus(run, action)
    if run["state"] not in states:
        hint = {
            "pending": "score it first (its score job); betr jobs list",
            "scored": f"train it first: betr train --run {run['id']}",
            "trained": f"apply it first: betr apply --run {run['id']}",
        }.get(run["state"], "")
        raise UsageError(f"run {run['id']} is {run['state']}; cannot {action}", fix=hint or None)


def require_corpus(run: dict[str, Any], action: str) -> None:
    if run.get("corpus_deleting"):
        raise UsageError(
            f"run {run['id']}'s corpus '{run['corpus']}' is being deleted; cannot {action}",
            fix=f"finish the delete: betr delete corpus {run['corpus']}",
        )


def update_metrics(conn: sqlite3.Connection, run_id: int, **metrics: Any) -> None:
    """Merge `metrics` into runs.metrics (call inside a transaction)."""
    row = conn.execute("SELECT metrics FROM runs WHERE id = ?", (run_id,)).fetchone()
    merged = json.loads(row["metrics"] or "{}")
    merged.update(metrics)
    conn.execute("UPDATE runs SET metrics = ? WHERE id = ?", (json.dumps(merged), run_id))


def ranked_rows(
    conn: sqlite3.Connection, run_id: int, *, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """The scored sample, best first (BETR score desc, best cosine desc), with p(positive)
    once the classifier has been applied."""
    run = get_run(conn, run_id)
    require_state(run, "scored", "trained", "applied", action="list its ranked docs")
    applied = run["state"] == "applied"
    prob = "p.prob" if applied else "NULL"
    join = "LEFT JOIN doc_probs p ON p.run_id = s.run_id AND p.doc_id = s.doc_id" if applied else ""
    rows = conn.execute(
        f"SELECT s.doc_id, d.ext_id, s.score, s.best_rank, s.best_cosine, b.name AS benchmark, "
        f"e.ext_id AS example_id, {prob} AS prob FROM run_sample s "
        f"JOIN docs d ON d.id = s.doc_id LEFT JOIN examples e ON e.id = s.example_id "
        f"LEFT JOIN benchmarks b ON b.id = s.benchmark_id {join} "
        f"WHERE s.run_id = ? ORDER BY s.score DESC, s.best_cosine DESC, s.doc_id "
        f"LIMIT ? OFFSET ?",
        (run_id, -1 if limit is None else limit, offset),
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        if not applied:
            d.pop("prob")
        out.append(d)
    return out
