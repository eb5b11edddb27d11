"""Benchmark contamination of a run's docs, for both faces: plan (or reuse) a check, read its
hits, and export a selection without the contaminated docs (METHODS "Contamination").

A check covers the first `upto` docs of a run's probability order: the kept set at a keep
rate (`betr contamination --keep 10%`, the default) or the whole pool (`--all`), at one n-gram
length, against every benchmark imported when it was planned. A finished check is reused by any
later question it covers (same n, at least as many docs, the same applied results of the run,
the same benchmarks), so moving the keep rate below a checked one costs nothing. Readers take
the newest such check; `UsageError` with the command to run when there is none.

A face runs a check with `plan_check`, then (unless the plan is cached) its `spec` as a job:
`engine.api.jobs.start(ws, plan.spec, title=plan.title)` in the background (the check's row
says which job fills it), or `queue` + `run_here` in the foreground.

Hits are listed evaluation splits first (test, validation, dev, ...: METHODS says BETR targets
should come from train splits), then by the doc's position, benchmark, example and start.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.api.select import Decontamination, SelectionExport, export_selection, select
from engine.betr.contamination import DEFAULT_N, check_n, split_rank
from engine.betr.runs import require_state
from engine.errors import UsageError
from engine.jobs.specs import ContaminationSpec
from engine.store import contamination as store_c
from engine.store import docs, scores
from engine.store import runs as store_runs
from engine.store.db import transaction
from engine.workspace import Workspace

DEFAULT_KEEP = 0.10
ROW_KEYS = ("doc", "benchmark", "example", "start", "end", "ngrams")


@dataclass(frozen=True)
class Check:
    id: int
    run_id: int
    n: int
    scope: str  # kept | all
    keep: float | None  # fraction, for scope 'kept'
    keep_by: str | None  # tokens | docs
    upto: int  # docs checked: positions 1..upto of the run's probability order
    docs_hit: int | None  # when finished
    hits: int | None
    job_id: int | None
    job_state: str | None
    finished: bool
    current: bool  # made with the run's current results and the current benchmarks

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CheckPlan:
    check_id: int
    cached: bool  # a finished check covers it: nothing to run
    spec: ContaminationSpec | None  # the job that fills the new check (None when cached)
    run_id: int
    n: int
    scope: str
    upto: int

    @property
    def title(self) -> str:
        return f"contamination of run {self.run_id}: {self.upto:,} docs, n = {self.n}"


@dataclass(frozen=True)
class Hit:
    """One overlap of a doc with a benchmark example."""

    doc_id: int
    doc: str  # the doc's own id (docs.ext_id)
    position: int  # in the run's probability order
    n_tokens: int
    benchmark_id: int
    benchmark: str
    split: str | None
    example_id: int
    example: str  # the example's own id (examples.ext_id)
    start: int  # characters start:end of the doc's text
    end: int
    ngrams: int  # shared n-grams in start:end

    def as_row(self) -> dict[str, Any]:
        """What `betr contamination --json` prints per hit."""
        return {k: getattr(self, k) for k in ROW_KEYS}


@dataclass(frozen=True)
class DocHit:
    """One overlap of a doc, with what the viewer shows next to it."""

    benchmark: str
    split: str | None
    example_id: int
    example: str
    question: str
    answer: str
    example_text: str
    start: int
    end: int
    ngrams: int
    span: str  # the doc's text[start:end]


@dataclass(frozen=True)
class DocContamination:
    check: Check | None  # the check read (None: the run has no finished current check)
    checked: bool  # the doc was among the docs it checked
    hits: list[DocHit] = field(default_factory=list)


@dataclass(frozen=True)
class BenchmarkCount:
    benchmark: str
    split: str | None
    evaluation: bool  # an evaluation split
    docs: int  # docs with a hit
    examples: int  # examples with a hit
    hits: int


# -- planning -------------------------------------------------------------------------------
def plan_check(
    workspace: Workspace,
    run_id: int,
    *,
    n: int = DEFAULT_N,
    keep: float | None = None,
    by: str = "tokens",
    all_docs: bool = False,
    workers: int | None = None,
) -> CheckPlan:
    """The check of run `run_id`'s kept set at `keep` (default 10%, by tokens or docs) or,
    with `all_docs`, of its whole pool: a finished one that covers it (cached), else a new
    pending check and the job spec that fills it."""
    check_n(n)
    spec = ContaminationSpec(check_id=0, run_id=run_id, workers=workers)  # checks workers
    if all_docs and keep is not None:
        raise UsageError("--all checks every doc of the pool: leave out --keep")
    with closing(workspace.connect()) as conn:
        run = store_runs.get_run(conn, run_id)
        require_state(run, "applied", action="check it for contamination")
        if store_c.count_examples(conn) == 0:
            raise UsageError(
                "no benchmark is imported: there is nothing to check against",
                fix="import one: betr import bench FILE --name NAME --split test",
            )
        if all_docs:
            upto = scores.order_totals(conn, run_id)[0]
        else:
            upto = select(conn, run_id, DEFAULT_KEEP if keep is None else keep, by).position
        key = store_c.benchmarks_key(conn)
        found = store_c.find_finished_check(conn, run_id, n, upto, run["finished_at"], key)
        scope = "all" if all_docs else "kept"
        if found is not None:
            return CheckPlan(found["id"], True, None, run_id, n, found["scope"], found["upto"])
        with transaction(conn):
            check_id = store_c.create_check(
                conn,
                run_id,
                n,
                scope=scope,
                keep=None if all_docs else (DEFAULT_KEEP if keep is None else keep),
                keep_by=None if all_docs else by,
                upto=upto,
                run_version=run["finished_at"],
                benchmarks_key=key,
            )
    return CheckPlan(check_id, False, replace(spec, check_id=check_id), run_id, n, scope, upto)


# -- reading --------------------------------------------------------------------------------
def checks(workspace: Workspace, run_id: int) -> list[Check]:
    """Every check of the run, newest first, finished or not, current or stale."""
    with closing(workspace.connect(readonly=True)) as conn:
        key = store_c.benchmarks_key(conn)
        return [_check(r, key) for r in store_c.checks_of_run(conn, run_id)]


def current_check(
    workspace: Workspace,
    run_id: int,
    *,
    n: int | None = None,
    keep: float | None = None,
    by: str = "tokens",
) -> Check | None:
    """The newest finished, current check of the run (at `n` if given) that covers the kept
    set at `keep` (any, when keep is None); None when there is none."""
    with closing(workspace.connect(readonly=True)) as conn:
        found = _find(conn, run_id, n, keep, by)
        return None if found is None else found[0]


def contamination_hits(
    workspace: Workspace,
    run_id: int,
    *,
    n: int | None = None,
    keep: float | None = None,
    by: str = "tokens",
    check_id: int | None = None,
) -> list[Hit]:
    """The hits of the run's kept set at `keep` (all the check covers when None), from the
    newest check that covers it (or check `check_id`), evaluation splits first."""
    with closing(workspace.connect(readonly=True)) as conn:
        check, upto = _require(conn, run_id, n, keep, by, check_id)
        rows = store_c.hits(conn, check.id, upto)
    hits = [Hit(**{k: r[k] for k in Hit.__dataclass_fields__}) for r in rows]
    return sorted(hits, key=lambda h: split_rank(h.split) != 0)


def contaminated_doc_ids(
    workspace: Workspace,
    run_id: int,
    *,
    n: int | None = None,
    keep: float | None = None,
    by: str = "tokens",
    check_id: int | None = None,
) -> set[int]:
    """Ids of the docs with a hit (as `contamination_hits`)."""
    with closing(workspace.connect(readonly=True)) as conn:
        check, upto = _require(conn, run_id, n, keep, by, check_id)
        return {r["doc_id"] for r in store_c.hit_docs(conn, check.id, upto)}


def hits_for_doc(
    workspace: Workspace, run_id: int, doc_id: int, *, n: int | None = None
) -> DocContamination:
    """One doc's overlaps with the benchmark example of each, from the run's newest finished
    current check (at `n` if given) that reaches furthest; `checked` says whether the doc
    was among its docs (no hits and not checked is not clean)."""
    with closing(workspace.connect(readonly=True)) as conn:
        key = store_c.benchmarks_key(conn)
        usable = [
            c
            for c in (_check(r, key) for r in store_c.checks_of_run(conn, run_id))
            if c.finished and c.current and (n is None or c.n == n)
        ]
        if not usable:
            return DocContamination(None, False)
        check = max(usable, key=lambda c: (c.upto, c.id))
        rows = store_c.hits_of_doc(conn, check.id, doc_id)
        if not rows:
            position = store_c.doc_position(conn, run_id, doc_id)
            return DocContamination(check, position is not None and position <= check.upto)
        (text,) = docs.doc_texts(conn, [doc_id])
    hits = [
        DocHit(
            **{k: r[k] for k in DocHit.__dataclass_fields__ if k != "span"},
            span=text[r["start"] : r["end"]],
        )
        for r in rows
    ]
    return DocContamination(check, True, sorted(hits, key=lambda h: split_rank(h.split) != 0))


def counts_by_benchmark(
    workspace: Workspace,
    run_id: int,
    *,
    n: int | None = None,
    keep: float | None = None,
    by: str = "tokens",
    check_id: int | None = None,
) -> list[BenchmarkCount]:
    """Per benchmark with a hit in the kept set at `keep`: docs, examples and hits;
    evaluation splits first, then by name."""
    with closing(workspace.connect(readonly=True)) as conn:
        check, upto = _require(conn, run_id, n, keep, by, check_id)
        rows = store_c.counts_by_benchmark(conn, check.id, upto)
    counts = [
        BenchmarkCount(
            benchmark=r["benchmark"],
            split=r["split"],
            evaluation=split_rank(r["split"]) == 0,
            docs=r["docs"],
            examples=r["examples"],
            hits=r["hits"],
        )
        for r in rows
    ]
    return sorted(counts, key=lambda c: not c.evaluation)


# -- selecting ------------------------------------------------------------------------------
def select_decontaminated(
    workspace: Workspace,
    run_id: int,
    keep: float,
    by: str,
    out: Path,
    *,
    n: int = DEFAULT_N,
    replay: float = 0.0,
    seed: int = 0,
) -> SelectionExport:
    """`betr select --decontaminate`: the cut at `keep`, exported without the docs that share
    an n-gram with a benchmark example (the cut stays where it is: nothing refills it). With
    `replay`, the replay docs are drawn from the clean non-kept docs, which needs a check of
    the whole pool. UsageError with the command to run when no finished check covers it."""
    with closing(workspace.connect(readonly=True)) as conn:
        sel = select(conn, run_id, keep, by)
        upto = sel.total_docs if replay > 0 else sel.position
        check = _covering(conn, run_id, n, upto)
        if check is None:
            what = "--all" if replay > 0 else f"--keep {keep * 100:g}% --by {by}"
            raise UsageError(
                f"run {run_id} has no finished contamination check at n = {n} covering "
                + ("its whole pool (for the replay docs)" if replay > 0 else "this kept set"),
                fix=f"betr contamination --run {run_id} {what} --n {n}",
            )
        dirty = store_c.hit_docs(conn, check.id, upto)
        result = export_selection(
            conn, sel, out, replay=replay, seed=seed, drop=[r["position"] for r in dirty]
        )
    return replace(result, contamination=Decontamination(check.id, n, check.upto))


# -- for the Documents list ----------------------------------------------------------------
def newest_check(conn: sqlite3.Connection, run_id: int) -> Check | None:
    """The finished, current check of the run that reaches furthest (then the newest): what
    the Documents list marks and filters by."""
    key = store_c.benchmarks_key(conn)
    usable = [
        c
        for c in (_check(r, key) for r in store_c.checks_of_run(conn, run_id))
        if c.finished and c.current
    ]
    return max(usable, key=lambda c: (c.upto, c.id)) if usable else None


def marks_of(
    conn: sqlite3.Connection, run_id: int, rows: list[tuple[int, int]]
) -> list[bool | None]:
    """For (doc id, probability position) pairs: True (a hit), False (checked, clean) or None
    (no check reached it), by the run's `newest_check`."""
    check = newest_check(conn, run_id)
    if check is None:
        return [None] * len(rows)
    hit = store_c.docs_with_hits(conn, check.id, [d for d, _ in rows])
    return [True if d in hit else (False if pos <= check.upto else None) for d, pos in rows]


