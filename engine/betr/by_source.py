"""The kept share by source: how much of each source (or any metadata field's value) survives a
keep rate, so a user sees the classifier sorting the pool by domain (the Threshold screen's
per-source panel and `betr tradeoff --by-source`).

A grouping is computed once per run and field (`group_run`): every doc of the run gets the code
of its display group (the 20 largest values by pool tokens, then "(other N)"), and the rows of
each group are held sorted with their cumulative tokens. A keep rate is then one binary search
per group (`by_source`), so the panel follows the keep bar as cheaply as the cards do.

The group of a doc: for `source`, its `docs.source` without the record locator the import adds
("part-0.jsonl:17" -> "part-0.jsonl", "table.csv row 5" -> "table.csv", "pool.whl!boolq-00042"
-> "pool.whl!boolq"); for `meta.FIELD`, the field's value as text (as `betr docs --meta`
matches it), docs lacking it in the group "(none)".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.betr.runindex import RunIndex
from engine.errors import UsageError
from engine.records import Record

SOURCE = "source"
META_PREFIX = "meta."
NONE_GROUP = "(none)"
TOP_GROUPS = 20
# the record locator the import appends to a doc's source: "file:line", "file row N", "id-N"
SOURCE_LOCATOR = r"(?::\d+|\s+[A-Za-z]+\s+\d+|[-_]\d+)$"


def parse_field(text: str | None) -> tuple[str, str | None]:
    """ "source" -> ("source", None); "meta.lang" -> ("meta.lang", "lang")."""
    raw = (text or SOURCE).strip()
    if raw == SOURCE:
        return SOURCE, None
    if raw.startswith(META_PREFIX) and len(raw) > len(META_PREFIX):
        key = raw[len(META_PREFIX) :]
        if key.replace("_", "").replace("-", "").replace(".", "").isalnum():
            return raw, key
    raise UsageError(
        f"cannot group by '{raw}'", fix="use source, or meta.FIELD for a metadata field"
    )


def other_label(n: int) -> str:
    return f"(other {n:,})"


@dataclass
class SourceGroups:
    """One run's docs grouped by one field (see the module docstring)."""

    run_id: int
    field: str
    names: list[str]  # display groups: the largest by pool tokens, then "(other N)" if any
    n_values: int  # distinct values in the pool
    n_other: int  # of them folded into "(other N)" (0: no such row)
    docs: np.ndarray  # (G,) pool docs per display group
    tokens: np.ndarray  # (G,) pool tokens per display group
    key: np.ndarray  # (n,) code * n_rows + row, ascending: each group's rows in order
    cum: np.ndarray  # (n + 1,) cumulative tokens along `key`
    start: np.ndarray  # (G,) where each group begins in `key`

    def kept_at(self, cut: int) -> tuple[np.ndarray, np.ndarray]:
        """(kept docs, kept tokens) per display group when base rows 0..cut-1 are kept."""
        codes = np.arange(len(self.names), dtype=np.int64)
        pos = np.searchsorted(self.key, codes * self.n_rows + cut, side="left")
        return pos - self.start, self.cum[pos] - self.cum[self.start]

    @property
    def n_rows(self) -> int:
        return len(self.cum) - 1


def group_run(
    index: RunIndex,
    field: str,
    doc_ids: np.ndarray,
    values: list[str | None],
    top: int = TOP_GROUPS,
) -> SourceGroups:
    """Group the run's docs by `field` ("source" or "meta.FIELD", see `parse_field`), given the
    value of every doc of its corpus (`doc_ids` with `values`; a doc of the run missing there,
    or with a None value, goes to "(none)")."""
    return group_run_chunks(index, field, [(doc_ids, values)], top)


def group_run_chunks(
    index: RunIndex,
    field: str,
    chunks: Iterable[tuple[np.ndarray, list[str | None]]],
    top: int = TOP_GROUPS,
) -> SourceGroups:
    """`group_run` with the corpus's values given in chunks: each chunk's values become
    categorical codes as they come (a source loses its `:line` first), so a million docs'
    strings are never held at once."""
    import polars as pl

    field, _key = parse_field(field)
    with pl.StringCache():
        ids, parts = [], []
        for chunk_ids, chunk_values in chunks:
            values = pl.Series("value", chunk_values, dtype=pl.Utf8)
            if field == SOURCE:
                values = values.str.replace(SOURCE_LOCATOR, "")
            ids.append(np.asarray(chunk_ids, dtype=np.int64))
            parts.append(values.cast(pl.Categorical))
        corpus = pl.DataFrame(
            {
                "doc_id": np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64),
                "value": pl.concat(parts) if parts else pl.Series("value", [], pl.Categorical),
            }
        )
        return _group(index, field, corpus, top)


