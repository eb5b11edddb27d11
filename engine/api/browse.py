"""Browsing a run's documents (the Documents screen, the viewer, `betr docs`): the run loaded as
columns, views over it, windows of rows, one document in full, its nearest target examples.

Loading an applied run reads its packed columns (a handful of BLOBs, tens of milliseconds at a
million docs); only the rows on screen touch the documents table.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.api.columns import ensure_query_fields
from engine.api.dups import dup_marks
from engine.api.run_targets import annotate_runs
from engine.betr.columns import META_PREFIX, SOURCE, SPLITS, FieldColumn, column
from engine.betr.runindex import (
    SORT_LABELS,
    SORTS,
    DocRow,
    Query,
    RunIndex,
    View,
    index_from_columns,
    index_from_sample,
    keep_count,
)
from engine.betr.runindex import make_view as _make_view
from engine.betr.runs import require_state
from engine.betr.targets import split_warning_line
from engine.errors import NotFoundError, UsageError
from engine.store import catalog, clusters, docs, labels, scores
from engine.store import runs as store_runs
from engine.workspace import Workspace

if TYPE_CHECKING:
    from engine.store.embeddings import SqliteEmbeddingCache

__all__ = [
    "SORTS",
    "SORT_LABELS",
    "DocRow",
    "IndexCache",
    "Query",
    "RunIndex",
    "View",
    "doc_detail",
    "docs_page",
    "keep_count",
    "load_run_index",
    "make_view",
    "nearest_examples",
    "page",
    "snippets",
]

SNIPPET_CHARS = 400
KWIC_TOKENS = 24  # words of context around a search hit (FTS5 snippet, at most 64)
ROW_FIELDS = ("rank", "prob", "score", "tokens", "benchmark")  # columns DocRow holds itself
HIT_MARKS = ("\ue000", "\ue001")  # private-use characters around a hit in FTS5's snippet
NEVER_EMBEDDED = "not in the scored sample, so it was never embedded"
MAX_SAMPLE_VECTORS = 200_000  # the viewer's per-example ranks hold the sample's vectors


def load_run_index(conn: sqlite3.Connection, run_id: int) -> RunIndex:
    """The run's documents as a RunIndex: every doc of the corpus once the run is applied,
    else the scored sample in BETR order."""
    run = store_runs.get_run(conn, run_id)
    require_state(run, "scored", "trained", "applied", action="browse its documents")
    names = list(run["config"].get("benchmarks", {}))
    benchmarks = {int(r["id"]): r["name"] for r in catalog.benchmarks_named(conn, names)}
    if run["state"] == "applied":
        cols = scores.read_packed(conn, run_id) or scores.build_run_columns(conn, run_id)
        if len(cols["doc_id"]) == 0:
            raise UsageError(f"run {run_id} has no scored documents", fix="apply it again")
        index = index_from_columns(run, benchmarks, cols)
    else:
        sample = scores.sample_in_betr_order(conn, run_id)
        if not sample:
            raise UsageError(f"run {run_id} has no scored documents", fix="score it again")
        doc_id = np.array([s[0] for s in sample], dtype=np.int64)
        n_tokens = np.array([s[1] for s in sample], dtype=np.int64)
        sc = scores.sample_columns([(i, *s[2:]) for i, s in enumerate(sample)])
        index = index_from_sample(run, benchmarks, doc_id, n_tokens, sc)
    index.target_examples = run["config"].get("target_examples")
    annotated = annotate_runs(conn, [run])[0]
    index.split_warning = split_warning_line(
        {name: t["split"] for name, t in annotated["targets"].items()}
    )
    index.classifier_warning = " ".join(annotated["classifier_warnings"])
    return index


class IndexCache:
    """A few loaded RunIndexes, keyed by run id and its state (a re-applied run reloads).
    Thread-safe: the TUI loads from several thread workers."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple[int, str, float | None], RunIndex] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, run_id: int, state: str, finished_at: float | None) -> RunIndex | None:
        """The loaded index of the run in that state, without touching the database."""
        with self._lock:
            return self._items.get((run_id, state, finished_at))

    def get(self, conn: sqlite3.Connection, run_id: int) -> RunIndex:
        with self._lock:
            version = store_runs.run_version(conn, run_id)
            if version is None:
                raise NotFoundError(f"no run {run_id}", fix="`betr list runs` shows the runs")
            key = (run_id, *version)
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            index = load_run_index(conn, run_id)
            self._items[key] = index
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return index


