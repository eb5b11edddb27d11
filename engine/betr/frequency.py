"""Frequency tables (VisiData's Shift+F): the rows of a view grouped by one column's value,
with per value its docs, tokens and the share of it the current keep rate keeps.

A text column groups by value (docs without one as "(none)"). A numeric column groups into
bins, one binning per column (BINNINGS): `unit` tenths of [0, 1] (a probability), `linear` ten
equal-width bins over the run's range of the column (the bins stay put as filters change),
`log2` powers of two (lengths, ranks). Each row carries the `Where` that filters a view to it.

One polars group-by over the view's codes: tens of milliseconds at a million rows (the
Documents screen's `F` answers in a frame). Pure computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.betr.columns import BINNINGS, MISSING, Column, FieldColumn, Where
from engine.betr.runindex import RunIndex, View
from engine.errors import UsageError
from engine.records import Record

FREQ_SORTS = ("docs", "tokens", "kept", "value")  # what a frequency table sorts by


@dataclass(frozen=True)
class FrequencyRow(Record):
    """One value (or bin) of the column among the view's rows: its docs and tokens, how many of
    them the keep rate keeps, the kept share (of its tokens, or of its docs when keeping by
    docs; None before apply) and its share of the view's docs; `where` filters a view to it."""

    value: str
    docs: int
    tokens: int
    kept_docs: int | None
    kept_tokens: int | None
    kept_share: float | None
    doc_share: float
    where: Where


@dataclass(frozen=True)
class FrequencyTable(Record):
    """A column's frequency table over a view: `rows` (at most `limit`, in `sort` order), the
    values left out (`n_other` of them, `other_docs` docs), the view's size and the keep rate
    the kept columns are at (None before apply)."""

    run_id: int
    column: str
    view: str  # the view's query in words
    view_docs: int
    view_tokens: int
    keep_percent: float | None
    by: str
    kept_share: float | None  # the whole view's
    n_values: int
    sort: str
    descending: bool
    rows: list[FrequencyRow]
    n_other: int
    other_docs: int


def frequency(
    index: RunIndex,
    view: View,
    col: Column,
    *,
    sort: str = "docs",
    descending: bool = True,
    limit: int | None = None,
) -> FrequencyTable:
    """The frequency table of `col` over the view's rows (see the module docstring). `sort`:
    docs, tokens, kept (the kept share) or value (a text column's lexical order, a numeric
    one's bin order; missing last); ties in value order."""
    import polars as pl

    if not col.frequency:
        raise UsageError(
            f"a frequency table of {col.name} would list every doc", fix="pick another column"
        )
    if sort not in FREQ_SORTS:
        raise UsageError(
            f"cannot sort a frequency table by '{sort}'", fix=f"use {', '.join(FREQ_SORTS)}"
        )
    values = col.values(index)
    if isinstance(values, FieldColumn):
        codes_all = values.codes.astype(np.int64)
        labels = list(values.categories)
        wheres = [Where(col.name, value=v) for v in labels]
    else:
        if col.binning is None:
            raise UsageError(f"column {col.name} has no binning for a frequency table")
        bins = BINNINGS[col.binning](col, values[view.rows], values)
        codes_all = None
        labels, wheres = bins.labels, bins.wheres
    rows = view.rows
    codes = codes_all[rows] if codes_all is not None else bins.codes
    missing = len(labels)
    codes = np.where(codes < 0, missing, codes)
    tokens = index.n_tokens[rows]
    kept = rows < view.cut if view.cut is not None else np.zeros(len(rows), dtype=bool)
    frame = pl.DataFrame({"code": codes, "tokens": tokens, "kept": kept})
    grouped = frame.group_by("code").agg(
        pl.len().alias("docs"),
        pl.col("tokens").sum().alias("tokens"),
        pl.col("kept").sum().alias("kept_docs"),
        (pl.col("tokens") * pl.col("kept")).sum().alias("kept_tokens"),
    )
    by_docs = view.query.by == "docs"
    num, den = (
        (pl.col("kept_docs"), pl.col("docs"))
        if by_docs
        else (
            pl.col("kept_tokens"),
            pl.col("tokens"),
        )
    )
    grouped = grouped.with_columns(pl.when(den > 0).then(num / den).otherwise(0.0).alias("kept"))
    primary = {"docs": "docs", "tokens": "tokens", "kept": "kept", "value": "code"}[sort]
    grouped = grouped.sort([primary, "code"], descending=[descending, False])
    if sort == "value":  # missing last both ways
        grouped = pl.concat(
            [grouped.filter(pl.col("code") != missing), grouped.filter(pl.col("code") == missing)]
        )
    n_values = grouped.height
    shown = grouped if limit is None else grouped.head(limit)
    rest = grouped.tail(max(0, n_values - shown.height))
    applied = view.cut is not None
    n_docs = len(rows)
    out: list[FrequencyRow] = []
    for code, docs, tok, kd, kt, ks in shown.select(
        "code", "docs", "tokens", "kept_docs", "kept_tokens", "kept"
    ).iter_rows():
        if code == missing:
            value, where = MISSING, Where(col.name, missing=True, label=MISSING)
        else:
            value, where = labels[code], wheres[code]
        out.append(
            FrequencyRow(
                value=value,
                docs=int(docs),
                tokens=int(tok),
                kept_docs=int(kd) if applied else None,
                kept_tokens=int(kt) if applied else None,
                kept_share=float(ks) if applied else None,
                doc_share=docs / n_docs if n_docs else 0.0,
                where=where,
            )
        )
    total_tokens = int(tokens.sum())
    kept_total = int(kept.sum()) if by_docs else int(tokens[kept].sum())
    whole = n_docs if by_docs else total_tokens
    return FrequencyTable(
        run_id=index.run_id,
        column=col.name,
        view=view.query.describe(),
        view_docs=n_docs,
        view_tokens=total_tokens,
        keep_percent=view.query.keep * 100.0 if applied else None,
        by=view.query.by,
        kept_share=(kept_total / whole if whole else 0.0) if applied else None,
        n_values=n_values,
        sort=sort,
        descending=descending,
        rows=out,
        n_other=rest.height,
        other_docs=int(rest["docs"].sum()) if rest.height else 0,
    )
