"""A run's documents as columns in memory, and sorted, filtered views over them.

A `RunIndex` holds one row per document of the run, in the run's base order: probability order
(prob_order position 1 first) once the classifier has been applied, else the scored sample in
BETR order. Every column is a numpy array, so a sort is one argsort, a filter one boolean mask and
a threshold one binary search, at a million docs. Pure computation: the columns are read from
the workspace by `engine.api.browse`, which also turns source, metadata and text filters into
doc ids (`make_view`'s `id_filters`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.betr.columns import (
    FieldColumn,
    Where,
    column,
    parse_sort,
    sort_rows,
    sort_spec,
    where_mask,
)
from engine.betr.select import check_keep_by
from engine.errors import UsageError
from engine.names import matching, suggest

SORTS = ("prob", "score", "tokens")  # the sorts of old; any column sorts (engine.betr.columns)
SORT_LABELS = {"prob": "classifier probability", "score": "BETR score", "tokens": "tokens"}


def keep_count(cum_tokens: np.ndarray, keep: float, by: str) -> int:
    """How many rows (in probability order) keeping `keep` (a fraction in (0, 1]) keeps: by
    tokens the smallest prefix holding at least that share of the tokens (the doc that crosses the
    target is kept), by docs ceil(keep * n). The same cut as `engine.betr.select.select`."""
    n = len(cum_tokens)
    if n == 0:
        return 0
    check_keep_by(by)
    if by == "docs":
        return max(1, math.ceil(keep * n - 1e-9))
    target = keep * float(cum_tokens[-1]) - 1e-9
    return min(n, int(np.searchsorted(cum_tokens, target, side="left")) + 1)


@dataclass
class RunIndex:
    """One run's documents as columns, in base order (see the module docstring)."""

    run_id: int
    name: str
    corpus_id: int
    corpus: str
    applied: bool
    benchmarks: dict[int, str]  # target benchmark id -> name
    doc_id: np.ndarray  # int64
    prob: np.ndarray  # float64, NaN before apply
    n_tokens: np.ndarray  # int64
    score: np.ndarray  # float64, NaN outside the scored sample
    best_rank: np.ndarray  # int64, 0 beyond k or outside the sample
    best_cosine: np.ndarray  # float64, NaN outside the sample
    bench: np.ndarray  # int64 benchmark id, -1 when none
    example: np.ndarray  # int64 example id, -1 when none
    label: np.ndarray  # int8 classifier label: 1, 0, or -1 outside the sample
    split: np.ndarray  # int8 index into SPLITS
    cum_tokens: np.ndarray = field(init=False)
    _orders: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    _by_id: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)
    _sample_cum: tuple[np.ndarray, np.ndarray, list[int]] | None = field(
        default=None, init=False, repr=False
    )
    # embeddings read for the viewer, kept while the run stays loaded
    vectors: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    # text columns (engine.betr.columns): source and meta.FIELD once read, benchmark
    fields: dict[str, FieldColumn] = field(default_factory=dict, init=False, repr=False)
    # the example ids drawn per benchmark (balanced targets); None: every example
    target_examples: dict[str, list[int]] | None = field(default=None, repr=False)
    # what the screens showing this run must say: its targets come from an evaluation split;
    # its classifier is degenerate (engine.betr.classifier_health)
    split_warning: str = ""
    classifier_warning: str = ""

    def __post_init__(self) -> None:
        self.cum_tokens = np.cumsum(self.n_tokens, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.doc_id)

    @property
    def total_tokens(self) -> int:
        return int(self.cum_tokens[-1]) if len(self) else 0

    @property
    def in_sample(self) -> np.ndarray:
        return ~np.isnan(self.score)

    def bench_id(self, name: str) -> int:
        """A target's id by name, or by another spelling of it (`arc_easy` = `arc-easy`)."""
        found = matching(name, self.benchmarks.values())
        for bid, bname in self.benchmarks.items():
            if found and bname == found[0]:
                return bid
        raise UsageError(
            f"'{name}' is not a target benchmark of run {self.run_id}",
            fix=suggest(name, self.benchmarks.values(), "target", plural="targets"),
        )

    # -- orders and lookups -------------------------------------------------------------------
    def order(self, sort: str) -> np.ndarray:
        """Base rows in `sort` order ("COLUMN[:asc|desc]", engine.betr.columns.parse_sort),
        computed once per sort: numpy's stable sort of the column's key, missing values last,
        ties in probability order. prob descending is the base order itself; score sorts ties
        by best cosine."""
        col, descending = parse_sort(sort)
        key = sort_spec(col.name, descending)
        cached = self._orders.get(key)
        if cached is not None:
            return cached
        if col.name == "prob" and descending and self.applied:
            out = np.arange(len(self), dtype=np.int64)
        else:
            out = sort_rows(self, col, descending)
        self._orders[key] = out
        return out

    def has_order(self, sort: str) -> bool:
        """Whether `order(sort)` is ready without reading the workspace or an argsort."""
        try:
            col, descending = parse_sort(sort)
        except UsageError:
            return False
        if col.from_docs and col.name not in self.fields:
            return False
        return sort_spec(col.name, descending) in self._orders or (
            col.name == "prob" and descending and self.applied
        )

    def rows_of_docs(self, doc_ids: np.ndarray | list[int]) -> np.ndarray:
        """Base rows of these doc ids (ids outside the run are dropped)."""
        if self._by_id is None:
            by_id = np.argsort(self.doc_id, kind="stable")
            self._by_id = (self.doc_id[by_id], by_id)
        sorted_ids, by_id = self._by_id
        ids = np.asarray(doc_ids, dtype=np.int64)
        if len(sorted_ids) == 0 or len(ids) == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.searchsorted(sorted_ids, ids).clip(0, len(sorted_ids) - 1)
        return by_id[pos[sorted_ids[pos] == ids]]

    def row_of_doc(self, doc_id: int) -> int | None:
        rows = self.rows_of_docs([doc_id])
        return int(rows[0]) if len(rows) else None

    # -- thresholds ---------------------------------------------------------------------------
    def cut(self, keep: float, by: str = "tokens") -> int:
        """Rows kept (base rows 0..cut-1) at keep rate `keep` (a fraction); needs apply."""
        if not self.applied:
            raise UsageError(
                f"run {self.run_id} has no classifier probabilities yet",
                fix=f"apply it first: betr apply --run {self.run_id}",
            )
        return keep_count(self.cum_tokens, keep, by)

    def sample_counts_at(self, cut: int) -> tuple[dict[str, int], dict[str, int], int]:
        """Per target benchmark: sampled docs and their tokens among the kept rows (base rows
        below `cut`), and the number of kept sampled docs. O(log n) after one setup pass."""
        if self._sample_cum is None:
            rows = np.flatnonzero(self.in_sample)
            bench_ids = sorted(self.benchmarks)
            col = {b: i for i, b in enumerate(bench_ids)}
            onehot = np.zeros((len(rows) + 1, 2 * len(bench_ids)), dtype=np.int64)
            for i, b in enumerate(self.bench[rows]):
                j = col.get(int(b))
                if j is not None:
                    onehot[i + 1, j] = 1
                    onehot[i + 1, len(bench_ids) + j] = self.n_tokens[rows[i]]
            self._sample_cum = (rows, np.cumsum(onehot, axis=0), bench_ids)
        rows, cum, bench_ids = self._sample_cum
        k = int(np.searchsorted(rows, cut, side="left"))
        nb = len(bench_ids)
        docs = {self.benchmarks[b]: int(cum[k, j]) for j, b in enumerate(bench_ids)}
        tokens = {self.benchmarks[b]: int(cum[k, nb + j]) for j, b in enumerate(bench_ids)}
        return docs, tokens, k