def contaminated_ids(conn: sqlite3.Connection, run_id: int) -> list[int]:
    """The docs with a hit in the run's `newest_check` (the Documents filter); UsageError
    with the command to run when the run has no finished check."""
    check = newest_check(conn, run_id)
    if check is None:
        raise UsageError(
            f"run {run_id} has no contamination check yet",
            fix=f"press x on the Threshold screen, or betr contamination --run {run_id}",
        )
    return sorted(store_c.docs_with_hits(conn, check.id))


# -- helpers --------------------------------------------------------------------------------
def _check(row: dict[str, Any], benchmarks_key: str) -> Check:
    return Check(
        id=row["id"],
        run_id=row["run_id"],
        n=row["n"],
        scope=row["scope"],
        keep=row["keep"],
        keep_by=row["keep_by"],
        upto=row["upto"],
        docs_hit=row["docs_hit"],
        hits=row["hits"],
        job_id=row["job_id"],
        job_state=row["job_state"],
        finished=row["finished_at"] is not None,
        current=row["run_version"] == row["run_finished_at"]
        and row["benchmarks_key"] == benchmarks_key,
    )


def _covering(conn: sqlite3.Connection, run_id: int, n: int | None, upto: int) -> Check | None:
    """The newest finished, current check of the run (at `n` if given) over >= upto docs."""
    key = store_c.benchmarks_key(conn)
    for row in store_c.checks_of_run(conn, run_id):
        c = _check(row, key)
        if c.finished and c.current and c.upto >= upto and (n is None or c.n == n):
            return c
    return None


