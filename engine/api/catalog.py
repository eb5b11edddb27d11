"""What a workspace holds: listing it, target sets, and deleting corpora and benchmarks.

Nothing a queued or running job uses can be deleted: the refusal names the job and how to
cancel it. A corpus goes in bounded transactions (engine.store.deletes), so imports and jobs
running meanwhile keep writing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.api.records import Record
from engine.betr.targets import parse_names
from engine.errors import NotFoundError, UsageError
from engine.jobs.table import JobInfo, active_jobs, refuse_if_in_use
from engine.names import matching, resolve, suggest
from engine.store import catalog, deletes, docs, proxies
from engine.store.db import transaction
from engine.terminal import check_name
from engine.workspace import Workspace

if TYPE_CHECKING:
    from engine.api.run_targets import RunInfo

LISTS = ("corpora", "benchmarks", "targets")


@dataclass(frozen=True)
class WorkspaceInit(Record):
    workspace: str  # its root directory
    schema_version: int


@dataclass(frozen=True)
class CorpusInfo(Record):
    id: int
    name: str
    state: str  # importing | ready | deleting
    created_at: float  # unix seconds
    tokenizer: str
    text_field: str
    sources: list[str]  # the input files' names
    n_docs: int
    n_tokens: int
    n_chars: int
    n_skipped: int
    job_id: int | None  # the import job


@dataclass(frozen=True)
class BenchmarkInfo(Record):
    id: int
    name: str
    category: str | None
    split: str | None
    format: str
    sources: list[str]
    n_examples: int
    n_chars: int  # of the embedded texts
    n_skipped: int
    created_at: float
    text_fields: list[str]  # the fields its texts were made from


@dataclass(frozen=True)
class TargetSetInfo(Record):
    id: int
    name: str
    created_at: float
    members: list[str]  # benchmark names, sorted
    n_benchmarks: int
    n_examples: int


Listed = CorpusInfo | BenchmarkInfo | TargetSetInfo


def init_workspace(path: str | None) -> WorkspaceInit:
    """Create (or re-open) a workspace; its path and schema version."""
    from engine.store.schema import SCHEMA_VERSION

    ws = Workspace.init(path)
    return WorkspaceInit(str(ws.root), SCHEMA_VERSION)


def list_of(workspace: Workspace, what: str) -> list[Listed]:
    """corpora, benchmarks or targets (target sets)."""
    with closing(workspace.connect(readonly=True)) as conn:
        if what == "corpora":
            return [CorpusInfo(**r) for r in catalog.list_corpora(conn)]
        if what == "benchmarks":
            return [BenchmarkInfo(**r) for r in catalog.list_benchmarks(conn)]
        if what == "targets":
            return [TargetSetInfo(**r) for r in catalog.list_target_sets(conn)]
    raise UsageError(f"unknown list '{what}'", fix=f"use one of: {', '.join(LISTS)}")


@dataclass(frozen=True)
class WorkspaceSummary:
    """What the Workspace screen shows: the counts (`summary`: corpora, docs, tokens, ...) and
    one list of rows per section (runs with their targets and warnings)."""

    summary: dict[str, int]
    corpora: list[CorpusInfo]
    benchmarks: list[BenchmarkInfo]
    targets: list[TargetSetInfo]
    runs: list[RunInfo]


def summary(conn: sqlite3.Connection) -> WorkspaceSummary:
    """Everything the Workspace screen shows, read on one connection."""
    from engine.api.run_targets import run_infos
    from engine.store import runs

    return WorkspaceSummary(
        summary=catalog.workspace_summary(conn),
        corpora=[CorpusInfo(**r) for r in catalog.list_corpora(conn)],
        benchmarks=[BenchmarkInfo(**r) for r in catalog.list_benchmarks(conn)],
        targets=[TargetSetInfo(**r) for r in catalog.list_target_sets(conn)],
        runs=run_infos(conn, runs.list_runs(conn)),
    )


@dataclass(frozen=True)
class PolledRun:
    """A run as the TUI polls it: its id, name, state, corpus name and when it finished."""

    id: int
    name: str | None
    state: str  # pending | scored | trained | applied | ...
    corpus: str | None
    finished_at: float | None  # unix seconds


@dataclass(frozen=True)
class AppState:
    """What the TUI polls twice a second: the jobs, the corpora, the runs (id, name, state,
    corpus, finished_at) and the benchmark ids by name."""

    jobs: list[JobInfo]
    corpora: list[CorpusInfo]
    runs: list[PolledRun]
    bench_ids: dict[str, int]


def app_state(conn: sqlite3.Connection) -> AppState:
    """The app's poll (AppState), read on one connection."""
    from engine.jobs.table import list_jobs
    from engine.store import runs

    return AppState(
        jobs=list_jobs(conn),
        corpora=[CorpusInfo(**r) for r in catalog.list_corpora(conn)],
        runs=[PolledRun(**r) for r in runs.run_states(conn)],
        bench_ids=catalog.benchmark_ids(conn),
    )


