"""Browsing a run's documents: the run as columns in memory, sorted and filtered views over it,
and windows of rows fetched by doc id.

A `RunIndex` holds one row per document of the run, in the run's base order: probability order
(prob_order position 1 first) once the classifier has been applied, else the scored sample in
BETR order. Every column is a numpy array, so a sort is one argsort, a filter one boolean mask and
a threshold one binary search, at a million docs. Columns are packed into `run_columns` when the
run is applied (`pack_run_columns`), so loading a run is a handful of BLOB reads, not a row scan.

Only the rows on screen touch the documents table: `page` fetches a window of rows by doc id.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.betr.runs import get_run, require_state
from engine.errors import NotFoundError, UsageError

SORTS = ("prob", "score", "tokens")
SORT_LABELS = {"prob": "classifier probability", "score": "BETR score", "tokens": "tokens"}
SPLITS = ("", "train", "valid", "unused")
SNIPPET_CHARS = 400
MAX_SAMPLE_VECTORS = 200_000  # the viewer's per-example ranks hold the sample's vectors
# Packed columns: prob order (whole corpus), then the scored sample by row in that order.
PROB_COLUMNS = {"doc_id": "<i8", "prob": "<f8", "n_tokens": "<i8"}
SAMPLE_COLUMNS = {
    "s_row": "<i8",
    "s_score": "<f8",
    "s_best_rank": "<i8",
    "s_best_cosine": "<f8",
    "s_bench": "<i8",
    "s_example": "<i8",
    "s_label": "<i1",
    "s_split": "<i1",
}


def keep_count(cum_tokens: np.ndarray, keep: float, by: str) -> int:
    """How many rows (in probability order) keeping `keep` (a fraction in (0, 1]) keeps: by
    tokens the smallest prefix holding at least that share of the tokens (the doc that crosses the
    target is kept), by docs ceil(keep * n). The same cut as `engine.betr.select.select`."""
    n = len(cum_tokens)
    if n == 0:
        return 0
    if by == "docs":
        return max(1, math.ceil(keep * n - 1e-9))
    if by != "tokens":
        raise UsageError(f"--by must be tokens or docs, got '{by}'")
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
        for bid, bname in self.benchmarks.items():
            if bname == name:
                return bid
        known = ", ".join(sorted(self.benchmarks.values())) or "none"
        raise UsageError(
            f"'{name}' is not a target benchmark of run {self.run_id}",
            fix=f"its targets: {known}",
        )

    # -- orders and lookups -------------------------------------------------------------------
    def order(self, sort: str) -> np.ndarray:
        """Base rows in `sort` order (computed once per sort). prob: the base order itself
        (position 1 first); score: BETR score desc, best cosine desc, outside-sample last;
        tokens: longest first. Ties fall back to probability order."""
        if sort not in SORTS:
            raise UsageError(f"unknown sort '{sort}'", fix=f"use one of: {', '.join(SORTS)}")
        cached = self._orders.get(sort)
        if cached is not None:
            return cached
        rows = np.arange(len(self), dtype=np.int64)
        if sort == "prob" and self.applied:
            out = rows
        elif sort == "prob":  # not applied: no probabilities, keep BETR order
            out = self.order("score")
        elif sort == "score":
            score = np.where(np.isnan(self.score), -np.inf, self.score)
            cosine = np.where(np.isnan(self.best_cosine), -np.inf, self.best_cosine)
            out = np.lexsort((rows, -cosine, -score))
        else:
            out = np.lexsort((rows, -self.n_tokens))
        self._orders[sort] = out.astype(np.int64)
        return self._orders[sort]

    def has_order(self, sort: str) -> bool:
        """Whether `order(sort)` is computed already (else it costs an argsort)."""
        return sort in self._orders or (sort == "prob" and self.applied)

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


# -- loading ---------------------------------------------------------------------------------
def _target_benchmarks(conn: sqlite3.Connection, cfg: dict[str, Any]) -> dict[int, str]:
    names = list(cfg.get("benchmarks", {}))
    if not names:
        return {}
    rows = conn.execute(
        f"SELECT id, name FROM benchmarks WHERE name IN ({','.join('?' * len(names))})", names
    ).fetchall()
    return {int(r[0]): r[1] for r in rows}


def build_run_columns(conn: sqlite3.Connection, run_id: int) -> dict[str, np.ndarray]:
    """The packed columns of an applied run, read from prob_order and run_sample (a row scan)."""
    rows = conn.execute(
        "SELECT doc_id, prob, n_tokens FROM prob_order WHERE run_id = ? ORDER BY position",
        (run_id,),
    ).fetchall()
    arr = np.array(rows, dtype=np.float64).reshape(-1, 3)
    cols = {
        "doc_id": arr[:, 0].astype(np.int64),
        "prob": arr[:, 1].astype(np.float64),
        "n_tokens": arr[:, 2].astype(np.int64),
    }
    sample = conn.execute(
        "SELECT o.position - 1, s.score, s.best_rank, s.best_cosine, s.benchmark_id, "
        "s.example_id, s.label, s.split FROM run_sample s JOIN prob_order o "
        "ON o.run_id = s.run_id AND o.doc_id = s.doc_id WHERE s.run_id = ? ORDER BY o.position",
        (run_id,),
    ).fetchall()
    cols.update(_sample_columns(sample))
    return cols


def _sample_columns(sample: list[Any]) -> dict[str, np.ndarray]:
    def col(i: int, dtype: str, default: float) -> np.ndarray:
        return np.array([default if r[i] is None else r[i] for r in sample], dtype=dtype)

    return {
        "s_row": col(0, "<i8", 0),
        "s_score": col(1, "<f8", 0.0),
        "s_best_rank": col(2, "<i8", 0),
        "s_best_cosine": col(3, "<f8", np.nan),
        "s_bench": col(4, "<i8", -1),
        "s_example": col(5, "<i8", -1),
        "s_label": col(6, "<i1", -1),
        "s_split": np.array(
            [SPLITS.index(r[7]) if r[7] in SPLITS else 0 for r in sample], dtype="<i1"
        ),
    }


def pack_run_columns(conn: sqlite3.Connection, run_id: int) -> int:
    """Write the run's packed columns into run_columns (call inside the transaction that writes
    prob_order). Returns the bytes written."""
    cols = build_run_columns(conn, run_id)
    conn.execute("DELETE FROM run_columns WHERE run_id = ?", (run_id,))
    dtypes = {**PROB_COLUMNS, **SAMPLE_COLUMNS}
    size = 0
    for name, dtype in dtypes.items():
        data = np.ascontiguousarray(cols[name], dtype=dtype).tobytes()
        size += len(data)
        conn.execute(
            "INSERT INTO run_columns (run_id, name, dtype, data) VALUES (?, ?, ?, ?)",
            (run_id, name, dtype, data),
        )
    return size


def _read_packed(conn: sqlite3.Connection, run_id: int) -> dict[str, np.ndarray] | None:
    rows = conn.execute(
        "SELECT name, dtype, data FROM run_columns WHERE run_id = ?", (run_id,)
    ).fetchall()
    cols = {r[0]: np.frombuffer(r[2], dtype=r[1]) for r in rows}
    if set(cols) != set(PROB_COLUMNS) | set(SAMPLE_COLUMNS):
        return None
    return cols


def load_run_index(conn: sqlite3.Connection, run_id: int) -> RunIndex:
    """The run's documents as a RunIndex: every doc of the corpus once the run is applied,
    else the scored sample in BETR order."""
    run = get_run(conn, run_id)
    require_state(run, "scored", "trained", "applied", action="browse its documents")
    cfg = run["config"]
    applied = run["state"] == "applied"
    benchmarks = _target_benchmarks(conn, cfg)
    if applied:
        cols = _read_packed(conn, run_id) or build_run_columns(conn, run_id)
        n = len(cols["doc_id"])
        if n == 0:
            raise UsageError(f"run {run_id} has no scored documents", fix="apply it again")
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
        doc_id, prob, n_tokens = cols["doc_id"], cols["prob"], cols["n_tokens"]
    else:
        sample = conn.execute(
            "SELECT s.doc_id, d.n_tokens, s.score, s.best_rank, s.best_cosine, s.benchmark_id, "
            "s.example_id, s.label, s.split FROM run_sample s JOIN docs d ON d.id = s.doc_id "
            "WHERE s.run_id = ? ORDER BY s.score DESC, s.best_cosine DESC, s.doc_id",
            (run_id,),
        ).fetchall()
        if not sample:
            raise UsageError(f"run {run_id} has no scored documents", fix="score it again")
        doc_id = np.array([s[0] for s in sample], dtype=np.int64)
        n_tokens = np.array([s[1] for s in sample], dtype=np.int64)
        sc = _sample_columns([(i, *s[2:]) for i, s in enumerate(sample)])
        prob = np.full(len(sample), np.nan)
        score, best_rank, best_cosine = sc["s_score"], sc["s_best_rank"], sc["s_best_cosine"]
        bench, example, label, split = sc["s_bench"], sc["s_example"], sc["s_label"], sc["s_split"]
    return RunIndex(
        run_id=run_id,
        name=run["name"] or f"run {run_id}",
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


class IndexCache:
    """A few loaded RunIndexes, keyed by run id and its state (a re-applied run reloads)."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple, RunIndex] = OrderedDict()

    def peek(self, run_id: int, state: str, finished_at: float | None) -> RunIndex | None:
        """The loaded index of the run in that state, without touching the database."""
        return self._items.get((run_id, state, finished_at))

    def get(self, conn: sqlite3.Connection, run_id: int) -> RunIndex:
        row = conn.execute("SELECT state, finished_at FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no run {run_id}", fix="`betr list runs` shows the runs")
        key = (run_id, row[0], row[1])
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        index = load_run_index(conn, run_id)
        self._items[key] = index
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return index


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

    @property
    def needs_sql(self) -> bool:
        """Whether the view reads the database (source, metadata and text filters)."""
        return bool(self.source or self.meta or self.search)

    def describe(self) -> str:
        parts = [f"sort {SORT_LABELS.get(self.sort, self.sort)}"]
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
        return " · ".join(parts)


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