def make_view(
    conn: sqlite3.Connection | None,
    index: RunIndex,
    query: Query,
    *,
    workspace: Workspace | None = None,
) -> View:
    """The rows of `query`, in its order. `conn` is only read for source, metadata and text
    filters (`query.needs_sql`) and for a sort or column filter on a text field of the docs
    not read yet (`query.doc_fields()`; packed into `workspace` when given)."""
    ensure_query_fields(conn, index, query, workspace=workspace)
    return _make_view(index, query, _id_filters(conn, index, query) if query.needs_sql else ())


def view_ready(index: RunIndex, query: Query) -> bool:
    """Whether `make_view(None, index, query)` answers from memory (no SQL, no text field to
    read, the order computed or cheap)."""
    if query.needs_sql or any(n not in index.fields for n in query.doc_fields()):
        return False
    return index.has_order(query.sort)


def _id_filters(
    conn: sqlite3.Connection | None, index: RunIndex, query: Query
) -> Iterator[np.ndarray]:
    assert conn is not None, "a source, metadata, text, contamination or cluster filter reads"
    if query.source:
        yield docs.ids_with_source(conn, index.corpus_id, query.source)
    if query.meta:
        yield docs.ids_with_meta(conn, index.corpus_id, *query.meta)
    if query.search:
        yield docs.fts_doc_ids(conn, query.search)
    if query.contaminated:
        from engine.api.contamination import contaminated_ids

        yield np.asarray(contaminated_ids(conn, index.run_id), dtype=np.int64)
    if query.cluster:
        yield clusters.member_ids(conn, index.run_id, *query.cluster)


def page(
    conn: sqlite3.Connection,
    index: RunIndex,
    view: View,
    start: int,
    count: int,
    columns: tuple[str, ...] | list[str] = (),
) -> list[DocRow]:
    """Display rows start..start+count-1 of the view, with their text snippets (under a
    search: the text around the hits, keyword in context, with the hits' spans) and the
    values of `columns` that DocRow does not hold (DocRow.values)."""
    start = max(0, start)
    rows = view.rows[start : start + count]
    if len(rows) == 0:
        return []
    ids = [int(i) for i in index.doc_id[rows]]
    found = docs.docs_by_ids(conn, ids, ("ext_id", "source"), snippet=SNIPPET_CHARS)
    marks = labels.labels_of(conn, ids)
    dirty = contamination_marks(conn, index, ids, rows)
    dups = dup_marks(conn, index.corpus_id, ids)
    kwic = {}
    if view.query.search:
        kwic = docs.fts_snippets(conn, view.query.search, ids, KWIC_TOKENS, HIT_MARKS)
    extra = row_values(conn, index, rows, ids, columns)
    out: list[DocRow] = []
    for offset, (row, doc_id) in enumerate(zip(rows, ids, strict=True)):
        d = found.get(doc_id)
        if d is None:  # deleted under us: skip rather than show a wrong row
            continue
        score = index.score[row]
        prob = index.prob[row]
        snippet = " ".join(d["snippet"].split())
        hits: list[tuple[int, int]] = []
        if doc_id in kwic:
            snippet, hits = kwic_line(kwic[doc_id])
        out.append(
            DocRow(
                row=start + offset,
                rank=int(row) + 1,
                doc_id=doc_id,
                ext_id=d["ext_id"],
                score=None if np.isnan(score) else float(score),
                prob=None if np.isnan(prob) else float(prob),
                n_tokens=int(index.n_tokens[row]),
                source=d["source"],
                benchmark=index.benchmarks.get(int(index.bench[row])),
                snippet=snippet,
                kept=None if view.cut is None else bool(row < view.cut),
                label=marks.get(doc_id),
                contaminated=dirty[offset],
                dups=dups[offset].text,
                values=extra[offset],
                hits=hits,
            )
        )
    return out