@dataclass(frozen=True)
class DocDetail(Record):
    id: int
    ext_id: str  # the document's own id
    text: str
    n_tokens: int
    n_chars: int
    source: str  # "file:line" it came from
    meta: dict[str, Any] | None  # its --meta fields
    corpus: str
    tokenizer: str


def show_doc(workspace: Workspace, ref: str, corpus: str | None = None) -> DocDetail:
    """A document by numeric id or by its own id (`corpus` when ids repeat across corpora)."""
    with closing(workspace.connect(readonly=True)) as conn:
        return DocDetail(**docs.get_doc(conn, ref, corpus=corpus))


# -- target sets --------------------------------------------------------------------------------
def benchmark_ids(conn: sqlite3.Connection, names: list[str]) -> dict[str, int]:
    """stored name -> id for each name (`arc_easy` finds an imported `arc-easy`:
    engine.names.normalise); an unknown one gets the closest few known names."""
    known = catalog.benchmark_ids(conn)
    if not known:
        raise NotFoundError(
            f"unknown benchmark(s): {', '.join(names)}",
            fix="no benchmark imported yet: betr import bench PATH --name NAME",
        )
    found = [resolve(n, known, "benchmark", listing="betr list benchmarks") for n in names]
    return {n: known[n] for n in found}


@dataclass(frozen=True)
class TargetSetCreated(Record):
    target_set: str
    id: int
    benchmarks: list[str]  # sorted


def create_target_set(workspace: Workspace, name: str, bench_spec: str) -> TargetSetCreated:
    names = parse_names(bench_spec)
    if not name.strip():
        raise UsageError("the target set name is empty", fix="betr targets create NAME --bench a,b")
    check_name("target set", name)
    if not names:
        raise UsageError("the target set is empty", fix="list benchmarks: --bench arc-easy,gsm8k")
    if len(set(names)) != len(names):
        raise UsageError(f"a benchmark is listed twice in '{bench_spec}'")
    with closing(workspace.connect()) as conn:
        ids = benchmark_ids(conn, names)
        if len(ids) != len(names):
            raise UsageError(f"a benchmark is listed twice in '{bench_spec}' (two spellings)")
        set_id = catalog.insert_target_set(conn, name, list(ids.values()))
    return TargetSetCreated(name, set_id, sorted(ids))


