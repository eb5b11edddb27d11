"""The long results table (rows as engine.store.evals.eval_results returns them, or columns as
engine.store.eval_columns.eval_result_columns returns them) reshaped with polars into runs x benchmarks matrices, one per (stage, scale, metric) (METHODS 4).

- scale: a row's `size` label, else its parameter count abbreviated (1.4B), else "" (one scale);
  scales sort by parameter count. stage: the row's stage, else "" (rows with no stage form one
  stage).
- A (run, scale, stage, benchmark, metric) key with several rows is an error naming them, unless
  checkpoint="last" keeps each key's row with the most tokens (then the highest step); two rows
  at that same checkpoint stay an error.
- Missing values (None, NaN) stay NaN in the matrices; the correlations drop them pair by pair.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.analysis.correlations import CHECKPOINTS
from engine.errors import InputError
from engine.units import abbreviate

KEY = ("run", "scale", "stage", "benchmark", "metric")


@dataclass
class Pivot:
    """runs x benchmarks values of one metric at one (stage, scale); NaN where missing."""

    stage: str
    scale: str
    metric: str
    runs: list[str]
    benchmarks: list[str]
    values: np.ndarray

    def column(self, benchmark: str) -> np.ndarray:
        return self.values[:, self.benchmarks.index(benchmark)]

    def reindex(self, runs: Sequence[str], benchmarks: Sequence[str]) -> np.ndarray:
        """The values over `runs` x `benchmarks` (NaN where this pivot has none)."""
        if list(runs) == self.runs and list(benchmarks) == self.benchmarks:
            return self.values.copy()
        out = np.full((len(runs), len(benchmarks)), np.nan)
        ri = {r: i for i, r in enumerate(self.runs)}
        bi = {b: j for j, b in enumerate(self.benchmarks)}
        rows = [(k, ri[r]) for k, r in enumerate(runs) if r in ri]
        cols = [(k, bi[b]) for k, b in enumerate(benchmarks) if b in bi]
        if rows and cols:
            dst_r, src_r = zip(*rows, strict=True)
            dst_c, src_c = zip(*cols, strict=True)
            out[np.ix_(dst_r, dst_c)] = self.values[np.ix_(src_r, src_c)]
        return out


SCHEMA = {
    "run": pl.String,
    "size": pl.String,
    "params": pl.Int64,
    "stage": pl.String,
    "benchmark": pl.String,
    "category": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "tokens": pl.Int64,
    "step": pl.Int64,
}


Rows = Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]


def frame(rows: Rows) -> pl.DataFrame:
    """Long rows (a sequence of dicts) or columns ({column: values}) -> a frame with run, scale,
    scale_params, stage, benchmark, category, metric, value (float, NaN when missing), tokens,
    step."""
    if isinstance(rows, Mapping):
        height = len(rows["run"])
        col = {c: _series(c, rows.get(c), height) for c in SCHEMA}
    else:
        df = pl.from_dicts(list(rows), schema=SCHEMA, strict=False)
        col = {c: df[c] for c in SCHEMA}
    # series operations, not a query: this runs on every correlation request
    value = col["value"]
    return pl.DataFrame(
        [
            col["run"],
            _scale(col["size"], col["params"]),
            col["params"].alias("scale_params"),
            col["stage"].fill_null("") if col["stage"].null_count() else col["stage"],
            col["benchmark"],
            col["category"],
            col["metric"],
            value.fill_null(math.nan) if value.null_count() else value,
            col["tokens"],
            col["step"],
        ]
    )


def _scale(size: pl.Series, params: pl.Series) -> pl.Series:
    """The size label, else the parameter count abbreviated (1.4B), else ""."""
    if not size.null_count() and not (size == "").any():
        return size.alias("scale")
    labels = {p: abbreviate(int(p)) for p in params.drop_nulls().unique().to_list()}
    by_params = pl.col("params").replace_strict(labels, default=None, return_dtype=pl.String)
    sized = pl.col("size").replace("", None)
    scale = pl.coalesce(sized, by_params, pl.lit("")).alias("scale")
    return pl.DataFrame([size, params]).select(scale).to_series()


def _series(name: str, values: Sequence[Any] | None, height: int) -> pl.Series:
    """One column; a constant one (common: one scale, one metric, no stage, no step) is
    repeated, not converted value by value."""
    dtype = SCHEMA[name]
    if values is None or not height:
        return pl.Series(name, [None], dtype=dtype).new_from_index(0, height)
    first = values[0]  # the last value differing rejects most columns before a full count
    if (values[-1] is first or values[-1] == first) and values.count(first) == height:
        with contextlib.suppress(TypeError, ValueError, pl.exceptions.PolarsError):
            return pl.Series(name, values[:1], dtype=dtype).new_from_index(0, height)
    return pl.Series(name, values, dtype=dtype, strict=False)


def _describe(key: dict[str, Any]) -> str:
    parts = [f"run '{key['run']}'"]
    if key["scale"]:
        parts.append(f"scale {key['scale']}")
    if key["stage"]:
        parts.append(f"stage {key['stage']}")
    parts.append(f"benchmark '{key['benchmark']}', metric '{key['metric']}'")
    return ", ".join(parts)


def dedupe(df: pl.DataFrame, checkpoint: str = "error") -> pl.DataFrame:
    """One row per (run, scale, stage, benchmark, metric), or an InputError naming the
    duplicates (see the module docstring)."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {CHECKPOINTS}, got {checkpoint!r}")
    key = list(KEY)
    if checkpoint == "last" and df.height:
        df = df.with_columns(
            pl.col("tokens").fill_null(-1).alias("_t"), pl.col("step").fill_null(-1).alias("_s")
        )
        best = df.group_by(key).agg(pl.col("_t").max().alias("_bt"))
        df = df.join(best, on=key).filter(pl.col("_t") == pl.col("_bt"))
        best = df.group_by(key).agg(pl.col("_s").max().alias("_bs"))
        df = df.join(best, on=key).filter(pl.col("_s") == pl.col("_bs"))
        df = df.drop("_t", "_s", "_bt", "_bs")
    if not df.select(pl.struct(key).is_duplicated().any()).item():
        return df
    dups = (
        df.group_by(key)
        .agg(pl.len().alias("count"), pl.col("tokens").unique().sort().alias("tokens_seen"))
        .filter(pl.col("count") > 1)
        .sort(key)
    )
    if dups.height:
        shown = []
        for d in dups.head(5).iter_rows(named=True):
            tok = [t for t in d["tokens_seen"] if t is not None]
            at = f" (tokens {', '.join(abbreviate(t) for t in tok)})" if len(tok) > 1 else ""
            shown.append(f"{_describe(d)}: {d['count']} rows{at}")
        more = f" and {dups.height - 5} more" if dups.height > 5 else ""
        several = checkpoint == "error" and any(
            len([t for t in d if t is not None]) > 1 for d in dups["tokens_seen"].to_list()
        )
        raise InputError(
            f"{dups.height} duplicate result key(s): " + "; ".join(shown) + more,
            field="run, scale, stage, benchmark, metric",
            fix=(
                "these are several checkpoints of a run: keep the last one of each "
                "(--checkpoint last)"
                if several
                else "delete the repeated import (betr results list, betr results delete ID)"
            ),
        )
    return df


