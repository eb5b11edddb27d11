"""BETR runs: plan and launch score / train / apply (with the cache lookup), and read what a run
produced (its summary, its ranked sample).

A run's config names its inputs by content (corpus size, benchmark example counts, the
embedder's fingerprint), so the same config over the same inputs hashes the same and a second
`score` reuses the finished run instead of recomputing it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from engine.api.catalog import resolve_targets
from engine.api.records import Record
from engine.api.run_targets import RunDetail as RunDetail
from engine.api.run_targets import RunInfo as RunInfo
from engine.api.run_targets import TargetUse as TargetUse
from engine.api.run_targets import annotate_runs, plan_targets, run_infos, typed_targets
from engine.betr.runs import (
    DEFAULT_SAMPLE,
    check_fraction,
    config_hash,
    require_state,
)
from engine.betr.similarity import AGGREGATIONS as AGGREGATIONS  # the registry, for the faces
from engine.betr.similarity import aggregation
from engine.betr.targets import split_warnings
from engine.errors import InputError, UsageError
from engine.jobs.launch import submit
from engine.jobs.specs import ApplySpec, PipelineSpec, ScoreSpec, TrainSpec
from engine.jobs.table import refuse_if_in_use
from engine.store import catalog, scores
from engine.store import runs as store_runs
from engine.workspace import Workspace

FASTTEXT_FLAGS = {  # CLI option -> fastText parameter
    "epoch": "epoch",
    "lr": "lr",
    "dim": "dim",
    "word_ngrams": "wordNgrams",
    "min_count": "minCount",
    "bucket": "bucket",
}


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
    per_benchmark: str | int | None = None  # N or "min": balanced targets; None: every example
    # the share of each target benchmark's examples held out of the run (seeded by `seed`;
    # engine.betr.targets.draw_holdout); 0: none, the run embeds every (drawn) example
    holdout: float = 0.0


@dataclass
class ScorePlan:
    """What `plan_score` decided: the run (new or cached), and notes for the user."""

    run_id: int
    cached: bool
    title: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # targets from an evaluation split


@dataclass(frozen=True)
class RunPlan:
    """A validated score request: the run's config (what the run row stores and hashes) and
    notes for the user."""

    config: dict[str, Any]
    notes: list[str]


def plan_score_run(conn: sqlite3.Connection, req: ScoreRequest) -> RunPlan:
    """Validate a score request and build the run config."""
    from engine.embed import model_fingerprint, resolve_embedder_path

    notes: list[str] = []
    aggregation(req.aggregate)  # a registered one
    check_fraction("--positive-frac", req.positive_frac)
    corpus = catalog.corpus_by_name(conn, req.corpus)
    if corpus is None:
        raise catalog.not_found_corpus(conn, req.corpus)
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
    benches = catalog.benchmarks_named(conn, names)
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
    target_entries, target_notes = plan_targets(
        conn, benches, req.per_benchmark, req.seed, req.holdout
    )
    notes += target_notes
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
        **target_entries,
    }
    return RunPlan(config, notes)


def create_run(conn: sqlite3.Connection, config: dict[str, Any]) -> int:
    return store_runs.create_run(
        conn,
        "betr",
        f"{config['corpus']} vs {config['targets']}",
        config,
        config_hash(config),
        config["corpus_id"],
        config["target_set_id"],
    )


def find_cached_run(conn: sqlite3.Connection, config: dict[str, Any]) -> int | None:
    return store_runs.find_finished_run(conn, config_hash(config))


def plan_score(workspace: Workspace, req: ScoreRequest) -> ScorePlan:
    """The run for `req`: a finished one with the same config (cached), else a new pending run
    to score."""
    with closing(workspace.connect()) as conn:
        planned = plan_score_run(conn, req)
        config, notes = planned.config, planned.notes
        cached = find_cached_run(conn, config)
        run_id = cached if cached is not None else create_run(conn, config)
    title = f"score run {run_id}: {req.corpus} vs {req.targets}"
    return ScorePlan(run_id, cached is not None, title, notes, split_warnings(config["splits"]))


def score_spec(plan: ScorePlan, device: str = "auto") -> ScoreSpec:
    return ScoreSpec(run_id=plan.run_id, device=device)


FasttextParams = dict[str, int | float]  # fastText parameter name -> value


def fasttext_params(**flags: int | float | None) -> FasttextParams:
    """CLI-named fastText settings (None = the default) as fastText parameters."""
    unknown = set(flags) - set(FASTTEXT_FLAGS)
    if unknown:
        raise UsageError(f"unknown fastText setting(s): {', '.join(sorted(unknown))}")
    return {FASTTEXT_FLAGS[k]: v for k, v in flags.items() if v is not None}


def stage_spec(
    workspace: Workspace,
    stage: str,
    run_id: int,
    *,
    positive_frac: float | None = None,
    fasttext: dict[str, Any] | None = None,
    workers: int | None = None,
) -> TrainSpec | ApplySpec:
    """The spec of `train` or `apply` for a run that is ready for it and not in use by another
    job (UsageError naming the step to run first, or the job)."""
    if positive_frac is not None:
        check_fraction("--positive-frac", positive_frac)
    need = {"train": ("scored", "trained", "applied"), "apply": ("trained", "applied")}
    with closing(workspace.connect(readonly=True)) as conn:
        run = store_runs.get_run(conn, run_id)
        require_state(run, *need[stage], action=stage)
        refuse_if_in_use(conn, "run", run_id, str(run_id))
    if stage == "train":
        return TrainSpec(run_id=run_id, positive_frac=positive_frac, fasttext=fasttext or {})
    return ApplySpec(run_id=run_id, workers=workers)


def queue_pipeline(
    workspace: Workspace,
    req: ScoreRequest,
    *,
    fasttext: dict[str, Any] | None = None,
    title: Callable[[int], str] | None = None,
) -> tuple[int, int]:
    """Plan a new run for `req` and queue score -> train -> apply as one detached job (its
    title from the run id). Returns (run id, job id)."""
    with closing(workspace.connect()) as conn:
        run_id = create_run(conn, plan_score_run(conn, req).config)
    spec = PipelineSpec(run_id=run_id, fasttext=fasttext or {})
    return run_id, submit(workspace, spec, title=title(run_id) if title else None, detach=True)


def run_summary(workspace: Workspace, run_id: int) -> RunDetail:
    """A run's full config, metrics and timings, with its sample and applied doc counts, its
    targets (examples used per benchmark, their splits and text fields) and warnings."""
    with closing(workspace.connect(readonly=True)) as conn:
        run = store_runs.get_run(conn, run_id)
        run["sample_docs"] = scores.count_sample(conn, run_id)
        run["applied_docs"] = scores.count_probs(conn, run_id)
        annotate_runs(conn, [run])
    return RunDetail(**typed_targets(run))


@dataclass(frozen=True)
class RankedRow(Record):
    """A doc of a run's scored sample: its BETR score, best rank and cosine against the
    targets (and which example), p(positive) once the classifier has been applied."""

    doc_id: int
    ext_id: str
    score: float
    best_rank: int
    best_cosine: float
    benchmark: str | None
    example_id: str | None
    prob: float | None
    applied: bool  # whether the run's classifier has been applied (`prob` is meaningful)

    def to_json(self) -> dict[str, Any]:
        """The row; `prob` only once applied."""
        out = super().to_json()
        del out["applied"]
        if not self.applied:
            del out["prob"]
        return out


def ranked_rows(
    conn: sqlite3.Connection, run_id: int, *, limit: int | None = None, offset: int = 0
) -> list[RankedRow]:
    """The scored sample, best first (BETR score desc, best cosine desc), with p(positive)
    once the classifier has been applied."""
    run = store_runs.get_run(conn, run_id)
    require_state(run, "scored", "trained", "applied", action="list its ranked docs")
    applied = run["state"] == "applied"
    rows = scores.ranked_rows(conn, run_id, applied=applied, limit=limit, offset=offset)
    return [RankedRow(**{"prob": None, **r}, applied=applied) for r in rows]


def ranked(
    workspace: Workspace, run_id: int, *, limit: int | None = None, offset: int = 0
) -> list[RankedRow]:
    with closing(workspace.connect(readonly=True)) as conn:
        return ranked_rows(conn, run_id, limit=limit, offset=offset)


def list_runs(workspace: Workspace) -> list[RunInfo]:
    """Every run, newest first, with its targets and warnings (see `annotate_runs`)."""
    with closing(workspace.connect(readonly=True)) as conn:
        return run_infos(conn, store_runs.list_runs(conn))