def resolve_targets(conn: sqlite3.Connection, spec: str) -> tuple[int | None, list[str]]:
    """A target set name, or a comma list of benchmark names -> (set id or None, names)."""
    found = catalog.target_set(conn, spec.strip())
    if found is not None:
        set_id, names = found
        if not names:
            raise UsageError(
                f"target set '{spec}' is empty", fix="create one with benchmarks in it"
            )
        return set_id, names
    names = parse_names(spec)
    if not names:
        raise UsageError("empty target set", fix="pass --targets SET or --targets bench1,bench2")
    if len(names) == 1 and spec.strip() == names[0]:
        # one bare name may have meant a target set: say it is neither
        benches = sorted(catalog.benchmark_ids(conn))
        if not matching(names[0], benches):
            sets = catalog.target_set_names(conn)
            raise NotFoundError(
                f"no target set or benchmark named '{names[0]}'",
                fix=f"{suggest(names[0], sets, 'target set')}; "
                f"{suggest(names[0], benches, 'benchmark', listing='betr list benchmarks')}; "
                f"create a set with betr targets create {names[0]} --bench b1,b2",
            )
    return None, sorted(benchmark_ids(conn, names))


@dataclass(frozen=True)
class Deleted:
    what: str  # "corpus" | "benchmark"
    name: str
    rows: int  # docs or examples
    runs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def delete_corpus(
    workspace: Workspace,
    name: str,
    *,
    batch: int = deletes.DELETE_BATCH,
    on_progress: Callable[[int, int], None] | None = None,
) -> Deleted:
    """Delete corpus `name`, its documents and every run over it (and the runs' model files).

    `on_progress(done, total)` counts deleted docs. A delete that was interrupted (the corpus
    shows as `deleting`) is finished by calling this again."""
    conn = workspace.connect()
    try:
        with transaction(conn):
            row = deletes.corpus_for_delete(conn, name)
            refuse_if_in_use(conn, "corpus", row["id"], name)
            deletes.mark_corpus_deleting(conn, row["id"])
        corpus_id, n_docs = row["id"], row["n_docs"]
        run_ids = deletes.runs_of_corpus(conn, corpus_id)
        for run_id in run_ids:
            files = deletes.artifact_paths(conn, run_id)
            deletes.delete_run(conn, run_id, batch=batch)
            for rel in files:
                (workspace.root / rel).unlink(missing_ok=True)
        done = 0

        def rows(n: int) -> None:
            nonlocal done
            done += n
            if on_progress is not None:
                on_progress(done, n_docs)

        deletes.delete_docs(conn, corpus_id, batch=batch, on_rows=rows)
        deletes.finish_corpus_delete(conn, corpus_id)
    finally:
        conn.close()
    return Deleted("corpus", name, n_docs, len(run_ids))


def delete_benchmark(workspace: Workspace, name: str) -> Deleted:
    """Delete benchmark `name`, its examples, traces and rBridge scores (the per-trace rows in
    bounded transactions, the rest in one)."""
    conn = workspace.connect()
    try:
        row = deletes.benchmark_for_delete(conn, name)
        refuse_if_in_use(conn, "benchmark", name, name)
        deletes.delete_benchmark_scores(conn, row["id"])
        with transaction(conn):
            row = deletes.benchmark_for_delete(conn, name)
            refuse_if_in_use(conn, "benchmark", name, name)
            deletes.delete_benchmark_row(conn, row["id"])
    finally:
        conn.close()
    return Deleted("benchmark", name, row["n_examples"])


def delete_proxy(workspace: Workspace, name: str) -> Deleted:
    """Forget a proxy, its rBridge scores and evaluation rows (its files stay on disk)."""
    conn = workspace.connect()
    try:
        row = proxies.get_proxy(conn, name)
        if row is None:
            raise NotFoundError(f"no proxy '{name}'", fix="`betr proxy list` shows them")
        busy = [j for j in active_jobs(conn) if j.config.get("proxy_id") == row["id"]]
        if busy:
            raise UsageError(
                f"proxy '{name}' is in use by job {busy[0].id} ({busy[0].title})",
                fix=f"wait for it, or cancel it first: betr jobs cancel {busy[0].id}",
            )
        deletes.delete_proxy_scores(conn, row["id"])
        with transaction(conn):
            proxies.delete_proxy(conn, row["id"])
    finally:
        conn.close()
    return Deleted("proxy", name, 1)
