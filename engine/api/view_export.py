"""Export of a Documents view with its text (the screen's `e`, `betr docs --export`): every row
of the view in its order, with the run's columns, the doc's metadata and its whole text, as
JSONL or Parquet. Streamed: a chunk of rows is read, written and dropped, so memory stays flat
with the view; files are owner-only, as every export.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.api.browse import Query, RunIndex, View, load_run_index, make_view
from engine.betr.columns import COLUMNS, FieldColumn
from engine.errors import UsageError
from engine.records import Record
from engine.store import docs
from engine.workspace import Workspace, open_private

EXPORT_CHUNK = 900  # rows read per chunk (under IN_BATCH twice)
PARQUET_BATCH = 8192  # rows per row group
FORMATS = ("jsonl", "parquet")


@dataclass(frozen=True)
class ViewExport(Record):
    """Where the view went: the file, its format and the rows written."""

    out: str
    format: str
    rows: int


def export_format(out: Path, fmt: str | None) -> str:
    """The format asked for, else the file's suffix (.parquet), else JSONL."""
    fmt = fmt or ("parquet" if out.suffix == ".parquet" else "jsonl")
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format '{fmt}'", fix="use jsonl or parquet")
    return fmt


def _index_columns() -> list[str]:
    """The registry's columns computed from the index, in registry order (rank aside: it is
    written as an integer)."""
    return [n for n, c in COLUMNS.items() if not c.from_docs and n != "rank"]


def view_records(
    conn: sqlite3.Connection, index: RunIndex, view: View, *, with_text: bool = True
) -> Iterator[dict[str, Any]]:
    """The view's rows as export records, in its order: doc_id, id, rank, kept, each index
    column (prob, score, cosine, best_rank, tokens, benchmark, split, ...), source, meta and
    (with `with_text`) text."""
    names = _index_columns()
    values = {n: COLUMNS[n].values(index) for n in names}
    fields = ("ext_id", "source", "meta", "text") if with_text else ("ext_id", "source", "meta")
    for start in range(0, len(view), EXPORT_CHUNK):
        rows = view.rows[start : start + EXPORT_CHUNK]
        ids = [int(i) for i in index.doc_id[rows]]
        found = docs.docs_by_ids(conn, ids, fields)
        for row, doc_id in zip(rows.tolist(), ids, strict=True):
            d = found.get(doc_id)
            if d is None:  # deleted under us
                continue
            record: dict[str, Any] = {
                "doc_id": doc_id,
                "id": d["ext_id"],
                "rank": row + 1,
                "kept": None if view.cut is None else row < view.cut,
            }
            for name in names:
                v = values[name]
                if isinstance(v, FieldColumn):
                    record[name] = v.value_at(row)
                else:
                    x = float(v[row])
                    record[name] = None if np.isnan(x) else x
            record["tokens"] = int(index.n_tokens[row])
            record["source"] = d["source"]
            record["meta"] = json.loads(d["meta"]) if d["meta"] else None
            if with_text:
                record["text"] = d["text"]
            yield record


def export_view(
    conn: sqlite3.Connection, index: RunIndex, view: View, out: Path, fmt: str | None = None
) -> ViewExport:
    """Write the view with text to `out` (JSONL, or Parquet by `fmt` or a .parquet suffix)."""
    fmt = export_format(out, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if fmt == "parquet":
        n = _write_parquet(conn, index, view, out)
    else:
        with open_private(out, "w", encoding="utf-8") as fh:
            for record in view_records(conn, index, view):
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += 1
    return ViewExport(str(out), fmt, n)


def _write_parquet(conn: sqlite3.Connection, index: RunIndex, view: View, out: Path) -> int:
    """Row groups of PARQUET_BATCH rows under one schema; the `meta` column's type is inferred
    from every row's metadata first (a pass without the text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta_type = pa.array([r["meta"] for r in view_records(conn, index, view, with_text=False)]).type
    typed = {"doc_id": pa.int64(), "id": pa.string(), "rank": pa.int64(), "kept": pa.bool_()}
    for name in _index_columns():
        typed[name] = pa.string() if COLUMNS[name].kind == "text" else pa.float64()
    typed.update(tokens=pa.int64(), source=pa.string(), meta=meta_type, text=pa.string())
    schema = pa.schema(list(typed.items()))
    n = 0
    with open_private(out, "wb") as fh, pq.ParquetWriter(fh, schema) as writer:
        batch: list[dict[str, Any]] = []
        for record in view_records(conn, index, view):
            batch.append(record)
            if len(batch) == PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n


def export_view_of_run(
    workspace: Workspace, run_id: int, query: Query, out: Path, fmt: str | None = None
) -> ViewExport:
    """`betr docs --export`: the run's view `query` with text to `out`."""
    fmt = export_format(out, fmt)
    with closing(workspace.connect(readonly=True)) as conn:
        index = load_run_index(conn, run_id)
        view = make_view(conn, index, query, workspace=workspace)
        return export_view(conn, index, view, out, fmt)
