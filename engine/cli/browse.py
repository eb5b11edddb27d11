"""`betr tradeoff | overlap | agreement | docs | labels`: the numbers of the Documents and
Threshold screens, from the same engine functions, for scripts and tests."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from engine.cli.common import (
    KEEP_BY,
    BetrCommand,
    BetrGroup,
    RegistryChoice,
    echo,
    emit_json,
    obj,
    print_table,
)
from engine.cli.docs_view import query_of, view_options
from engine.errors import UsageError
from engine.units import abbreviate


def _labels_or_none() -> tuple[str, ...]:
    from engine.api.labels import LABELS

    return (*LABELS, "none")


BY = click.option(
    "--by",
    type=KEEP_BY,
    default="tokens",
    show_default=True,
    help="Keep a share of the pool's tokens or of its docs.",
)


def _keep(text: str | None) -> float | None:
    from engine.api.select import parse_keep

    return None if text is None else parse_keep(text)


def _tokens(n: float | None) -> str:
    return "-" if n is None else f"{abbreviate(n)} ({n:,.0f})"


@click.command("tradeoff", cls=BetrCommand)
@click.option("--run", "run_id", type=int, default=None, help="An applied BETR run.")
@click.option("--keep", default=None, help="Keep rate, e.g. 10%% (default: F_opt, else 10%%).")
@BY
@click.option("--params", default=None, help="Model parameters N, e.g. 1e9 or 1B.")
@click.option("--tokens", default=None, help="Training tokens D, e.g. 2e10 or 20B.")
@click.option("--compute", default=None, help="Training compute C in FLOPs (C = 6ND).")
@click.option(
    "--by-source",
    "by_source",
    is_flag=False,
    flag_value="source",
    default=None,
    metavar="[source|meta.FIELD]",
    help="The kept share of each source (or metadata value) instead: a table with bars.",
)
def tradeoff_cmd(run_id, keep, by, params, tokens, compute, by_source):
    """What a keep rate keeps and costs; F_opt(C) = 4e-5 * C^0.25 % of tokens; epochs needed.
    With --by-source, how much of each source survives the keep rate."""
    from engine.api.tradeoff import RunTradeoff, budget_from_text, tradeoff_of_run

    budget = budget_from_text(params, tokens, compute)
    keep_frac = _keep(keep)
    if by_source is not None:
        _by_source(run_id, keep_frac, by, by_source, budget)
        return
    ws = obj().workspace if run_id is not None else None
    result = tradeoff_of_run(ws, run_id, keep_frac, by, budget)
    if obj().json:
        emit_json(result.to_json())
        return
    law = result.compute_law
    if law.compute is not None:
        echo(
            f"compute C = {law.compute:.4g} FLOPs"
            + (f" (N = {law.params:.4g} params, D = {law.tokens:.4g} tokens)" if law.params else "")
        )
        echo(f"F_opt(C) = {law.f_opt_percent:.4g}% of tokens")
    if isinstance(result, RunTradeoff):
        r = result
        echo(f"run {r.run_id}: keep {r.keep_percent:.4g}% of {r.by} -> p >= {r.threshold:.6f}")
        echo(
            f"  kept {r.kept_docs:,} of {r.total_docs:,} docs, "
            f"{_tokens(r.kept_tokens)} of {_tokens(r.total_tokens)} tokens"
        )
        if law.compute is not None:
            echo(f"  at F_opt: kept {_tokens(law.kept_tokens_at_f_opt)} tokens")
        if r.epochs_at_keep is not None:
            warn = "  DATA STARVATION (> 4 epochs)" if r.starvation_at_keep else ""
            echo(f"  epochs needed at this keep rate: {r.epochs_at_keep:.3g}{warn}")
        if law.epochs_at_f_opt is not None:
            warn = "  DATA STARVATION (> 4 epochs)" if law.starvation_at_f_opt else ""
            echo(f"  epochs needed at F_opt: {law.epochs_at_f_opt:.3g}{warn}")
        echo(f"  target shares of the kept set (on the {r.sample_docs:,}-doc scored sample):")
        for s in r.benchmark_shares:
            flag = "  over-targeted (> 50%)" if s.benchmark in r.over_targeted else ""
            echo(f"    {s.benchmark:<24} {s.share * 100:5.1f}%  ({s.docs} docs){flag}")
    echo("F_opt by compute:")
    for row in result.table:
        kept = f"  kept {_tokens(row.kept_tokens)} tokens" if row.kept_tokens is not None else ""
        echo(f"  C = {row.compute:.0e}  F_opt {row.f_opt_percent:6.2f}%{kept}")


SOURCE_BAR = 20  # cells of a source's survival bar


def _by_source(run_id, keep, by, field, budget) -> None:
    from engine.api.tradeoff import by_source_of_run

    if run_id is None:
        raise UsageError("--by-source needs --run: it breaks a run's kept set down by source")
    r = by_source_of_run(obj().workspace, run_id, keep, by, field, budget)
    if obj().json:
        emit_json(r.to_json())
        return
    echo(
        f"run {r.run_id}: keep {r.keep_percent:.4g}% of {r.by} -> p >= "
        f"{r.threshold:.6f}; kept {r.kept_docs:,} of {r.total_docs:,} docs, "
        f"{_tokens(r.kept_tokens)} of {_tokens(r.total_tokens)} tokens "
        f"({r.kept_token_share * 100:.2f}%)"
    )
    other = f", the smallest {r.n_other:,} as one row" if r.n_other else ""
    whole = r.kept_token_share
    full = max([whole, *(g.survival for g in r.rows)]) or 1.0
    echo(
        f"kept share by {r.field} ({r.n_values:,} values{other}); bars: the share of its "
        f"tokens kept (full bar {full * 100:.3g}%), | at the whole pool's {whole * 100:.3g}%"
    )
    header = (
        r.field,
        "docs kept / pool",
        "tokens kept / pool",
        "survives",
        "",
        "of kept",
        "of pool",
    )
    lines = [
        (
            g.group,
            f"{g.kept_docs:,} / {g.docs:,}",
            f"{abbreviate(g.kept_tokens)} / {abbreviate(g.tokens)}",
            f"{g.survival * 100:.1f}%",
            _bar(g.survival / full, whole / full, SOURCE_BAR),
            f"{g.kept_share * 100:.1f}%",
            f"{g.pool_share * 100:.1f}%",
        )
        for g in r.rows
    ]
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    for line in [header, *lines]:
        cells = [
            c.ljust(w) if i in (0, 4) else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        echo(("  " + "  ".join(cells)).rstrip())


def _bar(fraction: float, mark: float, width: int) -> str:
    """A text bar at half-cell resolution, "█████▌··|·····", with | at `mark` (a fraction)."""
    filled = round(min(1.0, max(0.0, fraction)) * width * 2)
    full, half = divmod(filled, 2)
    cells = list(("█" * full + ("▌" if half else "")).ljust(width, "·"))
    cells[min(width - 1, round(min(1.0, max(0.0, mark)) * width))] = "|"
    return "".join(cells)


@click.command("overlap", cls=BetrCommand)
@click.option("--run", "run_ids", type=int, multiple=True, required=True, help="Twice: A and B.")
@click.option("--keep", required=True, help="Keep rate, e.g. 10%%.")
@BY
@click.option("--show", type=int, default=10, show_default=True, help="Docs listed per side.")
def overlap_cmd(run_ids, keep, by, show):
    """Two runs' kept sets at one keep rate: overlap, Jaccard and the set differences."""
    from engine.api.tradeoff import overlap_of_runs

    if len(run_ids) != 2:
        raise UsageError(
            f"overlap compares exactly two runs, got {len(run_ids)}", fix="--run A --run B"
        )
    ws = obj().workspace
    result = overlap_of_runs(ws, run_ids[0], run_ids[1], _keep(keep), by, show)
    if obj().json:
        emit_json(result.to_json())
        return
    r = result
    echo(
        f"keep {r.keep_percent:.4g}% of {r.by}: run {r.run_a} keeps {r.kept_a:,}, "
        f"run {r.run_b} keeps {r.kept_b:,}; both {r.overlap:,} "
        f"(Jaccard {r.jaccard:.4f})"
    )
    for run, n, shown in ((r.run_a, r.n_only_a, r.only_a), (r.run_b, r.n_only_b, r.only_b)):
        echo(f"only in run {run}: {n:,} docs")
        for d in shown:
            echo(f"  {d.doc_id:>8}  {d.ext_id:<20}  {d.snippet[:90]}")


