"""Eval-results use cases: import files of lm-eval, DCLM, DataDecide or a long CSV into the
long table (all or nothing), list and delete imports, show the stored results (imported and
the proxies' own) and their per-item multiple-choice rows, and read or edit the benchmark ->
category map.

An import never half-happens, and never holds the workspace's write lock for long: its rows
are parsed outside any transaction (a long CSV streamed with polars, one batch of
`long_csv.BATCH_ROWS` rows in memory at a time), staged in bounded transactions (one per
batch) where no reader sees them, checked (a duplicate inside the import: an error naming the
key and both sources), and moved into the long table in one transaction that first checks
them against the stored rows (same run, size, tokens, step, stage, benchmark and metric:
refused, so importing the same files twice leaves the workspace as it was). A bad file
(unless skip_bad), a clash or an interrupt removes the staged rows; an import whose process
died is removed by the next one.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from engine.api.records import Record
from engine.errors import InputError, NotFoundError, UsageError
from engine.ingest.results import RESULT_FORMATS as RESULT_FORMATS  # the registry, for the faces
from engine.ingest.results import format_names as format_names
from engine.jobs.table import process_alive
from engine.store import evals
from engine.store import proxies as store_proxies
from engine.store import result_imports as store_ri
from engine.store.db import transaction
from engine.workspace import Workspace

STAGE_ROWS = 10_000  # rows staged per transaction (about 0.1-0.3 s of the write lock)
HOST = socket.gethostname()
Progress = Callable[[int, int | None, str], None]  # (done, total, unit)


@dataclass(frozen=True)
class ValueCheck:
    """A value read two ways: recomputed from a samples file and given by its results JSON."""

    run: str
    step: int | None
    benchmark: str
    metric: str
    samples: float
    results_json: float
    agree: bool  # equal to float noise (1e-9)


@dataclass(frozen=True)
class ResultsImported(Record):
    """What an import stored (rows, per-item rows) and what it dropped, skipped and noted."""

    import_id: int
    format: str  # a RESULT_FORMATS name
    files: int
    rows: int
    items: int
    dropped: int  # missing or NaN values
    dropped_examples: list[str]  # the first 10
    skipped: int  # bad files and records (skip_bad)
    skipped_examples: list[str]  # the first 20
    runs: int  # distinct runs
    benchmarks: int  # distinct benchmarks
    metrics: int  # distinct metrics
    categories_added: int  # benchmark -> category entries added to the workspace's map
    notes: list[str]
    checks: list[ValueCheck]


@dataclass(frozen=True)
class ImportInfo(Record):
    """A results import, with the distinct runs, benchmarks and metrics of its rows."""

    id: int
    format: str
    sources: list[str]  # the paths imported
    n_rows: int
    n_items: int
    n_dropped: int
    created_at: float  # unix seconds
    state: str  # done | staging | deleting
    pid: int | None  # the process that stages it
    host: str | None
    runs: int
    benchmarks: int
    metrics: int


@dataclass(frozen=True)
class ResultTotals:
    """Counts of the whole long table (imported rows and the proxies' own)."""

    rows: int
    runs: int
    benchmarks: int
    metrics: int


@dataclass(frozen=True)
class ImportList(Record):
    imports: list[ImportInfo]
    totals: ResultTotals


@dataclass(frozen=True)
class ImportDeleted(Record):
    import_id: int
    rows: int
    items: int


@dataclass(frozen=True)
class Categories(Record):
    """The benchmark -> category map, sorted by benchmark, and whose it is."""

    categories: dict[str, str]
    source: str  # workspace | shipped (until the first import or edit seeds the workspace's)


@dataclass(frozen=True)
class CategoriesSet(Record):
    set: dict[str, str]  # the entries given
    rows_updated: int  # stored rows whose category changed


def import_results(
    workspace: Workspace,
    paths: Sequence[str],
    fmt: str,
    columns: str | dict[str, str] | None = None,
    skip_bad: bool = False,
    stage: str | None = None,
    on_progress: Progress | None = None,
) -> ResultsImported:
    """Parse `paths` as `fmt` and store rows and items under one new import (module doc);
    `on_progress(rows staged, rows expected or None, "rows")` after each batch (checks: the
    values a samples file and its results JSON both give, side by side)."""
    from engine.ingest.results import check_columns, parse_columns, result_format

    result_format(fmt)  # a known one
    if not paths:
        raise UsageError("no input files given", fix="betr results import PATH... --format F")
    abs_paths = [os.path.abspath(os.path.expanduser(p)) for p in paths]
    for p in abs_paths:
        if not os.path.exists(p):
            raise InputError("no such file or directory", file=p, fix="check the path")
    cols = parse_columns(columns) if isinstance(columns, str) else columns
    check_columns(fmt, cols)
    with closing(workspace.connect()) as conn:
        for stale in store_ri.abandoned_imports(conn, _alive):
            store_ri.delete_import_rows(conn, stale)  # left by a process that died
        with transaction(conn):
            import_id = store_ri.create_staging_import(conn, fmt, abs_paths, os.getpid(), HOST)
        try:
            result = _stage_and_swap(
                conn, import_id, abs_paths, fmt, cols, skip_bad, stage, on_progress
            )
        except BaseException:
            try:  # nothing of it stays (if this fails too, the next import removes it)
                store_ri.delete_import_rows(conn, import_id)
            except Exception:
                pass
            raise
        store_ri.clear_staging(conn, import_id)
    return result


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether the process that stages an import still runs (one on another host: assumed)."""
    return host != HOST or process_alive(pid)


def _stage_and_swap(
    conn: sqlite3.Connection,
    import_id: int,
    paths: list[str],
    fmt: str,
    cols: dict[str, str] | None,
    skip_bad: bool,
    stage: str | None,
    on_progress: Progress | None,
) -> ResultsImported:
    from engine.analysis.categories import DEFAULT_MAP, category_of, seed_map
    from engine.ingest.results import (
        DEFAULT_STAGE,
        Parsed,
        ReadOptions,
        describe_key,
        no_results_error,
        parse_results,
        result_format,
    )

    parsed = Parsed()
    expected = {"rows": 0}
    batches: Iterator[list[dict[str, Any]]]
    stream = result_format(fmt).stream
    if stream is not None:

        def on_total(n: int) -> None:
            expected["rows"] += n

        options = ReadOptions(stage or DEFAULT_STAGE, skip_bad, cols)
        batches = stream(paths, parsed, options, on_total)
    else:
        parsed = parse_results(paths, fmt, columns=cols, skip_bad=skip_bad, stage=stage)
        rows, parsed.rows = parsed.rows, []
        expected["rows"] = len(rows)
        batches = iter([rows])
    existing = evals.categories(conn)
    base = existing or DEFAULT_MAP
    category: dict[str, str | None] = {}  # per benchmark, computed once
    staged = 0
    for rows in batches:
        for row in rows:
            if row.get("category") is None:
                bench = row["benchmark"]
                if bench not in category:
                    category[bench] = category_of(bench, {**base, **seed_map([bench], existing)})
                row["category"] = category[bench]
        for i in range(0, len(rows), STAGE_ROWS):  # short transactions: others write between
            with transaction(conn):
                store_ri.stage_results(conn, import_id, rows[i : i + STAGE_ROWS])
        staged += len(rows)
        if on_progress is not None:
            on_progress(staged, max(expected["rows"], staged), "rows")
    for i in range(0, len(parsed.items), STAGE_ROWS):
        with transaction(conn):
            store_ri.stage_items(conn, import_id, parsed.items[i : i + STAGE_ROWS])
    if staged == 0 and not parsed.items:
        raise no_results_error(parsed, paths, fmt)
    dup = store_ri.staged_duplicate(conn, import_id)
    if dup is not None:
        key, sources, n = dup
        more = f" ({n} duplicated keys in all)" if n > 1 else ""
        raise InputError(
            f"duplicate rows for ({describe_key(key)}), from {' and '.join(sorted(set(sources)))}"
            + more,
            fix="import each result once: drop the repeated file or rows, or tell them apart "
            "(another run name, stage or metric)",
        )
    summary = store_ri.staged_summary(conn, import_id)
    added = seed_map(summary["benchmarks"], existing)
    if not existing:
        added = {**DEFAULT_MAP, **added}
    with transaction(conn):
        clash = store_ri.staged_clash(conn, import_id)
        if clash is not None:
            key, was, n = clash
            where = f"import {was}" if isinstance(was, int) else str(was)
            raise UsageError(
                f"{n} of these rows are already in the workspace, e.g. "
                f"({describe_key(key)}) from {where}",
                fix="delete that import first (betr results list; betr results delete ID), "
                "or import other files",
            )
        store_ri.swap_in(conn, import_id)
        if added:
            evals.set_categories(conn, added)
        evals.finish_import(
            conn,
            import_id,
            n_rows=summary["rows"],
            n_items=summary["items"],
            n_dropped=parsed.dropped,
        )
    return ResultsImported(
        import_id=import_id,
        format=fmt,
        files=parsed.files,
        rows=summary["rows"],
        items=summary["items"],
        dropped=parsed.dropped,
        dropped_examples=parsed.dropped_examples[:10],
        skipped=len(parsed.skipped),
        skipped_examples=parsed.skipped[:20],
        runs=len(summary["runs"]),
        benchmarks=len(summary["benchmarks"]),
        metrics=summary["metrics"],
        categories_added=len(added),
        notes=parsed.notes,
        checks=[ValueCheck(**c) for c in parsed.checks],
    )


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(r.get(k) for k in store_ri.KEY_COLUMNS)


def list_imports(workspace: Workspace) -> ImportList:
    """Every import with its counts, and the totals of the whole table."""
    with closing(workspace.connect(readonly=True)) as conn:
        imports = evals.list_imports(conn)
        summaries = store_ri.import_summaries(conn)
        totals = store_ri.totals(conn)
    none = {"runs": 0, "benchmarks": 0, "metrics": 0}
    return ImportList(
        [ImportInfo(**{**imp, **summaries.get(imp["id"], none)}) for imp in imports],
        ResultTotals(**totals),
    )


def delete_import(workspace: Workspace, import_id: int) -> ImportDeleted:
    """Drop an import with its rows and items (in bounded transactions: the import reads as
    'deleting' meanwhile)."""
    with closing(workspace.connect()) as conn:
        known = {i["id"]: i for i in evals.list_imports(conn)}
        imp = known.get(import_id)
        if imp is None:
            raise NotFoundError(
                f"no results import {import_id}", fix="see the imports with: betr results list"
            )
        if imp["state"] == "staging" and _alive(imp["pid"], imp["host"]):
            raise UsageError(
                f"results import {import_id} is still being written (process {imp['pid']})",
                fix="wait for it to finish, or stop that `betr results import`",
            )
        store_ri.delete_import_rows(conn, import_id)  # in bounded transactions
    return ImportDeleted(import_id, imp["n_rows"], imp["n_items"])


def get_categories(workspace: Workspace) -> Categories:
    """The benchmark -> category map: the workspace's, or the shipped map until the first
    import or edit seeds the workspace's."""
    from engine.analysis.categories import DEFAULT_MAP

    with closing(workspace.connect(readonly=True)) as conn:
        mapping = evals.categories(conn)
    if mapping:
        return Categories(dict(sorted(mapping.items())), "workspace")
    return Categories(dict(sorted(DEFAULT_MAP.items())), "shipped")


def parse_mapping(text: str) -> dict[str, str]:
    """ "arc_easy=science,boolq=reading" -> {"arc_easy": "science", "boolq": "reading"}."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        bench, sep, cat = part.partition("=")
        if not sep or not bench.strip() or not cat.strip():
            raise UsageError(
                f"bad category entry '{part}'", fix="use BENCHMARK=CATEGORY pairs: arc_easy=science"
            )
        out[bench.strip()] = cat.strip()
    if not out:
        raise UsageError("no categories given", fix="--set arc_easy=science,boolq=reading")
    return out


def set_categories(workspace: Workspace, mapping: str | dict[str, str]) -> CategoriesSet:
    """Edit the workspace's map (seeding it from the shipped one first) and the category of
    the stored rows of those benchmarks."""
    from engine.analysis.categories import DEFAULT_MAP

    entries = parse_mapping(mapping) if isinstance(mapping, str) else dict(mapping)
    with closing(workspace.connect()) as conn:
        with transaction(conn):
            if not evals.categories(conn):
                evals.set_categories(conn, DEFAULT_MAP)
            evals.set_categories(conn, entries)
            updated = store_ri.set_row_categories(conn, entries)
    return CategoriesSet(entries, updated)


# -- showing what is stored -------------------------------------------------------------------
@dataclass(frozen=True)
class ResultRow:
    """One row of the long results table, with where it came from."""

    run: str
    size: str | None
    params: int | None
    tokens: int | None
    step: int | None
    stage: str | None
    benchmark: str
    category: str | None
    metric: str
    value: float | None
    attrs: dict[str, Any] | None
    source: str
    origin: str  # "proxy <name>" or "import <id>" (or "workspace" for neither)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ItemResult:
    """One multiple-choice item: the choices' log-likelihoods and the prediction under each
    metric of engine.analysis.mc that its data allows (acc always; acc_norm and acc_bytes
    with the choices' texts; acc_per_char with the continuations)."""

    run: str
    size: str | None
    tokens: int | None
    step: int | None
    stage: str | None
    benchmark: str
    item: str
    gold: int
    logliks: list[float]
    choices: list[str] | None
    pred: dict[str, int]
    correct: dict[str, bool]
    confidence: float
    p_gold: float
    bos: str | None  # the BOS convention of a proxy's item (None: imported)
    source: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def show_results(
    workspace: Workspace,
    *,
    run: str | None = None,
    benchmark: str | None = None,
    metric: str | None = None,
) -> list[ResultRow]:
    """The stored results (imported and the proxies' own), filtered, in the table's order
    (run, params, tokens, step, benchmark, metric)."""
    with closing(workspace.connect(readonly=True)) as conn:
        rows = evals.eval_results(conn, run=run, benchmark=benchmark, metric=metric)
        names = {p["id"]: p["name"] for p in store_proxies.list_proxies(conn)}
    out = []
    for r in rows:
        if r["proxy_id"] is not None:
            origin = f"proxy {names.get(r['proxy_id'], r['proxy_id'])}"
        elif r["import_id"] is not None:
            origin = f"import {r['import_id']}"
        else:
            origin = "workspace"
        out.append(
            ResultRow(
                run=r["run"],
                size=r["size"],
                params=r["params"],
                tokens=r["tokens"],
                step=r["step"],
                stage=r["stage"],
                benchmark=r["benchmark"],
                category=r["category"],
                metric=r["metric"],
                value=r["value"],
                attrs=r["attrs"],
                source=r["source"],
                origin=origin,
            )
        )
    return out


def show_items(
    workspace: Workspace, *, run: str | None = None, benchmark: str | None = None
) -> list[ItemResult]:
    """Per-item multiple-choice rows (imported samples and the proxies' evaluations), items in
    natural id order within each (run, benchmark, stage, checkpoint, source)."""
    from engine.analysis.item_order import natural_key
    from engine.analysis.mc import item_row

    with closing(workspace.connect(readonly=True)) as conn:
        rows = evals.item_details(conn, run=run, benchmark=benchmark)
    out = []
    for r in rows:
        choices = [str(c) for c in r["choices"]] if r["choices"] is not None else None
        if r["n_chars"] is not None:
            conts = r["n_chars"]
        elif choices is not None and r["delimiter"] is not None:
            conts = [len(r["delimiter"] + c) for c in choices]
        else:
            conts = None
        try:
            row = item_row(r["logliks"], int(r["gold"]), choices, conts)
        except ValueError as exc:
            raise InputError(
                f"item '{r['item']}' of run '{r['run']}' on '{r['benchmark']}': {exc}",
                field="logliks",
                fix="delete the import that holds it: betr results list",
            ) from None
        out.append(
            ItemResult(
                run=r["run"],
                size=r["size"],
                tokens=r["tokens"],
                step=r["step"],
                stage=r["stage"],
                benchmark=r["benchmark"],
                item=str(r["item"]),
                gold=int(r["gold"]),
                logliks=r["logliks"],
                choices=choices,
                pred=row["pred"],
                correct=row["correct"],
                confidence=row["confidence"],
                p_gold=row["p_gold"],
                bos=r["bos"],
                source=r["source"],
            )
        )

    def group(it: ItemResult) -> tuple[Any, ...]:
        return tuple(
            (x is None, x if x is not None else 0)
            for x in (it.run, it.benchmark, it.stage, it.tokens, it.step, it.source)
        )

    return sorted(out, key=lambda it: (group(it), natural_key(it.item)))