def _group(index: RunIndex, field: str, corpus: Any, top: int) -> SourceGroups:
    import polars as pl

    n = len(index)
    run = pl.DataFrame(
        {"row": np.arange(n, dtype=np.int64), "doc_id": index.doc_id, "tokens": index.n_tokens}
    )
    run = (
        run.join(corpus, on="doc_id", how="left")
        .sort("row")
        .with_columns(pl.col("value").fill_null(NONE_GROUP))
    )
    sizes = (
        run.group_by("value")
        .agg(pl.len().alias("docs"), pl.col("tokens").sum().alias("tokens"))
        .with_columns(pl.col("value").cast(pl.Utf8))  # a few groups: sort them by name
        .sort(["tokens", "value"], descending=[True, False])
    )
    n_values = sizes.height
    shown = sizes.head(top) if n_values > top else sizes
    names = shown["value"].to_list()
    code_of = pl.DataFrame(
        {
            "value": pl.Series(names, dtype=pl.Utf8).cast(pl.Categorical),
            "code": np.arange(len(names), dtype=np.int64),
        }
    )
    codes = (
        run.join(code_of, on="value", how="left")
        .sort("row")["code"]
        .fill_null(len(names))
        .to_numpy()
        .astype(np.int64)
    )
    n_other = n_values - len(names)
    if n_other:
        names.append(other_label(n_other))
    n_groups = len(names)
    docs = np.bincount(codes, minlength=n_groups).astype(np.int64)
    tokens = np.bincount(codes, weights=index.n_tokens, minlength=n_groups).astype(np.int64)
    rows = np.arange(n, dtype=np.int64)
    key = codes * n + rows
    order = np.argsort(key, kind="stable")
    cum = np.concatenate([[0], np.cumsum(index.n_tokens[order], dtype=np.int64)])
    start = np.cumsum(docs) - docs
    return SourceGroups(
        run_id=index.run_id,
        field=field,
        names=names,
        n_values=n_values,
        n_other=n_other,
        docs=docs,
        tokens=tokens,
        key=key[order],
        cum=cum,
        start=start,
    )


@dataclass(frozen=True)
class SourceShare(Record):
    """One group's docs and tokens in the pool and kept, the share of its tokens kept
    (survival), its share of the kept tokens and of the pool's tokens."""

    group: str
    docs: int
    kept_docs: int
    tokens: int
    kept_tokens: int
    survival: float
    kept_share: float
    pool_share: float


@dataclass(frozen=True)
class KeptBySource(Record):
    """What a keep rate keeps of each group of one grouping (see `by_source`)."""

    run_id: int
    field: str  # "source" or "meta.FIELD"
    keep_percent: float
    by: str  # a KEEP_BY unit
    threshold: float | None  # p(positive) of the last kept doc (None: nothing kept)
    kept_docs: int
    kept_tokens: int
    total_docs: int
    total_tokens: int
    kept_token_share: float
    n_values: int
    n_other: int
    rows: list[SourceShare]  # the display groups, largest by pool tokens first


def by_source(
    index: RunIndex, groups: SourceGroups, keep: float, by: str = "tokens"
) -> KeptBySource:
    """What keeping `keep` (a fraction, by tokens or docs: the cut of `betr select`) keeps of
    each group: docs and tokens in the pool and kept, the share of the group's tokens kept
    (survival), the group's share of the kept tokens and of the pool's tokens."""
    if groups.run_id != index.run_id or groups.n_rows != len(index):
        raise UsageError(f"the grouping is not of run {index.run_id}", fix="group it again")
    cut = index.cut(keep, by)
    kept_docs, kept_tokens = groups.kept_at(cut)
    total_kept = int(index.cum_tokens[cut - 1]) if cut else 0
    total = index.total_tokens
    rows: list[SourceShare] = []
    for i, name in enumerate(groups.names):
        tokens = int(groups.tokens[i])
        kept = int(kept_tokens[i])
        rows.append(
            SourceShare(
                group=name,
                docs=int(groups.docs[i]),
                kept_docs=int(kept_docs[i]),
                tokens=tokens,
                kept_tokens=kept,
                survival=kept / tokens if tokens else 0.0,
                kept_share=kept / total_kept if total_kept else 0.0,
                pool_share=tokens / total if total else 0.0,
            )
        )
    return KeptBySource(
        run_id=index.run_id,
        field=groups.field,
        keep_percent=keep * 100.0,
        by=by,
        threshold=float(index.prob[cut - 1]) if cut else None,
        kept_docs=cut,
        kept_tokens=total_kept,
        total_docs=len(index),
        total_tokens=total,
        kept_token_share=total_kept / total if total else 0.0,
        n_values=groups.n_values,
        n_other=groups.n_other,
        rows=rows,
    )
