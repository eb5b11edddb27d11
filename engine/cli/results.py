"""`betr results ...`: import evaluation results (lm-eval, DCLM, DataDecide, long CSV) into the
long table the analysis reads, show what is stored (and the per-item rows), list and delete
imports, and edit the benchmark categories."""

from __future__ import annotations

import time

import click

from engine.cli.common import (
    BetrGroup,
    RegistryChoice,
    echo,
    emit_json,
    obj,
    print_table,
    progress_bar,
    report_skipped,
)


def _formats():
    from engine.api.results import RESULT_FORMATS

    return RESULT_FORMATS


FORMATS = RegistryChoice(_formats)


@click.group("results", cls=BetrGroup)
def results_group() -> None:
    """Evaluation results: import them (all or nothing), list, delete, categorise."""


@results_group.command("import")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=FORMATS, required=True, help="The files' format.")
@click.option(
    "--columns",
    default=None,
    help="csv only: FIELD=COLUMN pairs, e.g. run=model,benchmark=task,value=score (fields: run, "
    "size, params, tokens, step, stage, benchmark, category, metric, value; metric defaults "
    "to acc).",
)
@click.option("--stage", default=None, help="Stage of rows whose file names none (default PT).")
@click.option("--skip-bad", is_flag=True, help="Skip bad files and records (and report them).")
def import_cmd(paths, fmt, columns, stage, skip_bad):
    """Import results files or folders (all or nothing, unless --skip-bad)."""
    from engine.api.results import import_results

    with progress_bar(f"import {fmt} results", "rows", transient=True) as update:
        result = import_results(
            obj().workspace,
            paths,
            fmt,
            columns=columns,
            skip_bad=skip_bad,
            stage=stage,
            on_progress=lambda done, total, unit: update(done, total, unit),
        )
    if obj().json:
        emit_json(result.to_json())
        return
    report_skipped(result.to_json())
    for note in result.notes:
        echo(f"note: {note}", err=True)
    if result.checks:
        same = sum(c.agree for c in result.checks)
        metrics = sorted({c.metric for c in result.checks})
        echo(
            f"recomputed from the samples: {same} of {len(result.checks)} value(s) equal the "
            f"results JSON's ({', '.join(metrics)})"
        )
    echo(
        f"import {result.import_id}: {result.rows} row(s) from {result.files} file(s): "
        f"{result.runs} run(s), {result.benchmarks} benchmark(s), "
        f"{result.metrics} metric(s)"
        + (f", {result.items} item(s)" if result.items else "")
        + (f"; {result.dropped} missing or NaN value(s) dropped" if result.dropped else "")
    )


@results_group.command("list")
def list_cmd():
    """Imports with their counts, and the long table's totals."""
    from engine.api.results import format_names, list_imports

    data = list_imports(obj().workspace)
    if obj().json:
        emit_json(data.to_json())
        return
    rows = [
        dict(
            imp.to_json(),
            when=time.strftime("%Y-%m-%d %H:%M", time.localtime(imp.created_at)),
            files=", ".join(imp.sources[:2]) + (" ..." if len(imp.sources) > 2 else ""),
        )
        for imp in data.imports
    ]
    print_table(
        rows,
        [
            ("id", "id"),
            ("state", "state"),
            ("format", "format"),
            ("n_rows", "rows"),
            ("n_items", "items"),
            ("n_dropped", "dropped"),
            ("runs", "runs"),
            ("benchmarks", "benchmarks"),
            ("metrics", "metrics"),
            ("when", "when"),
            ("files", "files"),
        ],
        f"no results imported yet: betr results import PATH... --format {format_names()}",
    )
    t = data.totals
    echo(
        f"all results: {t.rows} row(s), {t.runs} run(s), {t.benchmarks} benchmark(s), "
        f"{t.metrics} metric(s)"
    )