def index_from_columns(
    run: dict[str, Any], benchmarks: dict[int, str], cols: dict[str, np.ndarray]
) -> RunIndex:
    """An applied run's RunIndex from its packed columns (see engine.store.scores): the whole
    corpus in probability order, the sample's columns scattered to their rows."""
    n = len(cols["doc_id"])
    score = np.full(n, np.nan)
    best_rank = np.zeros(n, dtype=np.int64)
    best_cosine = np.full(n, np.nan)
    bench = np.full(n, -1, dtype=np.int64)
    example = np.full(n, -1, dtype=np.int64)
    label = np.full(n, -1, dtype=np.int8)
    split = np.zeros(n, dtype=np.int8)
    r = cols["s_row"]
    score[r] = cols["s_score"]
    best_rank[r] = cols["s_best_rank"]
    best_cosine[r] = cols["s_best_cosine"]
    bench[r] = cols["s_bench"]
    example[r] = cols["s_example"]
    label[r] = cols["s_label"]
    split[r] = cols["s_split"]
    return _index(
        run,
        benchmarks,
        True,
        cols["doc_id"],
        cols["prob"],
        cols["n_tokens"],
        score,
        best_rank,
        best_cosine,
        bench,
        example,
        label,
        split,
    )


def index_from_sample(
    run: dict[str, Any],
    benchmarks: dict[int, str],
    doc_id: np.ndarray,
    n_tokens: np.ndarray,
    sc: dict[str, np.ndarray],
) -> RunIndex:
    """A scored (not yet applied) run's RunIndex: the sample in BETR order, no probabilities.
    `sc`: the sample columns (s_score, s_best_rank, ...) in that order."""
    prob = np.full(len(doc_id), np.nan)
    return _index(
        run,
        benchmarks,
        False,
        doc_id,
        prob,
        n_tokens,
        sc["s_score"],
        sc["s_best_rank"],
        sc["s_best_cosine"],
        sc["s_bench"],
        sc["s_example"],
        sc["s_label"],
        sc["s_split"],
    )