def _only(s: pl.Series) -> list[Any] | None:
    """[its value] when every row of `s` holds one value (null included), else None: a constant
    column (one scale, one stage, one metric: common) costs a comparison, not a hash."""
    if len(s) and s.eq_missing(s[0]).all():
        return [s[0]]
    return None


def distinct(s: pl.Series) -> list[Any]:
    """The distinct values of `s` (unordered), as s.unique().to_list() gives them."""
    return _only(s) or s.unique().to_list()


def scales(df: pl.DataFrame) -> list[str]:
    """Scale labels, smallest model first (by parameter count, then label)."""
    most: dict[str, int] = {}
    one, at = _only(df["scale"]), _only(df["scale_params"])
    pairs = (
        [(one[0], at[0])] if one and at else df.select("scale", "scale_params").unique().iter_rows()
    )
    for scale, params in pairs:
        most[scale] = max(most.get(scale, -1), -1 if params is None else params)
    return sorted(most, key=lambda s: (most[s], s))


def stages(df: pl.DataFrame) -> list[str]:
    return sorted(distinct(df["stage"]))


def pivot(df: pl.DataFrame, metric: str, stage: str, scale: str) -> Pivot:
    """The runs x benchmarks matrix of one metric at one (stage, scale) (deduplicated frame);
    runs and benchmarks sorted."""
    sub = df.filter(
        (pl.col("metric") == metric) & (pl.col("stage") == stage) & (pl.col("scale") == scale)
    ).select("run", "benchmark", "value")
    if not sub.height:
        return Pivot(stage, scale, metric, [], [], np.zeros((0, 0)))
    wide = sub.pivot(on="benchmark", index="run", values="value", sort_columns=True).sort("run")
    benchmarks = [c for c in wide.columns if c != "run"]
    values = wide.select(benchmarks).to_numpy().astype(np.float64)
    return Pivot(stage, scale, metric, wide["run"].to_list(), benchmarks, values)