def kwic_line(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """FTS5's snippet with HIT_MARKS around each hit -> (one line, whitespace collapsed and
    the marks taken out; the hits' (start, end) character spans in it)."""
    opening, closing = HIT_MARKS
    parts = re.split(f"({re.escape(opening)}|{re.escape(closing)})", marked)
    text, begun = "", None
    hits: list[tuple[int, int]] = []
    for part in parts:
        if part == opening:
            begun = len(text)
        elif part == closing:
            if begun is not None and len(text) > begun:
                if hits and not text[hits[-1][1] : begun].strip():  # a phrase: one span
                    begun = hits.pop()[0]
                hits.append((begun, len(text)))
            begun = None
        else:
            text += re.sub(r"\s+", " ", part)
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    return text, [(max(0, a - lead), min(len(text), b - lead)) for a, b in hits]


def row_values(
    conn: sqlite3.Connection,
    index: RunIndex,
    rows: np.ndarray,
    ids: list[int],
    columns: tuple[str, ...] | list[str],
) -> list[dict[str, Any]]:
    """Per row, the value of each of `columns` (text: str or None; number: float or None):
    source (its file) and meta.FIELD from the docs, every other column from the index."""
    out: list[dict[str, Any]] = [{} for _ in ids]
    columns = [c for c in columns if c not in ROW_FIELDS]
    keys = [c[len(META_PREFIX) :] for c in columns if c.startswith(META_PREFIX)]
    meta = docs.meta_texts(conn, ids, keys) if keys else {}
    sources = docs.docs_by_ids(conn, ids, ("source",)) if SOURCE in columns else {}
    for name in columns:
        if name.startswith(META_PREFIX):
            at = keys.index(name[len(META_PREFIX) :])
            for i, doc_id in enumerate(ids):
                got = meta.get(doc_id)
                out[i][name] = None if got is None else got[at]
            continue
        if name == SOURCE:
            for i, doc_id in enumerate(ids):
                src = sources.get(doc_id, {}).get("source")
                out[i][name] = None if src is None else source_file(src)
            continue
        values = column(name).values(index)
        for i, row in enumerate(rows.tolist()):
            if isinstance(values, FieldColumn):
                out[i][name] = values.value_at(row)
            else:
                v = float(values[row])
                out[i][name] = None if np.isnan(v) else v
    return out


def source_file(source: str) -> str:
    """A doc's source without the record locator the import adds: "part-0.jsonl:17" ->
    "part-0.jsonl" (what the source column and its frequency table show)."""
    from engine.betr.by_source import SOURCE_LOCATOR

    return re.sub(SOURCE_LOCATOR, "", source)


def contamination_marks(
    conn: sqlite3.Connection, index: RunIndex, ids: list[int], rows: np.ndarray
) -> list[bool | None]:
    """Per doc: True / False / None (see engine.api.contamination.marks_of); all None before
    the run is applied (checks read the probability order)."""
    if not index.applied:
        return [None] * len(ids)
    from engine.api.contamination import marks_of

    return marks_of(conn, index.run_id, [(d, int(r) + 1) for d, r in zip(ids, rows, strict=True)])


def docs_page(
    workspace: Workspace,
    run_id: int,
    query: Query,
    offset: int,
    limit: int,
    columns: list[str] | None = None,
) -> tuple[int, list[DocRow]]:
    """`betr docs`: (the view's size, its rows offset..offset+limit-1 with the values of
    `columns`)."""
    with closing(workspace.connect(readonly=True)) as conn:
        index = load_run_index(conn, run_id)
        view = make_view(conn, index, query, workspace=workspace)
        return len(view), page(conn, index, view, offset, limit, columns or ())


def snippets(
    conn: sqlite3.Connection, ids: list[int], chars: int, *, read: int | None = None
) -> dict[int, tuple[str, str]]:
    """doc id -> (ext_id, its text's opening: the first `read` (default 2 x `chars`) characters
    with whitespace collapsed, cut to `chars`)."""
    found = docs.docs_by_ids(conn, ids, ("ext_id",), snippet=read or chars * 2)
    return {i: (d["ext_id"], " ".join(d["snippet"].split())[:chars]) for i, d in found.items()}


# -- one document ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DocDetail:
    """Everything the viewer shows about one doc of the run, except its nearest examples: the
    doc (text, size, source, meta, corpus), its place in the run (rank of `of` docs, p, the
    BETR score, best rank and cosine, benchmark and best example when it is in the scored
    sample; the classifier's label and split there) and the user's label."""

    doc_id: int
    ext_id: str
    text: str
    n_tokens: int
    n_chars: int
    source: str | None
    meta: dict[str, Any] | None
    corpus: str
    run_id: int
    rank: int
    of: int
    prob: float | None
    in_sample: bool
    score: float | None
    best_rank: int | None
    best_cosine: float | None
    benchmark: str | None
    classifier_label: int | None
    split: str | None
    best_example: dict[str, Any] | None  # the benchmark example's row
    label: str | None


def doc_detail(conn: sqlite3.Connection, index: RunIndex, doc_id: int) -> DocDetail:
    """The DocDetail of one doc of the run."""
    row = index.row_of_doc(doc_id)
    if row is None:
        raise NotFoundError(f"doc {doc_id} is not in run {index.run_id}")
    d = docs.doc_with_corpus(conn, doc_id)
    if d is None:
        raise NotFoundError(f"no doc {doc_id}")
    label = labels.label_row(conn, doc_id)
    example = None
    if index.example[row] >= 0:
        example = catalog.example(conn, int(index.example[row]))
    score = index.score[row]
    return DocDetail(
        doc_id=d["id"],
        ext_id=d["ext_id"],
        text=d["text"],
        n_tokens=d["n_tokens"],
        n_chars=d["n_chars"],
        source=d["source"],
        meta=d["meta"],
        corpus=d["corpus"],
        run_id=index.run_id,
        rank=row + 1,
        of=len(index),
        prob=None if np.isnan(index.prob[row]) else float(index.prob[row]),
        in_sample=not np.isnan(score),
        score=None if np.isnan(score) else float(score),
        best_rank=int(index.best_rank[row]) or None,
        best_cosine=None if np.isnan(index.best_cosine[row]) else float(index.best_cosine[row]),
        benchmark=index.benchmarks.get(int(index.bench[row])),
        classifier_label=int(index.label[row]) if index.label[row] >= 0 else None,
        split=SPLITS[int(index.split[row])] or None,
        best_example=example,
        label=label[0] if label else None,
    )


@dataclass(frozen=True)
class NearestExample:
    """A target example near a doc: its cosine, and the doc's rank among the scored sample for
    that example (1 = the example's nearest doc; None when the sample's vectors are not
    cached)."""

    example_id: int
    ext_id: str
    benchmark: str
    question: str | None
    text: str | None
    cosine: float
    rank: int | None


@dataclass(frozen=True)
class NearestExamples:
    """The nearest examples, or none and the `reason`; `sample`: the scored sample's size."""

    examples: list[NearestExample]
    reason: str | None
    sample: int | None = None  # None: no examples

    def to_json(self) -> dict[str, Any]:
        """{examples, reason} and, with examples, the sample's size."""
        out = asdict(self)
        if self.sample is None:
            del out["sample"]
        return out


def nearest_examples(
    conn: sqlite3.Connection, index: RunIndex, doc_id: int, k: int = 5, *, embedder: Any = None
) -> NearestExamples:
    """The k target examples nearest to the doc by cosine, from the workspace's embedding cache
    (every doc of the scored sample is cached). With each, the doc's rank among the scored sample
    for that example (1 = the example's nearest doc). A doc outside the cache is embedded with
    `embedder` when given, else no examples and the reason."""
    from engine.embed import normalise_rows, text_sha256
    from engine.store.embeddings import SqliteEmbeddingCache

    model_id = store_runs.get_run(conn, index.run_id)["config"]["model_id"]
    cache = SqliteEmbeddingCache(conn)
    found = docs.docs_by_ids(conn, [doc_id], ("text",))
    if doc_id not in found:
        raise NotFoundError(f"no doc {doc_id}")
    text = found[doc_id]["text"]
    key = text_sha256(text)
    vec = cache.get_many(model_id, [key]).get(key)
    if vec is None and embedder is not None:
        vec = embedder.encode([text])[0].astype(np.float16)
    if vec is None:
        in_sample = bool(index.in_sample[index.row_of_doc(doc_id)])
        reason = "its embedding is not in the workspace cache" if in_sample else NEVER_EMBEDDED
        return NearestExamples([], reason)
    if not index.benchmarks:
        return NearestExamples([], "the run has no target benchmarks")
    ex, ex_vecs = _example_vectors(conn, index, cache, model_id)
    if not ex:
        return NearestExamples([], "the target examples' embeddings are not cached")
    cos = ex_vecs @ normalise_rows(np.asarray(vec)[None, :])[0].astype(np.float64)
    top = np.lexsort((np.arange(len(ex)), -cos))[:k]
    sample_vecs = _sample_vectors(conn, index, cache, model_id)
    out: list[NearestExample] = []
    for j in top:
        r = ex[j]
        c = float(cos[j])
        rank = None
        if sample_vecs is not None:
            rank = int(np.count_nonzero(sample_vecs @ ex_vecs[j] > c + 1e-9)) + 1
        out.append(
            NearestExample(
                example_id=r["id"],
                ext_id=r["ext_id"],
                benchmark=r["benchmark"],
                question=r["question"],
                text=r["text"],
                cosine=c,
                rank=rank,
            )
        )
    return NearestExamples(out, None, int(index.in_sample.sum()))


def _example_vectors(
    conn: sqlite3.Connection, index: RunIndex, cache: SqliteEmbeddingCache, model_id: str
) -> tuple[list[sqlite3.Row], np.ndarray]:
    """The run's target examples with cached embeddings, and their unit vectors (float64, the
    vectors the scoring ranked with); read once per loaded run."""
    from engine.embed import normalise_rows, text_sha256

    if "examples" not in index.vectors:
        rows = catalog.benchmark_examples(conn, list(index.benchmarks.values()))
        if index.target_examples is not None:  # balanced: only the examples it scored with
            drawn = {int(i) for ids in index.target_examples.values() for i in ids}
            rows = [r for r in rows if r["id"] in drawn]
        keys = [text_sha256(r["text"]) for r in rows]
        got = cache.get_many(model_id, keys)
        have = [i for i, key in enumerate(keys) if key in got]
        vecs = np.stack([got[keys[i]] for i in have]) if have else np.zeros((0, 1))
        index.vectors["examples"] = (
            [rows[i] for i in have],
            normalise_rows(vecs).astype(np.float64),
        )
    examples: tuple[list[sqlite3.Row], np.ndarray] = index.vectors["examples"]
    return examples


def _sample_vectors(
    conn: sqlite3.Connection, index: RunIndex, cache: SqliteEmbeddingCache, model_id: str
) -> np.ndarray | None:
    """Unit vectors of the scored sample (for a doc's rank per example), read once per loaded
    run; None when a sample doc is not cached or the sample is too large to hold."""
    from engine.embed import normalise_rows, text_sha256

    if "sample" not in index.vectors:
        rows = np.flatnonzero(index.in_sample)
        vecs = None
        if 0 < len(rows) <= MAX_SAMPLE_VECTORS:
            keys = [text_sha256(t) for t in docs.doc_texts(conn, index.doc_id[rows])]
            got = cache.get_many(model_id, keys)
            if len(got) == len(set(keys)):
                vecs = normalise_rows(np.stack([got[key] for key in keys])).astype(np.float64)
        index.vectors["sample"] = vecs
    sample: np.ndarray | None = index.vectors["sample"]
    return sample
