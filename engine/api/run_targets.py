"""What a BETR run targets, as planned and as shown: balanced targets (`--per-benchmark N|min`),
the fields each benchmark's texts were made from, and the evaluation-split warning.

A run's warnings live here too: targets from an evaluation split, and (once trained) a
degenerate classifier.

At plan time the run's config records, per target benchmark, its split and text fields, and
with `--per-benchmark` the number per benchmark and the example ids drawn (seeded by the run's
seed), so the config hash names exactly the examples the score job embeds and ranks. With a
held-out share (`holdout` > 0) it records the split too: `holdout` = {fraction, seed,
held_out: benchmark -> the example ids the run never embeds}, and `target_examples` holds the
rest (or the balanced draw from the rest); without one neither key is written, so an ordinary
run's config (and hash) is what it was before held-out targets existed.
Runs planned before these were recorded are described from the benchmarks as they are now.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.api.records import Record
from engine.betr.classifier_health import classifier_warnings
from engine.betr.targets import (
    check_holdout,
    draw_balanced,
    draw_holdout,
    examples_used,
    resolve_per_benchmark,
    split_warning_line,
    split_warnings,
)
from engine.store import catalog


def plan_targets(
    conn: sqlite3.Connection,
    benches: Sequence[sqlite3.Row],
    per_benchmark: str | int | None,
    seed: int,
    holdout: float = 0.0,
) -> tuple[dict[str, Any], list[str]]:
    """The config entries about the targets of a run over `benches` (rows with id, name,
    n_examples, split), and notes for the user. UsageError for a bad --per-benchmark or
    --holdout. `holdout`: the share of each benchmark's examples held out (module doc)."""
    names = [b["name"] for b in benches]
    entries: dict[str, Any] = {
        "splits": {b["name"]: b["split"] for b in benches},
        "text_fields": catalog.benchmark_text_fields(conn, names),
    }
    notes: list[str] = []
    usable: dict[str, list[int]] | None = None  # None: every example of every benchmark
    if check_holdout(holdout) > 0:
        all_ids = catalog.example_ids(conn, names)
        held = draw_holdout(all_ids, holdout, seed)
        entries["holdout"] = {"fraction": holdout, "seed": seed, "held_out": held}
        usable = {}
        for name, ids in all_ids.items():
            out = set(held[name])
            usable[name] = [i for i in ids if i not in out]
        sizes = ", ".join(f"{name} {len(held[name])} of {len(all_ids[name])}" for name in held)
        notes.append(f"held-out targets (never embedded by this run): {sizes}")
    if per_benchmark is not None:
        counts = (
            {b["name"]: b["n_examples"] for b in benches}
            if usable is None
            else {name: len(ids) for name, ids in usable.items()}
        )
        n = resolve_per_benchmark(per_benchmark, counts)
        entries["per_benchmark"] = n
        pool = catalog.example_ids(conn, names) if usable is None else usable
        entries["target_examples"] = draw_balanced(pool, n, seed)
        sizes = ", ".join(f"{name} {n} of {k}" for name, k in counts.items())
        notes.append(f"balanced targets: {n} examples from each benchmark ({sizes})")
    elif usable is not None:
        entries["target_examples"] = usable
    return entries, notes


def describe_targets(
    config: dict[str, Any],
    splits_now: dict[str, str | None],
    fields_now: dict[str, list[str]],
) -> dict[str, Any]:
    """A BETR run's targets for display: per benchmark the examples used (of how many), its
    split and text fields; `per_benchmark` (None: every example); the split warnings."""
    benches = config.get("benchmarks") or {}
    used = examples_used(config)
    splits = config.get("splits") or {name: splits_now.get(name) for name in benches}
    fields = config.get("text_fields") or {name: fields_now.get(name, []) for name in benches}
    return {
        "per_benchmark": config.get("per_benchmark"),
        "targets": {
            name: {
                "examples": used.get(name, 0),
                "of": benches[name],
                "split": splits.get(name),
                "text_fields": list(fields.get(name) or []),
            }
            for name in sorted(benches)
        },
        "warnings": split_warnings({name: splits.get(name) for name in benches}),
    }


