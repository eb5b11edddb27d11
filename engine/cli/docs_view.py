"""`betr freq` and the view options `betr docs` shares with it: a run's Documents view (sort by
any column either way, filters, column filters) from the command line, as the screen has it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from engine.cli.common import KEEP_BY, BetrCommand, RegistryChoice, echo, emit_json, obj
from engine.errors import UsageError
from engine.units import abbreviate


def _keep(text: str) -> float:
    from engine.api.select import parse_keep

    return parse_keep(text)


def view_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that make a view: --run, --sort, the filters, --keep/--by."""
    options = [
        click.option("--run", "run_id", type=int, required=True),
        click.option(
            "--sort",
            default="prob",
            show_default=True,
            help="A column, optionally :asc or :desc (e.g. tokens:asc, meta.lang); "
            "`betr docs --list-columns` lists them.",
        ),
        click.option("--benchmark", default=None, help="Best-matching target benchmark."),
        click.option("--kept", "kept", flag_value="kept", default=None, help="Only docs kept."),
        click.option("--dropped", "kept", flag_value="dropped", help="Only docs dropped."),
        click.option(
            "--keep", default="10%", show_default=True, help="Keep rate (kept, kept share)."
        ),
        click.option(
            "--by",
            type=KEEP_BY,
            default="tokens",
            show_default=True,
            help="Keep a share of the pool's tokens or of its docs.",
        ),
        click.option("--source", default=None, help="Source contains (docs' file:line)."),
        click.option("--meta", default=None, help="Metadata field=value."),
        click.option("--search", default=None, help="Full-text (FTS5) query."),
        click.option("--sample-only", is_flag=True, help="Only docs of the scored sample."),
        click.option(
            "--where",
            "wheres",
            multiple=True,
            metavar="COL=VALUE",
            help="A column's value (text), or COL=LO..HI (numbers, LO <= x < HI); "
            "COL= for no value. Repeatable.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def parse_where(text: str) -> Any:
    """ "benchmark=arc" / "tokens=256..512" / "meta.lang=" -> a Where."""
    from engine.api.columns import NUMBER, Where, column

    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise UsageError(f"--where '{text}' is not COL=VALUE", fix="e.g. --where benchmark=gsm8k")
    col = column(name.strip())
    if value == "":
        return Where(col.name, missing=True)
    if col.kind != NUMBER:
        return Where(col.name, value=value)
    lo_text, dots, hi_text = value.partition("..")
    try:
        lo = float(lo_text) if lo_text.strip() else None
        hi = float(hi_text) if dots and hi_text.strip() else None
    except ValueError:
        raise UsageError(
            f"--where '{text}': {col.name} is a number", fix=f"e.g. --where {col.name}=0.5..1"
        ) from None
    if not dots and lo is not None:  # one number: equal to it
        return Where(col.name, lo=lo, hi=math.nextafter(lo, math.inf))
    return Where(col.name, lo=lo, hi=hi)


def query_of(
    sort: str,
    benchmark: str | None,
    kept: str | None,
    keep: str,
    by: str,
    source: str | None,
    meta: str | None,
    search: str | None,
    sample_only: bool,
    wheres: tuple[str, ...],
) -> Any:
    """The Query the view options describe."""
    from engine.api.browse import Query
    from engine.api.columns import parse_sort, sort_spec

    meta_pair = None
    if meta is not None:
        key, sep, value = meta.partition("=")
        if not sep or not key:
            raise UsageError(f"--meta '{meta}' is not field=value", fix="e.g. --meta lang=en")
        meta_pair = (key, value)
    col, descending = parse_sort(sort)
    return Query(
        sort=sort_spec(col.name, descending),
        benchmark=benchmark,
        kept=kept,
        keep=_keep(keep),
        by=by,
        source=source,
        meta=meta_pair,
        search=search,
        sample_only=sample_only,
        where=tuple(parse_where(w) for w in wheres),
    )


def _freq_sorts() -> tuple[str, ...]:
    from engine.api.frequency import FREQ_SORTS

    return FREQ_SORTS


@click.command("freq", cls=BetrCommand)
@click.option(
    "--field",
    "field",
    required=True,
    help="The column to count: source, meta.FIELD, benchmark, split, or a number column "
    "(prob, score, cosine, tokens, best_rank: binned).",
)
@view_options
@click.option(
    "--order",
    type=RegistryChoice(_freq_sorts),
    default="docs",
    show_default=True,
    help="Sort the table by docs, tokens, kept share or value.",
)
@click.option(
    "--reverse", is_flag=True, help="Flip the order (counts: largest first; value: A to Z)."
)
@click.option("--limit", type=int, default=50, show_default=True, help="Values listed (0: all).")
def freq_cmd(field, run_id, order, reverse, limit, **view):
    """A frequency table of one column over a run's Documents view (the screen's F): per value
    its docs, tokens and the share the keep rate keeps."""
    from engine.api.frequency import frequency_of_run

    query = query_of(**view)
    descending = (order != "value") != reverse
    table = frequency_of_run(
        obj().workspace,
        run_id,
        query,
        field,
        sort=order,
        descending=descending,
        limit=limit or None,
    )
    if obj().json:
        emit_json(table.to_json())
        return
    keep = (
        f"kept at {table.keep_percent:.4g}% of {table.by}: {table.kept_share * 100:.1f}%"
        if table.kept_share is not None
        else "not applied: no kept share"
    )
    echo(
        f"run {table.run_id} · {table.column}: {table.n_values:,} values over "
        f"{table.view_docs:,} docs ({table.view}) · {keep}"
    )
    width = max([len(table.column), *(len(r.value) for r in table.rows)])
    width = min(width, 48)
    echo(f"  {table.column[:width]:<{width}}  {'docs':>9} {'%':>6} {'tokens':>8} {'kept':>6}")
    for r in table.rows:
        value = r.value if len(r.value) <= width else r.value[: width - 1] + "…"
        kept = "-" if r.kept_share is None else f"{r.kept_share * 100:.1f}%"
        echo(
            f"  {value:<{width}}  {r.docs:>9,} {r.doc_share * 100:>5.1f}% "
            f"{abbreviate(r.tokens):>8} {kept:>6}"
        )
    if table.n_other:
        echo(f"  … {table.n_other:,} more values ({table.other_docs:,} docs): --limit 0 lists all")


COMMANDS = (freq_cmd,)
