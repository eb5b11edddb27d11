"""The columns of a run's documents: what the Documents screen shows, sorts by, filters on and
counts in a frequency table (`engine.betr.frequency`), and what `betr docs --sort/--columns`
names. One registry, COLUMNS (name -> Column); `register_column` adds one (a cluster id, a
duplicate cluster's size), and every face reads the registry.

A column is numeric (a float64 array over the run's base rows, NaN where missing) or text (a
`FieldColumn`: int32 codes into categories held in lexical order, -1 where missing). Text
columns of the documents table itself, the source file and each metadata field (`meta.FIELD`),
are read from the workspace by `engine.api.columns` into `RunIndex.fields`; every other column
is computed from the RunIndex's own arrays.

Sorting by a column is numpy's stable sort of its key over the base rows: ascending the key,
descending its negation, missing values last both ways, ties in probability order
(`sort_rows`). Pure computation: arrays in, arrays out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from engine.errors import UsageError
from engine.names import suggest


class RunIndex(Protocol):
    """What a column reads of engine.betr.runindex.RunIndex (a protocol: runindex imports
    this module)."""

    run_id: int
    benchmarks: dict[int, str]
    doc_id: np.ndarray
    prob: np.ndarray
    n_tokens: np.ndarray
    score: np.ndarray
    best_rank: np.ndarray
    best_cosine: np.ndarray
    bench: np.ndarray
    split: np.ndarray
    fields: dict[str, FieldColumn]

    def __len__(self) -> int: ...


NUMBER, TEXT = "number", "text"
SOURCE = "source"
META_PREFIX = "meta."
MISSING = "(none)"
ASC, DESC = "asc", "desc"
SPLITS = ("", "train", "valid", "unused")  # the classifier's split codes (RunIndex.split)


@dataclass(frozen=True)
class FieldColumn:
    """One text value per base row of a run: `codes` (n,) int32 into `categories` (sorted, so
    a code's order is the values' lexical order); -1 where the doc has no value."""

    name: str
    codes: np.ndarray
    categories: list[str]

    def sort_key(self) -> np.ndarray:
        """float64 codes, NaN where missing (so a missing value sorts last both ways)."""
        key = self.codes.astype(np.float64)
        key[self.codes < 0] = np.nan
        return key

    def value_at(self, row: int) -> str | None:
        code = int(self.codes[row])
        return None if code < 0 else self.categories[code]

    def code_of(self, value: str | None) -> int:
        """The code of `value` (-1 for None; -2 when no row has it)."""
        if value is None:
            return -1
        at = int(np.searchsorted(np.array(self.categories, dtype=object), value))
        return at if at < len(self.categories) and self.categories[at] == value else -2


@dataclass(frozen=True)
class Column:
    """A column of the run's documents. `numbers`: a numeric column's values (float64, NaN
    where missing); `text`: a text column's FieldColumn; `tiebreak`: numeric keys sorted on
    after the values (the BETR score's best cosine). `descending`: the direction a sort takes
    first. `binning`: how a numeric column's frequency table groups values (see
    engine.betr.frequency.BINNINGS); `from_docs`: read from the documents table into
    RunIndex.fields (source, meta.FIELD)."""

    name: str
    title: str
    kind: str
    summary: str
    descending: bool = False
    numbers: Callable[[RunIndex], np.ndarray] | None = None
    text: Callable[[RunIndex], FieldColumn] | None = None
    tiebreak: Callable[[RunIndex], list[np.ndarray]] | None = None
    binning: str | None = None
    from_docs: bool = False
    frequency: bool = True  # whether a frequency table of it means anything

    def values(self, index: RunIndex) -> np.ndarray | FieldColumn:
        if self.numbers is not None:
            return self.numbers(index)
        assert self.text is not None, f"column {self.name} has neither numbers nor text"
        return self.text(index)

    def sort_keys(self, index: RunIndex) -> list[np.ndarray]:
        """Primary key first; float64, NaN where missing."""
        values = self.values(index)
        key = values.sort_key() if isinstance(values, FieldColumn) else values
        return [np.asarray(key, dtype=np.float64), *(self.tiebreak(index) if self.tiebreak else [])]


def _nan_where(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    out = values.astype(np.float64)
    out[missing] = np.nan
    return out


def _benchmark(index: RunIndex) -> FieldColumn:
    """Each row's best-matching target benchmark (scored sample only)."""
    cached = index.fields.get("benchmark")
    if cached is None:
        names = sorted(set(index.benchmarks.values()))
        code_of = {bid: names.index(name) for bid, name in index.benchmarks.items()}
        lut_ids = np.array(sorted(code_of), dtype=np.int64)
        lut = np.array([code_of[int(b)] for b in lut_ids], dtype=np.int32)
        codes = np.full(len(index), -1, dtype=np.int32)
        if len(lut_ids):
            pos = np.searchsorted(lut_ids, index.bench).clip(0, len(lut_ids) - 1)
            hit = lut_ids[pos] == index.bench
            codes[hit] = lut[pos[hit]]
        cached = FieldColumn("benchmark", codes, names)
        index.fields["benchmark"] = cached
    return cached