def fts_doc_ids(conn: sqlite3.Connection, text: str) -> np.ndarray:
    """Doc ids matching an FTS5 query; words that are not valid FTS5 syntax are searched as
    quoted terms, so `don't` or `C++` just work."""
    sql = "SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?"
    try:
        rows = conn.execute(sql, (text,)).fetchall()
    except sqlite3.OperationalError:
        quoted = " ".join('"' + w.replace('"', '""') + '"' for w in text.split())
        if not quoted:
            raise UsageError("the search is empty", fix="type a word to search for") from None
        try:
            rows = conn.execute(sql, (quoted,)).fetchall()
        except sqlite3.OperationalError as exc:
            raise UsageError(
                f"cannot search for '{text}': {exc}", fix="use plain words or an FTS5 query"
            ) from None
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def make_view(conn: sqlite3.Connection | None, index: RunIndex, query: Query) -> View:
    """The rows of `query`, in its order. `conn` is only read for source, metadata and text
    filters (`query.needs_sql`)."""
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
    for ids in _sql_filters(conn, index, query):
        m = np.zeros(len(index), dtype=bool)
        m[index.rows_of_docs(ids)] = True
        narrow(m)
    rows = order if mask is None else order[mask[order]]
    return View(query, rows, cut)


def _sql_filters(conn: sqlite3.Connection, index: RunIndex, query: Query):
    if query.source:
        like = "%" + query.source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = conn.execute(
            "SELECT id FROM docs WHERE corpus_id = ? AND source LIKE ? ESCAPE '\\'",
            (index.corpus_id, like + "%"),
        ).fetchall()
        yield np.array([r[0] for r in rows], dtype=np.int64)
    if query.meta:
        key, value = query.meta
        if not key.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise UsageError(f"bad metadata field '{key}'", fix="e.g. --meta lang=en")
        rows = conn.execute(
            "SELECT id FROM docs WHERE corpus_id = ? AND CAST(json_extract(meta, ?) AS TEXT) = ?",
            (index.corpus_id, f'$."{key}"', value),
        ).fetchall()
        yield np.array([r[0] for r in rows], dtype=np.int64)
    if query.search:
        yield fts_doc_ids(conn, query.search)


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


