"""Frequency tables (VisiData's Shift+F): the rows of a view grouped by one column's value,
with per value its docs, tokens and the share of it the current keep rate keeps.

A text column groups by value (docs without one as "(none)"). A numeric column groups into
bins, one binning per column (BINNINGS): `unit` tenths of [0, 1] (a probability), `linear` ten
equal-width bins over the run's range of the column (the bins stay put as filters change),
`log2` powers of two (lengths, ranks). Each row carries the `Where` that filters a view to it.

Each column's codes are computed once per run (`column_codes`); a table is then a few
np.bincount calls over the view's codes: milliseconds at a million rows (the Documents
screen's `F` answers in a frame; bench/frequency.py measures it against a bare polars
group-by of the same codes). Pure computation.
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


def column_codes(index: RunIndex, col: Column) -> tuple[np.ndarray, list[str], list[Where]]:
    """(n,) int64 code of each base row's value or bin (len(labels): missing), the labels and
    each one's filter; computed once per run and column (a text column: once per read)."""
    values = col.values(index)
    key = ("frequency", col.name)
    cached = index.vectors.get(key)
    if cached is not None and (not isinstance(values, FieldColumn) or cached[0] is values):
        return cached[1], cached[2], cached[3]
    if isinstance(values, FieldColumn):
        labels = list(values.categories)
        codes = values.codes.astype(np.int64)
        wheres = [Where(col.name, value=v) for v in labels]
    else:
        if col.binning is None:
            raise UsageError(f"column {col.name} has no binning for a frequency table")
        bins = BINNINGS[col.binning](col, values, values)
        codes, labels, wheres = bins.codes, bins.labels, bins.wheres
    codes = np.where(codes < 0, len(labels), codes)
    index.vectors[key] = (values, codes, labels, wheres)
    return codes, labels, wheres


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
    one's bin order; missing last both ways); ties in value order. Counted with np.bincount
    over the codes (dense, so faster than a group-by's hashing); the view's kept rows are its
    rows below the cut (base rows are in probability order)."""
    if not col.frequency:
        raise UsageError(
            f"a frequency table of {col.name} would list every doc", fix="pick another column"
        )
    if sort not in FREQ_SORTS:
        raise UsageError(
            f"cannot sort a frequency table by '{sort}'", fix=f"use {', '.join(FREQ_SORTS)}"
        )
    all_codes, labels, wheres = column_codes(index, col)
    n_codes = len(labels) + 1
    cut = view.cut or 0
    if len(view) == len(index):  # every row: no gather, the kept ones are the first `cut`
        codes, tokens = all_codes, index.n_tokens
        kept_codes, kept_tokens = all_codes[:cut], index.n_tokens[:cut]
    else:
        rows = view.rows
        codes, tokens = all_codes[rows], index.n_tokens[rows]
        kept_rows = rows[rows < cut]
        kept_codes, kept_tokens = all_codes[kept_rows], index.n_tokens[kept_rows]
    docs = np.bincount(codes, minlength=n_codes)
    tok = np.rint(np.bincount(codes, weights=tokens, minlength=n_codes)).astype(np.int64)
    kd = np.bincount(kept_codes, minlength=n_codes)
    kt = np.rint(np.bincount(kept_codes, weights=kept_tokens, minlength=n_codes)).astype(np.int64)
    by_docs = view.query.by == "docs"
    num, den = (kd, docs) if by_docs else (kt, tok)
    share = np.divide(num, den, out=np.zeros(n_codes), where=den > 0)
    present = np.flatnonzero(docs)
    if sort == "value":  # missing last both ways
        key = present if not descending else -present
        order = np.lexsort((key, present == n_codes - 1))
    else:
        primary = {"docs": docs, "tokens": tok, "kept": share}[sort][present]
        order = np.lexsort((present, -primary if descending else primary))
    ranked = present[order]
    shown = ranked if limit is None else ranked[:limit]
    rest = ranked[len(shown) :]
    applied = view.cut is not None
    n_docs = len(view)
    out: list[FrequencyRow] = []
    for code in shown.tolist():
        if code == n_codes - 1:
            value, where = MISSING, Where(col.name, missing=True, label=MISSING)
        else:
            value, where = labels[code], wheres[code]
        out.append(
            FrequencyRow(
                value=value,
                docs=int(docs[code]),
                tokens=int(tok[code]),
                kept_docs=int(kd[code]) if applied else None,
                kept_tokens=int(kt[code]) if applied else None,
                kept_share=float(share[code]) if applied else None,
                doc_share=int(docs[code]) / n_docs if n_docs else 0.0,
                where=where,
            )
        )
    total_tokens = int(tok.sum())
    kept_total = int(kd.sum()) if by_docs else int(kt.sum())
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
        n_values=len(present),
        sort=sort,
        descending=descending,
        rows=out,
        n_other=len(rest),
        other_docs=int(docs[rest].sum()) if len(rest) else 0,
    )
