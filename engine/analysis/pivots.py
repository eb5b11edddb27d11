"""The long results table (rows as engine.store.evals.eval_results returns them) reshaped with
polars into runs x benchmarks matrices, one per (stage, scale, metric) (METHODS 4).

- scale: a row's `size` label, else its parameter count abbreviated (1.4B), else "" (one scale);
  scales sort by parameter count. stage: the row's stage, else "" (rows with no stage form one
  stage).
- A (run, scale, stage, benchmark, metric) key with several rows is an error naming them, unless
  checkpoint="last" keeps each key's row with the most tokens (then the highest step); two rows
  at that same checkpoint stay an error.
- Missing values (None, NaN) stay NaN in the matrices; the correlations drop them pair by pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.errors import InputError
from engine.units import abbreviate

KEY = ("run", "scale", "stage", "benchmark", "metric")
CHECKPOINTS = ("error", "last")


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
    "run": pl.String, "size": pl.String, "params": pl.Int64, "stage": pl.String,
    "benchmark": pl.String, "category": pl.String, "metric": pl.String, "value": pl.Float64,
    "tokens": pl.Int64, "step": pl.Int64,
}  # fmt: skip


def frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Long rows -> a frame with run, scale, scale_params, stage, benchmark, category, metric,
    value (float, NaN when missing), tokens, step."""
    df = pl.from_dicts(list(rows), schema=SCHEMA, strict=False)
    params = df["params"].drop_nulls().unique().to_list()
    labels = {p: abbreviate(int(p)) for p in params}
    size = pl.col("size").replace("", None)
    by_params = pl.col("params").replace_strict(labels, default=None, return_dtype=pl.String)
    return df.select(
        pl.col("run"),
        pl.coalesce(size, by_params, pl.lit("")).alias("scale"),
        pl.col("params").alias("scale_params"),
        pl.col("stage").fill_null(""),
        pl.col("benchmark"),
        pl.col("category"),
        pl.col("metric"),
        pl.col("value").fill_null(math.nan),
        pl.col("tokens"),
        pl.col("step"),
    )


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


def scales(df: pl.DataFrame) -> list[str]:
    """Scale labels, smallest model first (by parameter count, then label)."""
    s = (
        df.group_by("scale")
        .agg(pl.col("scale_params").max().fill_null(-1).alias("p"))
        .sort(["p", "scale"])
    )
    return s["scale"].to_list()


def stages(df: pl.DataFrame) -> list[str]:
    return sorted(df["stage"].unique().to_list())


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
    """{(stage, scale): Pivot} for every (stage, scale) with rows of `metric`."""
    present = df.filter(pl.col("metric") == metric).select("stage", "scale").unique()
    out = {}
    for stage, scale in present.sort(["stage", "scale"]).iter_rows():
        out[(stage, scale)] = pivot(df, metric, stage, scale)
    return out


def one_sided(pivots: Mapping[Any, Pivot], a: Any, b: Any) -> list[dict[str, Any]]:
    """Benchmarks present in only one of two pivots: [{benchmark, present, missing}]."""
    pa, pb = pivots.get(a), pivots.get(b)
    ba = set(pa.benchmarks) if pa else set()
    bb = set(pb.benchmarks) if pb else set()
    out = [{"benchmark": x, "present": _label(a), "missing": _label(b)} for x in sorted(ba - bb)]
    out += [{"benchmark": x, "present": _label(b), "missing": _label(a)} for x in sorted(bb - ba)]
    return out


def _label(key: Any) -> str:
    if isinstance(key, tuple):
        return " ".join(k for k in key if k) or "(one stage)"
    return str(key)


def category_map(
    df: pl.DataFrame, mapping: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """{benchmark: category}: the map's entry (editable) wins over a row's own category."""
    mapping = mapping or {}
    rows = (
        df.filter(pl.col("category").is_not_null())
        .group_by("benchmark")
        .agg(pl.col("category").first())
    )
    own = dict(rows.iter_rows())
    return {b: mapping.get(b) or own.get(b) for b in sorted(df["benchmark"].unique().to_list())}


def run_attrs(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """{run: {attribute: value}} merged over a run's rows (the first value of each wins)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        attrs = r.get("attrs")
        if attrs:
            mine = out.setdefault(str(r["run"]), {})
            for k, v in attrs.items():
                mine.setdefault(k, v)
    return out