def page(conn: sqlite3.Connection, index: RunIndex, view: View, start: int, count: int):
    """Display rows start..start+count-1 of the view, with their text snippets."""
    start = max(0, start)
    rows = view.rows[start : start + count]
    if len(rows) == 0:
        return []
    ids = [int(i) for i in index.doc_id[rows]]
    marks = ",".join("?" * len(ids))
    docs = {
        r[0]: r
        for r in conn.execute(
            f"SELECT id, ext_id, substr(text, 1, {SNIPPET_CHARS}), source FROM docs "
            f"WHERE id IN ({marks})",
            ids,
        )
    }
    labels = dict(
        conn.execute(f"SELECT doc_id, label FROM doc_labels WHERE doc_id IN ({marks})", ids)
    )
    out = []
    for offset, (row, doc_id) in enumerate(zip(rows, ids, strict=True)):
        d = docs.get(doc_id)
        if d is None:  # deleted under us: skip rather than show a wrong row
            continue
        score = index.score[row]
        prob = index.prob[row]
        bench = int(index.bench[row])
        out.append(
            DocRow(
                row=start + offset,
                rank=int(row) + 1,
                doc_id=doc_id,
                ext_id=d[1],
                score=None if np.isnan(score) else float(score),
                prob=None if np.isnan(prob) else float(prob),
                n_tokens=int(index.n_tokens[row]),
                source=d[3],
                benchmark=index.benchmarks.get(bench),
                snippet=" ".join(d[2].split()),
                kept=None if view.cut is None else bool(row < view.cut),
                label=labels.get(doc_id),
            )
        )
    return out


