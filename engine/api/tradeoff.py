"""Filter-rate trade-offs, run overlap and classifier-vs-BETR agreement (the Threshold screen
and `betr tradeoff | overlap | agreement`): the pure computations of engine.betr.tradeoff over
runs loaded from the workspace, so the screen and the CLI agree to the last digit. The kept
share by source (`--by-source`, the screen's per-source panel) comes from engine.betr.by_source
over the run's docs grouped once per field (`source_groups`)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from engine.api.browse import RunIndex, load_run_index, snippets
from engine.api.records import Record
from engine.betr.by_source import (
    SOURCE,
    KeptBySource,
    SourceGroups,
    SourceShare,
    by_source,
    group_run_chunks,
    parse_field,
)
from engine.betr.select import parse_keep
from engine.betr.tradeoff import (
    MAX_EPOCHS,
    OVER_TARGET_SHARE,
    Agreement,
    BenchmarkShare,
    Budget,
    BudgetTradeoff,
    ComputeLaw,
    ComputeRow,
    Disagreement,
    Overlap,
    RunTradeoff,
    ThresholdStats,
    agreement,
    keep_curve,
    overlap,
    parse_amount,
    prob_histogram,
    threshold_stats,
    tradeoff,
)
from engine.errors import UsageError
from engine.store import docs
from engine.workspace import Workspace

__all__ = [
    "MAX_EPOCHS",
    "OVER_TARGET_SHARE",
    "Agreement",
    "BenchmarkShare",
    "Budget",
    "BudgetTradeoff",
    "ComputeLaw",
    "ComputeRow",
    "Disagreement",
    "DocSnippet",
    "KeptBySource",
    "Overlap",
    "RunTradeoff",
    "RunsOverlap",
    "SourceGroups",
    "SourceShare",
    "ThresholdStats",
    "agreement",
    "agreement_of_run",
    "budget_from_text",
    "by_source",
    "by_source_of_run",
    "group_fields",
    "keep_curve",
    "overlap",
    "overlap_of_runs",
    "parse_amount",
    "parse_keep",
    "preload_agreement",
    "prob_histogram",
    "source_groups",
    "threshold_stats",
    "tradeoff",
    "tradeoff_of_run",
]


def preload_agreement() -> None:
    """Import what `agreement` uses (scipy.stats: 0.5 s on an idle machine, several seconds on a
    loaded one, which was most of the Agreement tab's first opening); the Threshold screen calls
    it in its loading thread once the run is shown."""
    import scipy.stats  # noqa: F401


def open_index(workspace: Workspace, run_id: int) -> RunIndex:
    with closing(workspace.connect(readonly=True)) as conn:
        return load_run_index(conn, run_id)


def budget_from_text(
    params: str | None = None, tokens: str | None = None, compute: str | None = None
) -> Budget:
    """A budget from what a user typed ("1B", "2e10", "1.2e20"); any may be missing."""
    return Budget.of(
        params=None if params is None else parse_amount(params, "model parameters N"),
        tokens=None if tokens is None else parse_amount(tokens, "training tokens D"),
        compute=None if compute is None else parse_amount(compute, "compute C"),
    )


def tradeoff_of_run(
    workspace: Workspace | None, run_id: int | None, keep: float | None, by: str, budget: Budget
) -> RunTradeoff | BudgetTradeoff:
    """`betr tradeoff`: the compute law alone without a run, else what `keep` keeps and costs."""
    if run_id is None:
        if keep is not None:
            raise UsageError("--keep needs --run: a keep rate is a cut of a run's pool")
        return tradeoff(None, keep, by, budget)
    assert workspace is not None  # a run is read from a workspace
    return tradeoff(open_index(workspace, run_id), keep, by, budget)


@dataclass(frozen=True)
class DocSnippet:
    doc_id: int
    ext_id: str  # the document's own id
    snippet: str  # its first 200 characters


@dataclass(frozen=True)
class RunsOverlap(Record):
    """Two runs' kept sets at one keep rate: their sizes, overlap and Jaccard index, and the
    first docs of each set difference (with the size of each)."""

    run_a: int
    run_b: int
    keep_percent: float
    by: str  # a KEEP_BY unit
    kept_a: int
    kept_b: int
    overlap: int
    jaccard: float
    only_a: list[DocSnippet]  # the first `show` docs kept by run A only
    only_b: list[DocSnippet]
    n_only_a: int
    n_only_b: int


def overlap_of_runs(
    workspace: Workspace, run_a: int, run_b: int, keep: float, by: str, show: int
) -> RunsOverlap:
    """Two runs' kept sets at one keep rate; the first `show` docs of each set difference with
    their ids and snippets, and the size of each."""
    r = overlap(open_index(workspace, run_a), open_index(workspace, run_b), keep, by)
    with closing(workspace.connect(readonly=True)) as conn:

        def listed(only: np.ndarray) -> list[DocSnippet]:
            shown = [int(i) for i in only[: max(0, show)]]
            found = snippets(conn, shown, 200, read=200)
            return [DocSnippet(i, found[i][0], found[i][1]) for i in shown if i in found]

        only_a, only_b = listed(r.only_a), listed(r.only_b)
    return RunsOverlap(
        r.run_a,
        r.run_b,
        r.keep_percent,
        r.by,
        r.kept_a,
        r.kept_b,
        r.overlap,
        r.jaccard,
        only_a,
        only_b,
        n_only_a=len(r.only_a),
        n_only_b=len(r.only_b),
    )


def agreement_of_run(
    workspace: Workspace, run_id: int, keep: float, by: str, top: int
) -> Agreement:
    return agreement(open_index(workspace, run_id), keep, by, top)


# -- the kept share by source ----------------------------------------------------------------
def group_fields(conn: sqlite3.Connection, corpus_id: int) -> list[str]:
    """What a run over the corpus can be grouped by: "source", then "meta.FIELD" for each
    metadata field it was imported with."""
    return [SOURCE] + [f"meta.{f}" for f in docs.corpus_meta_fields(conn, corpus_id)]


def source_groups(conn: sqlite3.Connection, index: RunIndex, field: str) -> SourceGroups:
    """The run's docs grouped by `field` ("source" or "meta.FIELD"): read every doc's value
    once (an O(n) pass; the TUI runs it in a worker), then any keep rate is cheap."""
    field, key = parse_field(field)
    if key is not None:
        known = docs.corpus_meta_fields(conn, index.corpus_id)
        if key not in known:
            listed = ", ".join(f"meta.{f}" for f in known)
            raise UsageError(
                f"corpus '{index.corpus}' has no metadata field '{key}'",
                fix=f"group by source or {listed}"
                if known
                else "group by source (import with --meta FIELD to keep metadata)",
            )
    return group_run_chunks(index, field, docs.group_value_chunks(conn, index.corpus_id, key))


def by_source_of_run(
    workspace: Workspace,
    run_id: int,
    keep: float | None,
    by: str,
    field: str | None = None,
    budget: Budget | None = None,
) -> KeptBySource:
    """`betr tradeoff --by-source`: each source's (or metadata value's) docs and tokens in the
    pool and kept at `keep` (F_opt when not given and the budget is known, else 10%)."""
    if keep is None:
        f_opt = budget.f_opt() if budget is not None else None
        keep = f_opt / 100.0 if f_opt is not None else 0.10
    with closing(workspace.connect(readonly=True)) as conn:
        index = load_run_index(conn, run_id)
        index.cut(keep, by)  # "apply it first" before reading every doc's value
        groups = source_groups(conn, index, field or SOURCE)
    return by_source(index, groups, keep, by)