def annotate_runs(conn: sqlite3.Connection, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add `targets`, `per_benchmark`, `classifier_warnings` (a degenerate classifier,
    engine.betr.classifier_health) and `warnings` (one per benchmark from an evaluation split,
    then the classifier's) to each BETR run dict (with its decoded config and metrics); other
    kinds of run get empty ones."""
    betr_runs = [r for r in runs if r.get("kind") == "betr"]
    splits_now: dict[str, str | None] = {}
    fields_now: dict[str, list[str]] = {}
    if any("splits" not in r["config"] or "text_fields" not in r["config"] for r in betr_runs):
        splits_now = catalog.benchmark_splits(conn)
        fields_now = catalog.benchmark_text_fields(conn, list(splits_now))
    for run in runs:
        if run.get("kind") == "betr":
            run.update(describe_targets(run["config"], splits_now, fields_now))
            clf = classifier_warnings((run.get("metrics") or {}).get("classifier"), run["id"])
            run.update(classifier_warnings=clf, warnings=run["warnings"] + clf)
        else:
            run.update(per_benchmark=None, targets={}, warnings=[], classifier_warnings=[])
    return runs


@dataclass(frozen=True)
class TargetUse:
    """One target benchmark of a run: the examples used, of how many, its split and the fields
    its texts were made from."""

    examples: int
    of: int
    split: str | None
    text_fields: list[str]


@dataclass(frozen=True)
class RunInfo(Record):
    """A run as listed: its config and metrics decoded, with its targets and warnings
    (annotate_runs, below)."""

    id: int
    kind: str  # betr | ...
    name: str | None
    state: str  # pending | scored | trained | applied | ...
    config: dict[str, Any]
    config_hash: str
    metrics: dict[str, Any]
    created_at: float  # unix seconds
    finished_at: float | None
    corpus: str | None
    target_set: str | None
    per_benchmark: int | None  # balanced targets: examples per benchmark; None: every one
    targets: dict[str, TargetUse]  # benchmark name -> its use, sorted by name
    warnings: list[str]  # evaluation-split targets, then the classifier's
    classifier_warnings: list[str]


@dataclass(frozen=True)
class RunDetail(Record):
    """A run's full row (config, metrics, timings, corpus size), its sample and applied doc
    counts, targets and warnings."""

    id: int
    kind: str
    name: str | None
    config: dict[str, Any]
    config_hash: str
    state: str
    corpus_id: int | None
    target_set_id: int | None
    metrics: dict[str, Any]
    created_at: float
    finished_at: float | None
    corpus: str | None
    corpus_docs: int | None
    corpus_tokens: int | None
    corpus_deleting: int  # 1 while the corpus is being deleted (SQLite's boolean)
    sample_docs: int
    applied_docs: int
    per_benchmark: int | None
    targets: dict[str, TargetUse]
    warnings: list[str]
    classifier_warnings: list[str]


def typed_targets(run: dict[str, Any]) -> dict[str, Any]:
    """An annotated run dict with its `targets` as TargetUse."""
    return {**run, "targets": {k: TargetUse(**v) for k, v in run["targets"].items()}}


def run_infos(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> list[RunInfo]:
    """Run rows (engine.store.runs.list_runs) with their targets and warnings (see
    `annotate_runs`)."""
    return [RunInfo(**typed_targets(r)) for r in annotate_runs(conn, rows)]


def targets_line(run: RunInfo | RunDetail) -> str:
    """ "gsm8k 10 of 40 (question, answer) · sciq 10 of 1000 (question, answer, support)"."""
    parts = []
    for name, t in run.targets.items():
        fields = f" ({', '.join(t.text_fields)})" if t.text_fields else ""
        parts.append(f"{name} {t.examples:,} of {t.of:,}{fields}")
    head = f"{run.per_benchmark:,} per benchmark: " if run.per_benchmark else ""
    return head + " · ".join(parts)


def warning_line(run: RunInfo | RunDetail) -> str:
    """The run's split warnings in one line, "" when none (for a status line)."""
    return split_warning_line({name: t.split for name, t in run.targets.items()})


def classifier_warning_line(run: RunInfo | RunDetail) -> str:
    """The run's degenerate-classifier warning, "" when none."""
    return " ".join(run.classifier_warnings)