@click.command("agreement", cls=BetrCommand)
@click.option("--run", "run_id", type=int, required=True)
@click.option("--keep", default="10%", show_default=True, help="Keep rate for precision.")
@BY
@click.option("--top", type=int, default=10, show_default=True, help="Disagreements listed.")
def agreement_cmd(run_id, keep, by, top):
    """Classifier probability vs BETR score on the scored sample: Spearman, precision at the
    keep rate, and the largest disagreements both ways."""
    from engine.api.tradeoff import agreement_of_run

    result = agreement_of_run(obj().workspace, run_id, _keep(keep), by, top)
    if obj().json:
        emit_json(result.to_json())
        return
    r = result
    echo(
        f"run {r.run_id}, on the {r.sample_docs:,}-doc scored sample: Spearman rho = "
        f"{r.spearman:.4f} (p = {r.spearman_p:.3g}, n = {r.sample_docs:,})"
    )
    prec = "-" if r.precision_at_keep is None else f"{r.precision_at_keep:.4f}"
    echo(
        f"precision at keep {r.keep_percent:.4g}% of {r.by}: {prec} "
        f"({r.sample_kept} sample docs kept)"
    )
    cols = [
        ("rank", "rank"),
        ("doc_id", "doc"),
        ("prob", "p(pos)"),
        ("score", "BETR"),
        ("prob_percentile", "p pct"),
        ("score_percentile", "BETR pct"),
        ("benchmark", "benchmark"),
    ]
    for listed, title in (
        (r.classifier_over_betr, "classifier ranks higher than BETR"),
        (r.betr_over_classifier, "BETR ranks higher than the classifier"),
    ):
        echo(title + ":")
        print_table([_rounded(d.to_json()) for d in listed], cols, "  none")


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}