# -- one document ----------------------------------------------------------------------------
def doc_detail(conn: sqlite3.Connection, index: RunIndex, doc_id: int) -> dict[str, Any]:
    """Everything the viewer shows about one doc of the run, except its nearest examples."""
    row = index.row_of_doc(doc_id)
    if row is None:
        raise NotFoundError(f"doc {doc_id} is not in run {index.run_id}")
    d = conn.execute(
        "SELECT d.id, d.ext_id, d.text, d.n_tokens, d.n_chars, d.source, d.meta, c.name "
        "FROM docs d JOIN corpora c ON c.id = d.corpus_id WHERE d.id = ?",
        (doc_id,),
    ).fetchone()
    if d is None:
        raise NotFoundError(f"no doc {doc_id}")
    label = conn.execute(
        "SELECT label, run_id, prob FROM doc_labels WHERE doc_id = ?", (doc_id,)
    ).fetchone()
    example = None
    if index.example[row] >= 0:
        e = conn.execute(
            "SELECT e.id, e.ext_id, e.question, e.answer, e.text, b.name FROM examples e "
            "JOIN benchmarks b ON b.id = e.benchmark_id WHERE e.id = ?",
            (int(index.example[row]),),
        ).fetchone()
        if e is not None:
            example = {
                "id": e[0],
                "ext_id": e[1],
                "question": e[2],
                "answer": e[3],
                "text": e[4],
                "benchmark": e[5],
            }
    score = index.score[row]
    return {
        "doc_id": d[0],
        "ext_id": d[1],
        "text": d[2],
        "n_tokens": d[3],
        "n_chars": d[4],
        "source": d[5],
        "meta": json.loads(d[6]) if d[6] else None,
        "corpus": d[7],
        "run_id": index.run_id,
        "rank": row + 1,
        "of": len(index),
        "prob": None if np.isnan(index.prob[row]) else float(index.prob[row]),
        "in_sample": not np.isnan(score),
        "score": None if np.isnan(score) else float(score),
        "best_rank": int(index.best_rank[row]) or None,
        "best_cosine": None if np.isnan(index.best_cosine[row]) else float(index.best_cosine[row]),
        "benchmark": index.benchmarks.get(int(index.bench[row])),
        "classifier_label": int(index.label[row]) if index.label[row] >= 0 else None,
        "split": SPLITS[int(index.split[row])] or None,
        "best_example": example,
        "label": label[0] if label else None,
    }