def _index(run, benchmarks, applied, doc_id, prob, n_tokens, *sample) -> RunIndex:
    score, best_rank, best_cosine, bench, example, label, split = sample
    return RunIndex(
        run_id=run["id"],
        name=run["name"] or f"run {run['id']}",
        corpus_id=run["corpus_id"],
        corpus=run["corpus"],
        applied=applied,
        benchmarks=benchmarks,
        doc_id=np.asarray(doc_id, dtype=np.int64),
        prob=np.asarray(prob, dtype=np.float64),
        n_tokens=np.asarray(n_tokens, dtype=np.int64),
        score=score,
        best_rank=best_rank,
        best_cosine=best_cosine,
        bench=bench,
        example=example,
        label=label,
        split=split,
    )


# -- views -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """What the Documents screen (and `betr docs`) shows: a sort and any number of filters."""

    sort: str = "prob"
    benchmark: str | None = None  # best-matching target benchmark (scored sample only)
    kept: str | None = None  # "kept" | "dropped" at (keep, by)
    keep: float = 0.10
    by: str = "tokens"
    source: str | None = None  # substring of the doc's source ("file:line")
    meta: tuple[str, str] | None = None  # (field, value): meta.field == value
    search: str | None = None  # FTS5 query over the text
    sample_only: bool = False
    contaminated: bool = False  # docs with a benchmark n-gram overlap (the run's newest check)
    cluster: tuple[int, int, int] | None = None  # (k, seed, cluster): a topic cluster's docs
    where: tuple[Where, ...] = ()  # column filters (a frequency table's enter)

    @property
    def needs_sql(self) -> bool:
        """Whether the view reads the database (source, metadata, text, contamination and
        cluster filters)."""
        return bool(self.source or self.meta or self.search or self.contaminated or self.cluster)

    def doc_fields(self) -> list[str]:
        """The columns read from the documents table (source, meta.FIELD) that the sort and
        the column filters need (engine.api.columns.ensure_fields reads them)."""
        names = [parse_sort(self.sort)[0].name, *(w.column for w in self.where)]
        return sorted({n for n in names if column(n).from_docs})

    def describe(self) -> str:
        parts = [f"sort {sort_label(self.sort)}"]
        if self.benchmark:
            parts.append(f"benchmark {self.benchmark}")
        if self.kept:
            parts.append(f"{self.kept} at {self.keep * 100:g}% of {self.by}")
        if self.source:
            parts.append(f"source ~ {self.source}")
        if self.meta:
            parts.append(f"meta.{self.meta[0]} = {self.meta[1]}")
        if self.search:
            parts.append(f"search '{self.search}'")
        if self.sample_only:
            parts.append("scored sample")
        if self.contaminated:
            parts.append("contaminated")
        if self.cluster:
            k, seed, c = self.cluster
            parts.append(f"cluster {c} of {k} (seed {seed})")
        parts.extend(w.describe() for w in self.where)
        return " · ".join(parts)