@click.command("docs", cls=BetrCommand)
@view_options
@click.option(
    "--columns",
    default=None,
    metavar="COL,COL",
    help="The columns to show after rank (default: the corpus's, as chosen in the TUI).",
)
@click.option("--save-columns", is_flag=True, help="Remember --columns for the corpus.")
@click.option("--list-columns", is_flag=True, help="List the run's columns and exit.")
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the whole view with text to this file (.jsonl or .parquet).",
)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0, show_default=True)
def docs_cmd(run_id, columns, save_columns, list_columns, export, fmt, limit, offset, **view):
    """A run's documents as the Documents screen lists them (same sort, filters, columns)."""
    from engine.api.browse import docs_page

    ws = obj().workspace
    query = query_of(**view)
    names = _columns(run_id, columns, save_columns, list_columns)
    if names is None:
        return
    if export is not None:
        from engine.api.view_export import export_view_of_run

        done = export_view_of_run(ws, run_id, query, Path(export), fmt)
        if obj().json:
            emit_json(done.to_json())
        else:
            echo(f"{done.rows:,} docs ({query.describe()}) -> {done.out} ({done.format})")
        return
    total, rows = docs_page(ws, run_id, query, offset, limit, names)
    if obj().json:
        emit_json(
            {"run_id": run_id, "total": total, "columns": names, "rows": [asdict(r) for r in rows]}
        )
        return
    echo(f"{total:,} docs · {query.describe()}")
    if not rows:
        echo("no documents match")
        return
    import shutil

    width = shutil.get_terminal_size((120, 24)).columns
    cells = [[_cell(r, n) for n in names] for r in rows]
    widths = [
        min(24, max(len(_title(n)), *(len(c[i]) for c in cells))) for i, n in enumerate(names)
    ]
    echo(
        f"{'rank':>8} "
        + " ".join(_title(n)[:w].ljust(w) for n, w in zip(names, widths, strict=True))
        + " text"
    )
    for r, row_cells in zip(rows, cells, strict=True):
        line = (
            f"{r.rank:>8} "
            + " ".join(_fit(c, w) for c, w in zip(row_cells, widths, strict=True))
            + " "
        )
        echo(line + r.snippet[: max(10, width - len(line) - 1)])


