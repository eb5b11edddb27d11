"""The exact keep threshold over the Parquet shards of a Ray apply (engine.betr.scale), as Ray
tasks, or a plain loop over the shards (`engine="local"`).

Pass 1 maps every shard to its histogram of probability (docs and tokens per bin) and merges
them in the driver; pass 2 maps every shard to its docs in the cut bin only (id, prob, tokens,
row), which the driver sorts exactly. Each task reads only the columns it needs, and what comes
back is one histogram per shard (1 MiB) plus the cut bin's docs, never the whole corpus.

The tie key (ties in probability, ascending): `tie_of(candidates)` from the caller, e.g. the
run corpus's doc ids (engine.api.scale.scale_threshold); by default the input order: the shard's
source path (the `shard` column), then the row in the shard.

Ray is imported only inside functions (engine.exec.scale.session.ray_session).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.betr.scale import (
    Candidates,
    Histogram,
    Threshold,
    bin_of,
    merge,
    partial,
    threshold_of,
)
from engine.errors import InputError, UsageError
from engine.exec.scale import ENGINES

COLUMNS = ("id", "prob", "n_tokens")
TASK_CPUS = 0.5


def score_shards(directory: str | Path) -> list[str]:
    """The Parquet shards of a Ray apply in `directory`, sorted (files being written, named
    *.parquet.tmp, are not shards yet)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError("no such directory", file=str(d), fix="pass the --out DIR of the apply")
    paths = sorted(glob.glob(os.path.join(glob.escape(str(d)), "*.parquet")))
    if not paths:
        raise InputError(
            "no Parquet shards (*.parquet) in the directory",
            file=str(d),
            fix="pass the --out DIR of a finished `betr apply --engine ray`",
        )
    return paths


def read_columns(path: str, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """The columns of one shard as numpy arrays (InputError naming the shard when one is
    missing)."""
    import pyarrow.parquet as pq

    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"not a readable Parquet file ({exc})", file=path) from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(
            f"the shard has no column {', '.join(repr(m) for m in missing)} "
            f"(columns: {', '.join(names)})",
            file=path,
            fix="these shards must come from `betr apply --engine ray`",
        )
    table = pq.read_table(path, columns=list(columns))
    out = {}
    for c in columns:
        col = table.column(c)
        out[c] = (
            np.asarray(col.to_pylist(), dtype=object) if c in ("id", "shard") else (col.to_numpy())
        )
    return out


@dataclass
class ShardScan:
    hist: Histogram
    source: str  # the input file the shard came from ("" when the column is absent)
    rows: int


def scan_shard(path: str) -> ShardScan:
    """(pass 1) One shard's histogram."""
    import pyarrow.parquet as pq

    cols = read_columns(path, ("prob", "n_tokens"))
    source = ""
    if "shard" in pq.ParquetFile(path).schema_arrow.names:
        first = pq.read_table(path, columns=["shard"]).column("shard").slice(0, 1).to_pylist()
        source = str(first[0]) if first else ""
    return ShardScan(partial(cols["prob"], cols["n_tokens"], path), source, len(cols["prob"]))


def gather_shard(path: str, b: int) -> dict[str, np.ndarray]:
    """(pass 2) The shard's docs in bin `b`: id, prob, n_tokens and row."""
    cols = read_columns(path, COLUMNS)
    rows = np.flatnonzero(bin_of(cols["prob"]) == b)
    return {
        "id": cols["id"][rows],
        "prob": cols["prob"][rows].astype(np.float64),
        "n_tokens": cols["n_tokens"][rows].astype(np.int64),
        "row": rows.astype(np.int64),
    }


def _map(fn: Callable[..., Any], args: list[tuple], engine: str, ray: Any) -> list[Any]:
    if engine == "local":
        return [fn(*a) for a in args]
    task = ray.remote(num_cpus=TASK_CPUS, max_retries=3)(fn)
    return list(ray.get([task.remote(*a) for a in args]))


TieOf = Callable[[dict[str, np.ndarray]], np.ndarray]


def input_order_tie(gathered: dict[str, np.ndarray]) -> np.ndarray:
    """The default tie key: source rank << 32 | row (input order)."""
    return (gathered["source_rank"].astype(np.int64) << 32) | gathered["row"]


def shard_threshold(
    paths: Sequence[str],
    keep: float,
    by: str = "tokens",
    *,
    engine: str = "local",
    tie_of: TieOf = input_order_tie,
    address: str = "local",
    num_cpus: int | None = None,
) -> tuple[Threshold, dict[str, Any]]:
    """The exact threshold over the shards `paths`, and what the passes read (shards, docs,
    the cut bin and its docs)."""
    if engine not in ENGINES:
        raise UsageError(f"--engine must be {' or '.join(ENGINES)}, got '{engine}'")
    if engine == "local":
        return _passes(paths, keep, by, engine, None, tie_of)
    from engine.exec.scale.session import ray_session

    with ray_session(address, num_cpus) as ray:
        return _passes(paths, keep, by, engine, ray, tie_of)


def _passes(paths, keep, by, engine, ray, tie_of) -> tuple[Threshold, dict[str, Any]]:
    scans: list[ShardScan] = _map(scan_shard, [(p,) for p in paths], engine, ray)
    hist = merge(*(s.hist for s in scans))
    # shards in input order: by the source file they came from, then by their own path
    rank_of = {
        i: r
        for r, i in enumerate(sorted(range(len(paths)), key=lambda i: (scans[i].source, paths[i])))
    }
    info: dict[str, Any] = {"shards": len(paths), "docs": hist.total_docs}

    def gather(b: int) -> Candidates:
        parts = _map(gather_shard, [(p, b) for p in paths], engine, ray)
        for i, part in enumerate(parts):
            part["source_rank"] = np.full(len(part["row"]), rank_of[i], dtype=np.int64)
            part["shard_path"] = np.full(len(part["row"]), paths[i], dtype=object)
        got = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        info.update(cut_bin=b, bin_docs=len(got["prob"]))
        return Candidates(got["prob"], tie_of(got), got["n_tokens"])

    return threshold_of(hist, gather, keep, by), info
