"""`betr select`: keep the top X% of a run's pool by p(positive) and export it.

The cut is a binary search on `prob_order.cum_tokens` (indexed), so any keep rate costs
O(log n); it is the same cut as the Threshold screen's (`engine.betr.runindex.keep_count`).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Collection, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.api.records import Record
from engine.api.run_targets import annotate_runs
from engine.betr.runs import require_state
from engine.betr.select import KEEP_BY as KEEP_BY  # the units, for the faces
from engine.betr.select import Selection, check_keep_by, parse_keep
from engine.errors import UsageError
from engine.store import runs as store_runs
from engine.store import scores
from engine.workspace import Workspace, open_private

__all__ = [
    "Decontamination",
    "Dedup",
    "Selection",
    "SelectionExport",
    "export_selection",
    "parse_keep",
    "select",
    "select_and_export",
    "selection_warnings",
]


@dataclass(frozen=True)
class Decontamination:
    """The contamination check a decontaminated export left docs out by."""

    check_id: int
    n: int  # words per n-gram
    docs_checked: int  # prob_order positions 1..docs_checked


@dataclass(frozen=True)
class Dedup:
    """What a deduplicated export (`betr select --dedup`) kept one doc per cluster of."""

    kind: str  # exact | near
    rule: str  # what makes two docs duplicates
    near_run_id: int | None = None


@dataclass(frozen=True)
class SelectionExport(Record):
    """A selection (the cut at a keep rate) and what its export wrote."""

    run_id: int
    keep: float  # fraction in (0, 1]
    by: str  # a KEEP_BY unit
    position: int  # docs kept: prob_order positions 1..position
    kept_tokens: int
    total_tokens: int
    total_docs: int
    threshold: float  # p(positive) of the last kept doc
    kept_docs: int
    kept_token_share: float
    out: str
    format: str  # jsonl | parquet
    replay_docs: int  # random non-kept docs added, marked as replay
    rows: int  # rows written
    dropped_docs: int | None = None  # contaminated kept docs left out (None: not checked)
    dropped_tokens: int | None = None
    contamination: Decontamination | None = None
    dedup: Dedup | None = None  # a deduplicated export: dropped_* are the duplicates

    def to_json(self) -> dict[str, Any]:
        """The fields; the decontamination and dedup ones only for such an export."""
        out = super().to_json()
        for key in ("dropped_docs", "dropped_tokens", "contamination", "dedup"):
            if out[key] is None:
                del out[key]
        return out


def selection_warnings(workspace: Workspace, run_id: int) -> list[str]:
    """What to say before writing a run's selection: its classifier is degenerate (its order
    of the pool is noise). [] when there is nothing to say."""
    with closing(workspace.connect(readonly=True)) as conn:
        run = annotate_runs(conn, [store_runs.get_run(conn, run_id)])[0]
    warnings: list[str] = run["classifier_warnings"]
    return warnings


def select(conn: sqlite3.Connection, run_id: int, keep: float, by: str = "tokens") -> Selection:
    check_keep_by(by)
    run = store_runs.get_run(conn, run_id)
    require_state(run, "applied", action="select documents")
    n_docs, n_tokens = scores.order_totals(conn, run_id)
    if n_docs == 0:
        raise UsageError(f"run {run_id} has no scored documents", fix="apply it again")
    if by == "docs":
        position = max(1, math.ceil(keep * n_docs - 1e-9))
    else:
        found = scores.first_position_with_tokens(conn, run_id, keep * n_tokens - 1e-9)
        position = found or n_docs
    row = scores.at_position(conn, run_id, position)
    return Selection(run_id, keep, by, position, row["cum_tokens"], n_tokens, n_docs, row["prob"])


def export_selection(
    conn: sqlite3.Connection,
    sel: Selection,
    out: Path,
    *,
    replay: float = 0.0,
    seed: int = 0,
    fmt: str | None = None,
    drop: Collection[int] | None = None,
) -> SelectionExport:
    """Write the kept docs (and `replay` x as many random non-kept docs, marked) to JSONL or
    Parquet, with the run's provenance on every row. Positions in `drop` (contaminated docs)
    are left out of both: the result then also says how many kept docs and tokens went."""
    if not 0.0 <= replay <= 1.0:
        raise UsageError(f"--replay must be between 0 and 1, got {replay}")
    fmt = fmt or ("parquet" if out.suffix == ".parquet" else "jsonl")
    run = store_runs.get_run(conn, sel.run_id)
    cfg = run["config"]
    dropped = set() if drop is None else {int(p) for p in drop}
    n_kept = sel.position - sum(1 for p in dropped if p <= sel.position)
    replay_positions: list[int] = []
    if replay > 0 and sel.position < sel.total_docs:
        pool = np.arange(sel.position + 1, sel.total_docs + 1)
        if dropped:
            pool = pool[~np.isin(pool, np.fromiter(dropped, dtype=np.int64))]
        n_replay = min(round(replay * n_kept), len(pool))
        rng = np.random.default_rng(seed)
        replay_positions = sorted(int(p) for p in rng.choice(pool, size=n_replay, replace=False))
    provenance = {
        "run_id": sel.run_id,
        "config_hash": run["config_hash"],
        "corpus": cfg["corpus"],
        "targets": cfg["targets"],
        "embedder": cfg["model_id"],
        "keep": sel.keep,
        "by": sel.by,
        "threshold": sel.threshold,
    }
    if fmt not in ("jsonl", "parquet"):
        raise UsageError(f"unknown export format '{fmt}'", fix="use a .jsonl or .parquet path")
    counts = {"rows": 0, "dropped_tokens": 0}

    def kept_rows(with_text: bool = True) -> Iterator[dict[str, Any]]:
        """The rows to write, read as they are written (memory stays flat with the pool)."""
        counts.update(rows=0, dropped_tokens=0)
        rows = scores.export_rows(
            conn, sel.run_id, sel.position, replay_positions, with_text=with_text
        )
        for r, replay_row in rows:
            if r["position"] in dropped:
                counts["dropped_tokens"] += r["n_tokens"]
                continue
            counts["rows"] += 1
            yield _row(r, replay_row, provenance)

    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        _write_parquet(out, kept_rows, provenance)
    else:
        with open_private(out, "w", encoding="utf-8") as fh:
            for row in kept_rows():
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    dropped_tokens = counts["dropped_tokens"]
    return SelectionExport(
        **sel.as_dict(),
        out=str(out),
        format=fmt,
        replay_docs=len(replay_positions),
        rows=counts["rows"],
        dropped_docs=None if drop is None else sel.position - n_kept,
        dropped_tokens=None if drop is None else dropped_tokens,
    )


PARQUET_BATCH = 8192  # rows per row group


def _write_parquet(
    out: Path, rows: Callable[..., Iterator[dict[str, Any]]], provenance: dict[str, Any]
) -> None:
    """Row groups of PARQUET_BATCH rows under one schema: the `meta` column's type is
    inferred from every row's metadata first (a pass without the text), as
    `pa.Table.from_pylist` of all rows at once would, without holding the rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta_type = pa.array([r["meta"] for r in rows(with_text=False)]).type
    schema = pa.schema(
        [
            ("doc_id", pa.int64()),
            ("id", pa.string()),
            ("text", pa.string()),
            ("prob", pa.float64()),
            ("rank", pa.int64()),
            ("n_tokens", pa.int64()),
            ("source", pa.string()),
            ("meta", meta_type),
            ("replay", pa.bool_()),
            ("provenance", pa.array([provenance]).type),
        ]
    )
    with open_private(out, "wb") as fh, pq.ParquetWriter(fh, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows():
            batch.append(row)
            if len(batch) == PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))


def _row(r: sqlite3.Row, replay: bool, provenance: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc_id": r["doc_id"],
        "id": r["ext_id"],
        "text": r["text"],
        "prob": r["prob"],
        "rank": r["position"],
        "n_tokens": r["n_tokens"],
        "source": r["source"],
        "meta": json.loads(r["meta"]) if r["meta"] else None,
        "replay": replay,
        "provenance": provenance,
    }


def select_and_export(
    workspace: Workspace,
    run_id: int,
    keep: float,
    by: str,
    out: Path,
    *,
    replay: float = 0.0,
    seed: int = 0,
) -> SelectionExport:
    """`betr select`: the cut at `keep` (a fraction) and its export to `out`."""
    with closing(workspace.connect(readonly=True)) as conn:
        sel = select(conn, run_id, keep, by)
        return export_selection(conn, sel, out, replay=replay, seed=seed)