def _find(
    conn: sqlite3.Connection, run_id: int, n: int | None, keep: float | None, by: str
) -> tuple[Check, int | None] | None:
    upto = None if keep is None else select(conn, run_id, keep, by).position
    check = _covering(conn, run_id, n, upto or 0)
    return None if check is None else (check, upto)


def _require(
    conn: sqlite3.Connection,
    run_id: int,
    n: int | None,
    keep: float | None,
    by: str,
    check_id: int | None,
) -> tuple[Check, int | None]:
    """The check to read and the positions to read from it (None: all it has)."""
    if n is not None:
        check_n(n)
    if check_id is not None:
        row = store_c.get_check(conn, check_id)
        if row is None or row["run_id"] != run_id or row["finished_at"] is None:
            raise UsageError(f"run {run_id} has no finished contamination check {check_id}")
        upto = None if keep is None else select(conn, run_id, keep, by).position
        return _check(row, store_c.benchmarks_key(conn)), upto
    found = _find(conn, run_id, n, keep, by)
    if found is None:
        store_runs.get_run(conn, run_id)  # NotFoundError for an unknown run
        what = "" if keep is None else f" --keep {keep * 100:g}% --by {by}"
        raise UsageError(
            f"run {run_id} has no finished contamination check"
            + (f" at n = {n}" if n is not None else "")
            + (" covering this kept set" if keep is not None else ""),
            fix=f"betr contamination --run {run_id}{what}" + (f" --n {n}" if n else ""),
        )
    return found