def sort_label(sort: str) -> str:
    """ "classifier probability ↓", "tokens ↑", "meta.lang ↑" (the sort in words)."""
    try:
        col, descending = parse_sort(sort)
    except UsageError:
        return sort
    return f"{SORT_LABELS.get(col.name, col.title)} {'↓' if descending else '↑'}"


@dataclass
class View:
    query: Query
    rows: np.ndarray  # base rows in display order
    cut: int | None  # rows below are kept at (query.keep, query.by); None before apply

    def __len__(self) -> int:
        return len(self.rows)

    def find_rank(self, rank: int) -> int | None:
        """The display row of the doc at probability rank `rank` (1-based), or None when the
        filters leave it out."""
        hit = np.flatnonzero(self.rows == rank - 1)
        return int(hit[0]) if len(hit) else None


def make_view(index: RunIndex, query: Query, id_filters: Iterable[np.ndarray] = ()) -> View:
    """The rows of `query`, in its order. Source, metadata and text filters come as arrays of
    the doc ids that match each (`id_filters`, computed from the workspace when
    `query.needs_sql`)."""
    order = index.order(query.sort)
    cut = index.cut(query.keep, query.by) if index.applied else None
    mask: np.ndarray | None = None

    def narrow(m: np.ndarray) -> None:
        nonlocal mask
        mask = m if mask is None else (mask & m)

    if query.sample_only or query.benchmark:
        narrow(index.in_sample)
    if query.benchmark:
        narrow(index.bench == index.bench_id(query.benchmark))
    if query.kept:
        if query.kept not in ("kept", "dropped"):
            raise UsageError(f"unknown kept filter '{query.kept}'", fix="use kept or dropped")
        if cut is None:
            index.cut(query.keep, query.by)  # raises the "apply it first" error
        m = np.zeros(len(index), dtype=bool)
        m[:cut] = True
        narrow(m if query.kept == "kept" else ~m)
    for w in query.where:
        narrow(where_mask(index, w))
    for ids in id_filters:
        m = np.zeros(len(index), dtype=bool)
        m[index.rows_of_docs(ids)] = True
        narrow(m)
    rows = order if mask is None else order[mask[order]]
    return View(query, rows, cut)


@dataclass
class DocRow:
    row: int  # display row in the view (0-based)
    rank: int  # probability rank (1 = most likely positive); BETR rank before apply
    doc_id: int
    ext_id: str
    score: float | None
    prob: float | None
    n_tokens: int
    source: str
    benchmark: str | None
    snippet: str
    kept: bool | None
    label: str | None
    contaminated: bool | None = None  # None: no finished check covers the doc
    dups: str = ""  # its duplicate clusters' sizes: "=3" exact, "≈5" near, "=2≈5", "" none
    # text columns shown beside the fixed ones: column name -> value (source, meta.FIELD)
    values: dict[str, str | None] = field(default_factory=dict)
    # the snippet's search hits, (start, end) character spans (a keyword-in-context line)
    hits: list[tuple[int, int]] = field(default_factory=list)
