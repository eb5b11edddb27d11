"""The Documents screen's columns (`betr docs --columns/--sort`): which columns there are for a
run, which are shown (chosen per corpus, remembered in the workspace), and the text columns of
the documents table (source, meta.FIELD) read into the run's index for sorting, filtering and
frequency tables.

Reading a text field is one pass over the corpus's docs (seconds at a million docs, more for a
metadata field, which SQLite's json_extract reads from each doc's JSON); it is then stored
packed in the workspace (`field_columns`), so the next session reads a few blobs instead.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass

import numpy as np

from engine.betr.by_source import SOURCE_LOCATOR
from engine.betr.columns import (
    COLUMNS,
    META_PREFIX,
    NUMBER,
    SOURCE,
    TEXT,
    Column,
    FieldColumn,
    Where,
    column,
    is_meta,
    parse_sort,
    register_column,
    sort_spec,
)
from engine.betr.runindex import Query, RunIndex
from engine.errors import NotFoundError, UsageError
from engine.records import Record
from engine.store import browse_columns, catalog, docs
from engine.workspace import Workspace

__all__ = [
    "COLUMNS",
    "NUMBER",
    "TEXT",
    "Column",
    "ColumnChoice",
    "Where",
    "choose_columns",
    "column",
    "column_choices",
    "column_choices_of_run",
    "default_columns",
    "ensure_fields",
    "parse_sort",
    "register_column",
    "run_columns",
    "shown_columns",
    "sort_spec",
]

log = logging.getLogger(__name__)
# always shown, never in the chooser: the rank and the markers
FIXED = ("rank",)
DEFAULT_META = 3  # metadata fields shown by default


@dataclass(frozen=True)
class ColumnChoice(Record):
    """A column the Documents list can show: its name, title, kind (number or text), what it
    is, and whether it is shown now."""

    name: str
    title: str
    kind: str
    summary: str
    shown: bool


def _corpus(conn: sqlite3.Connection, corpus_id: int) -> sqlite3.Row:
    row = catalog.corpus_by_id(conn, corpus_id)
    if row is None:
        raise NotFoundError(f"no corpus {corpus_id}", fix="`betr list corpora` shows them")
    return row


def available_columns(conn: sqlite3.Connection, corpus_id: int) -> list[str]:
    """Every column a run over the corpus has: the registry's (rank aside), then meta.FIELD
    for each metadata field it was imported with."""
    names = [n for n in COLUMNS if n not in FIXED]
    return names + [META_PREFIX + f for f in docs.corpus_meta_fields(conn, corpus_id)]


def default_columns(conn: sqlite3.Connection, corpus_id: int) -> list[str]:
    """What a corpus shows before anyone chose: p, BETR score, tokens, benchmark, its first
    metadata fields, and the source file only when the corpus came from several (one file's
    name on every row says nothing)."""
    shown = ["prob", "score", "tokens", "benchmark"]
    shown += [META_PREFIX + f for f in docs.corpus_meta_fields(conn, corpus_id)[:DEFAULT_META]]
    if len(browse_columns.corpus_inputs(conn, corpus_id)) != 1:
        shown.append(SOURCE)
    return shown


def shown_columns(conn: sqlite3.Connection, corpus_id: int) -> list[str]:
    """The columns the corpus's runs show, in order: as chosen (remembered in the workspace;
    columns since gone are left out), else `default_columns`."""
    chosen = browse_columns.chosen_columns(conn, corpus_id)
    if chosen is None:
        return default_columns(conn, corpus_id)
    known = set(available_columns(conn, corpus_id))
    return [c for c in chosen if c in known]


def column_choices(conn: sqlite3.Connection, corpus_id: int) -> list[ColumnChoice]:
    """Every column of the corpus's runs, the shown ones first in their order."""
    shown = shown_columns(conn, corpus_id)
    rest = [c for c in available_columns(conn, corpus_id) if c not in shown]
    return [_choice(name, name in shown) for name in [*shown, *rest]]


def check_columns(conn: sqlite3.Connection, corpus_id: int, names: list[str]) -> list[str]:
    """`names` checked against the corpus's columns (a UsageError naming the unknown one)."""
    known = available_columns(conn, corpus_id)
    for name in names:
        if name not in known:
            column(name)  # an unknown column: its own error and suggestion
            raise UsageError(
                f"the corpus has no column '{name}'",
                fix="its columns: " + ", ".join(known),
            )
    return list(dict.fromkeys(names))


def choose_columns(workspace: Workspace, corpus_id: int, names: list[str]) -> list[str]:
    """Remember the columns the corpus's runs show (in this order); returns them."""
    conn = workspace.connect()
    try:
        names = check_columns(conn, corpus_id, names)
        browse_columns.set_chosen_columns(conn, corpus_id, names)
    finally:
        conn.close()
    return names


def _run_corpus(conn: sqlite3.Connection, run_id: int) -> int:
    from engine.store import runs as store_runs

    return int(store_runs.get_run(conn, run_id)["corpus_id"])


def run_columns(
    workspace: Workspace, run_id: int, wanted: list[str] | None = None, *, save: bool = False
) -> list[str]:
    """The columns `betr docs` shows for the run: `wanted` (checked; remembered for its
    corpus with `save`), else the corpus's (`shown_columns`)."""
    with closing(workspace.connect(readonly=True)) as conn:
        corpus_id = _run_corpus(conn, run_id)
        if wanted is None:
            return shown_columns(conn, corpus_id)
        names = check_columns(conn, corpus_id, wanted)
    if save:
        choose_columns(workspace, corpus_id, names)
    return names