def _split(index: RunIndex) -> FieldColumn:
    names = sorted(s for s in SPLITS if s)
    lut = np.array([names.index(s) if s else -1 for s in SPLITS], dtype=np.int32)
    return FieldColumn("split", lut[index.split.astype(np.int64)], names)


def _doc_field(name: str) -> Callable[[RunIndex], FieldColumn]:
    def read(index: RunIndex) -> FieldColumn:
        column = index.fields.get(name)
        if column is None:  # engine.api.columns.ensure_fields reads it first
            raise LookupError(f"column {name} of run {index.run_id} is not loaded")
        return column

    return read


COLUMNS: dict[str, Column] = {}


def register_column(column: Column) -> Column:
    """Add a column to the registry (one entry per name)."""
    if column.name in COLUMNS:
        raise ValueError(f"column {column.name} is registered twice")
    COLUMNS[column.name] = column
    return column


for _column in (
    Column(
        "rank",
        "rank",
        NUMBER,
        "probability rank (1 = most likely positive; BETR rank before apply)",
        numbers=lambda ix: np.arange(1, len(ix) + 1, dtype=np.float64),
        frequency=False,
    ),
    Column(
        "prob",
        "prob",
        NUMBER,
        "the classifier's p(positive)",
        descending=True,
        numbers=lambda ix: ix.prob,
        binning="unit",
    ),
    Column(
        "score",
        "score",
        NUMBER,
        "BETR score, ties by best cosine (scored sample only)",
        descending=True,
        numbers=lambda ix: ix.score,
        tiebreak=lambda ix: [ix.best_cosine],
        binning="linear",
    ),
    Column(
        "cosine",
        "cosine",
        NUMBER,
        "cosine to the nearest target example (scored sample only)",
        descending=True,
        numbers=lambda ix: ix.best_cosine,
        binning="linear",
    ),
    Column(
        "tokens",
        "tokens",
        NUMBER,
        "the doc's length in tokens",
        descending=True,
        numbers=lambda ix: ix.n_tokens.astype(np.float64),
        binning="log2",
    ),
    Column(
        "best_rank",
        "best rank",
        NUMBER,
        "the doc's best rank against any target example (scored sample, within k)",
        numbers=lambda ix: _nan_where(ix.best_rank, ix.best_rank <= 0),
        binning="log2",
    ),
    Column(
        "benchmark",
        "benchmark",
        TEXT,
        "best-matching target benchmark (scored sample only)",
        text=_benchmark,
    ),
    Column(
        "split",
        "split",
        TEXT,
        "the classifier's train/valid split (scored sample only)",
        text=_split,
    ),
    Column(
        SOURCE,
        "source",
        TEXT,
        "the file the doc came from (its line number left out)",
        text=_doc_field(SOURCE),
        from_docs=True,
    ),
):
    register_column(_column)


def meta_column(name: str) -> Column:
    """The column of metadata field `meta.FIELD` (any field name of the corpus)."""
    return Column(
        name,
        name[len(META_PREFIX) :],
        TEXT,
        f"metadata field {name[len(META_PREFIX) :]} as text",
        text=_doc_field(name),
        from_docs=True,
    )


def is_meta(name: str) -> bool:
    key = name[len(META_PREFIX) :]
    return name.startswith(META_PREFIX) and bool(key) and valid_meta_key(key)


def valid_meta_key(key: str) -> bool:
    return key.replace("_", "").replace("-", "").replace(".", "").isalnum()


def column(name: str) -> Column:
    """The column named `name` (a registered one, or `meta.FIELD`); a UsageError naming the
    columns otherwise."""
    found = COLUMNS.get(name)
    if found is not None:
        return found
    if is_meta(name):
        return meta_column(name)
    raise UsageError(
        f"unknown column '{name}'",
        fix=suggest(name, list(COLUMNS), "column", plural="columns") + " (or meta.FIELD)",
    )


def parse_sort(text: str) -> tuple[Column, bool]:
    """ "tokens" -> (tokens, its default direction); "tokens:asc" -> (tokens, False)."""
    name, sep, direction = text.strip().partition(":")
    col = column(name.strip())
    if not sep:
        return col, col.descending
    direction = direction.strip().lower()
    if direction not in (ASC, DESC):
        raise UsageError(f"bad sort direction '{direction}' in '{text}'", fix="COLUMN:asc|desc")
    return col, direction == DESC


def sort_spec(name: str, descending: bool) -> str:
    """The canonical sort text: "tokens:desc"."""
    return f"{name}:{DESC if descending else ASC}"


def sort_rows(index: RunIndex, col: Column, descending: bool) -> np.ndarray:
    """Base rows in the column's order: np.lexsort of its keys (negated when descending; NaN
    stays last either way), ties by base row (probability order)."""
    keys = col.sort_keys(index)
    if descending:
        keys = [-k for k in keys]
    rows = np.arange(len(index), dtype=np.int64)
    return np.lexsort((rows, *reversed(keys))).astype(np.int64)


# -- bins of a numeric column (its frequency table's rows) ------------------------------------
LINEAR_BINS = 10