def _columns(run_id, columns, save, listing) -> list[str] | None:
    """The columns `betr docs` shows (None: it listed them instead)."""
    from engine.api.columns import column_choices_of_run, run_columns

    ws = obj().workspace
    wanted = None if columns is None else [c.strip() for c in columns.split(",") if c.strip()]
    if save and wanted is None:
        raise UsageError(
            "--save-columns saves --columns", fix="e.g. --columns prob,meta.lang --save-columns"
        )
    names = run_columns(ws, run_id, wanted, save=save)
    if listing:
        choices = column_choices_of_run(ws, run_id, names)
        if obj().json:
            emit_json([c.to_json() for c in choices])
        else:
            for c in choices:
                echo(f"{'*' if c.shown else ' '} {c.name:<20} {c.kind:<6} {c.summary}")
        return None
    return names


def _title(name: str) -> str:
    from engine.api.columns import column

    return column(name).title


def _cell(row: Any, name: str) -> str:
    builtin = {
        "prob": row.prob,
        "score": row.score,
        "tokens": row.n_tokens,
        "benchmark": row.benchmark,
    }
    value = builtin[name] if name in builtin else row.values.get(name)
    if value is None:
        return "-"
    if name == "tokens":
        return abbreviate(value)
    return _num(value) if isinstance(value, float) else str(value)


def _fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@click.group("labels", cls=BetrGroup)
def labels_group() -> None:
    """Hand labels on documents (good, bad, skip), as set in the document viewer."""


@labels_group.command("set", json=False)
@click.argument("doc_id", type=int)
@click.argument("label", type=RegistryChoice(_labels_or_none))
@click.option("--run", "run_id", type=int, default=None, help="Run the label was given under.")
def labels_set(doc_id, label, run_id):
    """Label a doc (none clears its label)."""
    from engine.api.labels import label_doc

    label_doc(obj().workspace, doc_id, None if label == "none" else label, run_id)
    echo(f"doc {doc_id}: {label}")


@labels_group.command("list")
@click.option("--run", "run_id", type=int, default=None, help="Add p(positive) in this run.")
def labels_list(run_id):
    """Every label with its doc (and p(positive) in --run)."""
    from engine.api.labels import labels_of_workspace

    rows = [r.to_json() for r in labels_of_workspace(obj().workspace, run_id)]
    if obj().json:
        emit_json(rows)
        return
    cols = [("doc_id", "doc"), ("ext_id", "id"), ("corpus", "corpus"), ("label", "label")]
    print_table([_rounded(r) for r in rows], [*cols, ("prob", "p(pos)")], "no labels yet")


@labels_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--run", "run_id", type=int, default=None, help="Add p(positive) in this run.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None)
def labels_export(out, run_id, fmt):
    """Write every label (doc, corpus, source, label, probabilities) to JSONL or CSV."""
    from engine.api.labels import export_workspace_labels

    result = export_workspace_labels(obj().workspace, Path(out), run_id=run_id, fmt=fmt)
    if obj().json:
        emit_json(result.to_json())
    else:
        echo(
            f"{result.rows} labels ({result.good} good, {result.bad} bad, "
            f"{result.skip} skip) -> {out}"
        )


COMMANDS = (tradeoff_cmd, overlap_cmd, agreement_cmd, docs_cmd, labels_group)