@results_group.command("show")
@click.option("--run", "run_name", default=None, help="Only this run (a proxy's dataset or name).")
@click.option("--benchmark", default=None)
@click.option("--metric", default=None, help="Only this metric (acc, acc_norm, bpb, ...).")
@click.option(
    "--items",
    is_flag=True,
    help="Per-item multiple-choice rows instead: gold, each choice's log-likelihood and the "
    "prediction under acc, acc_norm, acc_bytes and acc_per_char.",
)
def show_cmd(run_name, benchmark, metric, items):
    """The stored results, imported and the proxies' own (long shape), or with --items the
    per-item multiple-choice rows they were computed from."""
    from engine.api.results import show_items, show_results

    if items:
        if metric:
            raise click.UsageError("--metric is for the results table, not --items")
        found = show_items(obj().workspace, run=run_name, benchmark=benchmark)
        if obj().json:
            emit_json([it.as_dict() for it in found])
            return
        print_table(
            [_item_cells(it) for it in found],
            [
                ("run", "run"),
                ("benchmark", "benchmark"),
                ("checkpoint", "tokens/step"),
                ("item", "item"),
                ("gold", "gold"),
                ("logliks", "log-likelihoods"),
                ("acc", "acc"),
                ("acc_norm", "acc_norm"),
                ("acc_bytes", "acc_bytes"),
                ("acc_per_char", "acc_per_char"),
                ("confidence", "confidence"),
            ],
            "no per-item results: import lm-eval samples_*.jsonl (betr results import) or "
            "evaluate a proxy (betr proxy eval)",
        )
        echo("prediction per metric: the chosen choice's index, * where it is the gold one")
        return
    rows = show_results(obj().workspace, run=run_name, benchmark=benchmark, metric=metric)
    if obj().json:
        emit_json([r.as_dict() for r in rows])
        return
    print_table(
        [dict(r.as_dict(), value=_value(r.value)) for r in rows],
        [
            ("run", "run"),
            ("size", "size"),
            ("tokens", "tokens"),
            ("step", "step"),
            ("stage", "stage"),
            ("benchmark", "benchmark"),
            ("metric", "metric"),
            ("value", "value"),
            ("origin", "from"),
        ],
        "no results: betr results import, betr proxy eval or betr rbridge score",
    )


def _value(x: float | None) -> str | None:
    return None if x is None else f"{x:.6g}"


def _item_cells(it) -> dict:
    cells = {
        "run": it.run,
        "benchmark": it.benchmark,
        "checkpoint": it.tokens if it.tokens is not None else it.step,
        "item": it.item,
        "gold": it.gold,
        "logliks": " ".join(f"{v:.4f}" for v in it.logliks),
        "confidence": f"{it.confidence:.4f}",
    }
    for metric, pred in it.pred.items():
        cells[metric] = f"{pred}{'*' if it.correct[metric] else ''}"
    return cells


@results_group.command("delete")
@click.argument("import_id", type=int)
def delete_cmd(import_id):
    """Delete an import with its rows and items."""
    from engine.api.results import delete_import

    result = delete_import(obj().workspace, import_id)
    if obj().json:
        emit_json(result.to_json())
        return
    echo(f"deleted import {import_id} ({result.rows} row(s), {result.items} item(s))")


@results_group.command("categories")
@click.option("--set", "entries", default=None, help="BENCHMARK=CATEGORY pairs, comma-separated.")
def categories_cmd(entries):
    """Show (or edit with --set) the benchmark -> category map."""
    from engine.api.results import get_categories, set_categories

    if entries:
        result = set_categories(obj().workspace, entries)
        if obj().json:
            emit_json(result.to_json())
            return
        for bench, cat in result.set.items():
            echo(f"{bench} -> {cat}")
        echo(f"({result.rows_updated} stored row(s) updated)")
        return
    data = get_categories(obj().workspace)
    if obj().json:
        emit_json(data.to_json())
        return
    print_table(
        [{"benchmark": b, "category": c} for b, c in data.categories.items()],
        [("benchmark", "benchmark"), ("category", "category")],
        "no categories",
    )
    if data.source == "shipped":
        echo("(the shipped map: the workspace gets its own copy on the first import or edit)")


COMMANDS = (results_group,)
