"""Eval-results use cases: import files of lm-eval, DCLM, DataDecide or a long CSV into the
long table (all or nothing, in one transaction), list and delete imports, and read or edit
the benchmark -> category map.

An import never half-happens: a bad file (unless skip_bad), a duplicate inside the import, or
a row that is already in the workspace (same run, size, tokens, step, stage, benchmark and
metric) raises before anything is written, so importing the same files twice is refused and
leaves the workspace as it was.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import closing
from typing import Any

from engine.errors import InputError, NotFoundError, UsageError
from engine.store import evals
from engine.store import result_imports as store_ri
from engine.store.db import transaction
from engine.workspace import Workspace

FORMATS = ("lm-eval", "dclm", "datadecide", "csv")


def import_results(
    workspace: Workspace,
    paths: Sequence[str],
    fmt: str,
    columns: str | dict[str, str] | None = None,
    skip_bad: bool = False,
    stage: str | None = None,
) -> dict[str, Any]:
    """Parse `paths` as `fmt` and store rows and items under one new import.
    Returns {import_id, format, rows, items, dropped, dropped_examples, skipped,
    skipped_examples, runs, benchmarks, metrics, files, notes, categories_added}."""
    from engine.analysis.categories import DEFAULT_MAP, category_of, seed_map
    from engine.analysis.results_formats import (
        describe_key,
        parse_columns,
        parse_results,
    )  # fmt: skip

    if fmt not in FORMATS:
        raise UsageError(f"unknown results format '{fmt}'", fix=f"use one of {', '.join(FORMATS)}")
    if not paths:
        raise UsageError("no input files given", fix="betr results import PATH... --format F")
    abs_paths = [os.path.abspath(os.path.expanduser(p)) for p in paths]
    for p in abs_paths:
        if not os.path.exists(p):
            raise InputError("no such file or directory", file=p, fix="check the path")
    cols = parse_columns(columns) if isinstance(columns, str) else columns
    parsed = parse_results(abs_paths, fmt, columns=cols, skip_bad=skip_bad, stage=stage)
    runs = sorted({r["run"] for r in parsed.rows} | {i["run"] for i in parsed.items})
    benchmarks = sorted(
        {r["benchmark"] for r in parsed.rows} | {i["benchmark"] for i in parsed.items}
    )
    with closing(workspace.connect()) as conn:
        with transaction(conn):
            stored = store_ri.existing_keys(conn, runs)
            clash = [r for r in parsed.rows if _key(r) in stored]
            if clash:
                first = clash[0]
                was = stored[_key(first)]
                where = f"import {was}" if isinstance(was, int) else str(was)
                raise UsageError(
                    f"{len(clash)} of these rows are already in the workspace, e.g. "
                    f"({describe_key(_key(first))}) from {where}",
                    fix="delete that import first (betr results list; betr results delete ID), "
                    "or import other files",
                )
            existing = evals.categories(conn)
            added = seed_map(benchmarks, existing)
            if not existing:
                added = {**DEFAULT_MAP, **added}
            mapping = {**existing, **added}
            import_id = evals.create_import(conn, fmt, abs_paths)
            rows = []
            for r in parsed.rows:
                row = dict(r, import_id=import_id)
                if row.get("category") is None:
                    row["category"] = category_of(row["benchmark"], mapping)
                rows.append(row)
            evals.insert_eval_results(conn, rows)
            evals.insert_eval_items(conn, [dict(i, import_id=import_id) for i in parsed.items])
            if added:
                evals.set_categories(conn, added)
            evals.finish_import(
                conn, import_id, n_rows=len(rows), n_items=len(parsed.items),
                n_dropped=parsed.dropped,
            )  # fmt: skip
    return {
        "import_id": import_id,
        "format": fmt,
        "files": parsed.files,
        "rows": len(parsed.rows),
        "items": len(parsed.items),
        "dropped": parsed.dropped,
        "dropped_examples": parsed.dropped_examples[:10],
        "skipped": len(parsed.skipped),
        "skipped_examples": parsed.skipped[:20],
        "runs": len(runs),
        "benchmarks": len(benchmarks),
        "metrics": len({r["metric"] for r in parsed.rows}),
        "categories_added": len(added),
        "notes": parsed.notes,
    }


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(r.get(k) for k in store_ri.KEY_COLUMNS)


def list_imports(workspace: Workspace) -> dict[str, Any]:
    """{imports: [{id, format, sources, n_rows, n_items, n_dropped, created_at, runs,
    benchmarks, metrics}], totals: {rows, runs, benchmarks, metrics} of the whole table}."""
    with closing(workspace.connect(readonly=True)) as conn:
        imports = evals.list_imports(conn)
        summaries = store_ri.import_summaries(conn)
        totals = store_ri.totals(conn)
    for imp in imports:
        imp.update(summaries.get(imp["id"], {"runs": 0, "benchmarks": 0, "metrics": 0}))
    return {"imports": imports, "totals": totals}


def delete_import(workspace: Workspace, import_id: int) -> dict[str, Any]:
    """Drop an import with its rows and items."""
    with closing(workspace.connect()) as conn:
        with transaction(conn):
            known = {i["id"]: i for i in evals.list_imports(conn)}
            if import_id not in known:
                raise NotFoundError(
                    f"no results import {import_id}",
                    fix="see the imports with: betr results list",
                )
            evals.delete_import(conn, import_id)
    imp = known[import_id]
    return {"import_id": import_id, "rows": imp["n_rows"], "items": imp["n_items"]}


def get_categories(workspace: Workspace) -> dict[str, Any]:
    """{categories: {benchmark: category}, source: "workspace" | "shipped"} (the shipped map
    until the first import or edit seeds the workspace's)."""
    from engine.analysis.categories import DEFAULT_MAP

    with closing(workspace.connect(readonly=True)) as conn:
        mapping = evals.categories(conn)
    if mapping:
        return {"categories": dict(sorted(mapping.items())), "source": "workspace"}
    return {"categories": dict(sorted(DEFAULT_MAP.items())), "source": "shipped"}


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


def set_categories(workspace: Workspace, mapping: str | dict[str, str]) -> dict[str, Any]:
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
    return {"set": entries, "rows_updated": updated}