def column_choices_of_run(
    workspace: Workspace, run_id: int, shown: list[str] | None = None
) -> list[ColumnChoice]:
    """Every column of the run, `shown` (default: the corpus's) first and marked."""
    with closing(workspace.connect(readonly=True)) as conn:
        corpus_id = _run_corpus(conn, run_id)
        shown = shown if shown is not None else shown_columns(conn, corpus_id)
        rest = [c for c in available_columns(conn, corpus_id) if c not in shown]
    return [_choice(name, name in shown) for name in [*shown, *rest]]


def _choice(name: str, shown: bool) -> ColumnChoice:
    col = column(name)
    return ColumnChoice(name, col.title, col.kind, col.summary, shown)


# -- text fields of the documents table ------------------------------------------------------
def ensure_fields(
    conn: sqlite3.Connection,
    index: RunIndex,
    names: list[str],
    *,
    workspace: Workspace | None = None,
) -> None:
    """Read the text columns `names` (source, meta.FIELD) into `index.fields` where they are
    not there yet: from the workspace's packed copy, else from the docs (then packed into the
    workspace when `workspace` is given and writable)."""
    for name in names:
        if name in index.fields:
            continue
        col = column(name)
        if not col.from_docs:
            continue
        index.fields[name] = field_column(conn, index, col, workspace)


def ensure_query_fields(
    conn: sqlite3.Connection | None,
    index: RunIndex,
    query: Query,
    *,
    workspace: Workspace | None = None,
) -> None:
    """The text columns the query's sort and filters need (see `ensure_fields`)."""
    needed = [n for n in query.doc_fields() if n not in index.fields]
    if needed:
        assert conn is not None, "a sort or filter on a docs field reads the docs"
        ensure_fields(conn, index, needed, workspace=workspace)


def field_column(
    conn: sqlite3.Connection, index: RunIndex, col: Column, workspace: Workspace | None
) -> FieldColumn:
    """One text column of the run's docs, aligned with its base rows."""
    key = None
    if col.name != SOURCE:
        key = col.name[len(META_PREFIX) :]
        known = docs.corpus_meta_fields(conn, index.corpus_id)
        if not is_meta(col.name) or key not in known:
            listed = ", ".join(META_PREFIX + f for f in known)
            raise UsageError(
                f"corpus '{index.corpus}' has no metadata field '{key}'",
                fix=f"its fields: {listed}"
                if known
                else "import with --meta FIELD to keep metadata fields",
            )
    n_docs = int(_corpus(conn, index.corpus_id)["n_docs"])
    stored = browse_columns.read_field_column(conn, index.corpus_id, col.name, n_docs)
    if stored is None:
        ids, codes, categories = read_field(conn, index.corpus_id, key)
        if workspace is not None:
            _store(workspace, index.corpus_id, col.name, n_docs, ids, codes, categories)
    else:
        ids, codes, categories = stored
    return FieldColumn(col.name, align(index, ids, codes), categories)


def read_field(
    conn: sqlite3.Connection, corpus_id: int, key: str | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(doc ids ascending, int32 codes, categories in lexical order) of every doc of the
    corpus: its source file (`key` None; the record locator `:line` left out) or metadata
    field `key` as text (-1: none)."""
    import polars as pl

    ids, parts = [], []
    for chunk_ids, values in docs.group_value_chunks(conn, corpus_id, key):
        series = pl.Series("value", values, dtype=pl.Utf8)
        if key is None:
            series = series.str.replace(SOURCE_LOCATOR, "")
        ids.append(chunk_ids)
        parts.append(series)
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.int32), []
    frame = pl.DataFrame({"doc_id": np.concatenate(ids), "value": pl.concat(parts)}).sort("doc_id")
    frame = frame.with_columns(code=pl.col("value").rank("dense").cast(pl.Int64) - 1)
    categories = frame["value"].drop_nulls().unique().sort().to_list()
    codes = frame["code"].fill_null(-1).to_numpy().astype(np.int32)
    return frame["doc_id"].to_numpy().astype(np.int64), codes, [str(c) for c in categories]


def align(index: RunIndex, ids: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Codes per base row of the run from codes per corpus doc (ids ascending; -1 where the
    doc is not there)."""
    out = np.full(len(index), -1, dtype=np.int32)
    if len(ids) == 0:
        return out
    pos = np.searchsorted(ids, index.doc_id).clip(0, len(ids) - 1)
    hit = ids[pos] == index.doc_id
    out[hit] = codes[pos[hit]]
    return out


def _store(
    workspace: Workspace,
    corpus_id: int,
    name: str,
    n_docs: int,
    ids: np.ndarray,
    codes: np.ndarray,
    categories: list[str],
) -> None:
    """Pack the field into the workspace; a workspace that cannot be written (read-only,
    busy) just reads it again next time."""
    try:
        conn = workspace.connect()
    except (sqlite3.Error, OSError) as exc:
        log.info("field %s not stored: %s", name, exc)
        return
    try:
        browse_columns.write_field_column(conn, corpus_id, name, n_docs, ids, codes, categories)
    except sqlite3.Error as exc:
        log.info("field %s not stored: %s", name, exc)
    finally:
        conn.close()
