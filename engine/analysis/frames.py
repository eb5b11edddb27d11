"""The long results table (rows as engine.store.evals.eval_results returns them) as a polars
frame, and the two shapes the fits and rankings read from it:

- matched points: x = metric M of run R (the proxy), y = metric M2 of run R2 (the target), inner
  joined on tokens or step; rows with a missing key or value are dropped and counted; two rows
  for one key on one side are an error naming them;
- per-dataset tables: each run's proxy score and target metric at a chosen tokens/step, or at
  its last one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from engine.analysis.pairing import match_key
from engine.errors import InputError

SCHEMA = {
    "id": pl.Int64,
    "run": pl.Utf8,
    "size": pl.Utf8,
    "params": pl.Int64,
    "tokens": pl.Int64,
    "step": pl.Int64,
    "stage": pl.Utf8,
    "benchmark": pl.Utf8,
    "category": pl.Utf8,
    "metric": pl.Utf8,
    "value": pl.Float64,
    "source": pl.Utf8,
}


@dataclass(frozen=True)
class Side:
    """One side of a fit or ranking: a benchmark's metric for a run (None = every run), with
    optional size and stage filters."""

    benchmark: str
    metric: str
    run: str | None = None
    size: str | None = None
    stage: str | None = None

    def label(self) -> str:
        parts = [f"{self.run or '*'}", self.benchmark, self.metric]
        parts += [f"size {self.size}"] if self.size else []
        parts += [f"stage {self.stage}"] if self.stage else []
        return " / ".join(parts)


@dataclass
class Matched:
    x: list[float]
    y: list[float]
    keys: list[int]
    match: str
    dropped_missing: int = 0  # rows with a missing key or a missing/NaN value
    x_only: int = 0  # keys with an x but no y
    y_only: int = 0
    notes: list[str] = field(default_factory=list)


def results_frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Long rows -> a frame with fixed column types (attrs and the ids of jobs left out)."""
    cols = {k: [r.get(k) for r in rows] for k in SCHEMA}
    cols["value"] = [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
        for v in cols["value"]
    ]
    return pl.DataFrame(cols, schema=SCHEMA)


def select(frame: pl.DataFrame, side: Side) -> pl.DataFrame:
    cond = (pl.col("benchmark") == side.benchmark) & (pl.col("metric") == side.metric)
    for col in ("run", "size", "stage"):
        value = getattr(side, col)
        if value is not None:
            cond &= pl.col(col) == value
    return frame.filter(cond)


def _drop_missing(part: pl.DataFrame, key: str) -> tuple[pl.DataFrame, int]:
    kept = part.filter(pl.col(key).is_not_null() & pl.col("value").is_not_null())
    return kept, part.height - kept.height


def _refuse_duplicates(part: pl.DataFrame, keys: list[str], side: Side) -> None:
    dup = part.group_by(keys).agg(pl.len().alias("n"), pl.col("id")).filter(pl.col("n") > 1)
    if dup.height:
        first = dup.sort(keys).row(0, named=True)
        where = ", ".join(f"{k} {first[k]}" for k in keys)
        sizes = sorted({s for s in part["size"].to_list() if s is not None})
        stages = sorted({s for s in part["stage"].to_list() if s is not None})
        hint = []
        if len(sizes) > 1:
            hint.append(f"choose a size ({', '.join(sizes)})")
        if len(stages) > 1:
            hint.append(f"choose a stage ({', '.join(stages)})")
        raise InputError(
            f"{dup.height} duplicate key(s) for {side.label()}: {first['n']} rows at {where} "
            f"(result ids {', '.join(map(str, first['id']))})",
            field=keys[-1],
            fix=("; ".join(hint) + ", or " if hint else "")
            + "delete the duplicate import (betr results list / delete)",
        )


def matched_points(frame: pl.DataFrame, x: Side, y: Side, match: str = "tokens") -> Matched:
    """(x, y) pairs on one run each, inner joined on `match` (a key of MATCH_KEYS), ordered by
    it."""
    key = match_key(match).column
    parts, dropped = [], 0
    for side in (x, y):
        part, n = _drop_missing(select(frame, side), key)
        dropped += n
        _refuse_duplicates(part, [key], side)
        parts.append(part.select(pl.col(key), pl.col("value")))
    px, py = parts
    joined = px.join(py, on=key, how="inner", suffix="_y").sort(key)
    out = Matched(
        x=joined["value"].to_list(),
        y=joined["value_y"].to_list(),
        keys=joined[key].to_list(),
        match=match,
        dropped_missing=dropped,
        x_only=px.height - joined.height,
        y_only=py.height - joined.height,
    )
    if dropped:
        out.notes.append(f"{dropped} row(s) with a missing {match} or value dropped")
    if out.x_only or out.y_only:
        out.notes.append(
            f"unmatched {match} values left out: {out.x_only} with x only, {out.y_only} with y only"
        )
    return out


def per_dataset(
    frame: pl.DataFrame, side: Side, match: str = "tokens", at: int | None = None
) -> pl.DataFrame:
    """One row per run: {run, key, value} at `at` (runs without it are left out) or at each
    run's last key with a value. Duplicates at the chosen key are an error."""
    key = match_key(match).column
    part, _ = _drop_missing(select(frame, side), key)
    _refuse_duplicates(part, ["run", key], side)
    if at is not None:
        part = part.filter(pl.col(key) == at)
    else:
        part = part.filter(pl.col(key) == pl.col(key).max().over("run"))
    return part.select(pl.col("run"), pl.col(key).alias("key"), pl.col("value")).sort("run")


def ranking_table(
    frame: pl.DataFrame,
    x: Side,
    y: Side,
    match: str = "tokens",
    at: int | None = None,
    y_at: int | None = None,
) -> pl.DataFrame:
    """dataset -> proxy score (x, x_key) and target metric (y, y_key, null when the run has
    none): the datasets are the runs with an x value."""
    px = per_dataset(frame, x, match, at).rename({"run": "dataset", "key": "x_key", "value": "x"})
    py = per_dataset(frame, y, match, y_at if y_at is not None else at).rename(
        {"run": "dataset", "key": "y_key", "value": "y"}
    )
    return px.join(py, on="dataset", how="left").sort("dataset")


def known(frame: pl.DataFrame, column: str, **filters: str | None) -> list[str]:
    """The distinct non-null values of a column (under equality filters), sorted."""
    part = frame
    for col, value in filters.items():
        if value is not None:
            part = part.filter(pl.col(col) == value)
    return sorted(v for v in part[column].unique().to_list() if v is not None)
