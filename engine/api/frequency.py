"""Frequency tables of a Documents view (the screen's `F`, `betr docs freq`): per value of a
column (binned when numeric), its docs, tokens and kept share at the run's keep rate; each row
carries the filter that narrows the view to it. The counting is engine.betr.frequency's."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from engine.api.browse import load_run_index, make_view
from engine.api.columns import ensure_fields
from engine.betr.columns import Where, column
from engine.betr.frequency import FREQ_SORTS, FrequencyRow, FrequencyTable, frequency
from engine.betr.runindex import Query, RunIndex, View
from engine.workspace import Workspace

__all__ = [
    "FREQ_SORTS",
    "FrequencyRow",
    "FrequencyTable",
    "Where",
    "frequency_of_run",
    "frequency_of_view",
]


def frequency_of_view(
    conn: sqlite3.Connection | None,
    index: RunIndex,
    view: View,
    name: str,
    *,
    sort: str = "docs",
    descending: bool = True,
    limit: int | None = None,
    workspace: Workspace | None = None,
) -> FrequencyTable:
    """The frequency table of column `name` over the view's rows. `conn` is read only for a
    text field of the docs not read yet (source, meta.FIELD; packed into `workspace`)."""
    col = column(name)
    if col.from_docs and name not in index.fields:
        assert conn is not None, f"the frequency of {name} reads the docs"
        ensure_fields(conn, index, [name], workspace=workspace)
    return frequency(index, view, col, sort=sort, descending=descending, limit=limit)


def frequency_of_run(
    workspace: Workspace,
    run_id: int,
    query: Query,
    name: str,
    *,
    sort: str = "docs",
    descending: bool = True,
    limit: int | None = None,
) -> FrequencyTable:
    """`betr docs freq`: the frequency table of column `name` over the run's view `query`."""
    with closing(workspace.connect(readonly=True)) as conn:
        index = load_run_index(conn, run_id)
        view = make_view(conn, index, query, workspace=workspace)
        return frequency_of_view(
            conn,
            index,
            view,
            name,
            sort=sort,
            descending=descending,
            limit=limit,
            workspace=workspace,
        )