def nearest_examples(
    conn: sqlite3.Connection, index: RunIndex, doc_id: int, k: int = 5, *, embedder: Any = None
) -> dict[str, Any]:
    """The k target examples nearest to the doc by cosine, from the workspace's embedding cache
    (every doc of the scored sample is cached). With each, the doc's rank among the scored sample
    for that example (1 = the example's nearest doc). A doc outside the cache is embedded with
    `embedder` when given, else `{"examples": [], "reason": ...}`."""
    from engine.embed import _normalise_rows, text_sha256
    from engine.store.embeddings import SqliteEmbeddingCache

    run = get_run(conn, index.run_id)
    model_id = run["config"]["model_id"]
    cache = SqliteEmbeddingCache(conn)
    text = conn.execute("SELECT text FROM docs WHERE id = ?", (doc_id,)).fetchone()
    if text is None:
        raise NotFoundError(f"no doc {doc_id}")
    key = text_sha256(text[0])
    vec = cache.get_many(model_id, [key]).get(key)
    if vec is None and embedder is not None:
        vec = embedder.encode([text[0]])[0].astype(np.float16)
    if vec is None:
        in_sample = bool(index.in_sample[index.row_of_doc(doc_id)])
        reason = (
            "its embedding is not in the workspace cache"
            if in_sample
            else "not in the scored sample, so it was never embedded"
        )
        return {"examples": [], "reason": reason}
    if not index.benchmarks:
        return {"examples": [], "reason": "the run has no target benchmarks"}
    ex, ex_vecs = _example_vectors(conn, index, cache, model_id)
    if not ex:
        return {"examples": [], "reason": "the target examples' embeddings are not cached"}
    cos = ex_vecs @ _normalise_rows(np.asarray(vec)[None, :])[0].astype(np.float64)
    top = np.lexsort((np.arange(len(ex)), -cos))[:k]
    sample_vecs = _sample_vectors(conn, index, cache, model_id)
    out = []
    for j in top:
        r = ex[j]
        c = float(cos[j])
        rank = None
        if sample_vecs is not None:
            rank = int(np.count_nonzero(sample_vecs @ ex_vecs[j] > c + 1e-9)) + 1
        out.append(
            {
                "example_id": r[0],
                "ext_id": r[1],
                "benchmark": r[4],
                "question": r[3],
                "text": r[2],
                "cosine": c,
                "rank": rank,
            }
        )
    return {"examples": out, "reason": None, "sample": int(index.in_sample.sum())}


def _example_vectors(conn, index: RunIndex, cache, model_id: str) -> tuple[list, np.ndarray]:
    """The run's target examples with cached embeddings, and their unit vectors (float64, the
    vectors the scoring ranked with); read once per loaded run."""
    from engine.embed import _normalise_rows, text_sha256

    if "examples" not in index.vectors:
        bench_ids = list(index.benchmarks)
        rows = conn.execute(
            f"SELECT e.id, e.ext_id, e.text, e.question, b.name FROM examples e JOIN benchmarks b "
            f"ON b.id = e.benchmark_id WHERE b.id IN ({','.join('?' * len(bench_ids))}) "
            "ORDER BY b.name, e.idx",
            bench_ids,
        ).fetchall()
        keys = [text_sha256(r[2]) for r in rows]
        got = cache.get_many(model_id, keys)
        have = [i for i, key in enumerate(keys) if key in got]
        vecs = np.stack([got[keys[i]] for i in have]) if have else np.zeros((0, 1))
        index.vectors["examples"] = (
            [rows[i] for i in have],
            _normalise_rows(vecs).astype(np.float64),
        )
    return index.vectors["examples"]


def _sample_vectors(conn, index: RunIndex, cache, model_id: str) -> np.ndarray | None:
    """Unit vectors of the scored sample (for a doc's rank per example), read once per loaded
    run; None when a sample doc is not cached or the sample is too large to hold."""
    from engine.betr.stages import doc_texts
    from engine.embed import _normalise_rows, text_sha256

    if "sample" not in index.vectors:
        rows = np.flatnonzero(index.in_sample)
        vecs = None
        if 0 < len(rows) <= MAX_SAMPLE_VECTORS:
            keys = [text_sha256(t) for t in doc_texts(conn, index.doc_id[rows])]
            got = cache.get_many(model_id, keys)
            if len(got) == len(set(keys)):
                vecs = _normalise_rows(np.stack([got[key] for key in keys])).astype(np.float64)
        index.vectors["sample"] = vecs
    return index.vectors["sample"]