def matrices(df: pl.DataFrame, metric: str) -> dict[tuple[str, str], Pivot]:
    """{(stage, scale): Pivot} for every (stage, scale) with rows of `metric`, as `pivot`
    gives them (runs and benchmarks sorted), without a pivot query per matrix: each row's run
    and benchmark become codes (an Enum of the sorted names) and its value lands in a NaN-filled
    array. Two rows for one cell raise dedupe's InputError naming the duplicates."""
    sub = df.filter(
        (pl.col("metric") == metric)
        & pl.col("run").is_not_null()
        & pl.col("benchmark").is_not_null()
    ).select("stage", "scale", "run", "benchmark", "value")
    if not sub.height:
        return {}
    stage, scale = _only(sub["stage"]), _only(sub["scale"])
    keys = (
        [(stage[0], scale[0])] if stage and scale else sub.select("stage", "scale").unique().rows()
    )
    one = len(keys) == 1  # the common case: no partition
    parts = {keys[0]: sub} if one else sub.partition_by(["stage", "scale"], as_dict=True)
    out = {}
    for key in sorted(parts):
        stage, scale = key
        runs, benchmarks, values = _scatter(parts[key], df)
        out[(stage, scale)] = Pivot(stage, scale, metric, runs, benchmarks, values)
    return out


def _scatter(part: pl.DataFrame, df: pl.DataFrame) -> tuple[list[str], list[str], np.ndarray]:
    runs = part["run"].unique().sort()
    benchmarks = part["benchmark"].unique().sort()
    codes = part.select(
        pl.col("run").cast(pl.Enum(runs)).to_physical(),
        pl.col("benchmark").cast(pl.Enum(benchmarks)).to_physical(),
    )
    flat = codes["run"].to_numpy().astype(np.intp) * len(benchmarks)
    flat += codes["benchmark"].to_numpy().astype(np.intp)
    size = len(runs) * len(benchmarks)
    if np.bincount(flat, minlength=size).max() > 1:
        dedupe(df)  # raises, naming the duplicate keys
        raise InputError("duplicate result keys", field="run, scale, stage, benchmark, metric")
    values = np.full(size, np.nan)
    values[flat] = part["value"].to_numpy()
    return runs.to_list(), benchmarks.to_list(), values.reshape(len(runs), len(benchmarks))


def category_map(
    df: pl.DataFrame, mapping: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """{benchmark: category}: the map's entry (editable) wins over a row's own category."""
    mapping = mapping or {}
    # the first category in engine.store.evals.eval_results order, whatever the frame's order
    order = [pl.col(c) for c in ("run", "scale_params", "tokens", "step", "metric")]
    own: dict[str, str] = {}
    if df["category"].null_count() < df.height:  # no category at all: common, no query
        rows = (
            df.filter(pl.col("category").is_not_null())
            .group_by("benchmark")
            .agg(pl.col("category").sort_by(order).first())
        )
        own = dict(rows.iter_rows())
    return {b: mapping.get(b) or own.get(b) for b in sorted(df["benchmark"].unique().to_list())}


def run_attrs(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{run: {attribute: value}} merged over a run's rows (the first value of each wins)."""
    return merge_attrs((r["run"], r.get("attrs")) for r in rows)


def merge_attrs(pairs: Iterable[tuple[Any, Mapping[str, Any] | None]]) -> dict[str, dict[str, Any]]:
    """{run: {attribute: value}} from (run, attrs) pairs (the first value of each wins), e.g.
    engine.store.eval_columns.eval_result_attrs."""
    out: dict[str, dict[str, Any]] = {}
    for run, attrs in pairs:
        if attrs:
            mine = out.setdefault(str(run), {})
            for k, v in attrs.items():
                mine.setdefault(k, v)
    return out