@dataclass(frozen=True)
class Bins:
    """A numeric column cut into bins: (n,) int64 `codes` (-1: missing), and per bin its label
    and filter."""

    codes: np.ndarray
    labels: list[str]
    wheres: list[Where]


def _unit(col: Column, values: np.ndarray, _all: np.ndarray) -> Bins:
    """Tenths of [0, 1]: 0.0-0.1, ..., 0.9-1.0 (1.0 falls in the last)."""
    codes = np.full(len(values), -1, dtype=np.int64)
    ok = ~np.isnan(values)
    codes[ok] = np.clip(np.floor(values[ok] * 10), 0, 9).astype(np.int64)
    labels = [f"{k / 10:.1f}–{(k + 1) / 10:.1f}" for k in range(10)]
    wheres = [
        Where(col.name, lo=None if k == 0 else k / 10, hi=None if k == 9 else (k + 1) / 10)
        for k in range(10)
    ]
    return Bins(
        codes,
        labels,
        [_labelled(w, lab, k) for k, (w, lab) in enumerate(zip(wheres, labels, strict=True))],
    )


def _linear(col: Column, values: np.ndarray, run_values: np.ndarray) -> Bins:
    """LINEAR_BINS equal-width bins over the run's range of the column."""
    present = run_values[~np.isnan(run_values)]
    codes = np.full(len(values), -1, dtype=np.int64)
    if not len(present):
        return Bins(codes, [], [])
    lo, hi = float(present.min()), float(present.max())
    n = LINEAR_BINS if hi > lo else 1
    width = (hi - lo) / n if hi > lo else 1.0
    ok = ~np.isnan(values)
    codes[ok] = np.clip(np.floor((values[ok] - lo) / width), 0, n - 1).astype(np.int64)
    edges = [lo + k * width for k in range(n + 1)]
    labels = [f"{_num(edges[k])}–{_num(edges[k + 1] if k < n - 1 else hi)}" for k in range(n)]
    wheres = [
        _labelled(
            Where(
                col.name, lo=None if k == 0 else edges[k], hi=None if k == n - 1 else edges[k + 1]
            ),
            labels[k],
            k,
        )
        for k in range(n)
    ]
    return Bins(codes, labels, wheres)


def _log2(col: Column, values: np.ndarray, run_values: np.ndarray) -> Bins:
    """Powers of two: "0" (below 1), "1", "2–3", "4–7", ..."""
    present = run_values[~np.isnan(run_values)]
    top = math.floor(math.log2(max(1.0, float(present.max())))) if len(present) else 0
    codes = np.full(len(values), -1, dtype=np.int64)
    ok = ~np.isnan(values)
    v = values[ok]
    codes[ok] = np.where(v < 1, 0, np.floor(np.log2(np.maximum(v, 1))).astype(np.int64) + 1)
    labels, wheres = ["0"], [_labelled(Where(col.name, hi=1.0), "0", 0)]
    for k in range(top + 1):
        lo, hi = 2**k, 2 ** (k + 1)
        label = str(lo) if hi - lo == 1 else f"{lo:,}–{hi - 1:,}"
        labels.append(label)
        wheres.append(_labelled(Where(col.name, lo=float(lo), hi=float(hi)), label, k + 1))
    return Bins(codes, labels, wheres)


BINNINGS: dict[str, Callable[[Column, np.ndarray, np.ndarray], Bins]] = {
    "unit": _unit,
    "linear": _linear,
    "log2": _log2,
}


def _labelled(where: Where, label: str, code: int) -> Where:
    return Where(where.column, lo=where.lo, hi=where.hi, bin=code, label=label)


def _num(x: float) -> str:
    return f"{x:.3g}"


# -- filters on a column's value -------------------------------------------------------------
@dataclass(frozen=True)
class Where:
    """A filter on one column: a text column's `value`, a numeric column's bin `bin` of its
    binning (lo <= x < hi, None: unbounded; said, the bin's code decides), or `missing`: no
    value (None, NaN)."""

    column: str
    value: str | None = None
    lo: float | None = None
    hi: float | None = None
    missing: bool = False
    bin: int | None = None
    label: str = field(default="", compare=False)  # how the frequency table wrote it

    def describe(self) -> str:
        shown = self.label or (MISSING if self.missing else self.value)
        if shown is None:
            shown = f"{self.lo:g}..{'' if self.hi is None else f'{self.hi:g}'}"
        return f"{self.column} = {shown}"


def where_mask(index: RunIndex, where: Where) -> np.ndarray:
    """(n,) bool: the base rows the filter keeps."""
    col = column(where.column)
    values = col.values(index)
    if isinstance(values, FieldColumn):
        if where.missing:
            return values.codes < 0
        return values.codes == values.code_of(where.value)
    if where.missing:
        return np.isnan(values)
    if where.bin is not None and col.binning is not None:
        return BINNINGS[col.binning](col, values, values).codes == where.bin
    with np.errstate(invalid="ignore"):
        mask = np.ones(len(values), dtype=bool) if where.lo is None else values >= where.lo
        if where.hi is not None:
            mask &= values < where.hi
    return mask & ~np.isnan(values)
